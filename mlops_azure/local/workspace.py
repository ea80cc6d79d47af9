"""``LocalWorkspace``: the embedded workspace (SQLite metadata + content-addressed artifact folders).

Layout under ``root``: ``workspace.db`` (see :mod:`.metadata`), ``artifacts/`` (see
:mod:`.artifacts`), ``jobs/<job id>/`` (a job's step folders and logs, written by the pipeline
runner) and ``endpoints/`` (local online endpoints, see :mod:`.endpoints`). Files are always
copied into the store *before* the row that points at them is inserted, and the row goes in
together with its audit event in one transaction, so an interrupted command leaves at worst an
unreferenced artifact, never a half-registered version.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from mlops_azure._files import OTHERS, atomic_write, is_private, make_dirs, make_private
from mlops_azure._tree_hash import tree_hash
from mlops_azure.audit_events import ArchiveEvent, DataUploadEvent, RegisterEvent, resolve_actor
from mlops_azure.errors import BackendError, NotFoundError, UserInputError
from mlops_azure.local import metadata as db
from mlops_azure.local.artifacts import ArtifactStore, process_alive
from mlops_azure.local.audit import LocalAudit, check_limit
from mlops_azure.local.endpoints import LocalEndpoints
from mlops_azure.local.schedules import LocalSchedules
from mlops_azure.rules import check_asset_name, check_document_name, check_metrics
from mlops_azure.workspace import (
    DataAsset,
    Job,
    JobEvent,
    JobStatus,
    Lineage,
    ModelVersion,
    PipelineSubmission,
    ProgressCallback,
    StepRun,
    Workspace,
)

_UNFINISHED = (JobStatus.RUNNING.value, JobStatus.QUEUED.value)


class LocalWorkspace(LocalAudit, LocalSchedules, LocalEndpoints, Workspace):
    """The embedded workspace in folder ``root`` (created on first use)."""

    backend = "local"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.db_path = self.root / "workspace.db"
        self.artifacts = ArtifactStore(self.root / "artifacts")
        self.jobs_dir = self.root / "jobs"
        self._ready = False

    def __repr__(self) -> str:
        return f"LocalWorkspace({str(self.root)!r})"

    # -- plumbing --------------------------------------------------------------------------------
    def _ensure(self) -> None:
        if self._ready:
            return
        if self.root.exists() and not self.root.is_dir():
            raise BackendError(f"workspace folder {self.root} is a file, not a folder")
        try:
            self.root.parent.mkdir(parents=True, exist_ok=True)
            self.root.mkdir(mode=0o700, exist_ok=True)
            self._keep_private()
        except OSError as exc:
            raise BackendError(f"cannot prepare the workspace folder {self.root}: {exc}") from None
        db.open_database(self.db_path).close()
        self.artifacts.sweep()
        self._ready = True

    def _keep_private(self) -> None:
        """The workspace holds endpoint keys: its folder is 0700 and what it writes 0600.

        A workspace made before that (0755 / 0644) is tightened in place the first time it is
        opened. Explicit modes rather than a process umask: the same process writes reports and
        exports outside the workspace that must keep their usual modes.
        """
        if not is_private(self.root) or (self.db_path.exists() and self.db_path.stat().st_mode & OTHERS):
            make_private(self.root)
        # SQLite gives its -wal and -shm files the mode of the database file, so create that first.
        os.close(os.open(self.db_path, os.O_RDWR | os.O_CREAT, 0o600))

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """A fresh connection per operation: cheap, and safe whichever thread calls us."""
        self._ensure()
        conn = db.connect(self.db_path)
        try:
            yield conn
        except sqlite3.Error as exc:
            raise BackendError(f"workspace database {self.db_path} failed: {exc}") from None
        finally:
            conn.close()

    def _row(self, table: db.VersionedTable, kind: str, name: str, version: int | None) -> sqlite3.Row:
        with self._db() as conn:
            row = db.fetch_version(conn, table, name, version)
        if row is None:
            raise NotFoundError(f"{kind} '{name}' does not exist" if version is None
                                else f"{kind} '{name}' has no version {version}")
        return row

    def _verified(self, row: sqlite3.Row, kind: str) -> Path:
        path = self.artifacts.relocate(Path(row["path"]), row["sha256"])
        if not self.artifacts.verify(path, row["sha256"]):
            raise BackendError(f"the artifacts of {kind} {row['name']}:{row['version']} at {path} "
                               "are missing or altered")
        return path

    # -- data assets -----------------------------------------------------------------------------
    def upload_data(self, name: str, path: Path, *, description: str = "",
                    actor: str | None = None) -> DataAsset:
        """Store ``path`` as the next version of ``name``; unchanged content returns the latest."""
        check_asset_name(name, "data asset")
        path = Path(path)
        if not path.exists():
            raise UserInputError(f"data path {path} does not exist")
        digest = tree_hash(path)
        if path.is_dir() and digest.files == 0:
            raise UserInputError(f"data folder {path} is empty")
        with self._db() as conn:
            latest = db.fetch_version(conn, "data_assets", name, None)
        if latest is not None and latest["sha256"] == digest.sha256 and self.artifacts.verify(
            self.artifacts.relocate(Path(latest["path"]), digest.sha256), digest.sha256
        ):
            return db.data_from_row(latest)
        stored = self.artifacts.put(path)  # also repairs an altered copy of identical content
        who = resolve_actor(actor)  # before the transaction: it may ask git
        with self._db() as conn, db.write_transaction(conn):
            latest = db.fetch_version(conn, "data_assets", name, None)
            if latest is not None and latest["sha256"] == stored.sha256:
                return db.data_from_row(latest)  # the same content was uploaded meanwhile
            version = (int(latest["version"]) if latest is not None else 0) + 1
            conn.execute(
                "INSERT INTO data_assets (name, version, path, sha256, size_bytes, description, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (name, version, str(stored.path), stored.sha256, stored.size_bytes, description,
                 db.to_iso(db.utc_now())),
            )
            event = DataUploadEvent(subject=f"{name}:{version}", source=str(path.resolve()),
                                    sha256=stored.sha256, size_bytes=stored.size_bytes)
            db.insert_event(conn, event.ACTION, event.subject, event.details(), who)
            new = db.fetch_version(conn, "data_assets", name, version)
        assert new is not None  # inserted just above, in this transaction
        return db.data_from_row(new)

    def get_data(self, name: str, version: int | None = None) -> DataAsset:
        """One version of a data asset; the latest when ``version`` is None."""
        return db.data_from_row(self._row("data_assets", "data asset", name, version))

    def list_data(self, name: str | None = None) -> list[DataAsset]:
        """Data asset versions, newest first."""
        with self._db() as conn:
            return [db.data_from_row(row) for row in db.fetch_versions(conn, "data_assets", name)]

    def data_local_path(self, asset: DataAsset) -> Path:
        """The stored file or folder of ``asset``, verified against its content hash."""
        return self._verified(self._row("data_assets", "data asset", asset.name, asset.version),
                              "data asset")

    # -- jobs ------------------------------------------------------------------------------------
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
                                                  on_step=on_step, env={"MLOPS_JOB_ID": job_id})
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
        job = self.get_job(job_id)
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

    def get_job(self, job_id: str) -> Job:
        """One job with its steps; a Running job whose process died is reported (and stored) Failed."""
        with self._db() as conn:
            row = conn.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise NotFoundError(f"job '{job_id}' does not exist")
            return self._job(conn, row)

    def list_jobs(self, limit: int = 20) -> list[Job]:
        """Jobs, newest first."""
        check_limit(limit)
        with self._db() as conn:
            rows = conn.execute(
                "SELECT * FROM jobs ORDER BY created_at DESC, rowid DESC LIMIT ?", (limit,)
            ).fetchall()
            return [self._job(conn, row) for row in rows]

    def job_logs(self, job_id: str, step: str | None = None) -> str:
        """One step's captured output, or every step's in order, each under a header line."""
        steps = self.get_job(job_id).steps
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

    def job_output_path(self, job_id: str, output: str) -> Path:
        """The folder of pipeline output ``output`` of a Completed job."""
        job = self.get_job(job_id)
        if job.status is not JobStatus.COMPLETED:
            raise NotFoundError(f"job '{job_id}' is {job.status.value}: only a Completed job has outputs")
        if output not in job.outputs:
            known = ", ".join(sorted(job.outputs)) or "none"
            raise NotFoundError(f"job '{job_id}' has no output '{output}' (outputs: {known})")
        path = Path(job.outputs[output])
        if not path.exists():
            raise BackendError(f"output '{output}' of job '{job_id}' at {path} is missing")
        return path

    # -- models ----------------------------------------------------------------------------------
    def register_model(
        self,
        name: str,
        *,
        job_id: str,
        output: str,
        metrics: Mapping[str, float],
        lineage: Lineage,
        tags: Mapping[str, str] | None = None,
        description: str = "",
    ) -> ModelVersion:
        """Copy a Completed job's output into the store, then add the version and its audit event."""
        check_asset_name(name, "model")
        numbers = check_metrics(metrics, name)
        job = self.get_job(job_id)
        if job.status is not JobStatus.COMPLETED:
            raise UserInputError(
                f"job '{job_id}' is {job.status.value}: only a Completed job can be registered as a model"
            )
        stored = self.artifacts.put(self.job_output_path(job_id, output))
        with self._db() as conn, db.write_transaction(conn):
            top = conn.execute("SELECT MAX(version) FROM models WHERE name = ?", (name,)).fetchone()[0]
            version = int(top or 0) + 1
            conn.execute(
                "INSERT INTO models (name, version, path, sha256, size_bytes, metrics, lineage, tags, "
                "description, job_id, output, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (name, version, str(stored.path), stored.sha256, stored.size_bytes,
                 db.to_json(numbers), db.to_json(lineage.to_dict()), db.to_json(dict(tags or {})),
                 description, job_id, output, db.to_iso(db.utc_now())),
            )
            event = RegisterEvent(subject=f"{name}:{version}", job_id=job_id, output=output,
                                  sha256=stored.sha256, metrics=numbers)
            db.insert_event(conn, event.ACTION, event.subject, event.details(), lineage.creator)
            row = db.fetch_version(conn, "models", name, version)
        assert row is not None  # inserted just above, in this transaction
        return db.model_from_row(row)

    def get_model(self, name: str, version: int | None = None) -> ModelVersion:
        """One model version; the latest when ``version`` is None."""
        return db.model_from_row(self._row("models", "model", name, version))

    def list_models(self, name: str | None = None) -> list[ModelVersion]:
        """Model versions, newest first."""
        with self._db() as conn:
            return [db.model_from_row(row) for row in db.fetch_versions(conn, "models", name)]

    def archive_model(self, name: str, version: int, *, actor: str) -> None:
        """Hide a version from listings and from "latest"; it stays readable by version."""
        with self._db() as conn, db.write_transaction(conn):
            done = conn.execute("UPDATE models SET archived = 1 WHERE name = ? AND version = ?",
                                (name, version)).rowcount
            if not done:
                raise NotFoundError(f"model '{name}' has no version {version}")
            event = ArchiveEvent(subject=f"{name}:{version}")
            db.insert_event(conn, event.ACTION, event.subject, event.details(), actor)

    def put_model_document(self, name: str, version: int, filename: str, content: bytes) -> None:
        """Written atomically to ``model-docs/<name>/<version>/<filename>``."""
        check_document_name(filename)
        self.get_model(name, version)  # NotFoundError for an unknown version
        atomic_write(self.root / "model-docs" / name / str(version) / filename, content)

    def get_model_document(self, name: str, version: int, filename: str) -> bytes:
        """A document stored with ``put_model_document``."""
        check_document_name(filename)
        self.get_model(name, version)
        try:
            return (self.root / "model-docs" / name / str(version) / filename).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"model {name}:{version} has no document '{filename}'") from None

    def model_local_path(self, name: str, version: int) -> Path:
        """The stored folder of a model version, verified against its content hash."""
        return self._verified(self._row("models", "model", name, version), "model")


def _read_log(log_path: str | None) -> str:
    if not log_path:
        return ""
    try:
        return Path(log_path).read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return ""
    except OSError as exc:
        raise BackendError(f"cannot read the step log {log_path}: {exc}") from None
