"""Many models: one LightGBM model per partition (say, per customer), with fallback up a hierarchy.

A partitioned model folder is an ordinary model folder (the *global* model: ``model.txt``,
``features.json``, ...) plus ``partitions/index.json`` and one folder per partition model,
named after its keys (``partitions/organisation_id=ORG-01/customer_id=CUST-0001/``). Levels run
coarse to fine (``organisation_id``, then ``customer_id``: a customer partition is the pair).
A row goes to the model of its finest partition that has one, else up the hierarchy, else to the
global model: a customer too small for a model of its own, or one never seen in training, is
served by its organisation's model.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import numpy as np
import pandas as pd
from tabular.frame import encode
from tabular.step import StepError, write_json

from steel.features import FeatureSpec
from steel.model_io import LoadedModel, load_model

PARTITIONS_DIR = "partitions"
INDEX_FILE = "index.json"
GLOBAL = "global"
#: Partition statuses: a model was trained; too little data (served by the parent level);
#: training raised (served by the parent level).
TRAINED, FALLBACK, FAILED = "trained", "fallback", "failed"
#: Below this many rows a model predicts on one thread.
SINGLE_THREAD_ROWS = 20_000


@dataclass(frozen=True)
class PartitionPlan:
    """Which columns partition the data (coarse to fine), which levels get models, and how many
    training rows a partition needs for a model of its own."""

    levels: tuple[str, ...]
    model_levels: tuple[str, ...]
    min_rows: int = 24

    def __post_init__(self) -> None:
        if not self.levels:
            raise StepError("partition levels must name at least one column")
        unknown = [m for m in self.model_levels if m not in self.levels]
        if unknown or not self.model_levels:
            raise StepError(f"model levels {list(self.model_levels)} must be partition levels "
                            f"{list(self.levels)}")
        if self.min_rows < 1:
            raise StepError(f"min_rows must be at least 1 (got {self.min_rows})")

    def columns(self, level: str) -> list[str]:
        """The key columns of a partition at ``level``: the levels down to it."""
        return list(self.levels[: self.levels.index(level) + 1])

    @classmethod
    def parse(cls, levels: str, model_levels: str, min_rows: int) -> PartitionPlan:
        """From the comma-separated component inputs."""
        def split(text: str) -> tuple[str, ...]:
            return tuple(part.strip() for part in text.split(",") if part.strip())
        return cls(split(levels), split(model_levels), min_rows)


def partition_names(frame: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """Each row's partition at the level whose key columns are ``columns``
    (``organisation_id=ORG-01/customer_id=CUST-0001``: the partition's id and folder)."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise StepError(f"partition column(s) {', '.join(missing)} missing from the rows")
    names: np.ndarray | None = None
    for column in columns:
        # Each distinct value is quoted once, not once a row (hundreds against ~100,000).
        codes, values = pd.factorize(frame[column].astype(str))
        labels = np.array([f"{column}={quote(v, safe='')}" for v in values], dtype=object)
        names = labels[codes] if names is None else names + "/" + labels[codes]
    return pd.Series(names, index=frame.index, dtype=object)


def read_index(root: Path) -> dict[str, Any] | None:
    """``partitions/index.json`` of a model folder, or None for a single (global) model."""
    file = root / PARTITIONS_DIR / INDEX_FILE
    if not file.is_file():
        found = sorted(root.rglob(f"{PARTITIONS_DIR}/{INDEX_FILE}")) if root.is_dir() else []
        if not found:
            return None
        file = found[0]
    try:
        index: dict[str, Any] = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise StepError(f"{file} is not a readable partition index ({exc})") from None
    index["_root"] = str(file.parent.parent)
    return index


def write_index(root: Path, plan: PartitionPlan, partitions: dict[str, dict[str, Any]]) -> None:
    write_json(root / PARTITIONS_DIR / INDEX_FILE, {
        "levels": list(plan.levels), "model_levels": list(plan.model_levels),
        "min_rows": plan.min_rows, "partitions": dict(sorted(partitions.items()))})


class PartitionedModel:
    """A model folder with its partition models (loaded on first use), routing rows to them."""

    def __init__(self, root: Path) -> None:
        self.global_model = load_model(root)
        self.index = read_index(root)
        self.root = Path(self.index["_root"]) if self.index else root
        self._models: dict[str, LoadedModel] = {}
        self._specs: dict[bytes, FeatureSpec] = {}
        self._code_maps: dict[int, list[tuple[int, np.ndarray]]] = {}
        self._route_cache: tuple[list[str], list[tuple[list[int], np.ndarray, pd.Index,
                                                       np.ndarray]]] | None = None

    @property
    def spec(self) -> Any:
        """The global model's feature spec: rows are encoded with it once, and translated for
        partition models trained with other category lists (kept from an earlier version)."""
        return self.global_model.spec

    def _translation(self, model: LoadedModel) -> list[tuple[int, np.ndarray]]:
        """(column, global code → this model's code) for each categorical column whose
        categories differ; empty when the model encodes as the global one does."""
        key = id(model.spec)
        if key not in self._code_maps:
            mine, theirs = self.spec, model.spec
            if list(theirs.features) != list(mine.features):
                raise StepError(f"partition model {model.folder} has other features than the "
                                "global model")
            maps = []
            for column in theirs.categorical_features:
                if theirs.categories[column] == mine.categories[column]:
                    continue
                position = {value: float(i) for i, value in enumerate(theirs.categories[column])}
                lookup = np.array([position.get(v, np.nan) for v in mine.categories[column]]
                                  + [np.nan])
                maps.append((mine.features.index(column), lookup))
            self._code_maps[key] = maps
        return self._code_maps[key]

    def predict_partition(self, name: str, matrix: np.ndarray, *,
                          pred_contrib: bool = False) -> np.ndarray:
        """Raw predictions of model ``name`` for rows encoded with :attr:`spec` (SHAP
        contributions, one column per feature and the base value last, with ``pred_contrib``)."""
        model = self.model(name)
        translation = self._translation(model)
        if translation:
            matrix = matrix.copy()
            for column, lookup in translation:
                codes = matrix[:, column]
                at = np.where(np.isnan(codes), len(lookup) - 1, codes).astype(int)
                matrix[:, column] = lookup[at]
        # A partition's rows are few: LightGBM's OpenMP team costs more to wake than it saves,
        # and with several scoring processes its spinning threads fight over the cores.
        threads = {"num_threads": 1} if len(matrix) < SINGLE_THREAD_ROWS else {}
        return np.asarray(model.booster.predict(matrix, pred_contrib=pred_contrib, **threads),
                          dtype="float64")

    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        """Rows as the float matrix of :attr:`spec`."""
        return encode(frame, self.spec).to_numpy(dtype="float64")

    @property
    def plan(self) -> PartitionPlan | None:
        if self.index is None:
            return None
        return PartitionPlan(tuple(self.index["levels"]), tuple(self.index["model_levels"]),
                             int(self.index["min_rows"]))

    def served(self) -> dict[str, set[str]]:
        """Per model level, the partitions that have a model."""
        found: dict[str, set[str]] = {}
        for name, entry in (self.index or {}).get("partitions", {}).items():
            if entry.get("status") == TRAINED:
                found.setdefault(entry["level"], set()).add(name)
        return found

    def model(self, name: str) -> LoadedModel:
        if name == GLOBAL:
            return self.global_model
        if name not in self._models:
            self._models[name] = self._load(name)
        return self._models[name]

    def load_all(self, threads: int = 0) -> int:
        """Load every model that rows can be routed to now, rather than on first use, on
        ``threads`` Python threads (0: one per core; LightGBM parses without the GIL). For a
        process that forks workers after loading: they share one copy. Returns the count."""
        names = [n for n in self._routing()[0] if n != GLOBAL and n not in self._models]
        count = threads or os.cpu_count() or 1
        if count > 1 and len(names) > 1:
            with ThreadPoolExecutor(count) as pool:
                models = list(pool.map(self._load, names))
        else:
            models = [self._load(n) for n in names]
        self._models.update(zip(names, models, strict=True))
        return len(names)

    def _load(self, name: str) -> LoadedModel:
        return load_model(self.root / PARTITIONS_DIR / name, self._specs)

    def route(self, frame: pd.DataFrame) -> pd.Series:
        """The model each row goes to: its finest partition with a model, else ``global``.
        Only the key columns are read (encoded as :meth:`route_ids` reads them)."""
        spec = self.spec
        matrix = np.full((len(frame), len(spec.features)), np.nan)
        for column in self.plan.levels if self.plan else ():
            codes = {value: float(i) for i, value in enumerate(spec.categories[column])}
            matrix[:, spec.features.index(column)] = (
                frame[column].astype(str).map(codes).to_numpy(dtype="float64"))
        return pd.Series(self.route_matrix(matrix), index=frame.index)

    def _routing(self) -> tuple[list[str], list[tuple[list[int], np.ndarray, pd.Index,
                                                        np.ndarray]]]:
        """Model names (0 is the global model) and, per model level finest first: the key
        columns' positions, their code multipliers, the partition keys as integers and the
        model number of each. Built once; routing is then integer lookups."""
        if self._route_cache is not None:
            return self._route_cache
        plan, spec = self.plan, self.spec
        names = [GLOBAL]
        tables = []
        served = self.served()
        for level in reversed(plan.levels if plan else ()):
            if plan is None or level not in plan.model_levels or not served.get(level):
                continue
            columns = plan.columns(level)
            for column in columns:
                if column not in spec.features or column not in spec.categories:
                    raise StepError(f"partition column {column} is not a categorical feature")
            sizes = [len(spec.categories[c]) + 1 for c in columns]  # +1: missing
            multipliers = np.cumprod([1, *sizes[:-1]]).astype("int64")
            codes = [{quote(str(v), safe=""): i for i, v in enumerate(spec.categories[c])}
                     for c in columns]
            keys, numbers = [], []
            for name in sorted(served[level]):
                values = [part.split("=", 1)[1] for part in name.split("/")]
                found = [table.get(v) for table, v in zip(codes, values, strict=True)]
                if any(f is None for f in found):
                    continue  # a partition the global model's data no longer has: unroutable
                keys.append(int(np.dot([int(f) for f in found if f is not None], multipliers)))
                numbers.append(len(names))
                names.append(name)
            tables.append(([spec.features.index(c) for c in columns], multipliers,
                           pd.Index(keys), np.array(numbers, dtype="int64")))
        self._route_cache = (names, tables)
        return self._route_cache

    def route_ids(self, matrix: np.ndarray) -> tuple[np.ndarray, list[str]]:
        """For rows encoded with :attr:`spec`: each row's model number, and the model names.
        The key columns are categorical features, so their codes identify the partition."""
        names, tables = self._routing()
        ids = np.zeros(len(matrix), dtype="int64")
        open_rows = np.ones(len(matrix), dtype=bool)
        for positions, multipliers, keys, numbers in tables:
            codes = matrix[:, positions]
            missing = np.isnan(codes).any(axis=1)
            key = np.where(missing[:, None], 0, np.nan_to_num(codes)).astype("int64") @ multipliers
            at = keys.get_indexer(key)
            hit = open_rows & ~missing & (at >= 0)
            ids[hit] = numbers[at[hit]]
            open_rows &= ~hit
        return ids, names

    def route_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """The model name each encoded row goes to (see :meth:`route_ids`)."""
        ids, names = self.route_ids(matrix)
        return np.array(names, dtype=object)[ids]

    def predict_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Non-negative predictions for encoded rows, each by the model it routes to."""
        ids, names = self.route_ids(matrix)
        out = np.empty(len(matrix), dtype="float64")
        order = np.argsort(ids, kind="stable")
        starts = np.flatnonzero(np.diff(ids[order])) + 1
        for group in np.split(order, starts):
            if group.size:
                out[group] = self.predict_partition(names[ids[group[0]]], matrix[group])
        clipped: np.ndarray = np.clip(out, 0.0, None)
        return clipped

    def contributions_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """SHAP contributions of encoded rows, each from the model it routes to (raw space)."""
        ids, names = self.route_ids(matrix)
        out = np.empty((len(matrix), matrix.shape[1] + 1), dtype="float64")
        for position in np.unique(ids):
            rows = np.flatnonzero(ids == position)
            out[rows] = self.predict_partition(names[position], matrix[rows], pred_contrib=True)
        return out

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Non-negative predictions, each row by the model it routes to (encoded once)."""
        return self.predict_matrix(self.encode(frame))
