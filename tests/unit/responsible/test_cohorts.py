"""Error analysis: the planted bad cohort comes first, small cohorts are not ranked, and it is fast."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from mlops_azure.config import ResponsibleConfig
from mlops_azure.responsible import analyse

SEGMENTS = ["automotive", "construction", "energy", "machinery"]
REGIONS = ["east", "north", "south", "west"]


def planted(rows_per_cell: int = 50) -> pd.DataFrame:
    """y = 100 everywhere; |error| 10, except energy & north where it is 30 (3x)."""
    cells = [(s, r) for s in SEGMENTS for r in REGIONS]
    frame = pd.DataFrame([cell for cell in cells for _ in range(rows_per_cell)],
                         columns=["segment", "region"])
    bad = (frame["segment"] == "energy") & (frame["region"] == "north")
    sign = np.where(np.arange(len(frame)) % 2 == 0, 1.0, -1.0)
    frame["y"] = 100.0
    frame["p"] = 100.0 + sign * np.where(bad, 30.0, 10.0)
    return frame


SECTION = ResponsibleConfig.model_validate(
    {"sensitive": ["segment", "region"], "metric": "mae", "min_group_size": 30})


def test_the_planted_bad_pair_is_ranked_first() -> None:
    report = analyse(planted(), SECTION, y_true="y", y_pred="p")
    first = report.cohorts[0]
    assert dict(first.features) == {"segment": "energy", "region": "north"}
    assert first.rows == 50
    assert first.metrics["mae"] == pytest.approx(30.0)
    # overall MAE: (750 x 10 + 50 x 30) / 800 = 11.25
    assert report.overall["mae"] == pytest.approx(11.25)
    assert first.ratio_to_overall == pytest.approx(30 / 11.25)
    # Then the singles containing it: (150 x 10 + 50 x 30) / 200 = 15, larger cohort first on ties.
    assert [dict(c.features) for c in report.cohorts[1:3]] == [{"segment": "energy"}, {"region": "north"}]
    assert report.cohorts[1].metrics["mae"] == pytest.approx(15.0)
    assert len(report.cohorts) == 10


def test_cohorts_smaller_than_min_group_size_are_not_ranked() -> None:
    frame = planted()
    # 5 rows with 90x the error: the worst by far, but too few to trust.
    tiny = pd.DataFrame({"segment": ["mining"] * 5, "region": ["arctic"] * 5, "y": 100.0, "p": 1000.0})
    report = analyse(pd.concat([frame, tiny], ignore_index=True), SECTION, y_true="y", y_pred="p")
    assert all({"mining", "arctic"}.isdisjoint(c.features.values()) for c in report.cohorts)
    assert "arctic" in report.exploration["region"].small_groups
    assert dict(report.cohorts[0].features) == {"segment": "energy", "region": "north"}


def test_single_cohorts_agree_with_metricframe_groups() -> None:
    report = analyse(planted(), SECTION.model_copy(update={"metric": "wape"}), y_true="y", y_pred="p")
    by_group = {row.group: row.metrics for row in report.groups["segment"].by_group}
    singles = [c for c in report.cohorts if list(c.features) == ["segment"]]
    assert singles
    for cohort in singles:
        assert dict(cohort.metrics) == pytest.approx(dict(by_group[cohort.features["segment"]]))


def test_accuracy_ranks_the_least_accurate_cohort_first() -> None:
    frame = planted()
    bad = (frame["segment"] == "energy") & (frame["region"] == "north")
    frame = frame.assign(y=1, p=np.where(bad & (np.arange(len(frame)) % 2 == 0), 0, 1))
    section = ResponsibleConfig.model_validate(
        {"sensitive": ["segment", "region"], "task": "classification", "metric": "accuracy"})
    first = analyse(frame, section, y_true="y", y_pred="p").cohorts[0]
    assert dict(first.features) == {"segment": "energy", "region": "north"}
    assert first.metrics["accuracy"] == pytest.approx(0.5)


def test_100k_rows_and_four_cohort_features_take_well_under_seconds() -> None:
    rng = np.random.default_rng(7)
    n = 100_000
    frame = pd.DataFrame({
        "segment": rng.choice(SEGMENTS, n), "region": rng.choice(REGIONS, n),
        "company_size": rng.choice(["small", "medium", "large"], n),
        "material_id": rng.choice([f"M{i:03d}" for i in range(300)], n),
        "y": rng.gamma(2.0, 10.0, n),
    })
    frame["p"] = frame["y"] * rng.normal(1.0, 0.2, n)
    section = ResponsibleConfig.model_validate(
        {"sensitive": ["segment"], "cohorts": ["segment", "region", "company_size", "material_id"]})
    started = time.perf_counter()
    report = analyse(frame, section, y_true="y", y_pred="p")
    # ~0.2 s for the cohorts and ~1 s for fairlearn's MetricFrame here; a row loop would take minutes.
    assert time.perf_counter() - started < 10
    assert len(report.cohorts) == 10
    assert all(c.rows >= 30 for c in report.cohorts)
