"""Per-group quality of each sensitive feature (fairlearn ``MetricFrame``) and group sizes."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from mlops_azure.config._responsible import TASK_METRICS
from mlops_azure.responsible._frame import Prepared
from mlops_azure.responsible._metrics import ARRAY_METRICS, finite, spread
from mlops_azure.responsible._report import FeatureFairness, GroupQuality, GroupSizes


def sizes(prepared: Prepared, feature: str) -> pd.Series[int]:
    """Rows per group of ``feature``, declared-but-absent groups as 0, largest first (ties by name)."""
    counts = prepared.groups[feature].value_counts(sort=False)
    frame = pd.DataFrame({"group": counts.index.astype(str), "rows": counts.to_numpy(dtype=np.int64)})
    frame = frame.sort_values(["rows", "group"], ascending=[False, True], kind="stable")
    return pd.Series(frame["rows"].to_numpy(), index=frame["group"].to_numpy(), dtype="int64")


def explore(prepared: Prepared, feature: str, min_group_size: int) -> GroupSizes:
    """How many rows each group of ``feature`` has, its imbalance, and the groups too small to trust."""
    rows = sizes(prepared, feature)
    total = prepared.rows
    smallest, largest = int(rows.min()), int(rows.max())
    return GroupSizes(
        sizes={str(g): int(n) for g, n in rows.items()},
        shares={str(g): int(n) / total for g, n in rows.items()},
        imbalance_ratio=largest / smallest if smallest else None,
        small_groups=tuple(str(g) for g, n in rows.items() if n < min_group_size),
    )


def fairness(prepared: Prepared, feature: str, *, task: str, metric: str,
             min_group_size: int) -> FeatureFairness:
    """Every metric of ``task`` per group of ``feature`` with fairlearn's ``MetricFrame``, and the
    disparity (difference, ratio) over the groups with at least ``min_group_size`` rows."""
    from fairlearn.metrics import MetricFrame  # imported here: sklearn takes ~1s to import

    names = TASK_METRICS[task]
    labels = prepared.groups[feature].astype(str).to_numpy()
    frame = MetricFrame(metrics={name: ARRAY_METRICS[name] for name in names}, y_true=prepared.y,
                        y_pred=prepared.p, sensitive_features=pd.Series(labels, name=feature))
    by_group = frame.by_group
    rows = sizes(prepared, feature)
    quality = []
    for group, count in rows.items():
        measured = by_group.loc[group] if count else None
        quality.append(GroupQuality(
            group=str(group), rows=int(count), share=int(count) / prepared.rows,
            trusted=bool(count >= min_group_size),
            metrics={name: None if measured is None else finite(measured[name]) for name in names},
        ))
    return _disparity(tuple(quality), names, metric)


def known(rows: Sequence[GroupQuality], name: str) -> dict[str, float]:
    """``name`` per group of ``rows`` (undefined values as NaN, which ``spread`` ignores)."""
    return {row.group: math.nan if (value := row.metrics.get(name)) is None else value for row in rows}


def _disparity(quality: tuple[GroupQuality, ...], names: Sequence[str], metric: str) -> FeatureFairness:
    trusted = [row for row in quality if row.trusted]
    difference: dict[str, float | None] = {}
    ratio: dict[str, float | None] = {}
    worst = None
    for name in names:
        found = spread(known(trusted, name), name)
        difference[name] = None if found is None else finite(found.difference)
        ratio[name] = None if found is None else finite(found.ratio)
        if name == metric and found is not None:
            worst = found.worst
    return FeatureFairness(by_group=quality, difference=difference, ratio=ratio, worst_group=worst,
                           trusted_groups=len(trusted))
