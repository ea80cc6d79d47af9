"""The embedded workspace's audit trail (the ``events`` table) and its named locks."""

from __future__ import annotations

import fcntl
import json
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlops_azure._files import make_dirs, open_new
from mlops_azure.errors import UserInputError
from mlops_azure.local import metadata as db
from mlops_azure.local.store import LocalPart
from mlops_azure.rules import check_lock_name
from mlops_azure.workspace import AuditEvent, AuditTrail, LockHolder, Locks


def check_limit(limit: int) -> None:
    """A listing's ``limit`` must ask for something."""
    if limit < 1:
        raise UserInputError(f"limit must be at least 1, got {limit}")


class LocalLocks(LocalPart, Locks):
    """Named locks as ``flock``s on ``locks/<name>.lock``."""

    def _lock_file(self, name: str) -> Path:
        check_lock_name(name)
        self._ensure()
        folder = self.root / "locks"
        make_dirs(folder)
        path = folder / f"{name}.lock"
        if not path.exists():
            open_new(path, "ab").close()  # private in a private workspace (it names its holder)
        return path

    @contextmanager
    def exclusive(self, name: str, holder: str = "") -> Iterator[bool]:
        """A ``flock`` on ``locks/<name>.lock``: the OS drops it when its holder dies. The file
        holds the holder's description while it is held."""
        with self._lock_file(name).open("a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                handle.truncate(0)
                handle.write(json.dumps({"holder": holder, "since": db.to_iso(db.utc_now())}))
                handle.flush()
                yield True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def holder(self, name: str) -> LockHolder | None:
        """The description the holder of ``name`` wrote; None when the lock is free."""
        path = self._lock_file(name)
        with path.open("a") as probe:
            try:
                fcntl.flock(probe, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                pass  # held: read who by
            else:
                fcntl.flock(probe, fcntl.LOCK_UN)
                return None
        try:
            raw = json.loads(path.read_text(encoding="utf-8") or "{}")
        except ValueError:  # caught between truncate and write
            raw = {}
        return LockHolder(str(raw.get("holder", "")) or "another process",
                          db.from_iso(raw.get("since")))


class LocalEvents(LocalPart, AuditTrail):
    """The audit trail: the ``events`` table."""

    def record(
        self, action: str, subject: str, details: Mapping[str, Any], *, actor: str
    ) -> AuditEvent:
        """Append an event to the audit trail."""
        if not action.strip():
            raise UserInputError("an audit event needs a non-empty action")
        with self._db() as conn, db.write_transaction(conn):
            return db.insert_event(conn, action, subject, details, actor)

    def recent(
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
