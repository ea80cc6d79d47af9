"""A data schema inferred from a user's table: each column's type, allowed values of
low-cardinality text, ranges with a margin and null fractions; which columns look like
identifiers; and the task a target suggests. Used by ``mlops init --data``."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlops_azure.errors import UserInputError

if TYPE_CHECKING:
    import pandas as pd

#: Text columns with at most this many distinct values get an ``allowed`` list (and are features).
MAX_ALLOWED_VALUES = 50
#: Text columns with more distinct values than this share of the rows are identifiers, not features.
ID_LIKE_SHARE = 0.5
#: A numeric target with at most this many distinct integer values is read as classes.
MAX_CLASS_VALUES = 2
#: Ranges are widened by this share of their span on each side, so tomorrow's data is not refused
#: for being a little outside today's.
RANGE_MARGIN = 0.1
_BOOLEAN = {"true", "false"}
_ID_NAME = re.compile(r"(^id$|_id$|Id$|^uuid$|_key$)")


@dataclass
class InferredSchema:
    """The ``data.schema`` section, plus what inference noticed."""

    columns: dict[str, dict[str, Any]]
    id_columns: list[str]
    unique_key: list[str]
    min_rows: int
    notes: list[str] = field(default_factory=list)
    #: Columns without a single value: nothing to learn from or to monitor.
    empty: list[str] = field(default_factory=list)

    def to_config(self) -> dict[str, Any]:
        """As ``mlops.yaml``'s ``data.schema``."""
        found: dict[str, Any] = {"min_rows": self.min_rows}
        if self.unique_key:
            found["unique_key"] = self.unique_key
        found["columns"] = self.columns
        return found


def _nice(value: float) -> float | int:
    """A bound rounded to 4 significant digits (outward rounding is not needed: the margin is)."""
    if value == 0 or not math.isfinite(value):
        return 0
    rounded = float(f"{value:.4g}")
    return int(rounded) if rounded.is_integer() else rounded


def _is_date(text: pd.Series) -> bool:
    import pandas as pd

    present = text.dropna()
    if present.empty or not present.str.contains(r"^\d{4}-\d{2}", regex=True).all():
        return False
    return bool(pd.to_datetime(present.str.strip(), format="ISO8601", errors="coerce").notna().all())


def _distinct(text: pd.Series) -> pd.Series:
    """The column's distinct present values: what every inference below is judged on, so a
    100,000-row column costs one pass (pandas' C hashing) and the rest scales with its values."""
    import pandas as pd

    return pd.Series(text.dropna().unique(), dtype=object)


def _type_of(distinct: pd.Series) -> str:
    import pandas as pd

    if distinct.empty:
        return "string"
    if len(distinct) <= len(_BOOLEAN) and set(distinct.str.strip().str.lower()) <= _BOOLEAN:
        return "boolean"
    numbers = pd.to_numeric(distinct, errors="coerce")
    if numbers.notna().all():
        # to_numeric gives integers only when every value is written as one ("007", not "7.0").
        return "integer" if numbers.dtype.kind in "iu" else "float"
    return "date" if _is_date(distinct) else "string"


def column_type(text: pd.Series) -> str:
    """``string``, ``integer``, ``float``, ``date`` or ``boolean`` for a column read as text."""
    return _type_of(_distinct(text))


def _column_spec(text: pd.Series, distinct: pd.Series, kind: str, is_id: bool) -> dict[str, Any]:
    import pandas as pd

    spec: dict[str, Any] = {"type": kind}
    nulls = float(text.isna().mean())
    if nulls > 0:
        # Room above what was seen, so a slightly gappier month is not refused.
        spec["max_null_fraction"] = min(1.0, round(nulls * 1.5 + 0.01, 3))
    if kind in ("integer", "float") and not is_id:
        numbers = pd.to_numeric(distinct, errors="coerce").dropna()
        if len(numbers):
            low, high = float(numbers.min()), float(numbers.max())
            margin = (high - low) * RANGE_MARGIN or abs(high) * RANGE_MARGIN or 1.0
            # A quantity that was never negative stays non-negative.
            spec["min"] = _nice(max(low - margin, 0.0) if low >= 0 else low - margin)
            spec["max"] = _nice(high + margin)
    if kind == "string" and not is_id:
        values = sorted(distinct.astype(str).tolist())
        if len(values) <= MAX_ALLOWED_VALUES:
            spec["allowed"] = values
    return spec


def infer_schema(frame: pd.DataFrame, *, target: str, id_columns: list[str],
                 time_column: str | None) -> InferredSchema:
    """The schema of ``frame`` (every column read as text), with ``id_columns`` grown by the text
    columns that look like identifiers (nearly one value per row)."""
    rows = len(frame)
    ids = list(id_columns)
    notes: list[str] = []
    empty: list[str] = []
    columns: dict[str, dict[str, Any]] = {}
    for name in frame.columns:
        text = frame[name]
        values = _distinct(text)
        kind = _type_of(values)
        distinct = len(values)
        if distinct == 0 and name not in (target, time_column):
            empty.append(str(name))
            notes.append(f"'{name}' has no values at all: declared in the schema, never monitored")
        looks_like_id = name not in (target, time_column) and name not in ids and (
            (kind == "string" and distinct > MAX_ALLOWED_VALUES and distinct > ID_LIKE_SHARE * rows)
            or (kind in ("integer", "string") and distinct == rows and bool(_ID_NAME.search(name))))
        if looks_like_id:
            ids.append(name)
            notes.append(f"'{name}' has {distinct} distinct values in {rows} rows: treated as an "
                         "identifier (never a feature, never monitored); pass --id-columns to choose")
        if name == time_column and kind != "date":
            raise UserInputError(f"--time-column '{name}' holds values that are not dates written "
                                 f"as YYYY-MM-DD (e.g. '{text.dropna().iloc[0] if distinct else ''}')")
        spec = _column_spec(text, values, kind, name in ids)
        if name == target:
            spec.pop("min", None), spec.pop("max", None)
        if kind == "string" and name not in ids and "allowed" not in spec and name != target and distinct:
            notes.append(f"'{name}' is text with {distinct} distinct values: a categorical feature "
                         "without an allowed list")
        columns[str(name)] = spec
    key = [c for c in ids if frame[c].notna().all()]
    unique = bool(key) and not frame.duplicated(subset=[*key, *([time_column] if time_column else [])]).any()
    return InferredSchema(columns, ids, [*key, *([time_column] if time_column else [])] if unique else [],
                          max(1, rows // 2), notes, empty)


def infer_task(target: pd.Series, name: str) -> str:
    """``classification`` for text, boolean or two-valued integer targets, else ``regression``."""
    kind = column_type(target)
    distinct = target.nunique(dropna=True)
    if kind in ("string", "boolean") or (kind == "integer" and distinct <= MAX_CLASS_VALUES):
        return "classification"
    if kind == "date":
        raise UserInputError(f"--target '{name}' holds dates: predict a number or a class")
    return "regression"
