"""Your own model: from a CSV no one here wrote to a production endpoint that answers, and a drift
check, in 8 commands and 0 edited lines, for a regression and a binary classification with a
text target. The data are the two tabular sets scikit-learn ships (diabetes: 10 features, 442
rows; breast cancer: 30 features, 569 rows, its 0/1 target turned into text labels)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.conftest import write_cancer

MLOPS = str(Path(sys.executable).with_name("mlops"))


def _diabetes(path: Path) -> str:
    from sklearn.datasets import load_diabetes

    load_diabetes(as_frame=True).frame.to_csv(path, index=False)
    return "target"


@pytest.fixture
def folder(local_folder: Path) -> Path:
    return local_folder


def mlops(cwd: Path, *args: str, expect: int = 0) -> str:
    done = subprocess.run([MLOPS, *args], cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == expect, f"mlops {' '.join(args)}: {done.stderr[-2000:]}"
    return done.stdout


@pytest.mark.slow
@pytest.mark.parametrize(("make", "task", "metric"), [(_diabetes, "regression", "rmse"),
                                                      (write_cancer, "classification", "auc")],
                         ids=["regression", "classification"])
def test_a_csv_reaches_production_in_eight_commands(folder: Path, tmp_path: Path, make, task: str,
                                                    metric: str) -> None:
    data = tmp_path / "table.csv"
    target = make(data)
    made = json.loads(mlops(tmp_path, "--json", "init", str(folder), "--data", str(data),
                            "--target", target))
    assert made["task"] == task and made["metric"] == metric and target not in made["features"]
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}

    trained = json.loads(mlops(folder, "--json", "train"))
    assert trained["registered"] == "project-model:1" and trained["decision"]["metric"] == metric
    mlops(folder, "deploy", "project-model:1", "--stage", "staging")
    mlops(folder, "gate", "qa", "--stage", "staging")
    mlops(folder, "approve", "project-model:1", "--stage", "production", "--reason", "QA passed")
    mlops(folder, "promote", "project-model:1", "--stage", "production")
    answer = json.loads(mlops(folder, "--json", "invoke", "--stage", "production", "--file",
                              "sample-request.json"))
    body = answer.get("response", answer)
    assert len(body["predictions"]) == 5
    if task == "classification":
        assert set(body["labels"]) <= {"benign", "malignant"}
        assert all(0.0 <= p <= 1.0 for p in body["predictions"])
    # No user traffic yet besides one invoke: the tool's own QA and rollout probes are not
    # production data, so nothing drifted.
    drift = json.loads(mlops(folder, "--json", "monitor", "drift", "--stage", "production",
                             expect=0))
    assert not drift["drifted"]

    # Zero edited lines: every file init wrote is as it was (the workspace and outputs are new).
    assert all(p.read_bytes() == content for p, content in before.items())
