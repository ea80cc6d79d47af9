"""Reading the requests and predictions deployments recorded (``components/tabular/collect.py``)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pandas as pd

from mlops_azure.errors import UserInputError
from mlops_azure.probes import is_probe

#: Units of ``--window``: 30m, 12h, 7d, 2w.
_UNITS = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def window_seconds(text: str) -> float:
    """``7d`` → seconds; ``UserInputError`` for anything else."""
    number, unit = text[:-1], text[-1:]
    if unit not in _UNITS or not number.isdigit() or int(number) < 1:
        raise UserInputError(f"window '{text}' is not a whole number followed by m, h, d or w "
                             "(e.g. 7d)")
    return int(number) * _UNITS[unit]


def request_rows(request: Any) -> list[dict[str, Any]]:
    """The rows of a recorded scoring request (records or split, wrapped or not) as dicts."""
    body = request
    for key in ("input_data", "dataframe_split"):
        if isinstance(body, dict) and isinstance(body.get(key), dict):
            body = body[key]
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        return []
    data = body["data"]
    if isinstance(body.get("columns"), list):
        columns = body["columns"]
        return [dict(zip(columns, row, strict=False)) for row in data if isinstance(row, list)]
    return [row for row in data if isinstance(row, dict)]


def read_collected(folder: Path, since_s: float | None = None) -> pd.DataFrame:
    """Every recorded row (newer than ``since_s`` seconds ago when given) with its prediction,
    the time, deployment and model. A torn last line (a worker killed mid-write) is skipped, and
    so is a request the tool sent itself (QA and rollout probes are not production data; the
    project's collector skips them, and a collector that does not is caught here)."""
    cutoff = None if since_s is None else time.time() - since_s
    rows: list[dict[str, Any]] = []
    for file in sorted(folder.glob("*.jsonl")) if folder.is_dir() else []:
        with file.open("rb") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if cutoff is not None and record.get("time", 0) < cutoff:
                    continue
                if is_probe(record.get("request")):
                    continue
                predictions = record.get("predictions") or []
                for row, prediction in zip(request_rows(record.get("request")), predictions, strict=False):
                    rows.append({**row, "prediction": prediction, "time": record["time"],
                                 "deployment": record.get("deployment"),
                                 "model": record.get("model")})
    return pd.DataFrame(rows)
