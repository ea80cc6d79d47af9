"""This project's tests: CI (.azure-pipelines/ci.yml) runs them on every change.

- The project meets mlops's contract, and its data passes its own data check.
- A model trained by the project's own components passes the QA gate on a local endpoint that
  runs the project's scoring script: health, schema, offline/online parity, latency and bad
  requests refused.

Everything runs on the embedded workspace of a temporary copy of the project: no Azure, no
network beyond 127.0.0.1, and the project's own workspace and endpoints are never touched.
`mlops init` wrote this file; add your tests of the components' code beside it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_azure import Project
from mlops_azure.project_ci import trial_project

PROJECT = Path(__file__).resolve().parents[1]


def test_the_project_meets_the_contract() -> None:
    found = Project.load(PROJECT).check()
    assert found.ok, [f"{f.check}: {f.message}" for f in found.errors]


def test_the_data_passes_the_data_check() -> None:
    report = Project.load(PROJECT).check_data()
    assert report.passed, report.errors


@pytest.fixture(scope="module")
def trial(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """The project, copied to a temporary folder, on an embedded workspace of its own."""
    with trial_project(PROJECT, tmp_path_factory.mktemp("trial") / PROJECT.name) as project:
        yield project


def test_a_trained_model_passes_the_qa_gate_through_the_scoring_script(trial: Project) -> None:
    outcome = trial.train()
    # The copy's workspace is empty: the first model has no champion to beat.
    assert outcome.model is not None, outcome.decision.reason
    stage = next(name for name, s in trial.config.stages.items() if not s.requires_approval)
    trial.deploy(outcome.model.ref, stage)
    report = trial.gate_qa(stage, model=outcome.model.ref)
    assert report.passed, [f"{check.name}: {check.detail}" for check in report.failed]
