"""A scored CSV of a forecasting project, series by series: which series the file holds, and
each one's forecasts beside its history in the model's training data.

A series is one combination of the model's series keys (``features.json`` ``keys`` less the time
column, else ``batch.keys``). A forecast sits at the row's value of the time column when the file
has that column, else one period after the series' last point in the training data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd

from mlops_azure.config import ProjectConfig
from mlops_azure.errors import UserInputError
from mlops_azure.rules import whole_number
from mlops_azure.webapp._cache import Lru
from mlops_azure.webapp._series_history import History

#: Series listed in the chooser; a file with more lists the first ones in sorted order.
MAX_SERIES = 2000
#: Scored files kept parsed (a user clicks through the series of one file).
_SCORED = Lru(4)


@dataclass(frozen=True)
class ScoredSeries:
    """The series of a scored file and the rows of each."""

    keys: list[str]
    frame: pd.DataFrame
    names: list[tuple[str, ...]]

    def label(self, index: int) -> str:
        return ", ".join(f"{k}={v}" for k, v in zip(self.keys, self.names[index], strict=True))

    def rows(self, index: int) -> pd.DataFrame:
        chosen = self.names[index]
        mask = pd.Series(True, index=self.frame.index)
        for key, value in zip(self.keys, chosen, strict=True):
            mask &= self.frame[key] == value
        return self.frame[mask]


def read_scored(output: Path, keys: list[str]) -> ScoredSeries | None:
    """The scored file's series; None when it lacks a key column (the file is no set of series).
    Read once per server: a finished run's file never changes, and each series shown reads it."""
    return _SCORED.get((str(output), tuple(keys)), lambda: _read_scored(output, keys))


def _read_scored(output: Path, keys: list[str]) -> ScoredSeries | None:
    header = pd.read_csv(output, nrows=0).columns
    if not keys or any(k not in header for k in keys):
        return None
    frame = pd.read_csv(output, dtype={k: str for k in keys}, keep_default_na=False)
    names = sorted({tuple(str(v) for v in row) for row in frame[keys].itertuples(index=False)})
    return ScoredSeries(keys, frame, names[:MAX_SERIES])


def series_index(raw: str | None, count: int) -> int:
    """The chosen series (0 when none is named); ``UserInputError`` for a bad choice."""
    if raw is None or raw == "":
        return 0
    number = whole_number(raw)
    if number is None or number >= count:
        raise UserInputError(f"series {raw[:20]!r} is not one of the file's {count:,} series")
    return number


def forecasts_of(rows: pd.DataFrame, config: ProjectConfig, history: History,
                 prediction: str) -> list[tuple[datetime, float]]:
    """(time, prediction) of each scored row of one series, for the chart."""
    values = pd.to_numeric(rows[prediction], errors="coerce")
    column = config.data.time_column
    if column and column in rows.columns:
        times = pd.to_datetime(rows[column], errors="coerce")
    else:
        times = pd.Series(history.forecast_at, index=rows.index)
    return [(t.to_pydatetime(), float(v)) for t, v in zip(times, values, strict=True)
            if pd.notna(t) and pd.notna(v)]
