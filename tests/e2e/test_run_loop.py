"""`mlops run`: the whole loop, as the README's first command runs it, in a real subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

MLOPS = str(Path(sys.executable).with_name("mlops"))


def test_the_loop_runs_to_a_registered_model(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    done = subprocess.run([MLOPS, "--json", "run", str(demo)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    first, challenger = summary["trainings"]
    assert first["registered"] == "steel-purchase-forecast:1"
    assert first["decision"]["verdict"] == "first"
    assert challenger["champion"] == "steel-purchase-forecast:1"
    assert challenger["decision"]["verdict"] in ("better", "not_better")
    assert summary["latest_registered"] == (challenger["registered"] or first["registered"])

    shown = subprocess.run([MLOPS, "--json", "models", "show", summary["latest_registered"]],
                           cwd=demo, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    lineage = json.loads(shown.stdout)["lineage"]
    assert lineage["data_asset"] == "steel-purchases"

    again = subprocess.run([MLOPS, "run", str(demo)], capture_output=True, text=True, timeout=60)
    assert again.returncode == 2  # an existing project is not overwritten without --force
    assert "--force" in again.stderr


def test_forced_rerun_starts_from_an_empty_workspace(tmp_path: Path) -> None:
    demo = tmp_path / "demo"
    for _ in range(2):
        done = subprocess.run([MLOPS, "--json", "run", str(demo), "--force"], capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        first = json.loads(done.stdout)["trainings"][0]
        assert first["registered"] == "steel-purchase-forecast:1"
