"""The champion gate's policy: strictly better, by both minimums, in the metric's direction."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from mlops_azure.config import ChampionPolicy, load_config
from mlops_azure.errors import UserInputError
from mlops_azure.lifecycle.champion import decide

WAPE = ChampionPolicy(metric="wape")


def test_no_champion_registers_the_first_model() -> None:
    decision = decide(WAPE, {"wape": 0.2}, None)
    assert decision.verdict == "first"
    assert decision.register
    assert "first" in decision.reason


@pytest.mark.parametrize(
    ("policy", "candidate", "champion", "verdict"),
    [
        (WAPE, 0.19, 0.20, "better"),
        (WAPE, 0.20, 0.20, "not_better"),  # equal is not better
        (WAPE, 0.21, 0.20, "not_better"),
        (ChampionPolicy(metric="wape", min_abs_improvement=0.02), 0.19, 0.20, "not_better"),
        (ChampionPolicy(metric="wape", min_abs_improvement=0.01), 0.19, 0.20, "better"),
        (ChampionPolicy(metric="wape", min_rel_improvement=0.10), 0.19, 0.20, "not_better"),  # 5 % < 10 %
        (ChampionPolicy(metric="wape", min_rel_improvement=0.05), 0.19, 0.20, "better"),
        (ChampionPolicy(metric="r2", direction="maximize"), 0.91, 0.90, "better"),
        (ChampionPolicy(metric="r2", direction="maximize"), 0.89, 0.90, "not_better"),
        (ChampionPolicy(metric="r2"), 0.91, 0.90, "better"),  # direction inferred
    ],
)
def test_policy(policy: ChampionPolicy, candidate: float, champion: float, verdict: str) -> None:
    metric = policy.metric
    decision = decide(policy, {metric: candidate}, {metric: champion}, champion_ref="m:3")
    assert decision.verdict == verdict
    assert decision.register == (verdict == "better")
    assert decision.abs_improvement == pytest.approx(
        (champion - candidate) if policy.direction == "minimize" else (candidate - champion))
    assert "m:3" in decision.reason


def test_relative_improvement_is_a_fraction_of_the_champion() -> None:
    decision = decide(WAPE, {"wape": 0.15}, {"wape": 0.20})
    assert decision.rel_improvement == pytest.approx(0.25)


def test_a_champion_at_zero_cannot_be_beaten() -> None:
    decision = decide(WAPE, {"wape": 0.0}, {"wape": 0.0})
    assert decision.verdict == "not_better"


def test_unknown_metric_is_bad_input() -> None:
    with pytest.raises(UserInputError, match="'mape' is not among the candidate metrics"):
        decide(ChampionPolicy(metric="mape"), {"wape": 0.1}, None)


def test_nan_metric_is_refused() -> None:
    with pytest.raises(UserInputError, match="NaN"):
        decide(WAPE, {"wape": math.nan}, {"wape": 0.1})


def test_a_higher_auc_is_better_without_a_direction_in_the_config(tmp_path: Path) -> None:
    # The policy as mlops.yaml gives it: `champion: {metric: auc}` and nothing else.
    config = tmp_path / "mlops.yaml"
    config.write_text("project: p\nmodel: {name: m, task: classification}\n"
                      "data: {schema: {columns: {a: {type: float}}}}\nchampion: {metric: auc}\n")
    policy = load_config(config).champion
    decision = decide(policy, {"auc": 0.90}, {"auc": 0.88}, champion_ref="m:1")
    assert (decision.verdict, decision.direction) == ("better", "maximize")
    assert decision.abs_improvement == pytest.approx(0.02)
    assert decide(policy, {"auc": 0.86}, {"auc": 0.88}).verdict == "not_better"
