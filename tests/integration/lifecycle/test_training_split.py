"""submit_training + finish_training (the Azure DevOps split) behave like train in one go."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from mlops_azure.config import ProjectConfig
from mlops_azure.errors import BaselineMissingError, UserInputError
from mlops_azure.lifecycle.training import (
    TrainingFailed,
    TrainingStillRunning,
    finish_training,
    submit_training,
    train,
)
from mlops_azure.local import LocalWorkspace
from mlops_azure.local.jobs import LocalJobs
from mlops_azure.workspace import Job, JobStatus, PipelineSubmission, ProgressCallback, Workspace

FAST = {"n_estimators": 60}
WEAK = {"n_estimators": 3}


def test_submit_then_finish_registers_like_train(project: ProjectConfig, workspace: Workspace) -> None:
    job = submit_training(workspace, project, params=FAST)
    assert job.tags["data"] == "steel-purchases:1" and job.tags["champion"] == ""
    assert workspace.models.versions() == []  # submitting registers nothing
    outcome = finish_training(workspace, project, job.id, actor="ana@contoso.com")
    assert outcome.decision.verdict == "first" and outcome.job.id == job.id
    assert outcome.model is not None and outcome.model.ref == "steel-purchase-forecast:1"
    lineage = outcome.model.lineage
    assert (lineage.job_id, lineage.creator, lineage.params["n_estimators"]) == (
        job.id, "ana@contoso.com", 60)
    assert "raw_data" not in lineage.params and "schema" not in lineage.params
    actions = [e.action for e in workspace.events.recent()]
    assert actions.count("register") == 1 and actions.count("gate.champion") == 1


def test_finishing_twice_registers_once(project: ProjectConfig, workspace: Workspace) -> None:
    job = submit_training(workspace, project, params=FAST)
    first = finish_training(workspace, project, job.id)
    again = finish_training(workspace, project, job.id)
    assert first.model == again.model
    assert [m.ref for m in workspace.models.versions()] == ["steel-purchase-forecast:1"]


def test_the_gate_judges_against_the_champion_recorded_at_submission(
    project: ProjectConfig, workspace: Workspace
) -> None:
    train(workspace, project, params=FAST)
    weak = submit_training(workspace, project, params=WEAK)
    assert weak.tags["champion"] == "steel-purchase-forecast:1"
    assert weak.tags["champion_source"] == "latest"
    # A newer version registered while the job ran must not become its yardstick.
    newer = train(workspace, project, params={"n_estimators": 200})
    assert newer.model is not None and newer.model.version == 2
    outcome = finish_training(workspace, project, weak.id)
    assert outcome.baseline is not None
    assert outcome.baseline.model.ref == "steel-purchase-forecast:1"
    assert outcome.decision.verdict == "not_better" and outcome.model is None


def test_a_failed_job_fails_the_finish(project: ProjectConfig, workspace: Workspace) -> None:
    job = submit_training(workspace, project, params={"n_estimators": -5})
    assert job.status is JobStatus.FAILED
    with pytest.raises(TrainingFailed, match=job.id):
        finish_training(workspace, project, job.id)


def test_a_job_not_from_mlops_train_is_refused(
    project: ProjectConfig, workspace: Workspace, tmp_path: Path
) -> None:
    job = submit_training(workspace, project, params=FAST)
    ws = _with_tags(workspace, job.id, {})
    with pytest.raises(UserInputError, match="not submitted by 'mlops train'"):
        finish_training(ws, project, job.id)


def test_a_recorded_champion_missing_from_the_registry_stops_loudly(
    project: ProjectConfig, workspace: Workspace
) -> None:
    job = submit_training(workspace, project, params=FAST)
    ws = _with_tags(workspace, job.id, {**job.tags, "champion": "steel-purchase-forecast:9"})
    with pytest.raises(BaselineMissingError, match="steel-purchase-forecast:9"):
        finish_training(ws, project, job.id)


def test_a_job_still_running_after_the_wait_is_reported(
    project: ProjectConfig, workspace: Workspace
) -> None:
    job = submit_training(workspace, project, params=FAST)
    running = StillRunning(workspace)
    with pytest.raises(TrainingStillRunning, match=f"job {job.id} is still running: attach again"):
        finish_training(running, project, job.id, timeout_s=0.01)
    assert running.waited == [0.01]
    assert workspace.models.versions() == []


class StillRunningJobs(LocalJobs):
    """Jobs that are all still running when the wait ends."""

    waited: list[float | None]

    def wait(self, job_id: str, progress: ProgressCallback | None = None,
             timeout_s: float | None = None) -> Job:
        self.waited.append(timeout_s)
        return dataclasses.replace(self.get(job_id), status=JobStatus.RUNNING)


class StillRunning(LocalWorkspace):
    """The same workspace, but every job is still running when the wait ends."""

    def __init__(self, inner: Workspace) -> None:
        assert isinstance(inner, LocalWorkspace)
        super().__init__(inner.root)
        self.jobs = jobs = StillRunningJobs(self.store)
        jobs.waited = self.waited = []


def _with_tags(workspace: Workspace, job_id: str, tags: dict[str, str]) -> Workspace:
    assert isinstance(workspace, LocalWorkspace)

    class Retagged(LocalJobs):
        def get(self, wanted: str) -> Job:
            job = super().get(wanted)
            return dataclasses.replace(job, tags=tags) if wanted == job_id else job

        def run_pipeline(self, submission: PipelineSubmission,
                         progress: ProgressCallback | None = None) -> Job:
            raise AssertionError("not used")

    retagged = LocalWorkspace(workspace.root)
    retagged.jobs = retagged.models.jobs = Retagged(retagged.store)  # type: ignore[attr-defined]
    return retagged
