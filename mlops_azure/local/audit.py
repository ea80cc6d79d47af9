"""The embedded workspace's audit trail (the ``events`` table) and its named locks."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from mlops_azure.errors import UserInputError
from mlops_azure.local import metadata as db
from mlops_azure.rules import check_lock_name
from mlops_azure.workspace import AuditEvent


def check_limit(limit: int) -> None:
    """A listing's ``limit`` must ask for something."""
    if limit < 1:
        raise UserInputError(f"limit must be at least 1, got {limit}")


class LocalAudit:
    """``exclusive`` / ``record_event`` / ``list_events``."""

    root: Path  # provided by LocalWorkspace

    def _ensure(self) -> None:
        raise NotImplementedError  # provided by LocalWorkspace

    def _db(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError  # provided by LocalWorkspace

    @contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        """A ``flock`` on ``locks/<name>.lock``: the OS drops it when its holder dies."""
        import fcntl

        check_lock_name(name)
        self._ensure()
        folder = self.root / "locks"
        folder.mkdir(exist_ok=True)
        with (folder / f"{name}.lock").open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def record_event(
        self, action: str, subject: str, details: Mapping[str, Any], *, actor: str
    ) -> AuditEvent:
        """Append an event to the audit trail."""
        if not action.strip():
            raise UserInputError("an audit event needs a non-empty action")
        with self._db() as conn, db.write_transaction(conn):
            return db.insert_event(conn, action, subject, details, actor)

    def list_events(
        self, limit: int = 50, *, action: str | None = None, subject: str | None = None
    ) -> list[AuditEvent]:
        """Audit events, newest first, optionally only one action and/or subject."""
        check_limit(limit)
        where = " AND ".join(f"{column} = ?" for column, value in (("action", action),
                                                                   ("subject", subject))
                             if value is not None)
        params = [v for v in (action, subject) if v is not None]
        with self._db() as conn:
            rows = conn.execute(f"SELECT * FROM events {'WHERE ' + where if where else ''} "
                                "ORDER BY id DESC LIMIT ?", (*params, limit)).fetchall()
        return [db.event_from_row(r) for r in rows]
