"""The README's Python examples, run as written: each is marked
``<!-- readme-example: NAME (run by tests/integration/test_readme_examples.py) -->``."""

from __future__ import annotations

import ast
import contextlib
import io
import re
from pathlib import Path

import pytest

from mlops_azure.backends import open_workspace
from mlops_azure.config import load_config
from mlops_azure.example.demo import stop_endpoints
from mlops_azure.example.scaffold import init_project
from mlops_azure.init_from_data import init_from_data
from tests.integration.webapp.conftest import write_own_table

README = Path(__file__).resolve().parents[2] / "README.md"


def example(name: str) -> str:
    text = README.read_text(encoding="utf-8")
    found = re.search(re.escape(f"<!-- readme-example: {name} ") + r".*?-->\n```python\n(.*?)```",
                      text, re.S)
    assert found, f"the README lost its {name} example"
    return found.group(1)


def run(name: str) -> list[str]:
    """The example run in the current folder; the lines it printed."""
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(example(name), str(README), "exec"), {})  # our own README
    return printed.getvalue().splitlines()


def test_the_workspace_example_runs_on_the_embedded_workspace(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    init_project(tmp_path / "my-project")
    monkeypatch.chdir(tmp_path)
    lines = run("workspace-services")
    assert lines[0].startswith("steel-purchases:1 ")
    assert lines[1] == "[]"  # nothing trained yet
    assert any(" data.upload steel-purchases:1" in line for line in lines[2:])
    assert lines[-1] == "drift is checked by `mlops monitor drift` from cron"


@pytest.mark.slow
def test_the_library_example_releases_a_model_from_your_own_table(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    table = tmp_path / "homes.csv"
    root = tmp_path / "my-project"
    init_from_data(root, table, column=write_own_table(table))
    monkeypatch.chdir(tmp_path)
    try:
        lines = run("library")
    finally:
        stop_endpoints(open_workspace(load_config(root / "mlops.yaml"), "local"))
    status = ast.literal_eval(lines[-1])  # print(project.status().to_dict()): a dict's repr
    production = [s for s in status["stages"] if s["stage"] == "production"]
    assert [(s["model"], s["traffic"]) for s in production] == [("my-project-model:1", 100)]
    assert any("100 %" in line for line in lines)  # the canary's last step, said as it went
