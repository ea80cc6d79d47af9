"""What a model is trained on (``FeatureSpec``, saved as ``features.json``), reading data files,
and encoding rows into the model's float matrix, the same way in every step and in scoring.

A project with its own feature spec (the steel example's has keys and lags) uses these helpers
too: they read only what ``Encoding`` (see ``tabular.request``) and :class:`Spec` name.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
import pandas as pd

from tabular.request import Encoding
from tabular.step import EXIT_BAD_INPUT, StepError

FEATURES_FILE = "features.json"


class Spec(Encoding, Protocol):
    """What training, explaining and saving a model read of a feature spec besides the
    encoding."""

    @property
    def task(self) -> str: ...
    @property
    def target(self) -> str: ...
    @property
    def classes(self) -> list[str]: ...
    def to_json(self) -> dict[str, Any]: ...


S = TypeVar("S", bound=Encoding)


def load_spec(make: Callable[..., S], path: Path) -> S:
    """``features.json`` at ``path`` as ``make(**its fields)``; ``StepError`` naming the file
    when it is unusable (an unknown field, a categorical feature without its category list)."""
    try:
        spec = make(**json.loads(path.read_text(encoding="utf-8")))
        unknown = [c for c in spec.categorical_features if c not in spec.categories]
        if unknown or not set(spec.categorical_features) <= set(spec.features):
            raise ValueError(f"categorical feature without a category list: {unknown}")
    except FileNotFoundError:
        raise StepError(f"{path} does not exist", EXIT_BAD_INPUT) from None
    except (OSError, ValueError, TypeError) as exc:
        raise StepError(f"{path} is not a valid features file ({exc})", EXIT_BAD_INPUT) from None
    return spec


@dataclass(frozen=True)
class FeatureSpec:
    """The model's inputs and output; written by prep, saved beside every model."""

    task: str
    target: str
    features: list[str]
    categorical_features: list[str]
    #: Per categorical feature, its values in training order: the code of a value is its index.
    categories: dict[str, list[str]]
    #: Classification: the two class labels as text, the second is the positive class whose
    #: probability the model predicts.
    classes: list[str] = field(default_factory=list)
    id_columns: list[str] = field(default_factory=list)
    time_column: str | None = None
    train: dict[str, Any] = field(default_factory=dict)
    holdout: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.task == "classification" and len(self.classes) != 2:
            raise ValueError("a classifier needs exactly two classes")

    @property
    def text_columns(self) -> list[str]:
        """Columns read as text: categoricals, identifiers and a class label."""
        target = [self.target] if self.task == "classification" else []
        return list(dict.fromkeys([*self.categorical_features, *self.id_columns, *target]))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def load(cls, path: Path) -> FeatureSpec:
        """Read ``features.json``; ``StepError`` naming the file when it is unusable."""
        return load_spec(cls, path)

    def label_codes(self, frame: pd.DataFrame) -> np.ndarray:
        """Classification: 1 where the target is the positive class, else 0."""
        return label_codes(self, frame)


def label_codes(spec: Spec, frame: pd.DataFrame) -> np.ndarray:
    """Classification: 1 where the target is the positive class, else 0; ``StepError`` naming
    a label that is neither class."""
    text = frame[spec.target].astype("string")
    unknown = text[text.notna() & ~text.isin(spec.classes)]
    if len(unknown):
        raise StepError(f"{spec.target} holds '{unknown.iloc[0]}', which is not one of the "
                        f"classes {', '.join(spec.classes)}")
    codes: np.ndarray = (text == spec.classes[1]).to_numpy(dtype="float64")
    return codes


def read_frame(path: Path, what: str, required: list[str],
               text_columns: list[str] | None = None) -> pd.DataFrame:
    """A CSV with ``text_columns`` read as text; ``StepError`` when unreadable or lacking
    a ``required`` column."""
    try:
        frame = pd.read_csv(path, dtype={c: str for c in text_columns or []})
    except FileNotFoundError:
        raise StepError(f"{what} {path} does not exist") from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise StepError(f"{what} {path} is not a readable CSV file ({exc})") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise StepError(f"{what} {path} lacks column(s) {', '.join(missing)}")
    return frame


def encode(frame: pd.DataFrame, spec: Encoding) -> pd.DataFrame:
    """The model matrix: numbers as floats, categoricals as their index in ``spec.categories``
    (an unknown value becomes NaN, which LightGBM treats as missing)."""
    missing = [c for c in spec.features if c not in frame.columns]
    if missing:
        raise StepError(f"missing feature column(s): {', '.join(missing)}")
    matrix = pd.DataFrame(index=frame.index)
    for name in spec.features:
        if name in spec.categorical_features:
            lookup = {value: float(i) for i, value in enumerate(spec.categories[name])}
            matrix[name] = frame[name].astype("string").map(lookup).astype("float64")
        else:
            values = pd.to_numeric(frame[name], errors="coerce")
            if (values.isna() & frame[name].notna()).any():
                raise StepError(f"feature column '{name}' holds non-numeric values")
            matrix[name] = values.astype("float64")
    return matrix


def robust_center_scale(values: pd.Series, groups: list[pd.Series]) -> tuple[pd.Series, pd.Series]:
    """Per-group median and robust standard deviation (1.4826 x MAD; where that is 0,
    1.2533 x the mean absolute deviation), aligned with ``values``."""
    keys = groups or [pd.Series(0, index=values.index)]
    median = values.groupby(keys, dropna=False).transform("median")
    deviation = (values - median).abs()
    mad = deviation.groupby(keys, dropna=False).transform("median") * 1.4826
    mean_ad = deviation.groupby(keys, dropna=False).transform("mean") * 1.2533
    return median, mad.where(mad > 0, mean_ad)
