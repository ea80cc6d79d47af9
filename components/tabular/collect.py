"""Inference data collection for score.py: each request's body and predictions, one JSON line each.

Off unless ``MLOPS_COLLECT_DIR`` names a folder (the embedded workspace sets it for its
deployments). On Azure ML, :class:`AzureMLCollector` hands the same records to Azure's online data
collector instead. Each server worker appends to its own file (``<deployment>-<pid>-<start>.jsonl``)
with one ``os.write`` per record on an ``O_APPEND`` descriptor, so concurrent workers never
interleave and a crash loses at most the record being written; a file past
``MLOPS_COLLECT_MAX_BYTES`` (default 64 MiB) is closed and a new one started. The request body is
embedded as received (already JSON), so collecting costs no second parse or encode of the inputs.
The local collector uses the standard library only: this runs inside the inference image.
Requests the mlops tool sends itself (QA gate, rollout probes) carry ``PROBE_KEY`` at the top of
their body and are not recorded: they are not production traffic.
"""

from __future__ import annotations

import itertools
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

try:  # faster, optional (score.py uses it too); the stdlib is the fallback
    import orjson
except ImportError:
    orjson = None

DEFAULT_MAX_BYTES = 64 * 1024 * 1024
#: Marks a request the mlops tool sent itself; the same as mlops_azure.contract.PROBE_KEY
#: (repeated: components never import mlops_azure; a test checks the two agree).
PROBE_KEY = "mlops_probe"
_PROBE_NEEDLE = f'"{PROBE_KEY}"'.encode()


def is_probe(raw: bytes) -> bool:
    """Whether a request body carries the probe marker as a top-level key. Users' requests cost
    one substring scan; only a body naming the key is parsed."""
    if _PROBE_NEEDLE not in raw:
        return False
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return False
    return is_probe_body(body)


def is_probe_body(body: Any) -> bool:
    """Whether a decoded request body carries the probe marker as a top-level key."""
    return isinstance(body, dict) and PROBE_KEY in body


class Collector:
    """Appends one record per scored request to this worker's current file."""

    def __init__(self, folder: Path, deployment: str, model: str,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.folder = folder
        self.deployment = deployment
        self.max_bytes = max_bytes
        self._prefix = (json.dumps({"deployment": deployment, "model": model})[:-1] + ",").encode()
        self._fd = -1
        self._size = 0
        # request ids: this worker's pid and start time, then a counter (unique, and cheaper
        # than a uuid per request)
        start = f"{os.getpid():x}-{time.time_ns():x}-"
        self._ids = (f"{start}{n}".encode() for n in itertools.count())
        folder.mkdir(parents=True, exist_ok=True)
        self._open()

    @classmethod
    def from_env(cls) -> Collector | None:
        folder = os.environ.get("MLOPS_COLLECT_DIR")
        if not folder:
            return None
        return cls(Path(folder), os.environ.get("MLOPS_DEPLOYMENT", "deployment"),
                   os.environ.get("MLOPS_MODEL", ""),
                   int(os.environ.get("MLOPS_COLLECT_MAX_BYTES", DEFAULT_MAX_BYTES)))

    def _open(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        name = f"{self.deployment}-{os.getpid()}-{time.time_ns()}.jsonl"
        self._fd = os.open(self.folder / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._size = 0

    def record(self, body: str | bytes, predictions: list[float], decoded: Any = None) -> None:
        """Append the request ``body`` (JSON text) and its ``predictions`` as one line (a probe
        of the mlops tool is skipped). ``decoded``, the body already parsed, spares a scan of
        the text for the probe marker (~0.15 ms for 1,000 rows)."""
        if decoded is not None and is_probe_body(decoded):
            return
        raw = body.encode() if isinstance(body, str) else bytes(body)
        if decoded is None and is_probe(raw):
            return
        if b"\n" in raw or b"\r" in raw:
            # Newlines in valid JSON are whitespace between tokens (inside strings they are
            # escaped), so spaces keep the body valid and the record on one line.
            raw = raw.replace(b"\r", b" ").replace(b"\n", b" ")
        encoded = orjson.dumps(predictions) if orjson else json.dumps(predictions).encode()
        line = b"".join((self._prefix, b'"time":', repr(time.time()).encode(), b',"request_id":"',
                         next(self._ids), b'","request":', raw, b',"predictions":', encoded,
                         b"}\n"))
        os.write(self._fd, line)
        self._size += len(line)
        if self._size >= self.max_bytes:
            self._open()


#: Set by mlops on Azure ML deployments with the online data collector on.
AZUREML_SWITCH = "MLOPS_COLLECT_AZUREML"


def request_frame(body: Any) -> Any:
    """The rows of a scoring request as a pandas DataFrame: records or split, also wrapped in
    ``dataframe_split`` / ``input_data`` (every shape ``tabular.request`` scores)."""
    import pandas as pd

    for wrapper in ("dataframe_split", "input_data"):
        if wrapper in body and "data" not in body and isinstance(body[wrapper], dict):
            body = body[wrapper]
            break
    if isinstance(body.get("columns"), list):
        return pd.DataFrame(body["data"], columns=body["columns"])
    return pd.DataFrame.from_records(body["data"])


class AzureMLCollector:
    """Azure ML's online data collector (``azureml-ai-monitoring``, installed in the Azure
    inference environment): the rows as ``model_inputs`` and the predictions as
    ``model_outputs``, correlated, which Azure ML writes to the workspace's blob store and its
    model monitoring reads. Collecting never fails a request: Azure's ``Collector`` raises on a
    collection fault unless given ``on_error``, so both get one that logs (each kind of fault
    once, not a line per request), and anything else collecting raises is logged the same way.
    """

    def __init__(self) -> None:
        from azureml.ai.monitoring import Collector as MonitoringCollector

        self._faults: set[str] = set()
        self._inputs = MonitoringCollector(name="model_inputs", on_error=self._fault)
        self._outputs = MonitoringCollector(name="model_outputs", on_error=self._fault)

    def _fault(self, exc: BaseException) -> None:
        kind = f"{type(exc).__name__}: {exc}"
        if kind not in self._faults and len(self._faults) < 100:
            self._faults.add(kind)
            print(f"mlops: data collection failed, the request was still answered ({kind})",
                  file=sys.stderr)

    @classmethod
    def from_env(cls) -> AzureMLCollector | None:
        if os.environ.get(AZUREML_SWITCH, "").lower() != "true":
            return None
        try:
            return cls()
        except ImportError:
            # Scoring must go on: say once, in the deployment log, why nothing is collected.
            print("mlops: data collection is on but azureml-ai-monitoring is not installed in "
                  "this environment; nothing is collected", file=sys.stderr)
            return None

    def record(self, body: str | bytes, predictions: list[float], decoded: Any = None) -> None:
        """Hand the rows and predictions to Azure ML; ``decoded`` (the body already parsed)
        spares a second parse. Never raises: the prediction is already made."""
        try:
            import pandas as pd

            parsed = json.loads(body) if decoded is None else decoded
            if is_probe_body(parsed):
                return  # the mlops tool's own request: not production data
            context = self._inputs.collect(request_frame(parsed))
            self._outputs.collect(pd.DataFrame({"prediction": predictions}), context)
        except Exception as exc:
            self._fault(exc)
