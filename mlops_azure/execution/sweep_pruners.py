"""Azure ML's bandit early-termination policy as an Optuna pruner (Optuna has no such pruner).

At each evaluated step a trial is stopped when its value is worse than the best value any trial
reported at that step by more than the slack: ``slack_factor`` as a ratio (for a metric to
minimise: above best * (1 + factor); to maximise: below best / (1 + factor)) or ``slack_amount``
as a difference.
"""

from __future__ import annotations

import optuna
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial, TrialState


class BanditPruner(optuna.pruners.BasePruner):
    """Prune a trial that trails the best one at the same step by more than the slack."""

    def __init__(self, slack_factor: float | None, slack_amount: float | None, *, n_warmup_steps: int = 0,
                 interval_steps: int = 1) -> None:
        if (slack_factor is None) == (slack_amount is None):
            raise ValueError("give one of slack_factor or slack_amount")
        self.slack_factor, self.slack_amount = slack_factor, slack_amount
        self.n_warmup_steps, self.interval_steps = n_warmup_steps, interval_steps

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        step = trial.last_step
        if step is None or step < self.n_warmup_steps or (step - self.n_warmup_steps) % self.interval_steps:
            return False
        others = [t.intermediate_values[step] for t in study.get_trials(deepcopy=False)
                  if t.number != trial.number and step in t.intermediate_values
                  and t.state in (TrialState.COMPLETE, TrialState.RUNNING, TrialState.PRUNED)]
        if not others:
            return False
        value = trial.intermediate_values[step]
        minimize = study.direction == StudyDirection.MINIMIZE
        best = min(others) if minimize else max(others)
        if self.slack_amount is not None:
            return value > best + self.slack_amount if minimize else value < best - self.slack_amount
        assert self.slack_factor is not None
        return value > best * (1 + self.slack_factor) if minimize else value < best / (1 + self.slack_factor)
