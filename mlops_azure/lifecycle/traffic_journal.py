"""Traffic changes as journaled operations, so a command killed halfway is undone by the next.

Every deploy, promotion, rollback and recovery of an endpoint is one *operation*, written ahead
to the audit trail (the subject of its events is the endpoint):

- ``traffic.begin`` before anything changes: the exact traffic and mirror tables and the
  deployments it started from (its *baseline*) and its plan;
- ``traffic.change`` before each traffic change, with the table before and after;
- ``traffic.end`` once the endpoint is where the operation leaves it.

The writer holds the endpoint's lock (:mod:`.endpoint_lock`) throughout, so an operation that
has begun and not ended when the next writer takes the lock lost its process. That writer
recovers first (:func:`recover`): it restores the recorded baseline, removes what the dead one
started (a deployment still ``Creating``, a canary holding a share) and ends both operations.
A recovery killed in turn leaves its own operation open, with the same baseline: the next
recovery does the same again.

``MLOPS_TEST_KILL_AT=k`` makes the process kill itself (SIGKILL) at the k-th checkpoint of its
operations: the crash-sweep tests use it to stop a command at every step.
"""

from __future__ import annotations

import os
import signal
import sys
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from mlops_azure.audit_events import (
    OperationBegun,
    OperationEnded,
    Recorded,
    TrafficChanged,
    read,
    record,
    resolve_actor,
)
from mlops_azure.errors import NotFoundError
from mlops_azure.lifecycle.endpoint_lock import describe, endpoint_writer
from mlops_azure.workspace import Endpoint, Workspace

#: The test hook: kill this process at the k-th checkpoint (counted from 1).
KILL_AT_VARIABLE = "MLOPS_TEST_KILL_AT"
_checkpoints = 0


def checkpoint(label: str) -> None:
    """A point where a crash must be survivable; the test hook may kill the process here."""
    global _checkpoints
    wanted = os.environ.get(KILL_AT_VARIABLE, "")
    if not wanted.isdigit():
        return
    _checkpoints += 1
    if _checkpoints == int(wanted):
        print(f"mlops: test hook: killed at checkpoint {_checkpoints} ({label})", file=sys.stderr,
              flush=True)
        os.kill(os.getpid(), signal.SIGKILL)


def live(traffic: Mapping[str, int]) -> dict[str, int]:
    """The shares above zero (how traffic tables are compared and shown)."""
    return {name: share for name, share in sorted(traffic.items()) if share > 0}


class Operation:
    """One journaled operation on an endpoint; create with :meth:`begin`."""

    def __init__(self, ws: Workspace, begun: OperationBegun, actor: str) -> None:
        self.ws = ws
        self.begun = begun
        self.actor = actor
        self.id = begun.operation
        self.endpoint = begun.subject
        #: The live table as this operation last read or set it. The operation holds the
        #: endpoint's lock, so nobody else changes it meanwhile: a change need not read it again
        #: first (on Azure a read is two requests, on every canary step).
        self.table: dict[str, int] | None = None

    @classmethod
    def begin(cls, ws: Workspace, endpoint: str, *, command: str, stage: str, actor: str,
              holder: str = "", model: str | None = None, new_deployment: str | None = None,
              plan: list[dict[str, int]] | None = None,
              baseline_from: OperationBegun | None = None,
              seen: tuple[Endpoint, Collection[str]] | None = None) -> Operation:
        """Record the endpoint's current tables (or, for a recovery, those of the operation it
        undoes) and the plan, before anything changes. ``seen``: the endpoint and its
        deployments as the caller just read them under the endpoint's lock (not read again)."""
        if baseline_from is None:
            found, names = seen if seen is not None else (
                ws.endpoints.get(endpoint), [d.name for d in ws.endpoints.list_deployments(endpoint)])
            baseline, mirror = dict(found.traffic), dict(found.mirror_traffic)
            deployments = sorted(names)
        else:
            baseline, mirror = dict(baseline_from.baseline), dict(baseline_from.baseline_mirror)
            deployments = list(baseline_from.deployments)
        begun = OperationBegun(subject=endpoint, operation=uuid.uuid4().hex[:12], command=command,
                               stage=stage, model=model, holder=holder, baseline=baseline,
                               baseline_mirror=mirror, deployments=deployments,
                               new_deployment=new_deployment, plan=plan or [],
                               recovers=baseline_from.operation if baseline_from else None)
        record(ws, begun, actor=actor)
        checkpoint(f"{command} begun")
        operation = cls(ws, begun, actor)
        if baseline_from is None:
            operation.table = live(baseline)
        return operation

    def change(self, traffic: Mapping[str, int], reason: str,
               mirror: Mapping[str, int] | None = None) -> Endpoint:
        """Journal, then make, one traffic change."""
        before = self.table if self.table is not None else \
            live(self.ws.endpoints.get(self.endpoint).traffic)
        record(self.ws, TrafficChanged(subject=self.endpoint, operation=self.id,
                                       before=dict(before), after=dict(traffic),
                                       mirror=dict(mirror or {}), reason=reason), actor=self.actor)
        checkpoint(f"{self.begun.command}: {reason} journaled")
        self.table = None  # unknown until the change is confirmed
        endpoint = self.ws.endpoints.set_traffic(self.endpoint, traffic, mirror)
        self.table = live(endpoint.traffic)
        checkpoint(f"{self.begun.command}: {reason} made")
        return endpoint

    def end(self, outcome: str, *, removed: list[str] | None = None, reason: str = "") -> None:
        """Record where the operation left the endpoint."""
        traffic = self.ws.endpoints.get(self.endpoint).traffic
        record(self.ws, OperationEnded(
            subject=self.endpoint, operation=self.id, command=self.begun.command, outcome=outcome,
            stage=self.begun.stage, baseline=self.begun.baseline,
            baseline_mirror=self.begun.baseline_mirror, traffic=dict(traffic),
            removed=removed or [], reason=reason), actor=self.actor)
        checkpoint(f"{self.begun.command} ended")


def unfinished(ws: Workspace, endpoint: str) -> Recorded[OperationBegun] | None:
    """The newest operation on ``endpoint`` that began and never ended, if any. Call it holding
    the endpoint's lock: then its process is gone."""
    begun = read(ws, OperationBegun, 20, subject=endpoint)
    if not begun:
        return None
    ended = {r.event.operation for r in read(ws, OperationEnded, 50, subject=endpoint)}
    newest = begun[0]
    return None if newest.event.operation in ended else newest


def last_completed(ws: Workspace, endpoint: str,
                   where: Callable[[OperationEnded], bool]) -> Recorded[OperationEnded] | None:
    """The newest ended operation on ``endpoint`` that ``where`` accepts."""
    for found in read(ws, OperationEnded, 200, subject=endpoint):
        if where(found.event):
            return found
    return None


@dataclass(frozen=True)
class Recovery:
    """What :func:`recover` found and did."""

    #: The command whose operation was undone (deploy, promote, rollback).
    command: str
    holder: str
    traffic: Mapping[str, int]
    removed: list[str] = field(default_factory=list)

    def describe(self) -> str:
        gone = f"; removed {', '.join(self.removed)}" if self.removed else ""
        return (f"an unfinished {self.command} ({self.holder or 'its process is gone'}) was undone: "
                f"traffic restored to {live(self.traffic) or 'none'}{gone}")


def recover(ws: Workspace, endpoint: str, *, actor: str, holder: str = "",
            say: Callable[[str], None] = lambda _: None) -> Recovery | None:
    """Undo the unfinished operation on ``endpoint`` (see the module docstring); None when there
    is none. Call it holding the endpoint's lock."""
    found = unfinished(ws, endpoint)
    if found is None:
        return None
    dead = found.event
    try:
        current = ws.endpoints.get(endpoint)
    except NotFoundError:  # deleted since: nothing to restore
        Operation(ws, dead, actor).end("recovered", reason="the endpoint no longer exists")
        return None
    say(f"endpoint {endpoint}: found an unfinished {dead.command} (by {dead.holder or 'unknown'}); "
        f"restoring its baseline {live(dead.baseline) or 'none'}")
    # A recovery that was itself killed carries the baseline of what it recovered: the same.
    op = Operation.begin(ws, endpoint, command="recover", stage=dead.stage, actor=actor,
                         holder=holder, plan=[dict(dead.baseline)], baseline_from=dead)
    existing = {d.name for d in ws.endpoints.list_deployments(endpoint)}
    restored = {name: share for name, share in dead.baseline.items() if name in existing}
    mirror = {name: share for name, share in dead.baseline_mirror.items() if name in existing}
    if live(current.traffic) != live(restored) or live(current.mirror_traffic) != live(mirror):
        op.change(restored, f"recovery of {dead.command} {dead.operation}", mirror)
    keep = set(dead.deployments)
    removed = []
    for name in sorted(existing - keep):
        ws.endpoints.delete_deployment(endpoint, name)
        removed.append(name)
        checkpoint(f"recover: {name} removed")
    op.end("succeeded", removed=removed, reason=f"recovered {dead.operation}")
    command = dead.command
    for undone in read(ws, OperationBegun, 20, subject=endpoint):
        # The dead operation, and the one it was recovering when it was itself killed.
        if undone.event.operation in (dead.operation, dead.recovers):
            Operation(ws, undone.event, actor).end("recovered", removed=removed,
                                                   reason=f"recovered by {op.id}")
            if undone.event.command != "recover":
                command = undone.event.command
    outcome = Recovery(command, dead.holder, ws.endpoints.get(endpoint).traffic, removed)
    say(outcome.describe())
    return outcome


def recover_endpoint(ws: Workspace, endpoint: str, *, actor: str | None = None,
                     wait_s: float = 120.0,
                     say: Callable[[str], None] = lambda _: None) -> Recovery | None:
    """Take ``endpoint``'s lock (waiting for a writer still at work) and undo what a killed one
    left; None when nothing was left. ``mlops endpoints recover`` runs it, e.g. in a pipeline's
    failure step, so a split left by a cancelled agent does not wait for the next release."""
    actor = resolve_actor(actor)
    command = f"endpoints recover {endpoint}"
    with endpoint_writer(ws, endpoint, command=command, actor=actor, wait_s=wait_s, say=say):
        ws.endpoints.get(endpoint)  # a name that does not exist: NotFoundError, exit 2
        return recover(ws, endpoint, actor=actor, holder=describe(command, actor), say=say)
