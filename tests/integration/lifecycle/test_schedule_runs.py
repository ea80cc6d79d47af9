"""``run_due`` on the embedded workspace: due schedules train once (champion gate included),
missed firings coalesce, and nothing runs twice for the same firing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from mlops_azure.config import ProjectConfig
from mlops_azure.errors import UserInputError
from mlops_azure.lifecycle.schedule_runs import RUN_EVENT, due_schedules, run_due
from mlops_azure.lifecycle.schedules import build_trigger, create_schedule
from mlops_azure.workspace import Workspace


def test_a_due_schedule_trains_once_per_firing(project: ProjectConfig,
                                               workspace: Workspace) -> None:
    workspace.data.upload(project.data.asset, project.resolve(project.data.path))
    schedule = create_schedule(workspace, project, "hourly", build_trigger(every=1, unit="hour"))
    created = schedule.created_at
    assert run_due(workspace, project, now=created + timedelta(minutes=30)) == []  # not yet

    [first] = run_due(workspace, project, now=created + timedelta(hours=3, minutes=5))
    assert first.schedule == "hourly" and first.due == created + timedelta(hours=3)  # coalesced
    assert first.data == "steel-purchases:1" and first.registered == "steel-purchase-forecast:1"
    model = workspace.models.get("steel-purchase-forecast", 1)
    assert model.lineage.extra["trigger"] == "schedule"
    assert model.lineage.extra["schedule"] == "hourly"
    assert run_due(workspace, project, now=created + timedelta(hours=3, minutes=50)) == []

    [second] = run_due(workspace, project, now=created + timedelta(hours=4, minutes=1))
    assert second.verdict in ("better", "not_better")  # judged against v1, the champion
    events = workspace.events.recent(action=RUN_EVENT)
    assert [e.subject for e in events] == ["hourly", "hourly"]
    assert due_schedules(workspace, created + timedelta(hours=4, minutes=2)) == []


def test_a_failed_run_waits_for_the_next_firing(project: ProjectConfig,
                                                workspace: Workspace) -> None:
    path = project.resolve(project.data.path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:40]) + "\n")  # too few rows: the data check says no
    workspace.data.upload(project.data.asset, path)
    schedule = create_schedule(workspace, project, "daily", build_trigger(cron="0 3 * * *"))
    later = schedule.created_at + timedelta(days=1, hours=1)
    [failed] = run_due(workspace, project, now=later)
    assert failed.error and failed.registered is None
    assert run_due(workspace, project, now=later + timedelta(minutes=5)) == []


def test_run_due_is_for_the_embedded_workspace(project: ProjectConfig,
                                               azure_workspace: Workspace) -> None:
    with pytest.raises(UserInputError, match="fires its schedules itself"):
        run_due(azure_workspace, project)


def test_an_overlapping_run_due_does_nothing(project: ProjectConfig,
                                             workspace: Workspace) -> None:
    workspace.data.upload(project.data.asset, project.resolve(project.data.path))
    schedule = create_schedule(workspace, project, "hourly", build_trigger(every=1, unit="hour"))
    later = schedule.created_at + timedelta(hours=2)
    with workspace.locks.exclusive("schedule-run-due"):
        assert run_due(workspace, project, now=later) == []
    assert len(run_due(workspace, project, now=later)) == 1
