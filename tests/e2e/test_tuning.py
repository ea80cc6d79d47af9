"""Tuning on the embedded workspace, through the real CLI: a 20-trial sweep with pruning and two
trials at a time on the example project, its best trial through the champion gate into the
registry with the study in its lineage; a sweep killed midway resumes; and the same on a
project made from a CSV with ``tuning:`` in its mlops.yaml."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from mlops_azure.example.scaffold import init_project
from tests.e2e.conftest import write_cancer

MLOPS = str(Path(sys.executable).with_name("mlops"))
pytestmark = pytest.mark.slow


def mlops(cwd: Path, *args: str, expect: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([MLOPS, *args], cwd=cwd, capture_output=True, text=True, timeout=900)
    assert done.returncode == expect, f"mlops {' '.join(args)}: {done.stderr[-2000:]}"
    return done


def _steel_sweep(root: Path) -> Path:
    init_project(root)
    config = root / "mlops.yaml"
    config.write_text(config.read_text().replace("pipeline: pipelines/training.yml",
                                                 "pipeline: pipelines/training-sweep.yml"))
    return root


def _sweep_log(root: Path) -> str:
    logs = sorted(root.glob(".mlops/jobs/*/steps/train/user_logs/std_log.txt"))
    return logs[-1].read_text() if logs else ""


def test_a_twenty_trial_sweep_registers_its_best_trial_with_the_study(local_folder: Path) -> None:
    root = _steel_sweep(local_folder)
    trained = json.loads(mlops(root, "--json", "train").stdout)
    assert trained["registered"] == "steel-purchase-forecast:1"
    model = json.loads(mlops(root, "--json", "models", "show", "steel-purchase-forecast:1").stdout)
    extra, params = model["lineage"]["extra"], model["lineage"]["params"]
    study = json.loads(mlops(root, "--json", "experiments", "compare", extra["study"]).stdout)
    study = study["studies"][0] if "studies" in study else study
    states = [t["state"] for t in study["trials"]]
    assert len(states) == 20 and states.count("PRUNED") >= 1, states
    assert extra["study_trials"].startswith("20: ")
    best = next(t for t in study["trials"] if t["number"] == study["best_trial"])
    assert best["state"] == "COMPLETE"
    assert best["value"] == min(t["value"] for t in study["trials"] if t["state"] == "COMPLETE")
    assert json.loads(extra["study_best_params"]) == best["params"]
    assert {k: params[k] for k in best["params"]} == best["params"]  # what the version was trained with
    # The registered model is the best trial's own (refit) model.
    trial_model = root / ".mlops" / "studies" / extra["study"] / "trials" / str(best["number"]) / "outputs"
    saved = json.loads((trial_model / "model" / "params.json").read_text())
    assert saved["n_estimators"] == best["params"]["n_estimators"]
    assert saved["validation_metric"] == "wape"
    # Two at a time: some trials overlapped, never three.
    spans = sorted((t["started_at"], t["ended_at"]) for t in study["trials"])
    assert max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans) == 2
    log = _sweep_log(root)
    assert "best trial" in log and log.count(" pruned: ") == states.count("PRUNED")


def test_a_killed_sweep_resumes_without_repeating_finished_trials(local_folder: Path) -> None:
    root = _steel_sweep(local_folder)
    train = subprocess.Popen([MLOPS, "train"], cwd=root, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and len([line for line in _sweep_log(root).splitlines()
                                               if line.startswith("trial ")]) < 6:
        time.sleep(0.1)
    os.kill(train.pid, signal.SIGKILL)  # mlops itself: the trials must not outlive it
    train.wait()
    finished = [line for line in _sweep_log(root).splitlines() if line.startswith("trial ")
                and (" completed: " in line or " pruned: " in line)]
    assert 6 <= len(finished) < 20
    time.sleep(0.5)
    orphans = subprocess.run(["pgrep", "-f", "train.train"], capture_output=True, text=True).stdout.split()
    assert not [pid for pid in orphans if Path(f"/proc/{pid}/cwd").resolve() == root / "components"]

    mlops(root, "train")
    log = _sweep_log(root)
    assert f"{len(finished)} of 20 trials already finished" in log
    rerun = [line for line in log.splitlines() if line.startswith("trial ")
             and (" completed: " in line or " pruned: " in line)]
    assert len(rerun) == 20 - len(finished)
    first_numbers = {line.split()[1] for line in finished}
    assert not first_numbers & {line.split()[1] for line in rerun}


def test_tuning_in_mlops_yaml_on_a_project_made_from_a_csv(local_folder: Path, tmp_path: Path) -> None:
    data = tmp_path / "cancer.csv"
    target = write_cancer(data)
    mlops(tmp_path, "init", str(local_folder), "--data", str(data), "--target", target)
    config_file = local_folder / "mlops.yaml"
    text = config_file.read_text()
    block = text[text.index("# tuning:"):text.index("\n\n", text.index("# tuning:"))]
    uncommented = "\n".join(line.removeprefix("# ") for line in block.splitlines())
    config_file.write_text(text.replace(block, uncommented.replace("max_total_trials: 20",
                                                                   "max_total_trials: 6")))
    trained = json.loads(mlops(local_folder, "--json", "train").stdout)
    assert trained["registered"] == "project-model:1"
    model = json.loads(mlops(local_folder, "--json", "models", "show", "project-model:1").stdout)
    extra = model["lineage"]["extra"]
    assert extra["study_metric"] == "maximize auc" and extra["study_trials"].startswith("6: ")

    # Settings Azure ML refuses are refused here too, before anything runs, naming mlops.yaml's key.
    config = yaml.safe_load(config_file.read_text())
    config["tuning"]["sampling_algorithm"] = "bayesian"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    refused = mlops(local_folder, "train", expect=2)
    assert "mlops.yaml: tuning" in refused.stderr and "early_termination" in refused.stderr
    assert "Traceback" not in refused.stderr

    # A sweep declared both ways is refused too.
    pipeline = local_folder / config["training"]["pipeline"]
    swept = yaml.safe_load(pipeline.read_text())
    step = swept["jobs"]["train"]
    step["inputs"].pop("num_leaves", None)
    swept["jobs"]["train"] = {
        "type": "sweep", "trial": step["component"], "inputs": step["inputs"], "outputs": step["outputs"],
        "search_space": {"num_leaves": {"type": "choice", "values": [7, 15]}},
        "objective": {"goal": "maximize", "primary_metric": "auc"}, "limits": {"max_total_trials": 2}}
    pipeline.write_text(yaml.safe_dump(swept, sort_keys=False))
    refused = mlops(local_folder, "train", expect=2)
    assert "declare the sweep in one place" in refused.stderr and "Traceback" not in refused.stderr
