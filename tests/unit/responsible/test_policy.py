"""The responsible-ML gate: an unfair model blocks at promotion, warns or blocks at registration,
a fair one passes, and what cannot be checked is said, never passed over."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlops_azure.config import ResponsibleConfig
from mlops_azure.responsible import analyse, evaluate_policy, with_verdict

SEGMENTS = ["automotive", "construction", "energy", "machinery"]


def frame(energy_error: float, rows: int = 100) -> pd.DataFrame:
    """y = 100; |error| 10 in every segment but energy, whose error is ``energy_error``."""
    out = pd.DataFrame({"segment": np.repeat(SEGMENTS, rows),
                        "region": np.tile(["north", "south"], 2 * rows)})
    sign = np.where(np.arange(len(out)) % 2 == 0, 1.0, -1.0)
    out["y"] = 100.0
    out["p"] = 100.0 + sign * np.where(out["segment"] == "energy", energy_error, 10.0)
    return out


def section(**policy: Any) -> ResponsibleConfig:
    return ResponsibleConfig.model_validate(
        {"sensitive": ["segment", "region"], "metric": "wape", "min_group_size": 30, "policy": policy})


UNFAIR_POLICY = {"max_disparity": {"segment": {"difference": 0.05, "ratio": 2.0}}}


def test_an_unfair_model_blocks_at_promotion_naming_group_and_numbers() -> None:
    config = section(**UNFAIR_POLICY)
    report = analyse(frame(energy_error=25.0), config, y_true="y", y_pred="p")
    verdict = evaluate_policy(report, config.policy, at="promotion")
    assert verdict.status == "block" and verdict.blocked
    assert [(f.kind, f.feature, f.group, f.metric) for f in verdict.findings] == [
        ("disparity", "segment", "energy", "wape")] * 2
    difference, ratio = verdict.findings
    # energy's WAPE is 25/100 = 0.25, the others' 0.10: 0.15 apart, 2.5 times.
    assert difference.value == pytest.approx(0.15) and difference.limit == 0.05
    assert difference.message == ("segment: wape differs by 0.15 between energy (0.25) and automotive "
                                  "(0.10), above the limit 0.05")
    assert ratio.value == pytest.approx(2.5) and ratio.limit == 2.0
    assert ratio.message == ("segment: wape of energy (0.25) is 2.50 times that of automotive (0.10), "
                             "above the limit 2")
    assert verdict.summary() == difference.message + " (and 1 more finding(s))"


@pytest.mark.parametrize(("on_registration", "status"), [("warn", "warn"), ("block", "block")])
def test_at_registration_the_config_decides(on_registration: str, status: str) -> None:
    config = section(**UNFAIR_POLICY, on_registration=on_registration)
    report = with_verdict(analyse(frame(energy_error=25.0), config, y_true="y", y_pred="p"),
                          config.policy, at="registration")
    assert report.verdict is not None
    assert (report.verdict.status, report.verdict.at) == (status, "registration")
    assert {f.severity for f in report.verdict.findings} == {status}


def test_a_fair_model_passes_at_both_stages() -> None:
    config = section(**UNFAIR_POLICY, worst_cohort_metric=0.2, on_registration="block")
    report = analyse(frame(energy_error=11.0), config, y_true="y", y_pred="p")
    for stage in ("registration", "promotion"):
        verdict = evaluate_policy(report, config.policy, at=stage)
        assert (verdict.status, verdict.findings) == ("pass", ())
        assert verdict.summary() == f"the responsible-ML policy passed at {stage}"


def test_a_cohort_beyond_the_limit_is_a_finding() -> None:
    config = section(worst_cohort_metric=0.2)
    report = analyse(frame(energy_error=25.0), config, y_true="y", y_pred="p")
    verdict = evaluate_policy(report, config.policy, at="promotion")
    assert verdict.status == "block"
    # Every energy cohort has WAPE 25/100: the larger one (the whole segment) comes first.
    assert [(f.kind, f.feature, f.group) for f in verdict.findings] == [
        ("cohort", "segment", "energy"), ("cohort", "segment & region", "energy & north"),
        ("cohort", "segment & region", "energy & south")]
    assert verdict.findings[1].message == (
        "segment=energy & region=north: wape 0.25 on 50 rows, above the limit 0.2")


def test_a_minimum_for_accuracy_cohorts() -> None:
    data = frame(energy_error=0.0).assign(y=1, p=1)
    data.loc[(data["segment"] == "energy") & (data.index % 4 == 0), "p"] = 0
    config = ResponsibleConfig.model_validate({
        "sensitive": ["segment"], "task": "classification", "metric": "accuracy",
        "policy": {"worst_cohort_metric": 0.9}})
    verdict = evaluate_policy(analyse(data, config, y_true="y", y_pred="p"), config.policy, at="promotion")
    assert verdict.status == "block"
    assert verdict.findings[0].message == "segment=energy: accuracy 0.75 on 100 rows, below the limit 0.9"


def test_a_zero_error_group_is_an_unbounded_ratio() -> None:
    config = section(max_disparity={"segment": {"ratio": 3.0}})
    data = frame(energy_error=10.0)
    data.loc[data["segment"] == "automotive", "p"] = 100.0
    report = analyse(data, config, y_true="y", y_pred="p")
    assert report.groups["segment"].ratio["wape"] is None  # JSON cannot hold infinity
    verdict = evaluate_policy(report, config.policy, at="promotion")
    assert verdict.status == "block"
    assert verdict.findings[0].message == (
        "segment: wape of automotive is 0 while construction's is 0.10, an unbounded ratio above the limit 3")


def test_small_and_empty_groups_warn_and_never_pass_silently() -> None:
    config = section(**UNFAIR_POLICY)
    data = frame(energy_error=10.0)
    data = pd.concat([data, data.iloc[:5].assign(segment="mining")], ignore_index=True)
    declared = {"segment": [*SEGMENTS, "mining", "steel"]}
    report = analyse(data, config, y_true="y", y_pred="p", allowed=declared)
    verdict = evaluate_policy(report, config.policy, at="promotion")
    assert verdict.status == "warn"
    assert [f.message for f in verdict.findings] == [
        "segment: group mining has 5 rows, fewer than min_group_size 30, so its wape is not trusted",
        "segment: group steel is declared but has no rows, so its wape is unknown",
    ]
    assert [(f.kind, f.group, f.metric, f.value, f.limit) for f in verdict.findings] == [
        ("untrusted", "mining", "rows", 5.0, 30.0), ("untrusted", "steel", "rows", 0.0, 30.0)]


def test_a_disparity_check_with_fewer_than_two_trusted_groups_warns() -> None:
    config = ResponsibleConfig.model_validate({
        "sensitive": ["segment"], "min_group_size": 150, "policy": UNFAIR_POLICY})
    report = analyse(frame(energy_error=50.0), config, y_true="y", y_pred="p")
    verdict = evaluate_policy(report, config.policy, at="promotion")
    assert verdict.status == "warn"  # the unfair energy group is not trusted: say so, do not pass
    first = verdict.findings[0]
    assert (first.kind, first.feature, first.metric, first.value, first.limit) == (
        "untrusted", "segment", "trusted_groups", 0.0, 2.0)
    assert first.message == ("segment: only 0 group(s) have at least 150 rows and a mae, so its mae "
                             "disparity is not checked")
    assert len(verdict.findings) == 1 + len(SEGMENTS)
