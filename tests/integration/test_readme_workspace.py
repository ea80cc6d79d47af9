"""The README's workspace example, run as written on a fresh example project."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from mlops_azure.example.scaffold import init_project

README = Path(__file__).resolve().parents[2] / "README.md"
MARKER = "<!-- readme-example: workspace-services"


def _example() -> str:
    text = README.read_text(encoding="utf-8")
    found = re.search(re.escape(MARKER) + r".*?-->\n```python\n(.*?)```", text, re.S)
    assert found, "the README lost its workspace example"
    return found.group(1)


def test_the_workspace_example_runs_on_the_embedded_workspace(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    init_project(tmp_path / "my-project")
    monkeypatch.chdir(tmp_path)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(_example(), str(README), "exec"), {})  # our own README
    lines = printed.getvalue().splitlines()
    assert lines[0].startswith("steel-purchases:1 ")
    assert lines[1] == "[]"  # nothing trained yet
    assert any(" data.upload steel-purchases:1" in line for line in lines[2:])
    assert lines[-1] == "drift is checked by `mlops monitor drift` from cron"
