"""Schedules of the embedded workspace, and the trigger rules every backend should check alike.

A local schedule is a stored record: the trigger plus the pipeline submission it would make (local
file inputs copied into the artifact store, so they outlive the caller's temporary folder). The
embedded workspace has no scheduler service, so nothing fires by itself (``mlops schedule run-due``
comes later); ``mlops schedule create`` prints a crontab line and an Azure DevOps ``schedules:``
entry instead. The checks below are pure functions so that the Azure workspace can apply exactly
the same rules before it calls Azure ML.
"""

from __future__ import annotations

import json
import re
import sqlite3
from contextlib import AbstractContextManager
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from mlops_azure.errors import NotFoundError, UserInputError
from mlops_azure.local import metadata as db
from mlops_azure.local.artifacts import ArtifactStore
from mlops_azure.workspace import (
    InputValue,
    PipelineSubmission,
    Schedule,
    ScheduleTrigger,
    is_asset_name,
)

#: Recurrence units, as Azure ML's ``RecurrenceTrigger`` names them.
FREQUENCIES = ("minute", "hour", "day", "week", "month")

#: The five cron fields in order, with the values each allows (Azure ML: day of week 0-6, 0 = Sunday).
CRON_FIELDS: tuple[tuple[str, int, int], ...] = (
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 6),
)

_FIELD_CHARS = re.compile(r"[0-9*,/-]+")
_PART = re.compile(r"(?P<range>\*|\d+|\d+-\d+)(?:/(?P<step>\d+))?")


def check_cron(expression: str) -> None:
    """``UserInputError`` naming the first bad field unless ``expression`` is a five-field cron
    expression of numbers, ``*``, ranges ``a-b``, steps ``/n`` and lists ``a,b``."""
    fields = expression.split()
    if len(fields) != len(CRON_FIELDS):
        raise UserInputError(f"cron '{expression}' has {len(fields)} fields, expected 5: "
                             "minute hour day-of-month month day-of-week")
    for text, (name, low, high) in zip(fields, CRON_FIELDS, strict=True):
        where = f"cron '{expression}': {name} field '{text}'"
        if not _FIELD_CHARS.fullmatch(text):
            raise UserInputError(f"{where} may only hold digits, '*', ',', '-' and '/'")
        for part in text.split(","):
            match = _PART.fullmatch(part)
            if match is None:
                raise UserInputError(f"{where}: '{part}' is not N, N-M, * or one of them with /STEP")
            if match["step"] is not None and int(match["step"]) < 1:
                raise UserInputError(f"{where}: a step must be at least 1")
            if match["range"] == "*":
                continue
            bounds = [int(n) for n in match["range"].split("-")]
            for number in bounds:
                if not low <= number <= high:
                    raise UserInputError(f"{where}: {number} is outside {low}-{high}")
            if len(bounds) == 2 and bounds[0] > bounds[1]:
                raise UserInputError(f"{where}: range {part} runs backwards")


def check_time_zone(name: str) -> None:
    """``UserInputError`` unless ``name`` is an IANA time zone (``UTC``, ``Europe/Berlin``)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserInputError(f"time zone '{name}' is unknown: use an IANA name such as "
                             "'UTC' or 'Europe/Berlin'") from None


def check_trigger(trigger: ScheduleTrigger) -> None:
    """``UserInputError`` unless the trigger is exactly one of a valid cron expression or a valid
    recurrence (frequency in :data:`FREQUENCIES`, whole interval >= 1), in a known time zone."""
    if trigger.cron and trigger.frequency:
        raise UserInputError("a schedule has either a cron expression or a frequency, not both")
    if trigger.cron:
        check_cron(trigger.cron)
    elif trigger.frequency:
        if trigger.frequency not in FREQUENCIES:
            raise UserInputError(f"frequency '{trigger.frequency}' is not one of "
                                 f"{', '.join(FREQUENCIES)}")
        interval = trigger.interval
        if isinstance(interval, bool) or not isinstance(interval, int) or interval < 1:
            raise UserInputError(f"interval {interval!r} must be a whole number of at least 1")
    else:
        raise UserInputError("a schedule needs a cron expression or a frequency")
    check_time_zone(trigger.time_zone)


def check_schedule_name(name: str) -> None:
    """Schedule names follow Azure ML's asset-name rule, so a local name works on Azure too."""
    if not is_asset_name(name):
        raise UserInputError(
            f"schedule name {name!r} is invalid: use 1-255 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )


def _trigger_json(trigger: ScheduleTrigger) -> str:
    if trigger.cron:
        return json.dumps({"cron": trigger.cron, "time_zone": trigger.time_zone})
    return json.dumps({"frequency": trigger.frequency, "interval": trigger.interval,
                       "time_zone": trigger.time_zone})


def _schedule_from_row(row: sqlite3.Row) -> Schedule:
    raw = db.from_json(row["trigger"])
    trigger = ScheduleTrigger(cron=raw.get("cron"), frequency=raw.get("frequency"),
                              interval=int(raw.get("interval", 1)),
                              time_zone=str(raw.get("time_zone", "UTC")))
    created = db.from_iso(row["created_at"])
    assert created is not None  # NOT NULL column
    return Schedule(name=row["name"], trigger=trigger, pipeline=row["pipeline"],
                    experiment=row["experiment"], enabled=bool(row["enabled"]),
                    created_at=created, inputs=db.from_json(row["inputs"]))


class LocalSchedules:
    """``create_schedule`` / ``list_schedules`` / ``delete_schedule`` on the ``schedules`` table."""

    artifacts: ArtifactStore  # provided by LocalWorkspace

    def _db(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError  # provided by LocalWorkspace

    def create_schedule(
        self, name: str, submission: PipelineSubmission, trigger: ScheduleTrigger
    ) -> Schedule:
        """Store (or replace) schedule ``name``; everything is checked before anything is written."""
        from mlops_azure.execution.definition import load_pipeline  # lazily: YAML and components

        check_schedule_name(name)
        check_trigger(trigger)
        pipeline_file = Path(submission.pipeline_file)
        # The same checks a submission gets, so a schedule never stores a run that cannot start.
        definition = load_pipeline(pipeline_file)
        for key in submission.inputs:
            if key not in definition.inputs:
                raise UserInputError(f"{definition.shown}: the pipeline has no input '{key}'")
        experiment = submission.experiment or definition.experiment_name
        if not is_asset_name(experiment):
            raise UserInputError(f"experiment name {experiment!r} is invalid")
        inputs = {key: self._keep(key, value) for key, value in submission.inputs.items()}
        now = db.to_iso(db.utc_now())
        with self._db() as conn, db.write_transaction(conn):
            # Replacing keeps the creation time, as Azure ML does when a schedule is updated.
            conn.execute(
                "INSERT INTO schedules (name, trigger, pipeline, experiment, inputs, tags, enabled, "
                "created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?) "
                "ON CONFLICT (name) DO UPDATE SET trigger = excluded.trigger, "
                "pipeline = excluded.pipeline, experiment = excluded.experiment, "
                "inputs = excluded.inputs, tags = excluded.tags, enabled = 1, "
                "updated_at = excluded.updated_at",
                (name, _trigger_json(trigger), str(pipeline_file.resolve()), experiment,
                 db.to_json(inputs), db.to_json(submission.tags), now, now),
            )
            row = conn.execute("SELECT * FROM schedules WHERE name = ?", (name,)).fetchone()
        return _schedule_from_row(row)

    def _keep(self, key: str, value: InputValue) -> InputValue:
        """A local file input copied into the artifact store, so that it outlives the caller's
        temporary folder (Azure ML uploads it at this point for the same reason)."""
        if not isinstance(value, Path):
            return value  # literals and references such as azureml:NAME@latest stay as they are
        if not value.exists():
            raise UserInputError(f"input '{key}': {value} does not exist")
        return self.artifacts.put(value).path

    def list_schedules(self) -> list[Schedule]:
        """All schedules, by name."""
        with self._db() as conn:
            rows = conn.execute("SELECT * FROM schedules ORDER BY name").fetchall()
        return [_schedule_from_row(row) for row in rows]

    def schedule_tags(self, name: str) -> dict[str, str]:
        """The tags the schedule's runs will carry (the seam's ``Schedule`` has no field for them)."""
        with self._db() as conn:
            row = conn.execute("SELECT tags FROM schedules WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFoundError(f"schedule '{name}' does not exist")
        return {k: str(v) for k, v in db.from_json(row["tags"]).items()}

    def delete_schedule(self, name: str) -> None:
        """Delete a schedule; ``NotFoundError`` when it does not exist."""
        with self._db() as conn, db.write_transaction(conn):
            deleted = conn.execute("DELETE FROM schedules WHERE name = ?", (name,)).rowcount
        if not deleted:
            raise NotFoundError(f"schedule '{name}' does not exist")


__all__ = ["CRON_FIELDS", "FREQUENCIES", "LocalSchedules", "check_cron", "check_schedule_name",
           "check_time_zone", "check_trigger"]
