"""Drift metrics against hand-computed values and scipy's exact implementations."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, ks_2samp, wasserstein_distance

from mlops_azure.errors import UserInputError
from mlops_azure.monitoring import DriftThresholds, compute_drift, js_distance, psi

RNG = np.random.default_rng(7)


def test_psi_by_hand() -> None:
    expected = (0.25 - 0.5) * math.log(0.25 / 0.5) + (0.75 - 0.5) * math.log(0.75 / 0.5)
    assert psi(np.array([50, 50]), np.array([25, 75])) == pytest.approx(expected)
    assert psi(np.array([3, 7]), np.array([30, 70])) == pytest.approx(0.0)


def test_js_distance_is_scipys_base_2() -> None:
    a, b = np.array([10.0, 0, 30, 60]), np.array([25.0, 25, 25, 25])
    assert js_distance(a, b) == pytest.approx(jensenshannon(a / a.sum(), b / b.sum(), base=2))
    assert js_distance(a, a) == pytest.approx(0.0, abs=1e-12)


def frames(shift: float, n: int = 20_000) -> tuple[pd.DataFrame, pd.DataFrame]:
    ref = pd.DataFrame({"x": RNG.normal(10, 2, n), "y": RNG.exponential(3, n)})
    cur = pd.DataFrame({"x": RNG.normal(10 + shift * 2, 2, n), "y": RNG.exponential(3, n)})
    return ref, cur


def test_identical_samples_do_not_drift() -> None:
    ref, _ = frames(0.0)
    report = compute_drift(ref, ref.copy(), numeric=["x", "y"])
    assert not report.drifted and report.drifted_features == ()
    for feature in report.features:
        assert feature.psi == pytest.approx(0.0, abs=1e-9)
        assert feature.js == pytest.approx(0.0, abs=1e-9)
        assert feature.ks_statistic == 0.0 and feature.ks_p == pytest.approx(1.0)


@pytest.mark.parametrize("shift", [0.05, 0.5])
def test_numeric_metrics_match_scipy_within_their_bounds(shift: float) -> None:
    ref, cur = frames(shift)
    found = compute_drift(ref, cur, numeric=["x"]).features[0]
    exact_w = wasserstein_distance(ref["x"], cur["x"]) / ref["x"].std(ddof=0)
    assert found.wasserstein is not None and found.wasserstein_error_bound is not None
    assert abs(found.wasserstein - exact_w) <= found.wasserstein_error_bound
    assert abs(found.wasserstein - exact_w) <= max(0.01 * exact_w, 1e-3)  # 1 % in practice
    exact = ks_2samp(ref["x"], cur["x"], method="asymp")
    assert found.ks_statistic is not None and found.ks_error_bound is not None
    assert exact.statistic - found.ks_error_bound <= found.ks_statistic <= exact.statistic
    assert found.ks_statistic == pytest.approx(exact.statistic, rel=0.01)


def test_a_shift_drifts_and_says_why() -> None:
    ref, cur = frames(0.5)
    report = compute_drift(ref, cur, numeric=["x", "y"])
    x, y = report.features
    assert x.drifted and any("Jensen" in r or "PSI" in r for r in x.reasons)
    assert not y.drifted
    assert report.drifted_share == 0.5 and report.drifted  # default: half the features
    assert not compute_drift(ref, cur, numeric=["x", "y"],
                             thresholds=DriftThresholds(drifted_share=0.6)).drifted


def test_prediction_drift_alone_makes_the_report_drift() -> None:
    ref, _ = frames(0.0)
    stable = RNG.gamma(2.0, 50.0, 5_000)
    same = compute_drift(ref, ref.copy(), numeric=["x", "y"],
                         predictions=(stable, RNG.gamma(2.0, 50.0, 5_000)))
    assert same.prediction is not None and same.prediction.kind == "prediction"
    assert not same.prediction.drifted and not same.drifted
    cheaper = RNG.gamma(2.0, 30.0, 5_000)
    lower = compute_drift(ref, ref.copy(), numeric=["x", "y"], predictions=(stable, cheaper))
    assert lower.drifted_features == () and not lower.data_drifted
    assert lower.prediction is not None and lower.prediction.drifted and lower.drifted
    exact = wasserstein_distance(stable, cheaper) / stable.std()
    assert lower.prediction.wasserstein == pytest.approx(exact, rel=0.01)
    document = lower.to_dict()
    assert document["prediction_drifted"] is True and document["prediction"]["feature"] == "prediction"
    assert compute_drift(ref, ref.copy(), numeric=["x"]).to_dict()["prediction"] is None


def test_categorical_with_an_unseen_level_matches_scipys_chi_squared() -> None:
    ref = pd.DataFrame({"segment": ["a"] * 500 + ["b"] * 300 + ["c"] * 200})
    cur = pd.DataFrame({"segment": ["a"] * 400 + ["b"] * 300 + ["d"] * 300})
    found = compute_drift(ref, cur, categorical=["segment"]).features[0]
    table = np.array([[500, 300, 200, 0], [400, 300, 0, 300]])
    exact = chi2_contingency(table, correction=False)
    assert found.chi2 == pytest.approx(exact.statistic)
    assert found.chi2_p == pytest.approx(exact.pvalue)
    assert found.out_of_range == pytest.approx(0.3)  # 'd' never seen in the reference
    assert found.drifted
    assert found.distribution.labels[0] == "a"


def test_missing_values_are_reported_and_left_out() -> None:
    ref = pd.DataFrame({"x": [1.0, 2, 3, 4, np.nan] * 100})
    cur = pd.DataFrame({"x": [1.0, 2, 3, 4, np.nan, np.nan, np.nan, np.nan, 5, 9] * 50})
    found = compute_drift(ref, cur, numeric=["x"]).features[0]
    assert found.missing_reference == pytest.approx(0.2)
    assert found.missing_current == pytest.approx(0.4)
    assert found.out_of_range == pytest.approx(100 / 300)  # 5 and 9 lie beyond the reference


@pytest.mark.parametrize(("ref", "cur", "message"), [
    ([np.nan] * 5, [1.0, 2.0], "'x': the reference data has no values"),
    ([1.0, 2.0], [], "'x': the current data has no values"),
])
def test_empty_or_all_null_columns_give_one_sentence(ref: list[float], cur: list[float],
                                                     message: str) -> None:
    with pytest.raises(UserInputError, match=message):
        compute_drift(pd.DataFrame({"x": ref}), pd.DataFrame({"x": pd.Series(cur, dtype=float)}),
                      numeric=["x"])


def test_bad_declarations_are_refused() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0], "s": ["a", "b"]})
    with pytest.raises(UserInputError, match="'z' is not a column of the reference data"):
        compute_drift(frame, frame, numeric=["z"])
    with pytest.raises(UserInputError, match="'s' of the reference data is not numeric"):
        compute_drift(frame, frame, numeric=["s"])
    with pytest.raises(UserInputError, match="no features"):
        compute_drift(frame, frame)


def one_of_four_drifts() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Four features of which only ``price`` moves, far (PSI of several units)."""
    n = 5_000
    ref = pd.DataFrame({name: RNG.normal(0, 1, n) for name in ("price", "a", "b", "c")})
    cur = pd.DataFrame({name: RNG.normal(0, 1, n) for name in ("price", "a", "b", "c")})
    cur["price"] += 4.0
    return ref, cur


FOUR = ["price", "a", "b", "c"]


def test_one_feature_far_off_is_below_the_share_rule_and_the_verdict_says_so() -> None:
    ref, cur = one_of_four_drifts()
    report = compute_drift(ref, cur, numeric=FOUR)
    assert report.drifted_features == ("price",) and report.features[0].psi > 3
    assert not report.drifted and report.verdict.rules == ()
    assert report.verdict.reason == ("no drift: 1 of 4 features drifted (25 %: price), below 50 % "
                                     "(monitoring.drifted_share)")
    document = report.to_dict()
    assert document["verdict"] == report.verdict.reason and document["rules"] == []


def test_a_critical_feature_drifts_the_dataset_on_its_own() -> None:
    ref, cur = one_of_four_drifts()
    report = compute_drift(ref, cur, numeric=FOUR,
                           thresholds=DriftThresholds(critical={"price": 1.0, "a": 1.0}))
    assert report.drifted and report.data_drifted and report.critical_features == ("price",)
    verdict = report.verdict
    assert verdict.rules == ("critical",)
    price = report.features[0].psi
    assert verdict.reason == (f"dataset drifted: critical feature price drifted (PSI {price:.3g} ≥ 1, "
                              "monitoring.critical); 1 of 4 features drifted (25 %: price), below "
                              "50 % (monitoring.drifted_share)")
    assert "critical: PSI ≥ 1" in report.features[0].reasons
    document = report.to_dict()
    assert document["rules"] == ["critical"] and document["critical_features"] == ["price"]
    assert document["thresholds"]["critical"] == {"price": 1.0, "a": 1.0}
    # Above the feature's PSI, the level does not fire, and the verdict says none did.
    high = compute_drift(ref, cur, numeric=FOUR,
                         thresholds=DriftThresholds(critical={"price": price + 1}))
    assert not high.drifted and high.verdict.reason.endswith(
        "no critical feature reached its level (monitoring.critical)")


def test_a_critical_level_under_the_feature_thresholds_still_drifts_it() -> None:
    ref, cur = frames(0.0)
    cur["x"] = cur["x"] + 0.3  # a small move: PSI around 0.02, under psi_major and JS
    # Nor the KS rule (it needs this distance too); and both features for the share rule.
    loose = DriftThresholds(wasserstein=1.0, drifted_share=1.0)
    plain = compute_drift(ref, cur, numeric=["x", "y"], thresholds=loose)
    x = plain.features[0]
    assert not x.drifted and 0.005 < x.psi < 0.25
    strict = compute_drift(ref, cur, numeric=["x", "y"],
                           thresholds=replace(loose, critical={"x": x.psi / 2}))
    assert strict.features[0].drifted and strict.features[0].critical
    assert strict.verdict.rules == ("critical",)


def test_the_share_rule_names_itself_and_the_features() -> None:
    ref, cur = frames(0.5)
    report = compute_drift(ref, cur, numeric=["x", "y"])
    assert report.verdict.rules == ("drifted_share",)
    assert report.verdict.reason == ("dataset drifted: 1 of 2 features drifted (50 %: x), at least "
                                     "50 % (monitoring.drifted_share)")


def test_prediction_drift_is_named_as_the_rule() -> None:
    ref, _ = frames(0.0)
    stable = RNG.gamma(2.0, 50.0, 5_000)
    lower = compute_drift(ref, ref.copy(), numeric=["x", "y"],
                          predictions=(stable, RNG.gamma(2.0, 30.0, 5_000)))
    assert lower.verdict.rules == ("prediction",)
    assert lower.verdict.reason.startswith("drift: the predictions drifted (")
    assert lower.verdict.reason.endswith("0 of 2 features drifted (0 %), below 50 % "
                                         "(monitoring.drifted_share)")
    same = compute_drift(ref, ref.copy(), numeric=["x", "y"], predictions=(stable, stable))
    assert same.verdict.reason.endswith("; predictions stable")


def test_a_critical_feature_must_be_compared() -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0]})
    with pytest.raises(UserInputError, match="critical feature 'z' is not among the features"):
        compute_drift(frame, frame, numeric=["x"], thresholds=DriftThresholds(critical={"z": 1.0}))


def test_too_few_current_rows_get_no_verdict() -> None:
    ref = pd.DataFrame({f"f{i}": RNG.normal(0, 1, 5_000) for i in range(10)})
    few = pd.DataFrame({f"f{i}": RNG.normal(0, 1, 20) for i in range(10)})
    stable = RNG.gamma(2.0, 50.0, 5_000)
    report = compute_drift(ref, few, numeric=list(ref.columns),
                           predictions=(stable, RNG.gamma(2.0, 30.0, 20)))
    # Twenty rows of the same distribution: most features "drift" by noise alone.
    assert report.drifted_share >= 0.5 and not report.judged
    assert not report.drifted and not report.data_drifted and report.verdict.rules == ()
    assert report.verdict.reason == ("no verdict: 20 current rows, fewer than the 500 a drift "
                                     "verdict needs (monitoring.min_rows)")
    assert report.to_dict()["judged"] is False
    assert compute_drift(ref, few, numeric=list(ref.columns),
                         thresholds=DriftThresholds(min_rows=20)).drifted
