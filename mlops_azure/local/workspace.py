"""``LocalWorkspace``: the embedded workspace (SQLite metadata + content-addressed artifact folders).

One service per module, composed here over one :class:`~mlops_azure.local.store.LocalStore` (the
folder layout is described there). It has no batch endpoints, no monitoring service and no
infrastructure to create: those services are None.
"""

from __future__ import annotations

from pathlib import Path

from mlops_azure.local.audit import LocalEvents, LocalLocks
from mlops_azure.local.data import LocalData
from mlops_azure.local.endpoints import LocalEndpoints, LocalLiveTraffic
from mlops_azure.local.jobs import LocalJobs
from mlops_azure.local.models import LocalModels
from mlops_azure.local.schedules import LocalSchedules
from mlops_azure.local.store import LocalStore
from mlops_azure.workspace import Workspace


class LocalWorkspace(Workspace):
    """The embedded workspace in folder ``root`` (created on first use)."""

    backend = "local"

    def __init__(self, root: Path) -> None:
        self.store = store = LocalStore(root)
        self.events = LocalEvents(store)
        self.locks = LocalLocks(store)
        self.data = LocalData(store)
        self.jobs = LocalJobs(store)
        self.models = LocalModels(store, self.jobs)
        self.endpoints = endpoints = LocalEndpoints(store, self.models)
        self.live_traffic = LocalLiveTraffic(endpoints)
        self.schedules = LocalSchedules(store)

    @property
    def root(self) -> Path:
        return self.store.root

    @property
    def db_path(self) -> Path:
        return self.store.db_path

    def __repr__(self) -> str:
        return f"LocalWorkspace({str(self.root)!r})"
