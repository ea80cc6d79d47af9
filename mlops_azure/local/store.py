"""The embedded workspace's folder: its database, its artifact store, and the part base class.

Layout under ``root``: ``workspace.db`` (see :mod:`.metadata`), ``artifacts/`` (see
:mod:`.artifacts`), ``jobs/<job id>/`` (a job's step folders and logs, written by the pipeline
runner), ``endpoints/`` (local online endpoints, see :mod:`.endpoints`), ``locks/`` and
``model-docs/``. Files are always copied into the store *before* the row that points at them is
inserted, and the row goes in together with its audit event in one transaction, so an
interrupted command leaves at worst an unreferenced artifact, never a half-registered version.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from mlops_azure._files import OTHERS, is_private, make_private
from mlops_azure.errors import BackendError, NotFoundError
from mlops_azure.local import metadata as db
from mlops_azure.local.artifacts import ArtifactStore


class LocalStore:
    """The workspace folder ``root`` (created on first use), shared by every local service."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.db_path = self.root / "workspace.db"
        self.artifacts = ArtifactStore(self.root / "artifacts")
        self.jobs_dir = self.root / "jobs"
        self._ready = False

    def ensure(self) -> None:
        """Create the folder and database on first use (private; see ``_keep_private``)."""
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
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A fresh connection per operation: cheap, and safe whichever thread calls us."""
        self.ensure()
        conn = db.connect(self.db_path)
        try:
            yield conn
        except sqlite3.Error as exc:
            raise BackendError(f"workspace database {self.db_path} failed: {exc}") from None
        finally:
            conn.close()

    def row(self, table: db.VersionedTable, kind: str, name: str, version: int | None) -> sqlite3.Row:
        """One version's row of ``table`` (the latest when ``version`` is None);
        ``NotFoundError`` naming the ``kind`` of asset when there is none."""
        with self.connect() as conn:
            row = db.fetch_version(conn, table, name, version)
        if row is None:
            raise NotFoundError(f"{kind} '{name}' does not exist" if version is None
                                else f"{kind} '{name}' has no version {version}")
        return row

    def verified(self, row: sqlite3.Row, kind: str) -> Path:
        """The stored files of ``row``, checked against its content hash."""
        path = self.artifacts.relocate(Path(row["path"]), row["sha256"])
        if not self.artifacts.verify(path, row["sha256"]):
            raise BackendError(f"the artifacts of {kind} {row['name']}:{row['version']} at {path} "
                               "are missing or altered")
        return path


class LocalPart:
    """One service of the embedded workspace (models, endpoints, ...) over a shared store."""

    def __init__(self, store: LocalStore) -> None:
        self.store = store

    @property
    def root(self) -> Path:
        return self.store.root

    @property
    def artifacts(self) -> ArtifactStore:
        return self.store.artifacts

    def _ensure(self) -> None:
        self.store.ensure()

    def _db(self) -> AbstractContextManager[sqlite3.Connection]:
        return self.store.connect()

    def _row(self, table: db.VersionedTable, kind: str, name: str, version: int | None) -> sqlite3.Row:
        return self.store.row(table, kind, name, version)

    def _verified(self, row: sqlite3.Row, kind: str) -> Path:
        return self.store.verified(row, kind)
