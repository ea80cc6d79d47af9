"""Azure ML's bandit policy as an Optuna pruner."""

from __future__ import annotations

import optuna
import pytest

from mlops_azure.execution.sweep_pruners import BanditPruner


def _study(direction: str, pruner: BanditPruner, leader: dict[int, float]) -> optuna.Study:
    study = optuna.create_study(direction=direction, pruner=pruner)  # type: ignore[arg-type]
    first = study.ask()
    for step, value in leader.items():
        first.report(value, step)
    study.tell(first, leader[max(leader)])
    return study


@pytest.mark.parametrize(("direction", "value", "pruned"), [
    ("minimize", 1.19, False), ("minimize", 1.21, True), ("maximize", 1.0 / 1.19, False),
    ("maximize", 1.0 / 1.21, True)])
def test_slack_factor_is_a_ratio_to_the_best_at_the_same_step(direction: str, value: float,
                                                              pruned: bool) -> None:
    study = _study(direction, BanditPruner(0.2, None), {1: 1.0})
    trial = study.ask()
    trial.report(value, 1)
    assert trial.should_prune() is pruned


def test_slack_amount_is_a_difference_and_warm_up_and_interval_apply() -> None:
    study = _study("minimize", BanditPruner(None, 0.5, n_warmup_steps=2, interval_steps=2),
                   {1: 1.0, 2: 1.0, 3: 1.0, 4: 1.0})
    trial = study.ask()
    trial.report(9.0, 1)
    assert not trial.should_prune()  # warming up
    trial.report(9.0, 3)
    assert not trial.should_prune()  # not an evaluated step (2, 4, ...)
    trial.report(1.4, 4)
    assert not trial.should_prune()  # within 0.5 of the best
    study2 = _study("minimize", BanditPruner(None, 0.5, n_warmup_steps=2, interval_steps=2), {4: 1.0})
    late = study2.ask()
    late.report(1.6, 4)
    assert late.should_prune()
