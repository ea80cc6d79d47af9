"""Sweep steps run locally: real trial processes, an Optuna study on SQLite that resumes."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlops_azure.execution.runner import run_pipeline
from mlops_azure.records_tuning import Study, TrialState
from mlops_azure.workspace import JobStatus
from tests.support.pipelines import sweep_pipeline

pytestmark = pytest.mark.slow


def _run(pipeline: Path, tmp: Path, job: str = "job", **env: str) -> tuple[object, Study]:
    previous = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        result = run_pipeline(pipeline, {}, tmp / job, studies_dir=tmp / "studies")
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    study = Study.from_dict(json.loads((tmp / job / "steps" / "search" / "study.json").read_text()))
    return result, study


def test_the_best_trial_outputs_become_the_steps(tmp_path: Path) -> None:
    result, study = _run(sweep_pipeline(tmp_path / "p", trials=6, concurrent=2), tmp_path)
    assert result.status is JobStatus.COMPLETED  # type: ignore[attr-defined]
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 6
    values = {t.number: t.value for t in study.trials}
    best = min(values, key=lambda n: values[n])  # type: ignore[arg-type, return-value]
    assert study.best_trial == best and study.metric == "loss" and study.goal == "minimize"
    produced = json.loads((result.outputs["best"] / "params.json").read_text())  # type: ignore[attr-defined]
    assert {"x": produced["x"], "y": produced["y"]} == dict(study.trials[best].params)
    # The reported value is the trial's last one: (x - 0.3)^2 + y/10 + 1/steps.
    trial = study.trials[best]
    expected = (float(trial.params["x"]) - 0.3) ** 2 + int(trial.params["y"]) / 10 + 1 / 3
    assert trial.value == pytest.approx(expected)


def test_trials_run_in_parallel_up_to_the_limit(tmp_path: Path) -> None:
    pipeline = sweep_pipeline(tmp_path / "p", trials=4, concurrent=2, steps=4)
    _, study = _run(pipeline, tmp_path, STEP_SECONDS="0.15")
    spans = sorted((t.started_at, t.ended_at) for t in study.trials)
    overlapping = sum(1 for (s1, e1), (s2, _) in itertools.pairwise(spans) if s2 < e1)  # type: ignore[operator]
    assert overlapping >= 1
    for start, _ in spans:  # never three at once
        assert sum(1 for s, e in spans if s <= start < e) <= 2  # type: ignore[operator]


def test_a_re_run_resumes_the_study_without_repeating_finished_trials(tmp_path: Path) -> None:
    pipeline = sweep_pipeline(tmp_path / "p", trials=3, concurrent=1)
    _, first = _run(pipeline, tmp_path, "one")
    text = pipeline.read_text().replace("max_total_trials: 3", "max_total_trials: 5")
    pipeline.write_text(text)  # limits are not part of the study's identity
    _, second = _run(pipeline, tmp_path, "two")
    assert second.name == first.name
    assert len(second.trials) == 5
    assert [dict(t.params) for t in second.trials[:3]] == [dict(t.params) for t in first.trials]
    # The resumed trials draw new parameters, not the first ones again.
    assert len({tuple(sorted(t.params.items())) for t in second.trials}) == 5
    ran = {p.name for p in (tmp_path / "two" / "steps" / "search").iterdir()}
    assert "study.json" in ran
    log = (tmp_path / "two" / "steps" / "search" / "user_logs" / "std_log.txt").read_text()
    assert "3 of 5 trials already finished" in log
    assert log.count(" completed: ") == 2


def test_a_killed_sweep_resumes_and_reruns_only_the_unfinished_trials(tmp_path: Path) -> None:
    pipeline = sweep_pipeline(tmp_path / "p", trials=6, concurrent=1, steps=5)
    script = ("import sys; from pathlib import Path; from mlops_azure.execution.runner import run_pipeline; "
              "run_pipeline(Path(sys.argv[1]), {}, Path(sys.argv[2]), studies_dir=Path(sys.argv[3]))")
    env = {**os.environ, "STEP_SECONDS": "0.1"}
    runner = subprocess.Popen([sys.executable, "-c", script, str(pipeline), str(tmp_path / "one"),
                               str(tmp_path / "studies")], env=env, start_new_session=True)
    log = tmp_path / "one" / "steps" / "search" / "user_logs" / "std_log.txt"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and (not log.exists() or log.read_text().count(" completed: ") < 2):
        time.sleep(0.05)
    running = tmp_path / "studies"
    while time.monotonic() < deadline and len(list(running.glob("*/trials/*/metrics.jsonl"))) <= 2:
        time.sleep(0.02)  # the third trial has started reporting
    os.kill(runner.pid, signal.SIGKILL)  # the runner only: its trial must die with it
    runner.wait()
    finished_before = log.read_text().count(" completed: ")
    assert 2 <= finished_before < 6
    result, study = _run(pipeline, tmp_path, "two")
    assert result.status is JobStatus.COMPLETED  # type: ignore[attr-defined]
    complete = [t for t in study.trials if t.state is TrialState.COMPLETE]
    assert len(complete) == 6
    # The trial that was running when the runner died is failed, not counted, and ran again.
    assert [t.state for t in study.trials].count(TrialState.FAIL) == 1
    second_log = (tmp_path / "two" / "steps" / "search" / "user_logs" / "std_log.txt").read_text()
    assert second_log.count(" completed: ") == 6 - finished_before


def test_pruned_trials_are_killed_before_they_finish(tmp_path: Path) -> None:
    policy = "{type: median_stopping, evaluation_interval: 1, delay_evaluation: 2}"
    pipeline = sweep_pipeline(tmp_path / "p", trials=14, concurrent=1, steps=6, policy=policy)
    _, study = _run(pipeline, tmp_path, STEP_SECONDS="0.05")
    pruned = [t for t in study.trials if t.state is TrialState.PRUNED]
    assert pruned, "a median-stopping policy over 14 random trials prunes some"
    for trial in pruned:  # stopped at an evaluated step, before writing its output
        assert max(trial.intermediate) < 6
        assert not (tmp_path / "studies" / study.name / "trials" / str(trial.number) / "outputs" / "out"
                    / "params.json").exists()
    assert study.early_termination == "median_stopping"


def test_failed_trials_are_recorded_and_a_sweep_with_no_completed_trial_fails(tmp_path: Path) -> None:
    pipeline = sweep_pipeline(tmp_path / "p", trials=5, concurrent=2)
    result, study = _run(pipeline, tmp_path, FAIL_ABOVE="0.5")
    assert result.status is JobStatus.COMPLETED  # type: ignore[attr-defined]
    for trial in study.trials:
        assert (trial.state is TrialState.FAIL) == (float(trial.params["x"]) > 0.5)
    fresh = tmp_path / "fresh"  # another workspace: the same sweep here would resume the study above
    result, _ = _run(sweep_pipeline(fresh / "p", trials=2), fresh, FAIL_ABOVE="-1")
    assert result.status is JobStatus.FAILED  # type: ignore[attr-defined]
    assert "no trial of study" in (result.error or "")  # type: ignore[attr-defined]


def test_a_command_that_needs_a_shell_runs_under_bash(tmp_path: Path) -> None:
    pipeline = sweep_pipeline(tmp_path / "p", trials=2, command="true && python -m trial.objective")
    result, study = _run(pipeline, tmp_path)
    assert result.status is JobStatus.COMPLETED  # type: ignore[attr-defined]
    assert study.count(TrialState.COMPLETE) == 2


def test_the_same_seeded_sweep_samples_the_same_parameters(tmp_path: Path) -> None:
    pipeline = sweep_pipeline(tmp_path / "p", trials=3, concurrent=1)
    _, first = _run(pipeline, tmp_path / "a")
    _, second = _run(pipeline, tmp_path / "b")
    assert [dict(t.params) for t in first.trials] == [dict(t.params) for t in second.trials]


def test_a_second_job_on_the_same_study_waits_then_resumes_what_is_left(tmp_path: Path) -> None:
    pipeline = sweep_pipeline(tmp_path / "p", trials=3, concurrent=1)
    _, first = _run(pipeline, tmp_path, "one")
    lock = tmp_path / "studies" / first.name / "lock"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, sys, time; handle = open(sys.argv[1], 'a+b'); "
        "fcntl.flock(handle, fcntl.LOCK_EX); print('held', flush=True); time.sleep(1.0)"), str(lock)],
        stdout=subprocess.PIPE, text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    result, second = _run(pipeline, tmp_path, "two")
    holder.wait()
    assert result.status is JobStatus.COMPLETED  # type: ignore[attr-defined]
    log = (tmp_path / "two" / "steps" / "search" / "user_logs" / "std_log.txt").read_text()
    assert f"waiting for study {first.name}: another job is running it" in log
    assert "3 of 3 trials already finished" in log and len(second.trials) == 3
