"""A forecast series' history in the model's training data, for the charts of history and
forecast: the target over the time column for one series, and where the next period falls.

The training table is read once per server process (the few columns a chart needs) and kept.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_azure.config import ProjectConfig
from mlops_azure.errors import BackendError
from mlops_azure.webapp._cache import Lru
from mlops_azure.webapp._model_inputs import ModelInputs
from mlops_azure.workspace import Workspace

if TYPE_CHECKING:
    import pandas as pd

#: Training tables kept parsed, most recently used first.
TABLES_KEPT = 4
_TABLES = Lru(TABLES_KEPT)


@dataclass(frozen=True)
class History:
    """The target over time for one series of the training data, and where the forecast goes."""

    times: list[pd.Timestamp]
    values: list[float]
    forecast_at: pd.Timestamp
    period: str
    """In words, e.g. "monthly data: the next month"."""
    source: str
    """The data asset read, ``NAME:VERSION``."""


def series_history(ws: Workspace, config: ProjectConfig, backend: str, inputs: ModelInputs,
                   row: Mapping[str, Any]) -> History | None:
    """The history of the series ``row`` belongs to in the model's training data; None when the
    project is no forecast, names no series keys, or the row's series has no history."""
    time_column, target = config.data.time_column, config.data.target
    keys = inputs.series_keys(config)
    if not time_column or not target or not keys or any(row.get(k) is None for k in keys):
        return None
    lineage = inputs.model.lineage
    ref = f"{lineage.data_asset}:{lineage.data_version}"
    table = _TABLES.get((str(config.root), backend, ref, time_column, target, tuple(keys)),
                        lambda: _read_table(ws, lineage.data_asset, lineage.data_version,
                                            [*keys, time_column, target], time_column, target))
    if table is None:
        return None
    mask = None
    for key in keys:
        hit = table[key] == str(row[key])
        mask = hit if mask is None else mask & hit
    series = table[mask].groupby(time_column)[target].mean().sort_index()
    if series.empty:
        return None
    forecast_at, period = next_period(sorted(table[time_column].unique()))
    times = list(series.index)
    return History(times, [float(v) for v in series.to_numpy()], forecast_at(times[-1]), period,
                   ref)


def _read_table(ws: Workspace, asset: str, version: int, columns: Sequence[str], time_column: str,
                target: str) -> pd.DataFrame | None:
    import pandas as pd

    path = ws.data.local_path(ws.data.get(asset, version))
    files = sorted(p for p in path.rglob("*") if p.suffix in (".csv", ".parquet")) \
        if path.is_dir() else [path]
    frames = []
    for file in files:
        try:
            frame = (pd.read_parquet(file) if file.suffix == ".parquet"
                     else pd.read_csv(file, dtype=str, usecols=lambda c: c in set(columns)))
        except (OSError, ValueError) as exc:
            raise BackendError(f"the training data {asset}:{version} is unreadable ({exc})") from None
        if all(c in frame.columns for c in columns):
            frames.append(frame[list(columns)])
    if not frames:
        return None
    table = pd.concat(frames, ignore_index=True)
    for key in columns[:-2]:
        table[key] = table[key].astype(str)
    table[time_column] = pd.to_datetime(table[time_column], errors="coerce")
    table[target] = pd.to_numeric(table[target], errors="coerce")
    return table.dropna(subset=[time_column, target])


def next_period(times: Sequence[Any]) -> tuple[Callable[[Any], Any], str]:
    """How to step one period on from a time, guessed from the data's distinct times (their
    typical spacing), and the period in words."""
    import pandas as pd

    stamps = [pd.Timestamp(t) for t in times]
    gaps = sorted((b - a).days for a, b in itertools.pairwise(stamps))
    days = gaps[len(gaps) // 2] if gaps else 1
    for low, high, offset, words in ((28, 31, pd.DateOffset(months=1), "monthly data: the next month"),
                                     (89, 92, pd.DateOffset(months=3), "quarterly data: the next quarter"),
                                     (365, 366, pd.DateOffset(years=1), "yearly data: the next year"),
                                     (7, 7, pd.Timedelta(days=7), "weekly data: the next week"),
                                     (1, 1, pd.Timedelta(days=1), "daily data: the next day")):
        if low <= days <= high:
            return (lambda t, o=offset: t + o), words
    step = pd.Timedelta(days=max(days, 1))
    return (lambda t: t + step), f"one typical gap ({step.days} days) after the last point"

