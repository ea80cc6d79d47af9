"""``mlops schedule run-due``: fire the embedded workspace's schedules that are due.

The embedded workspace has no scheduler service; a crontab entry (or a DevOps schedule) that
runs ``mlops schedule run-due`` every few minutes stands in for one. A schedule is due when its
trigger has fired since it last ran (or since it was created): missed firings are coalesced
into one run, as Azure ML does after an outage. A run is the full ``train``, not just the
pipeline: the newest version of the schedule's data asset, its training parameters, the
champion gate and registration, with ``trigger: schedule`` in the model's lineage.

When each schedule last ran is kept in the audit trail (``schedule.run`` events), so nothing
besides the workspace needs to persist between invocations.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from mlops_azure.audit_events import ScheduleRunEvent, read, record, resolve_actor
from mlops_azure.config import ProjectConfig
from mlops_azure.contract import RESERVED_INPUTS
from mlops_azure.errors import GateFailed, UserInputError
from mlops_azure.lifecycle.training import train
from mlops_azure.records import InputValue, ProgressCallback, Schedule, ScheduleTrigger
from mlops_azure.workspace import Workspace

RUN_EVENT = ScheduleRunEvent.ACTION
_STEPS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1),
          "week": timedelta(weeks=1)}


def last_firing(trigger: ScheduleTrigger, created: datetime, now: datetime) -> datetime | None:
    """When ``trigger`` last fired at or before ``now`` (UTC), or None if not since ``created``.

    Cron is read in the trigger's time zone; a recurrence fires every ``interval`` units from the
    creation time on (the first time one interval after it)."""
    if trigger.cron:
        from croniter import croniter

        zone = ZoneInfo(trigger.time_zone)
        # croniter returns the previous firing strictly before its start: nudge past "now".
        fired = croniter(trigger.cron, (now + timedelta(seconds=1)).astimezone(zone)).get_prev(
            datetime)
        fired = fired.astimezone(UTC)
        return fired if fired > created else None
    if trigger.frequency == "month":
        from dateutil.relativedelta import relativedelta

        months = (now.year - created.year) * 12 + now.month - created.month
        months -= months % trigger.interval
        while months > 0:
            # relativedelta ends on a shorter month's last day (the 31st in February: the 28th)
            monthly: datetime = created + relativedelta(months=months)
            if monthly <= now:
                return monthly
            months -= trigger.interval
        return None
    step = _STEPS[str(trigger.frequency)] * trigger.interval
    count = (now - created) // step
    return created + count * step if count >= 1 else None


@dataclass(frozen=True)
class ScheduledRun:
    """One due schedule and what its run did."""

    schedule: str
    due: datetime
    job_id: str | None
    data: str | None
    registered: str | None
    verdict: str | None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"schedule": self.schedule, "due": self.due.isoformat(), "job_id": self.job_id,
                "data": self.data, "registered": self.registered, "verdict": self.verdict,
                "error": self.error}


def _last_runs(ws: Workspace) -> dict[str, datetime]:
    runs: dict[str, datetime] = {}
    for found in read(ws, ScheduleRunEvent, limit=1_000_000):
        runs.setdefault(found.event.subject, found.event.due)
    return runs


def due_schedules(ws: Workspace, now: datetime | None = None) -> list[tuple[Schedule, datetime]]:
    """The enabled schedules due at ``now`` (default: this moment), with their due times."""
    now = now or datetime.now(UTC)
    ran = _last_runs(ws)
    due = []
    for schedule in ws.schedules.all():
        fired = last_firing(schedule.trigger, schedule.created_at, now)
        last = ran.get(schedule.name)
        if schedule.enabled and fired is not None and (last is None or fired > last):
            due.append((schedule, fired))
    return due


def _training_inputs(schedule: Schedule) -> tuple[str, dict[str, InputValue]]:
    """The data asset name and the training parameters the schedule was created with."""
    reference = str(schedule.inputs.get("raw_data", ""))
    name = reference.removeprefix("azureml:").removesuffix("@latest")
    if not reference.startswith("azureml:") or not name:
        raise UserInputError(f"schedule '{schedule.name}' does not train on a data asset "
                             f"(raw_data is '{reference}'): recreate it with mlops schedule create")
    params = {k: v for k, v in schedule.inputs.items() if k not in RESERVED_INPUTS}
    return name, params


def run_due(
    ws: Workspace,
    config: ProjectConfig,
    *,
    now: datetime | None = None,
    progress: ProgressCallback | None = None,
    say: Callable[[str], None] | None = None,
    actor: str | None = None,
) -> list[ScheduledRun]:
    """Run every due schedule once (see the module docstring). A failed run is recorded and
    waits for the next firing; infrastructure errors propagate before anything is recorded.
    One run-due at a time (a workspace lock): an overlapping one does nothing."""
    if ws.schedules.fires_itself:
        raise UserInputError(f"the {ws.backend} workspace fires its schedules itself: run-due is "
                             "for the embedded workspace")
    actor = resolve_actor(actor)
    with ws.locks.exclusive("schedule-run-due") as mine:
        if not mine:
            if say:
                say("another run-due is running: nothing done")
            return []
        return _run_due(ws, config, now, progress, say, actor)


def _run_due(ws: Workspace, config: ProjectConfig, now: datetime | None,
             progress: ProgressCallback | None, say: Callable[[str], None] | None,
             actor: str) -> list[ScheduledRun]:
    done = []
    for schedule, fired in due_schedules(ws, now):
        data, params = _training_inputs(schedule)
        if say:
            say(f"schedule {schedule.name} is due (fired {fired:%Y-%m-%d %H:%M} UTC): training on "
                f"the newest {data}")
        try:
            outcome = train(ws, config, data=data, params=params, progress=progress, actor=actor,
                            because={"trigger": "schedule", "schedule": schedule.name})
        except GateFailed as exc:
            run = ScheduledRun(schedule.name, fired, None, None, None, None, exc.message)
        else:
            run = ScheduledRun(schedule.name, fired, outcome.job.id, outcome.data.ref,
                               outcome.model.ref if outcome.model else None,
                               outcome.decision.verdict)
        record(ws, ScheduleRunEvent(subject=run.schedule, schedule=run.schedule, due=run.due,
                                    job_id=run.job_id, data=run.data, registered=run.registered,
                                    verdict=run.verdict, error=run.error), actor=actor)
        done.append(run)
    return done
