"""Schedules of the embedded workspace: stored records, fired by ``mlops schedule run-due``.

A local schedule is a stored record: the trigger plus the pipeline submission it would make (local
file inputs copied into the artifact store, so they outlive the caller's temporary folder). The
embedded workspace has no scheduler service, so nothing fires by itself: ``mlops schedule run-due``
(from cron, say) runs what is due (``mlops_azure.lifecycle.schedule_runs``), and ``mlops schedule
create`` also prints a crontab line and an Azure DevOps ``schedules:`` entry for this schedule.
The trigger and name rules live in ``mlops_azure.rules``, shared with the Azure workspace.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from mlops_azure.errors import NotFoundError, UserInputError
from mlops_azure.local import metadata as db
from mlops_azure.local.store import LocalPart
from mlops_azure.rules import check_asset_name, check_schedule_name, check_trigger
from mlops_azure.workspace import (
    InputValue,
    PipelineSubmission,
    Schedule,
    Schedules,
    ScheduleTrigger,
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


class LocalSchedules(LocalPart, Schedules):
    """Schedules as rows of the ``schedules`` table, fired by ``mlops schedule run-due``."""

    def create(
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
        check_asset_name(experiment, "experiment")
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

    def all(self) -> list[Schedule]:
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

    def delete(self, name: str) -> None:
        """Delete a schedule; ``NotFoundError`` when it does not exist."""
        with self._db() as conn, db.write_transaction(conn):
            deleted = conn.execute("DELETE FROM schedules WHERE name = ?", (name,)).rowcount
        if not deleted:
            raise NotFoundError(f"schedule '{name}' does not exist")


__all__ = ["LocalSchedules"]
