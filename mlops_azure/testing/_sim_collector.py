"""The simulator's online data collector: what Azure ML does for a deployment with a
``dataCollector``.

On PUT, each collection comes back as Azure returns it: mode ``Enabled``/``Disabled`` and a
``dataId``, the data asset Azure registers for it (``<endpoint>-<deployment>-<collection>``,
version 1, a folder under ``modelDataCollector/``). The deployment's server records with the
embedded collector (``MLOPS_COLLECT_DIR``: azureml-ai-monitoring does not run outside Azure);
:func:`flush` then writes those records where Azure's collector writes them, in its line format,
as Azure does a little after each request. Tests call ``sim.endpoints.flush_collected()``.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops_azure.azure.collected import MDC_ROOT
from mlops_azure.monitoring.collected import request_rows

SPOOL = "collector-spool"


def _model_ref(model_arm_id: str) -> str:
    parts = model_arm_id.rstrip("/").split("/")
    return f"{parts[-3]}:{parts[-1]}" if len(parts) >= 3 else model_arm_id


def apply(sim: Any, endpoint: str, deployment: str, props: dict[str, Any],
          folder: Path) -> dict[str, str]:
    """Complete ``props["dataCollector"]`` as Azure does; the server environment that records
    requests when inputs and outputs are both collected (else empty)."""
    collector = props.get("dataCollector")
    if not isinstance(collector, dict):
        return {}
    enabled = set()
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
                                   "workspaceblobstore",
                                   f"{MDC_ROOT}/{endpoint}/{deployment}/{name}/")},
                "systemData": sim.system_data()}
        collection["dataId"] = key
        if on:
            enabled.add(name)
    if not {"model_inputs", "model_outputs"} <= enabled:
        return {}
    return {"MLOPS_COLLECT_DIR": str(folder / SPOOL), "MLOPS_DEPLOYMENT": deployment,
            "MLOPS_MODEL": _model_ref(str(props.get("model") or ""))}


def _lines(record: dict[str, Any], source: str) -> tuple[str, str]:
    """The model_inputs and model_outputs lines Azure's collector writes for one request."""
    rows = request_rows(record.get("request"))
    stamp = datetime.fromtimestamp(float(record["time"]), UTC).isoformat().replace("+00:00", "Z")
    common = {"specversion": "1.0", "source": source, "datacontenttype": "application/json",
              "time": stamp, "correlationid": record["request_id"],
              "xrequestid": record["request_id"], "modelversion": "default",
              "collectdatatype": "pandas.core.frame.DataFrame", "agent": "mlops-simulator"}
    inputs = {**common, "id": str(uuid.uuid4()), "type": "azureml.inference.model_inputs",
              "data": rows}
    outputs = {**common, "id": str(uuid.uuid4()), "type": "azureml.inference.model_outputs",
               "data": [{"prediction": p} for p in record.get("predictions") or []]}
    return json.dumps(inputs), json.dumps(outputs)


def flush(sim: Any, endpoint: str, deployment: str, folder: Path) -> int:
    """Move what ``deployment`` recorded since the last flush into the workspace blob store,
    one blob per collection and hour; returns how many requests were moved."""
    spool = folder / SPOOL
    files = sorted(spool.glob("*.jsonl")) if spool.is_dir() else []
    # The server keeps appending to its files, so each flush resumes at the offset the last one
    # stopped at, and reads only whole lines.
    offsets_file = spool / ".flushed.json"
    offsets: dict[str, int] = json.loads(offsets_file.read_text()) if offsets_file.is_file() else {}
    by_hour: dict[tuple[str, str], list[str]] = {}
    moved = 0
    source = f"{sim.ws_path}/onlineEndpoints/{endpoint}/deployments/{deployment}"
    for file in files:
        with file.open("rb") as handle:
            handle.seek(offsets.get(file.name, 0))
            chunk = handle.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]
        offsets[file.name] = offsets.get(file.name, 0) + len(complete)
        for raw in complete.splitlines():
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            hour = datetime.fromtimestamp(float(record["time"]), UTC).strftime("%Y/%m/%d/%H")
            inputs, outputs = _lines(record, source)
            by_hour.setdefault(("model_inputs", hour), []).append(inputs)
            by_hour.setdefault(("model_outputs", hour), []).append(outputs)
            moved += 1
    container = sim.container("workspaceblobstore")
    for (collection, hour), lines in by_hour.items():
        name = f"{MDC_ROOT}/{endpoint}/{deployment}/{collection}/{hour}/{uuid.uuid4().hex}.jsonl"
        container.upload_blob(name, ("\n".join(lines) + "\n").encode())
    if files:
        offsets_file.write_text(json.dumps(offsets))
    return moved
