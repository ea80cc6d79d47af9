"""The audit trail on Azure: one immutable JSON blob per event in the default datastore.

Azure ML has no audit store of its own that a DevOps stage can append to, so events live beside
the data they describe, under ``mlops/events/``. Blob names start with an inverted timestamp, so
the storage service lists them newest first; action and subject ride as blob metadata, so a
filtered listing downloads only the events it returns. A blob is written with
``overwrite=False``: an event, once recorded, is never replaced.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote

from mlops_azure.azure.connection import AzurePart
from mlops_azure.errors import UserInputError
from mlops_azure.workspace import AuditEvent, AuditTrail

PREFIX = "mlops/events/"
#: Microseconds are inverted against this bound so that names sort newest first.
_BOUND = 10**17


class AzureEvents(AzurePart, AuditTrail):
    """The audit trail on blob storage: one blob per event, named to list newest first."""

    def record(
        self, action: str, subject: str, details: Mapping[str, Any], *, actor: str
    ) -> AuditEvent:
        """Append an event to the audit trail."""
        if not action.strip():
            raise UserInputError("an audit event needs a non-empty action")
        micros = time.time_ns() // 1000
        when = datetime.fromtimestamp(micros / 1e6, UTC)
        event = AuditEvent(id=micros, time=when, actor=actor, action=action, subject=subject,
                           details=dict(details))
        body = json.dumps({"id": micros, "time": when.isoformat(), "actor": actor,
                           "action": action, "subject": subject, "details": dict(details)},
                          default=str, sort_keys=True).encode()
        name = f"{PREFIX}{_BOUND - micros:017d}-{secrets.token_hex(4)}.json"
        with self.call(f"recording audit event '{action}' for {subject}"):
            self.store.write(name, body, metadata={"action": quote(action, safe=""),
                                                   "subject": quote(subject, safe="")})
        return event

    def recent(
        self, limit: int = 50, *, action: str | None = None, subject: str | None = None
    ) -> list[AuditEvent]:
        """Audit events, newest first; only those with that ``action`` / ``subject`` when given."""
        if limit < 1:
            raise UserInputError(f"limit must be at least 1, got {limit}")
        found: list[AuditEvent] = []
        with self.call("reading the audit trail"):
            for blob in self.store.container.list_blobs(name_starts_with=PREFIX,
                                                        include=["metadata"]):
                meta = blob.metadata or {}
                if action is not None and unquote(meta.get("action", "")) != action:
                    continue
                if subject is not None and unquote(meta.get("subject", "")) != subject:
                    continue
                raw = json.loads(self.store.read(blob.name))
                found.append(AuditEvent(
                    id=int(raw["id"]), time=datetime.fromisoformat(raw["time"]),
                    actor=str(raw["actor"]), action=str(raw["action"]),
                    subject=str(raw["subject"]), details=dict(raw.get("details") or {}),
                ))
                if len(found) >= limit:
                    break
        return found
