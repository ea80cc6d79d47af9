"""``azureml.ai.monitoring`` as the simulator's inference servers import it: Azure ML's custom
logging SDK (``azureml-ai-monitoring``), modelled on what its documentation promises.

The simulator copies this file to ``<sim.root>/mdc-shim/azureml/ai/monitoring/__init__.py`` and
puts that folder first on the deployment server's ``PYTHONPATH``, so a scoring script's
``from azureml.ai.monitoring import Collector`` runs here, never against a real data collector.
It imports only the standard library and pandas (the scoring script's own environment).

As documented ("Collect production data from models deployed for real-time inferencing"):
``Collector(name=..., on_error=None)``; ``collect(data, correlation_context=None)`` takes a pandas
DataFrame only and returns the correlation context to pass to the next ``collect`` of the same
request; a collection fault raises unless ``on_error`` is given, in which case ``on_error(exc)``
is called and the request goes on. A collection that is not enabled on the deployment is a
fault too. Each ``collect`` becomes one JSON line in the spool folder the simulator names
(``MLOPS_SIM_MDC_DIR``), which it turns into blobs as Azure's collector agent does.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = ["Collector", "CorrelationContext"]

SPOOL_ENV = "MLOPS_SIM_MDC_DIR"
COLLECTIONS_ENV = "MLOPS_SIM_MDC_COLLECTIONS"
#: While this file exists in the spool folder every ``collect`` fails (``sim.endpoints.
#: fail_collection``), as when the collector's queue is full or its agent is unreachable.
FAULT_FILE = "collector-fault"


class CorrelationContext:
    """Ties the collections of one request together (its id is the ``correlationid``)."""

    def __init__(self, id: str | None = None, timestamp: int | None = None) -> None:
        self.id = id or str(uuid.uuid4())
        self.timestamp = timestamp if timestamp is not None else int(time.time())

    def get_id(self) -> str:
        return self.id

    def get_timestamp(self) -> int:
        return self.timestamp

    def get_headers(self) -> dict[str, str]:
        return {}


def _raise(exc: Exception) -> None:
    raise exc


class Collector:
    """One named collection of the deployment's data collector."""

    def __init__(self, *, name: str, on_error: Callable[[Exception], Any] | None = None) -> None:
        self.name = name
        self._on_error: Callable[[Exception], Any] = on_error or _raise
        spool = os.environ.get(SPOOL_ENV, "")
        self._spool = Path(spool) if spool else None
        enabled = {c for c in os.environ.get(COLLECTIONS_ENV, "").split(",") if c}
        self._enabled = name in enabled
        if not self._enabled:
            self._on_error(Exception(f"collection {name} is not enabled, drop the data"))

    def collect(self, data: Any, correlation_context: CorrelationContext | None = None
                ) -> CorrelationContext:
        """Log ``data`` (a pandas DataFrame) under this collection; the context to correlate
        the request's other collections with."""
        context = correlation_context or CorrelationContext()
        if not self._enabled or self._spool is None:
            self._on_error(Exception(f"collection {self.name} is not enabled, drop the data"))
            return context
        import pandas as pd

        if not isinstance(data, pd.DataFrame):
            self._on_error(TypeError(f"data type ({type(data).__name__}) not supported, "
                                     "supported types: pandas.DataFrame"))
            return context
        if (self._spool / FAULT_FILE).exists():
            self._on_error(Exception("data collector queue is full, drop the data"))
            return context
        line = json.dumps({"collection": self.name, "correlationid": context.get_id(),
                           "time": time.time(),
                           "rows": json.loads(data.to_json(orient="records"))}) + "\n"
        self._spool.mkdir(parents=True, exist_ok=True)
        # One write on an O_APPEND descriptor per call: the server's workers never interleave.
        fd = os.open(self._spool / f"mdc-{os.getpid()}.jsonl",
                     os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
        return context
