"""``Workspace``: one backend's services, one attribute per concern."""

from __future__ import annotations

from mlops_azure.workspace._coordination import AuditTrail, Locks
from mlops_azure.workspace._data import DataAssets
from mlops_azure.workspace._endpoints import LiveTraffic, OnlineEndpoints
from mlops_azure.workspace._jobs import Jobs
from mlops_azure.workspace._models import ModelRegistry
from mlops_azure.workspace._schedules import Schedules
from mlops_azure.workspace._services import BatchEndpoints, DriftMonitors, Infrastructure


class Workspace:
    """Stored state of one project on one backend, one service per concern.

    Each backend composes its own implementations: ``ws.data``, ``ws.jobs``, ``ws.models``,
    ``ws.endpoints``, ``ws.schedules``, ``ws.locks`` and ``ws.events`` always exist; the optional
    services (``live_traffic``, ``batch``, ``monitors``, ``infrastructure``) are None where the
    backend has none. Implementations raise ``NotFoundError`` for unknown names,
    ``UserInputError`` for malformed arguments and ``BackendError`` when the backend itself
    fails. Writes are atomic: an interrupted call leaves either the whole record or nothing.
    """

    #: ``"local"`` or ``"azure"``: for messages only (ask for a service, not for a backend).
    backend: str

    data: DataAssets
    jobs: Jobs
    models: ModelRegistry
    endpoints: OnlineEndpoints
    schedules: Schedules
    locks: Locks
    events: AuditTrail
    live_traffic: LiveTraffic | None = None
    batch: BatchEndpoints | None = None
    monitors: DriftMonitors | None = None
    infrastructure: Infrastructure | None = None
