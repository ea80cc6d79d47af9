"""docs/experiments.md's example, run as written with the installed `mlops` in a fresh folder."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[3] / "docs" / "experiments.md"
MARKER = "<!-- docs-example: experiments -->"
MLOPS = str(Path(sys.executable).with_name("mlops"))


def _commands() -> list[list[str]]:
    text = DOC.read_text(encoding="utf-8")
    found = re.search(re.escape(MARKER) + r"\n```console\n(.*?)```", text, re.S)
    assert found, "docs/experiments.md lost its example"
    lines = found.group(1).splitlines()
    assert all(line.startswith("$ ") for line in lines), lines
    return [shlex.split(line[2:]) for line in lines]


@pytest.mark.slow
def test_the_documented_example_runs_as_written(tmp_path: Path) -> None:
    cwd = tmp_path
    outputs = []
    for argv in _commands():
        if argv[0] == "cd":
            cwd = cwd / argv[1]
            continue
        assert argv[0] == "mlops", argv
        done = subprocess.run([MLOPS, *argv[1:]], cwd=cwd, capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, f"{shlex.join(argv)}: {done.stderr[-2000:]}"
        outputs.append(done.stdout)
    listed = outputs[-2]
    assert "Runs of steel-forecast (2, newest first)" in listed
    assert "learning_rate=0.1, n_estimators=200" in listed
    assert "learning_rate=0.05, n_estimators=60" in listed
    assert "registered: steel-purchase-forecast:1" in listed and "wape=" in listed
    page = (cwd / "runs.html").read_text(encoding="utf-8")
    runs = json.loads(subprocess.run([MLOPS, "--json", "experiments", "list"], cwd=cwd,
                                     capture_output=True, text=True, check=True).stdout)
    assert [r["params"]["n_estimators"] for r in runs] == [200, 60]
    assert all(r["job_id"] in page for r in runs) and "HTML page: runs.html" in outputs[-1]
