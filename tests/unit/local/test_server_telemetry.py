"""A local inference server never sends telemetry: App Insights stays off whatever the caller's
environment or the deployment's variables say, so nothing leaves 127.0.0.1."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from mlops_azure.local import processes


def test_the_local_server_runs_with_app_insights_off(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, str] = {}

    def spawn(argv: list[str], env: Mapping[str, str], log_file: Path, cwd: Path) -> int:
        seen.update(env)
        assert "127.0.0.1:" in " ".join(argv)
        return 0

    monkeypatch.setattr(processes, "_spawn", spawn)
    monkeypatch.setenv("AML_APP_INSIGHTS_ENABLED", "true")
    monkeypatch.setenv("APPLICATIONINSIGHTS_CONNECTION_STRING", "InstrumentationKey=abc")
    processes.start_inference_server(
        code_dir=tmp_path, scoring_script="score.py", model_dir=tmp_path, port=5001, workers=1,
        timeout_ms=5000, log_file=tmp_path / "log", token="t",
        extra_env={"AML_APP_INSIGHTS_ENABLED": "true", "AML_APP_INSIGHTS_KEY": "k"})
    assert seen["AML_APP_INSIGHTS_ENABLED"] == "false"
    assert not {"AML_APP_INSIGHTS_KEY", "APPLICATIONINSIGHTS_CONNECTION_STRING"} & set(seen)
