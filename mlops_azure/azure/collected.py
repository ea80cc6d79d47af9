"""Reading what Azure ML's online data collector recorded, for ``mlops monitor drift --stage``.

The collector writes JSON lines to ``workspaceblobstore`` (whichever datastore is the
workspace's default) under
``modelDataCollector/<endpoint>/<deployment>/<collection>/<yyyy>/<MM>/<dd>/<HH>/<id>.jsonl``:
many requests to a file, each line's ``data`` a slice of a request's rows, and every line of a
request carrying its ``correlationid`` (a large request is several lines). Only the hour folders
that overlap the window are read; a request's lines are put back together in order, its inputs
and outputs joined on the correlation id (a request whose inputs and outputs do not yet have as
many rows, still being written, waits for the next read) and written in the embedded
collector's format, so ``mlops_azure.monitoring.collected.read_collected`` reads
both backends alike. The tool's own requests (QA gate, rollout probes) are not in it: the scoring
script's collector skips a body carrying the probe marker (:mod:`mlops_azure.probes`) before
Azure's collector sees it, which matters twice, as Azure ML's own model monitoring reads these
blobs too; the lines hold the rows only, so a probe could not be told apart here.
"""

from __future__ import annotations

import json
import re
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops_azure.azure.connection import AzureConnection, utc
from mlops_azure.records_serving import Deployment

MDC_ROOT = "modelDataCollector"
#: Where Azure's collector writes, whichever datastore is the workspace's default.
MDC_DATASTORE = "workspaceblobstore"
#: The collections mlops turns on and score.py logs to (components/tabular/collect.py).
MDC_COLLECTIONS = ("model_inputs", "model_outputs")
_HOUR = re.compile(r"/(\d{4})/(\d{2})/(\d{2})/(\d{2})/[^/]+$")


def hour_of(blob_name: str) -> datetime | None:
    """The UTC hour a collector blob belongs to, from its path."""
    found = _HOUR.search(blob_name)
    if not found:
        return None
    year, month, day, hour = (int(g) for g in found.groups())
    return datetime(year, month, day, hour, tzinfo=UTC)


def _stamp(value: object) -> float:
    try:
        return utc(str(value)).timestamp()
    except ValueError:
        return 0.0


class AzureCollected(AzureConnection):
    """``collected_data_dir`` for the Azure workspace."""

    def list_deployments(self, endpoint: str) -> list[Deployment]:
        raise NotImplementedError  # provided by AzureEndpoints

    def _collector_requests(self, names: list[str]) -> dict[str, dict[str, Any]]:
        """correlation id → the request's first line, with ``data`` holding all its rows (its
        lines in blob and line order)."""
        found: dict[str, dict[str, Any]] = {}
        for name in sorted(names):
            for line in self._mdc_store.read(name).splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue  # a line cut short where the collector was writing
                if not isinstance(record, dict) or not isinstance(record.get("data"), list):
                    continue
                key = str(record.get("correlationid") or record.get("id") or "")
                if key in found:
                    found[key]["data"].extend(record["data"])
                else:
                    found[key] = {**record, "data": list(record["data"])}
        return found

    @property
    def _mdc_store(self) -> Any:
        return self.folder(MDC_DATASTORE)

    def _collector_blobs(self, endpoint: str, cutoff: float | None) -> dict[tuple[str, str],
                                                                             list[str]]:
        """(deployment, collection) → blob names in the window. Found from the folders rather
        than the live deployments: a finished rollout deletes the previous one, and what it
        recorded still counts."""
        found: dict[tuple[str, str], list[str]] = {}
        base = f"{MDC_ROOT}/{endpoint}/"
        for name in self._mdc_store.names(base):
            hour = hour_of(name)
            parts = name[len(base):].split("/")
            if hour is None or len(parts) < 3 or parts[1] not in MDC_COLLECTIONS:
                continue
            if cutoff is not None and hour.timestamp() + 3600 < cutoff:
                continue
            found.setdefault((parts[0], parts[1]), []).append(name)
        return found

    def collected_data_dir(self, endpoint: str, since_s: float | None = None) -> Path:
        """The requests and predictions every deployment of ``endpoint`` recorded, deleted ones
        included (those of the last ``since_s`` seconds when given), in the embedded
        collector's format."""
        cutoff = None if since_s is None else time.time() - since_s
        folder = self.cached("collected", endpoint)
        staging = self.staging("collected")
        with self.call(f"reading the data collected by endpoint {endpoint}"):
            models = {d.name: d.model_ref for d in self.list_deployments(endpoint)}
            blobs = self._collector_blobs(endpoint, cutoff)
            for deployment in sorted({d for d, _ in blobs}):
                outputs = self._collector_requests(blobs.get((deployment, "model_outputs"), []))
                inputs = self._collector_requests(blobs.get((deployment, "model_inputs"), []))
                lines = []
                for correlation, request in inputs.items():
                    answer = outputs.get(correlation)
                    if answer is None or len(answer["data"]) != len(request["data"]):
                        continue  # its outputs are not all written yet
                    lines.append(json.dumps({
                        "deployment": deployment, "model": models.get(deployment, ""),
                        "time": _stamp(request.get("time")), "request_id": correlation,
                        "request": {"data": request["data"]},
                        "predictions": [row.get("prediction") for row in answer["data"]
                                        if isinstance(row, dict)],
                    }))
                (staging / f"{deployment}.jsonl").write_text(
                    "".join(f"{line}\n" for line in lines), encoding="utf-8")
        shutil.rmtree(folder, ignore_errors=True)
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging.replace(folder)
        return folder
