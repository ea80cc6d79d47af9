"""Models of the embedded workspace: job outputs copied into the artifact store, with lineage."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from mlops_azure._files import atomic_write
from mlops_azure.audit_events import ArchiveEvent, RegisterEvent
from mlops_azure.errors import NotFoundError, UserInputError
from mlops_azure.local import metadata as db
from mlops_azure.local.store import LocalPart, LocalStore
from mlops_azure.rules import check_asset_name, check_document_name, check_metrics
from mlops_azure.workspace import Jobs, JobStatus, Lineage, ModelRegistry, ModelVersion


class LocalModels(LocalPart, ModelRegistry):
    """Model versions in the ``models`` table, registered from ``jobs``' outputs; documents
    under ``model-docs/``."""

    def __init__(self, store: LocalStore, jobs: Jobs) -> None:
        super().__init__(store)
        self.jobs = jobs

    def register(
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
        job = self.jobs.get(job_id)
        if job.status is not JobStatus.COMPLETED:
            raise UserInputError(
                f"job '{job_id}' is {job.status.value}: only a Completed job can be registered as a model"
            )
        stored = self.artifacts.put(self.jobs.output_path(job_id, output))
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

    def get(self, name: str, version: int | None = None) -> ModelVersion:
        """One model version; the latest when ``version`` is None."""
        return db.model_from_row(self._row("models", "model", name, version))

    def versions(self, name: str | None = None) -> list[ModelVersion]:
        """Model versions, newest first."""
        with self._db() as conn:
            return [db.model_from_row(row) for row in db.fetch_versions(conn, "models", name)]

    def archive(self, name: str, version: int, *, actor: str) -> None:
        """Hide a version from listings and from "latest"; it stays readable by version."""
        with self._db() as conn, db.write_transaction(conn):
            done = conn.execute("UPDATE models SET archived = 1 WHERE name = ? AND version = ?",
                                (name, version)).rowcount
            if not done:
                raise NotFoundError(f"model '{name}' has no version {version}")
            event = ArchiveEvent(subject=f"{name}:{version}")
            db.insert_event(conn, event.ACTION, event.subject, event.details(), actor)

    def put_document(self, name: str, version: int, filename: str, content: bytes) -> None:
        """Written atomically to ``model-docs/<name>/<version>/<filename>``."""
        check_document_name(filename)
        self.get(name, version)  # NotFoundError for an unknown version
        atomic_write(self.root / "model-docs" / name / str(version) / filename, content)

    def get_document(self, name: str, version: int, filename: str) -> bytes:
        """A document stored with ``put_model_document``."""
        check_document_name(filename)
        self.get(name, version)
        try:
            return (self.root / "model-docs" / name / str(version) / filename).read_bytes()
        except FileNotFoundError:
            raise NotFoundError(f"model {name}:{version} has no document '{filename}'") from None

    def local_path(self, name: str, version: int) -> Path:
        """The stored folder of a model version, verified against its content hash."""
        return self._verified(self._row("models", "model", name, version), "model")
