"""The minimal project of docs/project-contract.md, written out from the page, keeps the contract."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlops_azure.cli.main import app
from mlops_azure.cli.state import STATE

DOC = Path(__file__).resolve().parents[3] / "docs" / "project-contract.md"
_FILE = re.compile(r"^`([\w./-]+)`\n\n```\w+\n(.*?)\n```$", re.MULTILINE | re.DOTALL)


def write_minimal_project(root: Path) -> list[str]:
    section = DOC.read_text(encoding="utf-8").split("## A minimal complete project", 1)[1]
    written = []
    for name, body in _FILE.findall(section):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(body + "\n", encoding="utf-8")
        written.append(name)
    (root / "data").mkdir(exist_ok=True)
    rows = "\n".join(f"{i / 10},{i % 7},{3 + i / 5 - i % 7}" for i in range(100))
    (root / "data" / "train.csv").write_text(f"x1,x2,y\n{rows}\n", encoding="utf-8")
    return written


def test_the_documented_minimal_project_passes_the_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = write_minimal_project(tmp_path)
    assert {"mlops.yaml", "pipelines/training.yml", "components/score.py"} <= set(written)
    monkeypatch.chdir(tmp_path)
    try:
        result = CliRunner().invoke(app, ["project", "check"])
    finally:
        STATE.__init__()  # type: ignore[misc]
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "project OK" in result.stdout
