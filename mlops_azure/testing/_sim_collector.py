"""The simulator's online data collector: what Azure ML does for a deployment with a
``dataCollector``.

On PUT, each collection comes back as Azure returns it: mode ``Enabled``/``Disabled`` and a
``dataId``, the data asset Azure registers for it (``<endpoint>-<deployment>-<collection>``,
version 1, a folder under ``modelDataCollector/``). The deployment's server imports
``azureml.ai.monitoring`` from :mod:`mlops_azure.testing._mdc_collector` (the custom logging SDK
as documented: raises on a collection fault unless given ``on_error``), so a scoring script's
Azure collector path really runs. :func:`flush` then writes what it logged where Azure's
collector writes it, as Azure does a little after each request: in ``workspaceblobstore`` under
``modelDataCollector/<endpoint>/<deployment>/<collection>/<yyyy>/<MM>/<dd>/<HH>/<id>.jsonl``,
many requests to a file, and a request's rows split over several lines that share its
``correlationid``. Tests call ``sim.endpoints.flush_collected()``.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops_azure.azure.collected import MDC_ROOT
from mlops_azure.testing import _mdc_collector

SPOOL = "collector-spool"
SHIM = "mdc-shim"
#: The datastore Azure's collector writes to, whichever datastore is the workspace default.
COLLECTOR_DATASTORE = "workspaceblobstore"
#: Rows per line: a request with more rows is logged as several lines sharing its correlation id.
ROWS_PER_LINE = 2


def _shim_path(sim: Any) -> Path:
    """The folder to put first on a server's ``PYTHONPATH`` (written once per simulator)."""
    root = Path(sim.root) / SHIM
    target = root / "azureml" / "ai" / "monitoring" / "__init__.py"
    if not target.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(Path(_mdc_collector.__file__), target)
    return root


def apply(sim: Any, endpoint: str, deployment: str, props: dict[str, Any],
          folder: Path) -> dict[str, str]:
    """Complete ``props["dataCollector"]`` as Azure does; the server environment that makes
    ``azureml.ai.monitoring`` importable with the enabled collections (else empty)."""
    collector = props.get("dataCollector")
    if not isinstance(collector, dict):
        return {}
    enabled = []
    for name, collection in (collector.get("collections") or {}).items():
        on = str(collection.get("dataCollectionMode", "")).lower() == "enabled"
        collection["dataCollectionMode"] = "Enabled" if on else "Disabled"
        asset = f"{endpoint}-{deployment}-{name}"
        key = sim.arm_id(f"/data/{asset}/versions/1")
        if key not in sim.resources:
            sim.resources[key] = {
                "id": key, "name": "1",
                "type": "Microsoft.MachineLearningServices/workspaces/data/versions",
                "properties": {"dataType": "uri_folder", "isAnonymous": False,
                               "dataUri": sim.assets.long_uri(
                                   COLLECTOR_DATASTORE,
                                   f"{MDC_ROOT}/{endpoint}/{deployment}/{name}/")},
                "systemData": sim.system_data()}
        collection["dataId"] = key
        if on:
            enabled.append(name)
    if not enabled:
        return {}
    path = os.pathsep.join(p for p in (str(_shim_path(sim)), os.environ.get("PYTHONPATH", "")) if p)
    return {"PYTHONPATH": path, _mdc_collector.SPOOL_ENV: str(folder / SPOOL),
            _mdc_collector.COLLECTIONS_ENV: ",".join(sorted(enabled))}


def fail_collection(sim: Any, endpoint: str, deployment: str, failing: bool = True) -> None:
    """Make every ``collect`` of ``endpoint``/``deployment`` fail (``failing=False``: work
    again), as when Azure's collector drops data."""
    fault = sim.endpoints.endpoints[endpoint].folder / deployment / SPOOL / \
        _mdc_collector.FAULT_FILE
    if failing:
        fault.parent.mkdir(parents=True, exist_ok=True)
        fault.touch()
    else:
        fault.unlink(missing_ok=True)


def _lines(logged: dict[str, Any], source: str) -> list[str]:
    """The lines Azure's collector writes for one ``collect`` call: its rows in slices of
    :data:`ROWS_PER_LINE`, each line with the request's correlation id."""
    rows = logged.get("rows") or []
    stamp = datetime.fromtimestamp(float(logged["time"]), UTC).isoformat().replace("+00:00", "Z")
    common = {"specversion": "1.0", "source": source,
              "type": f"azureml.inference.{logged['collection']}",
              "datacontenttype": "application/json", "time": stamp,
              "correlationid": logged["correlationid"], "xrequestid": logged["correlationid"],
              "modelversion": "default", "collectdatatype": "pandas.core.frame.DataFrame",
              "agent": "azureml-ai-monitoring/simulated"}
    return [json.dumps({**common, "id": str(uuid.uuid4()), "data": rows[i:i + ROWS_PER_LINE]})
            for i in range(0, max(len(rows), 1), ROWS_PER_LINE)]


def flush(sim: Any, endpoint: str, deployment: str, folder: Path) -> int:
    """Move what ``deployment`` logged since the last flush into ``workspaceblobstore``, one
    blob per collection and hour holding every request logged meanwhile; returns how many
    requests (``model_inputs`` calls, else calls of any collection) were moved."""
    spool = folder / SPOOL
    files = sorted(spool.glob("*.jsonl")) if spool.is_dir() else []
    # The server keeps appending to its files, so each flush resumes at the offset the last one
    # stopped at, and reads only whole lines.
    offsets_file = spool / ".flushed.json"
    offsets: dict[str, int] = json.loads(offsets_file.read_text()) if offsets_file.is_file() else {}
    by_hour: dict[tuple[str, str], list[str]] = {}
    requests: dict[str, set[str]] = {}
    source = f"{sim.ws_path}/onlineEndpoints/{endpoint}/deployments/{deployment}"
    for file in files:
        with file.open("rb") as handle:
            handle.seek(offsets.get(file.name, 0))
            chunk = handle.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        offsets[file.name] = offsets.get(file.name, 0) + len(complete)
        for raw in complete.splitlines():
            try:
                logged = json.loads(raw)
            except ValueError:
                continue
            hour = datetime.fromtimestamp(float(logged["time"]), UTC).strftime("%Y/%m/%d/%H")
            by_hour.setdefault((logged["collection"], hour), []).extend(_lines(logged, source))
            requests.setdefault(logged["collection"], set()).add(logged["correlationid"])
    container = sim.container(COLLECTOR_DATASTORE)
    for (collection, hour), lines in by_hour.items():
        name = f"{MDC_ROOT}/{endpoint}/{deployment}/{collection}/{hour}/{uuid.uuid4()}.jsonl"
        container.upload_blob(name, ("\n".join(lines) + "\n").encode())
    if files:
        offsets_file.write_text(json.dumps(offsets))
    counted = requests.get("model_inputs") or next(iter(requests.values()), set())
    return len(counted)
