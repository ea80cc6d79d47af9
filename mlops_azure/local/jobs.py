"""Pipeline jobs of the embedded workspace: run to the end as local subprocesses."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import sqlite3
from pathlib import Path

from mlops_azure._files import make_dirs
from mlops_azure.errors import BackendError, NotFoundError, UserInputError
from mlops_azure.local import metadata as db
from mlops_azure.local.artifacts import process_alive
from mlops_azure.local.audit import check_limit
from mlops_azure.local.store import LocalPart
from mlops_azure.rules import check_asset_name
from mlops_azure.workspace import (
    Job,
    JobEvent,
    Jobs,
    JobStatus,
    PipelineSubmission,
    ProgressCallback,
    StepRun,
    Study,
)

_UNFINISHED = (JobStatus.RUNNING.value, JobStatus.QUEUED.value)


class LocalJobs(LocalPart, Jobs):
    """Jobs in the ``jobs`` and ``job_steps`` tables; folders and logs under ``jobs/``."""

    @property
    def jobs_dir(self) -> Path:
        return self.store.jobs_dir

    def run_pipeline(
        self, submission: PipelineSubmission, progress: ProgressCallback | None = None
    ) -> Job:
        """Run the pipeline's steps as local subprocesses and wait; a failed job is returned."""
        from mlops_azure.execution import runner as pipeline_runner  # lazily: it pulls in YAML and components

        pipeline_file = Path(submission.pipeline_file)
        experiment = submission.experiment or pipeline_runner.load_pipeline(pipeline_file).experiment_name
        check_asset_name(experiment, "experiment")
        self._ensure()
        now = db.utc_now()
        job_id = f"{experiment}-{now:%Y%m%d%H%M%S}-{secrets.token_hex(3)}"
        job_dir = self.jobs_dir / job_id
        try:
            make_dirs(self.jobs_dir)
            job_dir.mkdir(mode=0o700)
        except OSError as exc:
            raise BackendError(f"cannot create the job folder {job_dir}: {exc}") from None
        with self._db() as conn, db.write_transaction(conn):
            conn.execute(
                "INSERT INTO jobs (id, experiment, pipeline, status, inputs, tags, pid, hostname, "
                "created_at, started_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job_id, experiment, str(pipeline_file), JobStatus.RUNNING.value,
                 db.to_json(submission.inputs), db.to_json(submission.tags), os.getpid(),
                 socket.gethostname(), db.to_iso(now), db.to_iso(now)),
            )

        def notify(step: str | None, status: JobStatus, message: str) -> None:
            if progress is not None:
                progress(JobEvent(job_id, step, status, message))

        def on_step(step: str, status: JobStatus, message: str) -> None:
            with self._db() as conn, db.write_transaction(conn):
                db.upsert_step(conn, job_id, step, JobStatus(status), message)
            notify(step, JobStatus(status), message)

        notify(None, JobStatus.RUNNING, f"running {pipeline_file}")
        try:
            result = pipeline_runner.run_pipeline(pipeline_file, submission.inputs, job_dir,
                                                  on_step=on_step, env={"MLOPS_JOB_ID": job_id},
                                                  studies_dir=self.store.root / "studies")
        except UserInputError:
            # Bad inputs or definition: nothing ran, so nothing is recorded.
            with self._db() as conn, db.write_transaction(conn):
                conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
            shutil.rmtree(job_dir, ignore_errors=True)
            raise
        except BaseException as exc:
            canceled = isinstance(exc, KeyboardInterrupt)
            with self._db() as conn, db.write_transaction(conn):
                db.finish_job(conn, job_id, JobStatus.CANCELED if canceled else JobStatus.FAILED,
                              (f"canceled: {exc}" if str(exc) else "canceled by the user") if canceled
                              else f"the local runner failed: {exc}",
                              {}, None)
            raise
        steps = [
            (StepRun(s.name, JobStatus(s.status), s.started_at, s.ended_at, s.exit_code, s.error),
             s.log_path)
            for s in result.steps
        ]
        with self._db() as conn, db.write_transaction(conn):
            db.finish_job(conn, job_id, JobStatus(result.status), result.error, result.outputs, steps)
        job = self.get(job_id)
        notify(None, job.status, job.error or "")
        return job

    def _job(self, conn: sqlite3.Connection, row: sqlite3.Row) -> Job:
        pid = row["pid"]
        if (row["status"] in _UNFINISHED and pid is not None and row["hostname"] == socket.gethostname()
                and not process_alive(int(pid))):
            db.mark_interrupted(conn, row["id"], row["status"],
                                f"interrupted: the process that ran it (pid {pid}) is gone")
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (row["id"],)).fetchone()
        steps = conn.execute("SELECT * FROM job_steps WHERE job_id = ? ORDER BY position", (row["id"],))
        return db.job_from_row(row, [db.step_from_row(s) for s in steps])

    def get(self, job_id: str) -> Job:
        """One job with its steps; a Running job whose process died is reported (and stored) Failed."""
        with self._db() as conn:
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"job '{job_id}' does not exist")
            return self._job(conn, row)

    def recent(self, limit: int = 20) -> list[Job]:
        """Jobs, newest first."""
        check_limit(limit)
        with self._db() as conn:
            rows = conn.execute(
                "SELECT * FROM jobs ORDER BY created_at DESC, rowid DESC LIMIT ?", (limit,)
            ).fetchall()
            return [self._job(conn, row) for row in rows]

    def logs(self, job_id: str, step: str | None = None) -> str:
        """One step's captured output, or every step's in order, each under a header line."""
        steps = self.get(job_id).steps
        with self._db() as conn:
            logs = dict(conn.execute("SELECT name, log_path FROM job_steps WHERE job_id = ?", (job_id,)))
        if step is not None:
            if step not in logs:
                known = ", ".join(s.name for s in steps) or "none"
                raise NotFoundError(f"job '{job_id}' has no step '{step}' (steps: {known})")
            return _read_log(logs[step])
        parts = []
        for s in steps:
            text = _read_log(logs.get(s.name))
            parts.append(f"===== step {s.name} ({s.status.value}) =====\n{text}")
            if text and not text.endswith("\n"):
                parts.append("\n")
        return "".join(parts)

    def output_path(self, job_id: str, output: str) -> Path:
        """The folder of pipeline output ``output`` of a Completed job."""
        job = self.get(job_id)
        if job.status is not JobStatus.COMPLETED:
            raise NotFoundError(f"job '{job_id}' is {job.status.value}: only a Completed job has outputs")
        if output not in job.outputs:
            known = ", ".join(sorted(job.outputs)) or "none"
            raise NotFoundError(f"job '{job_id}' has no output '{output}' (outputs: {known})")
        path = Path(job.outputs[output])
        if not path.exists():
            raise BackendError(f"output '{output}' of job '{job_id}' at {path} is missing")
        return path

    def studies(self, job_id: str) -> list[Study]:
        """The studies its sweep steps wrote (``steps/<step>/study.json``), in step order."""
        found = []
        for step in self.get(job_id).steps:
            path = self.jobs_dir / job_id / "steps" / step.name / "study.json"
            try:
                found.append(Study.from_dict(json.loads(path.read_text(encoding="utf-8"))))
            except FileNotFoundError:
                continue
            except (OSError, ValueError, KeyError, TypeError) as exc:
                raise BackendError(f"cannot read the study of step '{step.name}' of job '{job_id}' "
                                   f"({path}): {exc}") from None
        return found


def _read_log(log_path: str | None) -> str:
    if not log_path:
        return ""
    try:
        return Path(log_path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise BackendError(f"cannot read the step log {log_path}: {exc}") from None
