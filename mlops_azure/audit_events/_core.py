"""The typed event base, the one actor rule, the policy fingerprint, and writing / reading."""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
import subprocess
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields, is_dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, NamedTuple, TypeVar

from mlops_azure.records import AuditEvent

if TYPE_CHECKING:
    from pydantic import TypeAdapter

    from mlops_azure.config import ResponsibleConfig
    from mlops_azure.workspace import Workspace

log = logging.getLogger("mlops_azure.audit")

#: Set by ``mlops --actor NAME`` (or by the caller's environment): who acts, above all else.
ACTOR_VARIABLE = "MLOPS_ACTOR"
#: Azure DevOps and GitHub Actions name the person behind a pipeline run in these variables.
REQUESTER_VARIABLES = ("BUILD_REQUESTEDFOREMAIL", "BUILD_REQUESTEDFOR", "GITHUB_ACTOR")


def resolve_actor(explicit: str | None = None) -> str:
    """Who an audit event is recorded for, by the one rule every writer follows: ``explicit``
    (an ``actor=`` argument), else ``$MLOPS_ACTOR``, else the person who requested the CI run
    (Azure DevOps, GitHub Actions), else ``git config user.email``, else the OS user."""
    if explicit and explicit.strip():
        return explicit.strip()
    for var in (ACTOR_VARIABLE, *REQUESTER_VARIABLES):
        if os.environ.get(var, "").strip():
            return os.environ[var].strip()
    try:
        name = subprocess.run(["git", "config", "user.email"], capture_output=True, text=True,
                              timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        name = ""
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def policy_in_force(responsible: ResponsibleConfig | None) -> tuple[dict[str, Any] | None, str]:
    """The ``responsible:`` section as read from ``mlops.yaml`` (None without one) and the sha256
    of its canonical JSON (sorted keys, no spaces): equal policies, equal hashes."""
    policy = None if responsible is None else responsible.model_dump(mode="json")
    canonical = json.dumps(policy, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return policy, hashlib.sha256(canonical.encode()).hexdigest()


class EventUnreadable(ValueError):
    """A stored event that cannot be read as its type (a required key missing, a wrong type)."""


_BY_ACTION: dict[str, type[AuditRecord]] = {}


@dataclass(frozen=True, kw_only=True)
class AuditRecord:
    """One kind of audit event: ``ACTION`` is the stored action string, ``subject`` the stored
    subject, and every other field one key of the stored JSON ``details`` (same name)."""

    ACTION: ClassVar[str] = ""

    subject: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        action = cls.__dict__.get("ACTION")
        if action:
            if action in _BY_ACTION:
                raise TypeError(f"two audit event types record action '{action}'")
            _BY_ACTION[action] = cls

    def details(self) -> dict[str, Any]:
        """The stored ``details``: every field but ``subject``, as plain JSON values."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self) if f.name != "subject"}

    def summary(self) -> Summary:
        """Stage, outcome and a note for one line of ``mlops history``."""
        return summary_of_details(self.details())


class Summary(NamedTuple):
    """One event in a few words: which stage, what came of it, why (each possibly empty)."""

    stage: str
    outcome: str
    note: str


def summary_of_details(details: Mapping[str, Any]) -> Summary:
    """The common keys read off any event's details, typed or not (``stage``, ``outcome`` or
    ``passed``, ``reason`` or ``status``)."""
    if "outcome" in details:
        outcome = str(details["outcome"])
    elif "passed" in details:
        outcome = "passed" if details["passed"] else "failed"
    else:
        outcome = ""
    return Summary(str(details.get("stage") or ""), outcome,
                   str(details.get("reason") or details.get("status") or ""))


def summary_of(entry: AuditEvent) -> Summary:
    """``entry`` summarised by its type, or from its raw details when it has none."""
    event = parse(entry)
    if event is not None:
        return event.summary()
    return summary_of_details(entry.details if isinstance(entry.details, Mapping) else {})


E = TypeVar("E", bound=AuditRecord)


class Recorded(NamedTuple, Generic[E]):
    """An event as read back: the trail's entry (id, time, actor) and its typed content."""

    audit: AuditEvent
    event: E


def _plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


_ADAPTERS: dict[str, TypeAdapter[Any]] = {}


def _adapter(kind: type[AuditRecord]) -> TypeAdapter[Any]:
    """Built once per type, on first read (pydantic stays unimported until then)."""
    from pydantic import TypeAdapter

    if kind.ACTION not in _ADAPTERS:
        _ADAPTERS[kind.ACTION] = TypeAdapter(kind)
    return _ADAPTERS[kind.ACTION]


def event_types() -> dict[str, type[AuditRecord]]:
    """Every typed event, by its stored action string."""
    return dict(_BY_ACTION)


def record(ws: Workspace, event: AuditRecord, *, actor: str | None = None) -> AuditEvent:
    """Append ``event`` to the audit trail, for ``actor`` as :func:`resolve_actor` decides."""
    return ws.events.record(event.ACTION, event.subject, event.details(), actor=resolve_actor(actor))


def decode(entry: AuditEvent, kind: type[E]) -> E:
    """``entry`` read as ``kind``: unknown keys are ignored, missing optional keys take their
    defaults; ``EventUnreadable`` when its action is another or a required key is missing or
    of the wrong type."""
    from pydantic import ValidationError

    if entry.action != kind.ACTION:
        raise EventUnreadable(f"audit event {entry.id} is '{entry.action}', not '{kind.ACTION}'")
    raw = {**(entry.details if isinstance(entry.details, Mapping) else {}), "subject": entry.subject}
    try:
        found: E = _adapter(kind).validate_python(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'details'}: {e['msg']}"
                             for e in exc.errors())
        raise EventUnreadable(f"audit event {entry.id} ('{entry.action}' of {entry.subject}) "
                              f"cannot be read as {kind.__name__}: {problems}") from None
    return found


def parse(entry: AuditEvent) -> AuditRecord | None:
    """``entry`` as its typed event; None for an action without a type or an unreadable event."""
    kind = _BY_ACTION.get(entry.action)
    if kind is None:
        return None
    try:
        return decode(entry, kind)
    except EventUnreadable as exc:
        log.warning("%s; shown untyped", exc)
        return None


def typed(entries: Iterable[AuditEvent], kind: type[E]) -> list[Recorded[E]]:
    """The entries of ``kind``, in the given order; one that cannot be read as ``kind`` is
    skipped with a warning (a lookup never fails on one bad event in the trail)."""
    found = []
    for entry in entries:
        if entry.action != kind.ACTION:
            continue
        try:
            found.append(Recorded(entry, decode(entry, kind)))
        except EventUnreadable as exc:
            log.warning("%s; skipped", exc)
    return found


def read(ws: Workspace, kind: type[E], limit: int = 50, *,
         subject: str | None = None) -> list[Recorded[E]]:
    """The newest ``limit`` events of ``kind`` (of ``subject`` when given), newest first;
    unreadable ones are skipped (see :func:`typed`)."""
    return typed(ws.events.recent(limit, action=kind.ACTION, subject=subject), kind)


def read_all(ws: Workspace, kinds: Iterable[type[E]], limit: int = 50) -> list[Recorded[E]]:
    """The newest ``limit`` events of each of ``kinds``, merged newest first."""
    found: list[Recorded[E]] = []
    for kind in kinds:
        found.extend(read(ws, kind, limit))
    return sorted(found, key=lambda r: (r.audit.time, r.audit.id), reverse=True)


def latest(ws: Workspace, kind: type[E], *, subject: str | None = None, limit: int = 200,
           where: Callable[[E], bool] | None = None) -> Recorded[E] | None:
    """The newest event of ``kind`` (among the last ``limit``) that ``where`` accepts."""
    for found in read(ws, kind, limit, subject=subject):
        if where is None or where(found.event):
            return found
    return None
