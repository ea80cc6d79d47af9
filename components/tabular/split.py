"""Splitting rows in two, the same way for prep's holdout and train's validation rows: the
latest share by a time column, else a seeded random share (of each class when stratified)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tabular.step import StepError


def split_rows(frame: pd.DataFrame, fraction: float, seed: int, time_column: str | None,
               stratify: np.ndarray | None, *, option: str = "holdout_fraction",
               part: str = "holdout") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(kept, held out): the rows of the latest ``fraction`` of distinct ``time_column`` values,
    else a seeded random ``fraction`` (of each class when ``stratify`` holds the class codes).
    ``option`` and ``part`` name the fraction's input and the held-out rows in errors."""
    if not 0 < fraction < 1:
        raise StepError(f"{option} must be between 0 and 1 (got {fraction})")
    if time_column is not None:
        times = pd.to_datetime(frame[time_column], errors="coerce")
        if times.isna().any():
            bad = frame[time_column][times.isna()].iloc[0]
            raise StepError(f"{time_column} holds '{bad}', which is not a date")
        distinct = np.sort(times.unique())
        if len(distinct) < 2:
            raise StepError(f"{time_column} has a single value, so no time split is possible")
        cutoff = distinct[min(len(distinct) - 1, max(1, int(len(distinct) * (1 - fraction))))]
        held = (times >= cutoff).to_numpy()
    else:
        rng = np.random.default_rng(seed)
        held = np.zeros(len(frame), dtype=bool)
        groups = [np.flatnonzero(stratify == c) for c in np.unique(stratify)] if stratify is not None \
            else [np.arange(len(frame))]
        for rows in groups:
            count = max(1, round(len(rows) * fraction)) if len(rows) > 1 else 0
            held[rng.permutation(rows)[:count]] = True
    kept, rest = frame[~held].reset_index(drop=True), frame[held].reset_index(drop=True)
    if kept.empty or rest.empty:
        raise StepError(f"the split leaves {len(kept)} training and {len(rest)} {part} rows: "
                        "more data is needed")
    return kept, rest
