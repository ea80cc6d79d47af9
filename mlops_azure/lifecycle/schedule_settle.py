"""``mlops schedule settle``: judge and register what the workspace's own schedules trained.

An Azure ML schedule fires its pipeline job by itself, and the pipeline only trains: nobody is
there to apply the champion gate and register the candidate. A settle pass (run from a DevOps
schedule, like the data watcher) finds the finished jobs the project's schedules fired - they
carry the tags ``train`` writes, ``schedule: NAME`` among them, because the schedule's job
definition does - and finishes each exactly as ``mlops train --attach`` would (champion gate,
responsible gate, registration with the job in the model's lineage).

Exactly once: each settled job gets a ``schedule.settle`` event in the audit trail, and a job
already judged (``mlops schedule run-due`` on the embedded workspace trains in one go) is left
alone. A job still running waits for the next pass. After a registration the pinned schedules
are re-pinned on the new champion.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlops_azure.audit_events import (
    ChampionGateEvent,
    ScheduleSettleEvent,
    TrainEvent,
    read,
    record,
    resolve_actor,
)
from mlops_azure.config import ProjectConfig
from mlops_azure.errors import GateFailed
from mlops_azure.lifecycle.schedules import repin_schedules
from mlops_azure.lifecycle.training import finish_training
from mlops_azure.records import Job, ProgressCallback
from mlops_azure.workspace import Workspace

#: How many recent jobs a pass looks through for fired ones.
RECENT_JOBS = 100


@dataclass(frozen=True)
class SettledRun:
    """One fired job and what settling it did."""

    schedule: str
    job_id: str
    data: str | None
    registered: str | None
    verdict: str | None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"schedule": self.schedule, "job_id": self.job_id, "data": self.data,
                "registered": self.registered, "verdict": self.verdict, "error": self.error}


def _judged(ws: Workspace, job: Job) -> bool:
    """Whether ``job`` was settled, or judged by a ``train`` already (run-due, an attach)."""
    return any(read(ws, kind, 1, subject=job.id)
               for kind in (ScheduleSettleEvent, ChampionGateEvent, TrainEvent))


def unsettled(ws: Workspace, config: ProjectConfig) -> list[tuple[str, Job]]:
    """Finished jobs fired by the project's schedules and not judged yet, oldest first."""
    names = {s.name for s in ws.schedules.all() if s.experiment == config.training.experiment}
    fired = [j for j in ws.jobs.recent(limit=RECENT_JOBS)
             if j.tags.get("trigger") == "schedule" and j.tags.get("schedule") in names
             and j.status.is_terminal]
    return [(j.tags["schedule"], j) for j in sorted(fired, key=lambda j: j.created_at)
            if not _judged(ws, j)]


def settle(
    ws: Workspace,
    config: ProjectConfig,
    *,
    progress: ProgressCallback | None = None,
    say: Callable[[str], None] | None = None,
    actor: str | None = None,
) -> list[SettledRun]:
    """One pass (see the module docstring); one pass at a time (a workspace lock)."""
    actor = resolve_actor(actor)
    with ws.locks.exclusive("schedule-settle") as mine:
        if not mine:
            if say:
                say("another settle pass is running: nothing done")
            return []
        done = [_settle_one(ws, config, schedule, job, progress, say, actor)
                for schedule, job in unsettled(ws, config)]
    if any(run.registered for run in done):
        repin_schedules(ws, config, "a scheduled run registered a new version", actor=actor)
    return done


def _settle_one(ws: Workspace, config: ProjectConfig, schedule: str, job: Job,
                progress: ProgressCallback | None, say: Callable[[str], None] | None,
                actor: str) -> SettledRun:
    if say:
        say(f"job {job.id} fired by schedule {schedule} ended {job.status.value}: judging it")
    try:
        outcome = finish_training(ws, config, job.id, progress=progress, actor=actor)
    except GateFailed as exc:
        run = SettledRun(schedule, job.id, job.tags.get("data"), None, None, exc.message)
    else:
        run = SettledRun(schedule, job.id, outcome.data.ref,
                         outcome.model.ref if outcome.model else None, outcome.decision.verdict)
    record(ws, ScheduleSettleEvent(subject=job.id, schedule=schedule, registered=run.registered,
                                   verdict=run.verdict, error=run.error), actor=actor)
    return run
