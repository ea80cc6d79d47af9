"""What the prediction form reads of a model and its training data, read once per server.

A model version's files never change once registered, nor does a data asset version, so what is
read of them is kept per server process: on Azure ML that spares a registry call and a hash check
of the cached download per page, and the training table's parse per forecast chart.
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from mlops_azure.config import ProjectConfig
from mlops_azure.contract import FEATURES_FILE, PARITY_FILE, ParityFile, find_in_model, read_document
from mlops_azure.errors import BackendError
from mlops_azure.lifecycle.refs import live_deployment
from mlops_azure.records import ModelVersion
from mlops_azure.webapp._forms import FieldSpec, field_specs, rows_of
from mlops_azure.workspace import Workspace

if TYPE_CHECKING:
    import pandas as pd

T = TypeVar("T")
#: Training tables kept parsed (the few columns a chart needs), most recently used first.
TABLES_KEPT = 4


class _Lru:
    """A small thread-safe cache: the server answers on a pool of threads. Each key is made
    once: a thread asking for a key another is making waits for it (two threads downloading the
    same model on Azure would trip over each other's folder)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._making: dict[Hashable, threading.Lock] = {}

    def get(self, key: Hashable, make: Callable[[], T]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                found: T = self._items[key]
                return found
            making = self._making.setdefault(key, threading.Lock())
        # Outside the cache's lock: a download must not hold up pages about other keys.
        with making:
            with self._lock:
                if key in self._items:
                    done: T = self._items[key]
                    return done
            made = make()
            with self._lock:
                self._items[key] = made
                self._making.pop(key, None)
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
        return made


_MODELS = _Lru(64)
_TABLES = _Lru(TABLES_KEPT)


@dataclass(frozen=True)
class ModelInputs:
    """A model version, its real rows (``parity.json``) and its ``features.json`` (if any)."""

    model: ModelVersion
    rows: list[dict[str, Any]]
    features: dict[str, Any] | None

    def specs(self, config: ProjectConfig) -> list[FieldSpec]:
        return field_specs(self.rows, self.features, config.data.data_schema.columns)

    def series_keys(self, config: ProjectConfig) -> list[str]:
        """What identifies a forecast series: ``features.json`` ``keys`` less the time column,
        else ``batch.keys``."""
        keys = [str(k) for k in (self.features or {}).get("keys", []) or []]
        keys = [k for k in keys if k != config.data.time_column] or list(config.batch.keys)
        return keys

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in (self.features or {}).get("classes", []) or []]


@dataclass(frozen=True)
class StageChoice:
    """A stage whose endpoint serves a model: where the form and a CSV can be scored."""

    name: str
    endpoint: str
    model_name: str
    model_version: int
    #: The deployment taking most traffic.
    deployment: str

    @property
    def model(self) -> str:
        return f"{self.model_name}:{self.model_version}"


def serving_stages(ws: Workspace, config: ProjectConfig) -> list[StageChoice]:
    """Every stage with a deployment taking traffic, in mlops.yaml's order."""
    found = []
    for name, stage in config.stages.items():
        live = live_deployment(ws, stage.endpoint)
        if live is not None:
            found.append(StageChoice(name, stage.endpoint, live.model_name, live.model_version,
                                     live.deployment))
    return found


def model_inputs(ws: Workspace, config: ProjectConfig, backend: str, name: str,
                 version: int) -> ModelInputs:
    """The model version's inputs, read once per server process."""
    return _MODELS.get((str(config.root), backend, name, version),
                       lambda: _read_inputs(ws, name, version))


def _read_inputs(ws: Workspace, name: str, version: int) -> ModelInputs:
    model = ws.models.get(name, version)
    folder = ws.models.local_path(name, version)
    parity_file = find_in_model(folder, PARITY_FILE)
    if parity_file is None:
        raise BackendError(f"model {model.ref} has no {PARITY_FILE}, so the form has no real "
                           "row to start from")
    parity = read_document(ParityFile, parity_file, f"the {PARITY_FILE} of {model.ref}",
                           BackendError)
    rows = rows_of(parity.request.model_dump(exclude_none=True))
    features_file = find_in_model(folder, FEATURES_FILE)
    features = None
    if features_file is not None:
        import json

        try:
            loaded = json.loads(features_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BackendError(f"the {FEATURES_FILE} of {model.ref} is unreadable ({exc})") from None
        features = loaded if isinstance(loaded, dict) else None
    if not rows:
        raise BackendError(f"the {PARITY_FILE} of {model.ref} holds no row")
    return ModelInputs(model, rows, features)


# -- a series' history, for the forecast chart ----------------------------------------------------
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

