"""The data watcher against a real Azurite: each new blob → one data version → one run; restarts
resume from the cursor in the audit trail; nothing is processed twice, nothing is missed."""

from __future__ import annotations

import dataclasses
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from mlops_azure.azure.watched_container import ContainerSource
from mlops_azure.backends import open_workspace
from mlops_azure.config import ProjectConfig, load_config
from mlops_azure.errors import NotFoundError
from mlops_azure.example.regime import append_months
from mlops_azure.lifecycle import watch
from mlops_azure.lifecycle.training import TrainingStillRunning
from mlops_azure.lifecycle.watch import WATCH_EVENT, pending, watch_once
from mlops_azure.local import LocalWorkspace
from mlops_azure.local.jobs import LocalJobs
from mlops_azure.records import Job, JobStatus, ProgressCallback
from mlops_azure.testing.azurite import Azurite
from mlops_azure.workspace import Workspace


@pytest.fixture
def quick(project: ProjectConfig) -> ProjectConfig:
    """The example project with small models (the watcher trains with mlops.yaml's params)."""
    path = project.root / "mlops.yaml"
    document = yaml.safe_load(path.read_text())
    document["training"]["params"]["n_estimators"] = 30
    path.write_text(yaml.safe_dump(document))
    return load_config(path)


@pytest.fixture
def landing(azurite: Azurite) -> Iterator[ContainerSource]:
    source = ContainerSource(f"landing-{secrets.token_hex(4)}",
                             connection_string=azurite.connection_string)
    source.client.create_container()
    try:
        yield source
    finally:
        source.client.delete_container()


def put(source: ContainerSource, name: str, file: Path) -> None:
    source.client.upload_blob(name, file.read_bytes(), overwrite=True)


def training_jobs(ws: Workspace) -> list[str]:
    return [j.id for j in ws.jobs.recent(limit=100)]


def test_each_new_blob_trains_once_and_nothing_twice(quick: ProjectConfig,
                                                     landing: ContainerSource) -> None:
    ws = open_workspace(quick)
    data = quick.resolve(quick.data.path)
    put(landing, "purchases/2024-12.csv", data)
    append_months(data, 6, price_change=0.2)
    put(landing, "purchases/2025-06.csv", data)
    put(landing, "other/ignored.csv", data)

    first = watch_once(ws, quick, landing, "purchases/")
    assert [r.blob.split("@")[0] for r in first] == [
        f"{landing.container}/purchases/2024-12.csv", f"{landing.container}/purchases/2025-06.csv"]
    assert [r.phase for r in first] == ["done", "done"]
    assert [r.data for r in first] == ["steel-purchases:1", "steel-purchases:2"]
    assert first[0].verdict == "first" and first[0].registered == "steel-purchase-forecast:1"
    assert len(training_jobs(ws)) == 2
    model = ws.models.get("steel-purchase-forecast", 1)
    assert model.lineage.extra["trigger"] == "data"
    assert model.lineage.extra["data_blob"] == first[0].blob

    assert watch_once(ws, quick, landing, "purchases/") == []  # a second pass: nothing new
    assert len(training_jobs(ws)) == 2

    append_months(data, 3)
    put(landing, "purchases/2024-12.csv", data)  # overwritten: a new etag is a new blob
    again = watch_once(ws, quick, landing, "purchases/")
    assert len(again) == 1 and again[0].data == "steel-purchases:3"
    assert len(training_jobs(ws)) == 3


def test_a_restart_resumes_a_submitted_job_instead_of_training_again(
        quick: ProjectConfig, landing: ContainerSource, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = open_workspace(quick)
    put(landing, "a.csv", quick.resolve(quick.data.path))
    real_finish = watch.finish_training

    def dies(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt  # the watcher killed while the job runs

    monkeypatch.setattr(watch, "finish_training", dies)
    with pytest.raises(KeyboardInterrupt):
        watch_once(ws, quick, landing)
    assert len(training_jobs(ws)) == 1
    phases = [e.details["phase"] for e in ws.events.recent(action=WATCH_EVENT)]
    assert phases == ["submitted"]

    monkeypatch.setattr(watch, "finish_training", real_finish)
    resumed = watch_once(ws, quick, landing)
    assert [r.phase for r in resumed] == ["done"] and resumed[0].registered
    assert training_jobs(ws) == [resumed[0].job_id]  # the same job, not a second one


class StillRunningJobs(LocalJobs):
    """Jobs that are all still running when the wait ends."""

    def wait(self, job_id: str, progress: ProgressCallback | None = None,
             timeout_s: float | None = None) -> Job:
        assert timeout_s == 30.0
        return dataclasses.replace(self.get(job_id), status=JobStatus.RUNNING)


def still_running(root: Path) -> LocalWorkspace:
    """The same workspace, but every job is still running when the wait ends."""
    ws = LocalWorkspace(root)
    ws.jobs = StillRunningJobs(ws.store)
    return ws


def test_a_job_still_running_after_the_wait_is_attached_to_by_the_next_pass(
        quick: ProjectConfig, landing: ContainerSource) -> None:
    ws = open_workspace(quick)
    assert isinstance(ws, LocalWorkspace)
    put(landing, "a.csv", quick.resolve(quick.data.path))
    with pytest.raises(TrainingStillRunning):
        watch_once(still_running(ws.root), quick, landing, timeout_s=30.0)
    [submitted] = ws.events.recent(action=WATCH_EVENT)
    assert submitted.details["phase"] == "submitted"
    [done] = watch_once(ws, quick, landing)
    assert done.phase == "done" and done.job_id == submitted.details["job"]
    assert training_jobs(ws) == [done.job_id]


def test_a_crash_before_the_cursor_was_written_finds_the_job_by_its_tag(
        quick: ProjectConfig, landing: ContainerSource, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = open_workspace(quick)
    put(landing, "a.csv", quick.resolve(quick.data.path))
    real_record = ws.events.record

    def dies_on_submitted(action: str, subject: str, details: dict[str, object],
                          **kwargs: str) -> object:
        if details.get("phase") == "submitted":
            raise KeyboardInterrupt
        return real_record(action, subject, details, **kwargs)

    monkeypatch.setattr(ws.events, "record", dies_on_submitted)
    with pytest.raises(KeyboardInterrupt):
        watch_once(ws, quick, landing)
    assert ws.events.recent(action=WATCH_EVENT) == []
    monkeypatch.setattr(ws.events, "record", real_record)
    resumed = watch_once(ws, quick, landing)
    assert len(resumed) == 1 and resumed[0].phase == "done"
    assert training_jobs(ws) == [resumed[0].job_id]


def test_a_blob_that_fails_training_is_recorded_once_and_not_retried(
        quick: ProjectConfig, landing: ContainerSource) -> None:
    ws = open_workspace(quick)
    bad = quick.root / "bad.csv"
    lines = quick.resolve(quick.data.path).read_text().splitlines()
    bad.write_text("\n".join(lines[:50]) + "\n")  # too few rows for the data check
    put(landing, "bad.csv", bad)
    failed = watch_once(ws, quick, landing)
    assert [r.phase for r in failed] == ["failed"] and failed[0].error
    assert pending(ws, landing) == [] and watch_once(ws, quick, landing) == []


def test_a_missing_container_is_named(quick: ProjectConfig, azurite: Azurite) -> None:
    source = ContainerSource("nope", connection_string=azurite.connection_string)
    with pytest.raises(NotFoundError, match=r"container \S*/nope .*does not exist"):
        watch_once(open_workspace(quick), quick, source)


def test_a_second_watcher_stands_aside(quick: ProjectConfig, landing: ContainerSource) -> None:
    ws = open_workspace(quick)
    put(landing, "a.csv", quick.resolve(quick.data.path))
    said: list[str] = []
    with ws.locks.exclusive(f"watch-{landing.container}"):  # the first watcher, mid-pass
        assert watch_once(ws, quick, landing, say=said.append) == []
    assert "another watcher" in said[0] and training_jobs(ws) == []
    assert [r.phase for r in watch_once(ws, quick, landing)] == ["done"]
