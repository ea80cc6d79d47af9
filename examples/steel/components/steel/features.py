"""Cleaning and feature engineering, shared by prep (which builds), train, evaluate and score
(which encode with ``tabular.frame.encode``), so a model sees the same features
wherever it runs."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from tabular import frame as tabular_frame
from tabular.frame import load_spec, robust_center_scale
from tabular.step import StepError

TARGET = "quantity_tonnes"
PRICE = "price_eur_per_tonne"
PERIOD = "period"
SERIES = ["organisation_id", "customer_id", "material_id"]
KEYS = [PERIOD, *SERIES]
CATEGORICAL = [*SERIES, "segment", "region", "company_size"]
#: Read as text (a customer ``007`` must not become the number 7).
TEXT_COLUMNS = list(dict.fromkeys([*KEYS, *CATEGORICAL]))
RAW_COLUMNS = [*KEYS, "segment", "region", "company_size", PRICE, "promotion", TARGET]
LAGS = (1, 2, 3, 12)
NUMERIC = ["month", "quarter", "time_index", PRICE, "price_change", "promotion",
           *[f"lag_{k}" for k in LAGS], "rolling_mean_3"]
#: ``time_index`` counts months from here, so it means the same thing for every data version.
TIME_ORIGIN_YEAR = 2000
#: Quantities further than this many robust standard deviations above their series median are capped.
CAP_ROBUST_Z = 6.0


@dataclass(frozen=True)
class FeatureSpec:
    """What a model was trained on; saved as ``features.json`` next to the model."""

    features: list[str]
    categorical_features: list[str]
    categories: dict[str, list[str]]
    target: str = TARGET
    keys: list[str] = field(default_factory=lambda: list(KEYS))
    lags: list[int] = field(default_factory=lambda: list(LAGS))
    time_index_origin: str = f"{TIME_ORIGIN_YEAR}-01"
    train: dict[str, Any] = field(default_factory=dict)
    holdout: dict[str, Any] = field(default_factory=dict)
    cleaning: dict[str, int] = field(default_factory=dict)

    @property
    def task(self) -> str:
        """Always a regression: purchases in tonnes."""
        return "regression"

    @property
    def classes(self) -> list[str]:
        return []

    @property
    def time_column(self) -> str:
        """The month of a row: what time splits go by."""
        return PERIOD

    @property
    def numeric_features(self) -> list[str]:
        return [f for f in self.features if f not in self.categorical_features]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def load(cls, path: Path) -> FeatureSpec:
        """Read ``features.json``; ``StepError`` naming the file when it is unusable."""
        return load_spec(cls, path)


def read_frame(path: Path, what: str, required: list[str]) -> pd.DataFrame:
    """A CSV with key and categorical columns as text; ``StepError`` if unreadable."""
    return tabular_frame.read_frame(path, what, required, TEXT_COLUMNS)


def month_number(period: pd.Series) -> pd.Series:
    """``YYYY-MM-01`` → months since January of ``TIME_ORIGIN_YEAR`` (an integer series)."""
    dates = pd.to_datetime(period, format="%Y-%m-%d", errors="coerce")
    if dates.isna().any():
        bad = period[dates.isna()].iloc[0]
        raise StepError(f"period '{bad}' is not a date written as YYYY-MM-DD")
    return ((dates.dt.year - TIME_ORIGIN_YEAR) * 12 + dates.dt.month - 1).astype("int64")


def clean(raw: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Drop exact duplicates, impute missing prices, cap quantity spikes per series."""
    frame = raw[RAW_COLUMNS].drop_duplicates(ignore_index=True)
    stats = {"duplicates_dropped": len(raw) - len(frame)}
    # A row without a target teaches nothing and cannot be scored.
    has_target = frame[TARGET].notna()
    stats["rows_without_target_dropped"] = int((~has_target).sum())
    frame = frame[has_target].reset_index(drop=True)
    price = frame[PRICE]
    stats["prices_imputed"] = int(price.isna().sum())
    # Same material in the same month first (the closest market price), then the material overall.
    price = price.fillna(frame.groupby(["material_id", PERIOD])[PRICE].transform("mean"))
    price = price.fillna(frame.groupby("material_id")[PRICE].transform("median"))
    frame[PRICE] = price.fillna(frame[PRICE].median())
    if frame[PRICE].isna().any():
        raise StepError("no price at all in the data, so missing prices cannot be imputed")

    quantity = frame[TARGET].astype("float64")
    median, scale = robust_center_scale(quantity, [frame[c] for c in SERIES])
    cap = median + CAP_ROBUST_Z * scale
    spikes = (quantity > cap) & (scale > 0)
    stats["quantities_capped"] = int(spikes.sum())
    frame[TARGET] = quantity.where(~spikes, cap)
    return frame, stats


def _lagged(frame: pd.DataFrame, column: str, lag: int) -> pd.Series:
    """``column`` ``lag`` months earlier in the same series (NaN when that month is absent).

    A join on the month number rather than ``shift``: a series with a missing month must not
    take the wrong month as its lag.
    """
    past = frame[[*SERIES, "_month", column]].copy()
    past["_month"] += lag
    joined = frame[[*SERIES, "_month"]].merge(past, on=[*SERIES, "_month"], how="left")
    return pd.Series(joined[column].to_numpy(), index=frame.index)


def add_features(cleaned: pd.DataFrame) -> pd.DataFrame:
    """Calendar, price and lag features; rows sorted by series then period."""
    frame = cleaned.sort_values([*SERIES, PERIOD], ignore_index=True)
    frame["_month"] = month_number(frame[PERIOD])
    frame["month"] = frame["_month"] % 12 + 1
    frame["quarter"] = (frame["month"] - 1) // 3 + 1
    frame["time_index"] = frame["_month"]
    previous_price = _lagged(frame, PRICE, 1)
    frame["price_change"] = frame[PRICE] / previous_price - 1.0
    for lag in LAGS:
        frame[f"lag_{lag}"] = _lagged(frame, TARGET, lag)
    frame["rolling_mean_3"] = frame[["lag_1", "lag_2", "lag_3"]].mean(axis=1)
    return frame.drop(columns="_month")


def category_lists(frame: pd.DataFrame) -> dict[str, list[str]]:
    """Sorted category values per categorical column: the encoding the model is trained with."""
    return {c: sorted(frame[c].dropna().astype(str).unique().tolist()) for c in CATEGORICAL}


def split_by_period(frame: pd.DataFrame, holdout_months: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Time-based split: the last ``holdout_months`` periods are the holdout."""
    periods = np.sort(frame[PERIOD].unique())
    if holdout_months < 1:
        raise StepError(f"holdout_months must be at least 1 (got {holdout_months})")
    if holdout_months >= len(periods):
        raise StepError(
            f"holdout_months={holdout_months} leaves no training data: the data spans only "
            f"{len(periods)} period(s)"
        )
    is_holdout = frame[PERIOD] >= periods[-holdout_months]
    return frame[~is_holdout].reset_index(drop=True), frame[is_holdout].reset_index(drop=True)

