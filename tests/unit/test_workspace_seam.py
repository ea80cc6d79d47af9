"""The seam: each backend composes one service per concern; optional ones are None, not stubs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlops_azure.azure import AzureCoordinates, AzureWorkspace
from mlops_azure.local import LocalWorkspace
from mlops_azure.workspace import (
    AuditTrail,
    BatchEndpoints,
    DataAssets,
    DriftMonitors,
    Infrastructure,
    Jobs,
    LiveTraffic,
    Locks,
    ModelRegistry,
    OnlineEndpoints,
    Schedules,
    Workspace,
)

PACKAGE = Path(__file__).resolve().parents[2] / "mlops_azure"
REQUIRED = {"data": DataAssets, "jobs": Jobs, "models": ModelRegistry,
            "endpoints": OnlineEndpoints, "schedules": Schedules, "locks": Locks,
            "events": AuditTrail}
OPTIONAL = {"live_traffic": LiveTraffic, "batch": BatchEndpoints, "monitors": DriftMonitors,
            "infrastructure": Infrastructure}


def _both(tmp_path: Path) -> list[Workspace]:
    return [LocalWorkspace(tmp_path / "local"),
            AzureWorkspace(AzureCoordinates("s", "rg", "w"), tmp_path / "cache")]


def test_every_service_is_its_interface_or_absent(tmp_path: Path) -> None:
    for ws in _both(tmp_path):
        for name, interface in REQUIRED.items():
            assert isinstance(getattr(ws, name), interface), (ws.backend, name)
        for name, interface in OPTIONAL.items():
            service = getattr(ws, name)
            assert service is None or isinstance(service, interface), (ws.backend, name)


@pytest.mark.parametrize(("backend", "absent"), [
    ("local", {"batch", "monitors", "infrastructure"}),
    ("azure", {"live_traffic"}),
])
def test_what_each_backend_lacks_is_none(tmp_path: Path, backend: str, absent: set[str]) -> None:
    [ws] = [w for w in _both(tmp_path) if w.backend == backend]
    assert {name for name in OPTIONAL if getattr(ws, name) is None} == absent


def test_the_azure_services_share_one_connection_built_on_first_use(tmp_path: Path) -> None:
    ws = AzureWorkspace(AzureCoordinates("s", "rg", "w"), tmp_path / "cache")
    parts = [ws.data, ws.jobs, ws.models, ws.endpoints, ws.schedules, ws.locks, ws.events,
             ws.batch, ws.monitors, ws.infrastructure]
    assert {id(p.conn) for p in parts} == {id(ws.conn)}
    assert "ml" not in vars(ws.conn)  # constructing made no client, hence no request


def _sources() -> list[tuple[Path, str]]:
    return [(path, path.read_text(encoding="utf-8")) for path in PACKAGE.rglob("*.py")]


def test_nothing_asks_for_a_backend_by_name_outside_the_factory() -> None:
    asking = re.compile(r"\.backend\s*[!=]=")
    found = [f"{path.relative_to(PACKAGE)}:{text[:m.start()].count(chr(10)) + 1}"
             for path, text in _sources() if path.name != "backends.py"
             for m in asking.finditer(text)]
    assert found == []


def test_no_service_declares_another_services_method_as_a_stub() -> None:
    assert [path.name for path, text in _sources() if "provided by" in text
            and "NotImplementedError" in text] == []
