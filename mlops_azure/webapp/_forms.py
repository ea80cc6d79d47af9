"""The prediction form's fields, built from what the model and the schema say of each feature,
and the parsing of a submitted form into the row the endpoint is sent.

The typing is the scoring script's (``components/tabular/request.py``): a categorical feature is
sent as text, every other feature of the model as a JSON number, an empty field as null. On top
of that the form enforces what mlops.yaml declares of a feature that is a schema column (allowed
values, range, no missing value), so a planner is told in a sentence next to the field instead of
getting a prediction for a value the model never saw in training.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from mlops_azure.config import ColumnSpec

#: A categorical with at most this many known values is a ``<select>``; more get a datalist.
MAX_SELECT_OPTIONS = 50
#: What a number field accepts (after trimming): decimal notation with an optional exponent.
#: Stricter than ``float()``, which also takes "nan", "inf" and "1_000".
NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
INTEGER = re.compile(r"[+-]?\d+")

Kind = Literal["category", "integer", "float"]


@dataclass(frozen=True)
class FieldSpec:
    """One input of the form: a feature, how it is typed and what values it takes."""

    name: str
    kind: Kind
    #: Known values of a categorical (declared ``allowed`` first, else the model's categories).
    options: tuple[str, ...] = ()
    #: Declared in the schema: a value outside them is refused.
    allowed: tuple[str, ...] | None = None
    minimum: float | None = None
    maximum: float | None = None
    #: An empty field is refused (a schema column whose training data has no missing value).
    required: bool = False

    @property
    def widget(self) -> Literal["select", "datalist", "number"]:
        """``select`` for a categorical with a short list of values, ``datalist`` for other text
        (free text with suggestions), ``number`` for numbers."""
        if self.kind != "category":
            return "number"
        if self.allowed is not None or 0 < len(self.options) <= MAX_SELECT_OPTIONS:
            return "select"
        return "datalist"

    @property
    def step(self) -> str:
        return "1" if self.kind == "integer" else "any"

    @property
    def min_attr(self) -> str | None:
        """The ``min`` attribute: an integer field's bound rounded inwards (a browser counts
        ``step`` from ``min``, so ``min=0.5 step=1`` would refuse every whole number)."""
        if self.minimum is None:
            return None
        return _plain(math.ceil(self.minimum) if self.kind == "integer" else self.minimum)

    @property
    def max_attr(self) -> str | None:
        if self.maximum is None:
            return None
        return _plain(math.floor(self.maximum) if self.kind == "integer" else self.maximum)

    @property
    def hint(self) -> str:
        """What the field takes, in words (shown under it)."""
        if self.kind == "category":
            if self.allowed is not None:
                return f"one of {len(self.allowed)} allowed values"
            if self.options:
                return f"{len(self.options)} values known to the model; others are unknown to it"
            return "text"
        what = "whole number" if self.kind == "integer" else "number"
        if self.minimum is not None and self.maximum is not None:
            return f"{what}, training range {_plain(self.minimum)}\u2013{_plain(self.maximum)}"
        if self.minimum is not None:
            return f"{what}, at least {_plain(self.minimum)}"
        if self.maximum is not None:
            return f"{what}, at most {_plain(self.maximum)}"
        return what


@dataclass(frozen=True)
class ParsedRow:
    """A submitted form: the row to send (every field, typed) and one sentence per bad field."""

    row: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def _plain(value: float) -> str:
    """A bound as people write it: ``100`` rather than ``100.0``."""
    return str(int(value)) if float(value).is_integer() and abs(value) < 1e15 else repr(value)


def rows_of(request: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The rows of a scoring request (``parity.json``'s ``request``) as records, whichever
    orientation it is in."""
    data = request.get("data")
    if not isinstance(data, list):
        return []
    columns = request.get("columns")
    if isinstance(columns, list):
        return [dict(zip(columns, row, strict=False)) for row in data if isinstance(row, list)]
    return [dict(row) for row in data if isinstance(row, dict)]


def field_specs(rows: Sequence[Mapping[str, Any]], features: Mapping[str, Any] | None,
                columns: Mapping[str, ColumnSpec]) -> list[FieldSpec]:
    """The form's fields: every key of the model's real rows (``parity.json``), its features in
    ``features.json`` order first.

    A feature ``features.json`` lists as categorical is text; any other feature it lists is a
    number (that is what the scoring script accepts); without ``features.json`` the schema's
    column type decides, else the rows' values. ``columns`` (``data.schema.columns``) adds the
    declared domain of a feature that is a schema column.
    """
    doc = features or {}
    categorical = set(_strings(doc.get("categorical_features")))
    model_features = _strings(doc.get("features"))
    found = doc.get("categories")
    categories: Mapping[str, Any] = found if isinstance(found, dict) else {}
    names = list(dict.fromkeys([*model_features, *(k for row in rows for k in row)]))
    if model_features:  # keys the model does not take stay last, in the rows' order
        names = [*model_features, *(n for n in names if n not in set(model_features))]
    specs = []
    for name in names:
        column = columns.get(name)
        kind = _kind(name, rows, column, categorical, set(model_features))
        known = tuple(_strings(categories.get(name))) if kind == "category" else ()
        allowed = tuple(column.allowed) if column and column.allowed and kind == "category" else None
        numeric = column is not None and kind != "category"
        specs.append(FieldSpec(
            name=name, kind=kind, options=allowed if allowed is not None else known,
            allowed=allowed, minimum=column.min if numeric and column else None,
            maximum=column.max if numeric and column else None,
            required=column is not None and column.required and column.max_null_fraction == 0))
    return specs


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _kind(name: str, rows: Sequence[Mapping[str, Any]], column: ColumnSpec | None,
          categorical: set[str], model_features: set[str]) -> Kind:
    if name in categorical:
        return "category"
    if name in model_features:  # the scoring script takes anything else of the model as a number
        return "integer" if column is not None and column.type == "integer" else "float"
    if column is not None:
        return "integer" if column.type == "integer" else (
            "float" if column.type == "float" else "category")
    values = [row.get(name) for row in rows if row.get(name) is not None]
    return "category" if any(isinstance(v, str) for v in values) else "float"


def prefill(specs: Sequence[FieldSpec], row: Mapping[str, Any]) -> dict[str, str]:
    """The form's values from a real row: text as is, numbers as their shortest exact text
    (so the submitted row is the same numbers), missing values empty."""
    values = {}
    for spec in specs:
        value = row.get(spec.name)
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            values[spec.name] = ""
        elif isinstance(value, bool):
            values[spec.name] = str(value).lower()
        else:
            values[spec.name] = str(value) if not isinstance(value, float) else repr(value)
    return values


def parse_row(specs: Sequence[FieldSpec], submitted: Mapping[str, str]) -> ParsedRow:
    """The row ``submitted`` (field name -> text as typed) gives, typed as the scoring script
    takes it; a field that is not valid gets one sentence naming it and what it takes."""
    row: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for spec in specs:
        try:
            row[spec.name] = parse_value(spec, submitted.get(spec.name, ""))
        except ValueError as exc:
            errors[spec.name] = str(exc)
    return ParsedRow(row, errors)


def parse_value(spec: FieldSpec, raw: str) -> str | int | float | None:
    """One field's value; ``ValueError`` with the sentence to show when it is not valid."""
    text = raw.strip()
    if not text:
        if spec.required:
            raise ValueError(f"{spec.name} is required: the training data has no missing "
                             "value in this column")
        return None
    if spec.kind == "category":
        if spec.allowed is not None and text not in spec.allowed:
            raise ValueError(f"{spec.name} must be one of {', '.join(spec.allowed)}, "
                             f"not {_shown(text)}")
        return text
    number = _number(spec, text)
    if spec.minimum is not None and number < spec.minimum:
        raise ValueError(f"{spec.name} must be at least {_plain(spec.minimum)} (the declared "
                         f"range), not {text}")
    if spec.maximum is not None and number > spec.maximum:
        raise ValueError(f"{spec.name} must be at most {_plain(spec.maximum)} (the declared "
                         f"range), not {text}")
    return number


def _number(spec: FieldSpec, text: str) -> int | float:
    if spec.kind == "integer" and INTEGER.fullmatch(text):
        return int(text)
    if not NUMBER.fullmatch(text):
        what = "a whole number" if spec.kind == "integer" else "a number"
        raise ValueError(f"{spec.name} must be {what}, not {_shown(text)}")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{spec.name} is too large for a number: {_shown(text)}")
    if spec.kind == "integer":
        if not value.is_integer():
            raise ValueError(f"{spec.name} must be a whole number, not {_shown(text)}")
        return int(value)
    return value


def _shown(text: str) -> str:
    """A typed value quoted in a message, cut short (it may be a pasted page)."""
    return f'"{text[:40]}\u2026"' if len(text) > 40 else f'"{text}"'
