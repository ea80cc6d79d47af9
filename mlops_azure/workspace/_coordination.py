"""``Locks`` and ``AuditTrail``: how commands coordinate and what they leave on record."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import Any

from mlops_azure.records import AuditEvent, LockHolder


class Locks(ABC):
    """Workspace-wide named locks (``ws.locks``)."""

    @abstractmethod
    def exclusive(self, name: str, holder: str = "") -> AbstractContextManager[bool]:
        """Hold the workspace-wide lock ``name`` while the block runs. Yields False at once,
        without waiting, when another holder has it (say, a second data watcher), so the caller
        can stand aside. A holder that dies releases it (local: the OS; Azure: a blob lease
        that is renewed while held and expires a minute after its holder stops renewing).
        ``holder`` describes the taker (command, actor, process) for :meth:`holder`."""

    @abstractmethod
    def holder(self, name: str) -> LockHolder | None:
        """Who holds lock ``name`` now and since when; None when nobody does."""


class AuditTrail(ABC):
    """The append-only record of who did what (``ws.events``)."""

    @abstractmethod
    def record(self, action: str, subject: str, details: Mapping[str, Any], *,
               actor: str) -> AuditEvent:
        """Append an event to the audit trail."""

    @abstractmethod
    def recent(self, limit: int = 50, *, action: str | None = None,
             subject: str | None = None) -> list[AuditEvent]:
        """Audit events, newest first; only those with that ``action`` / ``subject`` when given."""
