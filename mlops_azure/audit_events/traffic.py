"""Events of the traffic journal: an operation's baseline and plan, each traffic change, its end
(written by :mod:`mlops_azure.lifecycle.traffic_journal`; the subject is the endpoint)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from mlops_azure.audit_events._core import AuditRecord


@dataclass(frozen=True, kw_only=True)
class OperationBegun(AuditRecord):
    """An operation's baseline and plan, written before its first change."""

    ACTION = "traffic.begin"

    operation: str
    command: str
    stage: str
    model: str | None = None
    holder: str = ""
    baseline: Mapping[str, int] = field(default_factory=dict)
    baseline_mirror: Mapping[str, int] = field(default_factory=dict)
    #: Every deployment of the endpoint when the operation began, whatever its state.
    deployments: list[str] = field(default_factory=list)
    #: The deployment the operation starts, if any (removed again when it is undone).
    new_deployment: str | None = None
    plan: list[dict[str, int]] = field(default_factory=list)
    #: For a recovery: the operation it undoes.
    recovers: str | None = None


@dataclass(frozen=True, kw_only=True)
class TrafficChanged(AuditRecord):
    """One traffic change of an operation, written just before it is made (``before``: the
    shares above zero then; ``after``: the table it sets)."""

    ACTION = "traffic.change"

    operation: str
    before: Mapping[str, int] = field(default_factory=dict)
    after: Mapping[str, int] = field(default_factory=dict)
    mirror: Mapping[str, int] = field(default_factory=dict)
    reason: str = ""


@dataclass(frozen=True, kw_only=True)
class OperationEnded(AuditRecord):
    """Where an operation left the endpoint. ``baseline`` repeats the begin event's, so a
    manual rollback finds what to return to in one read."""

    ACTION = "traffic.end"

    operation: str
    command: str
    #: ``succeeded``, ``rolled back``, ``failed``, ``recovered`` (undone by a later command)
    #: or ``no change``.
    outcome: str
    stage: str = ""
    baseline: Mapping[str, int] = field(default_factory=dict)
    baseline_mirror: Mapping[str, int] = field(default_factory=dict)
    traffic: Mapping[str, int] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    reason: str = ""
