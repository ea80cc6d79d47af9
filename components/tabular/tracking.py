"""Reporting a metric while a step runs (a trial of a sweep reports its primary metric per
boosting round) to whoever listens:

- ``MLOPS_METRICS_FILE`` set (mlops' local executor and its simulated Azure ML): one JSON line
  ``{"name": ..., "value": ..., "step": ...}`` appended and flushed per call;
- else ``MLFLOW_TRACKING_URI`` set (Azure ML sets it in a job) and ``mlflow`` importable:
  ``mlflow.log_metric`` on the job's run, asynchronously where mlflow can (2.8+), so hundreds of
  rounds are not hundreds of blocking requests; Azure's MLflow variables are left as they are;
- else nowhere.
"""

from __future__ import annotations

import atexit
import importlib
import inspect
import json
import math
import os
from typing import IO, Any

from tabular.step import EXIT_FAILED, StepError

METRICS_FILE_VARIABLE = "MLOPS_METRICS_FILE"

#: Open metrics files by path: opened once, kept open, closed at exit.
_files: dict[str, IO[str]] = {}
#: mlflow, once imported (``False``: not installed); and its asynchronous log operations.
_mlflow: Any = None
_pending: list[Any] = []


def log_metric(name: str, value: float, step: int | None = None) -> None:
    """Report ``value`` of metric ``name`` (at ``step``, e.g. the boosting round from 1)."""
    path = os.environ.get(METRICS_FILE_VARIABLE, "")
    if path:
        number = float(value)
        # Strict JSON: a metric that is not finite (a diverged model) is reported as null.
        line = json.dumps({"name": name, "value": number if math.isfinite(number) else None,
                           "step": step}, allow_nan=False)
        handle = _metrics_file(path)
        handle.write(line + "\n")
        handle.flush()
    elif os.environ.get("MLFLOW_TRACKING_URI") and (mlflow := _import_mlflow()):
        if "synchronous" in inspect.signature(mlflow.log_metric).parameters:
            _pending.append(mlflow.log_metric(name, float(value), step=step, synchronous=False))
        else:
            mlflow.log_metric(name, float(value), step=step)


def flush() -> None:
    """Wait until every metric reported so far is stored (also done at exit)."""
    for handle in _files.values():
        handle.flush()
    while _pending:
        operation = _pending.pop(0)
        if operation is not None:
            operation.wait()


def _metrics_file(path: str) -> IO[str]:
    handle = _files.get(path)
    if handle is None:
        try:
            handle = open(path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for every round
        except OSError as exc:
            raise StepError(f"cannot open the metrics file {path} ({METRICS_FILE_VARIABLE}): "
                            f"{exc.strerror}", EXIT_FAILED) from None
        if not _files:
            atexit.register(_close)
        _files[path] = handle
    return handle


def _import_mlflow() -> Any:
    global _mlflow
    if _mlflow is None:
        try:
            _mlflow = importlib.import_module("mlflow")
            atexit.register(flush)
        except ImportError:
            _mlflow = False
    return _mlflow


def _close() -> None:
    for handle in _files.values():
        handle.close()
    _files.clear()
