"""``mlops ui`` refuses what it cannot serve safely, with one sentence and exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlops_azure.cli.main import app
from mlops_azure.example.scaffold import init_project


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ui-cli") / "proj"
    init_project(root)
    return root / "mlops.yaml"


@pytest.mark.parametrize(("args", "said"), [
    (["--host", "0.0.0.0"], "--host 0.0.0.0 would let anyone"),
    (["--host", "192.168.1.5"], "--easy-auth"),
    (["--stage", "prod"], "unknown stage 'prod'"),
])
def test_ui_refuses_unsafe_or_unknown_settings(config: Path, args: list[str], said: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEBSITE_AUTH_ENABLED", raising=False)
    result = CliRunner().invoke(app, ["--config", str(config), "ui", *args])
    assert result.exit_code == 2, result.output
    assert said in result.output
    assert "Traceback" not in result.output


def test_ui_says_what_is_wrong_with_a_broken_config(tmp_path: Path) -> None:
    broken = tmp_path / "mlops.yaml"
    broken.write_text("project: [unclosed\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["--config", str(broken), "ui"])
    assert result.exit_code == 2
    assert "mlops.yaml" in result.output and "Traceback" not in result.output


def test_ui_says_when_its_port_is_taken(config: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(app, ["--config", str(config), "ui", "--port", str(port)])
    assert result.exit_code == 2
    assert f"cannot listen on 127.0.0.1:{port}: the port is in use" in result.output
