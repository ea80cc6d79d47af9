"""Schedules on Azure ML: a ``JobSchedule`` that submits the training pipeline job."""

from __future__ import annotations

import json
from typing import Any

from mlops_azure.azure.connection import AzureConnection, AzurePart, created_at
from mlops_azure.azure.jobs import INPUTS_TAG, PIPELINE_TAG, AzureJobs
from mlops_azure.errors import UserInputError
from mlops_azure.rules import check_schedule_name, check_trigger
from mlops_azure.workspace import PipelineSubmission, Schedule, Schedules, ScheduleTrigger


def windows_time_zone(iana: str) -> str:
    """The Windows name Azure ML schedules expect for an IANA zone (``Europe/Berlin`` →
    ``W. Europe Standard Time``); UTC stays UTC."""
    from tzlocal.windows_tz import tz_win

    if iana in ("UTC", "Etc/UTC"):
        return "UTC"
    found = tz_win.get(iana)
    if found is None:
        raise UserInputError(f"time zone '{iana}' has no Windows equivalent for Azure ML schedules: "
                             "use a zone such as 'Europe/Berlin' or 'UTC'")
    return str(found)


def iana_time_zone(windows: str) -> str:
    """Back from the Windows name Azure ML returns to the IANA name mlops speaks."""
    from tzlocal.windows_tz import win_tz

    return "UTC" if windows == "UTC" else str(win_tz.get(windows, windows))


#: Cron fields Azure ML schedules do not support: they are treated as ``*`` ("Schedule machine
#: learning pipeline jobs", cron expression), so ``0 3 1 * *`` would fire daily, not monthly.
IGNORED_CRON_FIELDS = {2: ("day of month", "on every day of the month", 31),
                       3: ("month", "in every month", 12)}


def azure_cron(expression: str, what: str) -> str:
    """``expression`` as Azure ML will read it: a day-of-month or month field that covers every
    value becomes ``*``; any other value there is refused (Azure would ignore it)."""
    from croniter import croniter

    fields = expression.split()
    for index, (name, ignored, count) in IGNORED_CRON_FIELDS.items():
        if fields[index] == "*":
            continue
        alone = ["0", "0", "*", "*", "*"]
        alone[index] = fields[index]
        values = croniter.expand(" ".join(alone))[0][index]
        if values == ["*"] or len(values) == count:
            fields[index] = "*"  # every value: exactly what Azure does with '*'
            continue
        raise UserInputError(
            f"{what}: cron field {name} ('{fields[index]}') is ignored by Azure ML schedules, "
            f"which would fire {ignored}: put '*' there (and a day of week if needed), or use "
            "--every N --unit month to fire every N months from the creation time")
    return " ".join(fields)


def sdk_trigger(trigger: ScheduleTrigger, what: str) -> Any:
    """The SDK's ``CronTrigger`` or ``RecurrenceTrigger`` for ``trigger`` (Windows time zone)."""
    from azure.ai.ml.entities import CronTrigger, RecurrenceTrigger

    zone = windows_time_zone(trigger.time_zone)
    if trigger.cron:
        return CronTrigger(expression=azure_cron(trigger.cron, what), time_zone=zone)
    if trigger.frequency:
        return RecurrenceTrigger(frequency=trigger.frequency, interval=trigger.interval,
                                 time_zone=zone)
    raise UserInputError(f"{what} needs a cron expression or a frequency")


class AzureSchedules(AzurePart, Schedules):
    """Schedules as Azure ML ``JobSchedule`` resources, which Azure ML fires by itself."""

    fires_itself = True

    def __init__(self, conn: AzureConnection, jobs: AzureJobs) -> None:
        super().__init__(conn)
        self.jobs = jobs

    def create(
        self, name: str, submission: PipelineSubmission, trigger: ScheduleTrigger
    ) -> Schedule:
        """Create or replace the schedule; each firing submits a fresh pipeline job."""
        from azure.ai.ml.entities import JobSchedule

        check_schedule_name(name)
        check_trigger(trigger)  # the embedded workspace's rules, so both refuse alike
        job = self.jobs.build_pipeline_job(submission, None)
        fires = sdk_trigger(trigger, f"schedule '{name}'")
        schedule = JobSchedule(name=name, trigger=fires, create_job=job,
                               tags={PIPELINE_TAG: str(submission.pipeline_file)})
        doing = f"creating schedule {name}"
        with self.call(doing):
            created = self.finish(self.ml.schedules.begin_create_or_update(schedule), doing)
        return self._to_schedule(created)

    def all(self) -> list[Schedule]:
        """Training schedules (``JobSchedule``); monitors are schedules too, and left out."""
        from azure.ai.ml.entities import JobSchedule

        with self.call("listing schedules"):
            found = [s for s in self.ml.schedules.list() if isinstance(s, JobSchedule)]
        return sorted((self._to_schedule(s) for s in found), key=lambda s: s.name)

    def delete(self, name: str) -> None:
        """Disable, then delete: Azure ML refuses to delete an enabled schedule ("Schedule
        machine learning pipeline jobs", Delete a schedule)."""
        with self.call(f"reading schedule {name}"):
            found = self.ml.schedules.get(name)
        if getattr(found, "is_enabled", True):
            doing = f"disabling schedule {name}"
            with self.call(doing):
                self.finish(self.ml.schedules.begin_disable(name), doing)
        doing = f"deleting schedule {name}"
        with self.call(doing):
            self.finish(self.ml.schedules.begin_delete(name), doing)

    def _to_schedule(self, raw: Any) -> Schedule:
        fires = raw.trigger
        kind = str(getattr(fires, "type", "")).lower()
        tz = iana_time_zone(str(getattr(fires, "time_zone", None) or "UTC"))
        if "cron" in kind:
            trigger = ScheduleTrigger(cron=str(fires.expression), time_zone=tz)
        else:
            trigger = ScheduleTrigger(frequency=str(fires.frequency).lower(),
                                      interval=int(fires.interval or 1), time_zone=tz)
        job = raw.create_job
        tags = dict(getattr(job, "tags", None) or {}) if not isinstance(job, str) else {}
        try:
            inputs = json.loads(tags.get(INPUTS_TAG, "{}"))
        except ValueError:
            inputs = {}
        return Schedule(
            name=str(raw.name), trigger=trigger,
            pipeline=str((raw.tags or {}).get(PIPELINE_TAG, tags.get(PIPELINE_TAG, ""))),
            experiment=str(getattr(job, "experiment_name", "") or ""),
            enabled=bool(getattr(raw, "is_enabled", True)), created_at=created_at(raw),
            inputs=inputs,
        )
