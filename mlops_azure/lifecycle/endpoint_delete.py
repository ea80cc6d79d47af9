"""Deleting an endpoint as one of its writers: under its lock, so no deploy, promotion or
rollback is halfway through it, and with an unfinished operation closed rather than left for a
recovery that would find nothing."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from mlops_azure.audit_events import EndpointDeleteEvent, record, resolve_actor
from mlops_azure.lifecycle.endpoint_lock import endpoint_writer
from mlops_azure.lifecycle.traffic_journal import Operation, unfinished
from mlops_azure.workspace import Workspace


def delete_endpoint(ws: Workspace, name: str, *, actor: str | None = None, wait_s: float = 120.0,
                    say: Callable[[str], None] = lambda _: None) -> Mapping[str, int]:
    """Stop and forget endpoint ``name`` with all its deployments; returns the traffic table it
    had. Waits up to ``wait_s`` for another writer (``Busy``, exit 1, after that)."""
    actor = resolve_actor(actor)
    with endpoint_writer(ws, name, command=f"endpoints delete {name}", actor=actor, wait_s=wait_s,
                         say=say):
        traffic = dict(ws.endpoints.get(name).traffic)
        left = unfinished(ws, name)
        ws.endpoints.delete(name)
        if left is not None:
            Operation(ws, left.event, actor).end("recovered", reason="the endpoint was deleted")
        record(ws, EndpointDeleteEvent(subject=name, endpoint=name, traffic=traffic), actor=actor)
    return traffic
