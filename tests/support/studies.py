"""Study records made from a real Optuna study run in-process: a seeded TPE search with a median
pruner over a search space in Azure ML's format, its trials converted to ``Trial`` records."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

import optuna

from mlops_azure.records_tuning import Study, Trial, TrialState

#: The example's sweep (Azure ML's format: loguniform bounds are natural-log exponents).
SEARCH_SPACE: dict[str, Any] = {
    "n_estimators": {"type": "quniform", "min_value": 100, "max_value": 800, "q": 50},
    "learning_rate": {"type": "loguniform", "min_value": -4.6, "max_value": -1.6},
    "num_leaves": {"type": "choice", "values": [15, 31, 63, 127]},
    "min_data_in_leaf": {"type": "randint", "upper": 50},
}
ROUNDS = 8

_STATES = {optuna.trial.TrialState.COMPLETE: TrialState.COMPLETE,
           optuna.trial.TrialState.PRUNED: TrialState.PRUNED,
           optuna.trial.TrialState.FAIL: TrialState.FAIL,
           optuna.trial.TrialState.RUNNING: TrialState.RUNNING}


def _objective(trial: optuna.Trial) -> float:
    """A loss falling per round towards a floor that depends on the parameters (learning rate
    and leaves matter, min_data_in_leaf barely does), reported every round for the pruner."""
    n_estimators = trial.suggest_int("n_estimators", 100, 800, step=50)
    learning_rate = trial.suggest_float("learning_rate", math.exp(-4.6), math.exp(-1.6), log=True)
    num_leaves = trial.suggest_categorical("num_leaves", [15, 31, 63, 127])
    min_data = trial.suggest_int("min_data_in_leaf", 0, 49)
    floor = (0.2 + 0.1 * abs(math.log(learning_rate) + 3.0) + 0.05 * abs(math.log2(num_leaves) - 5)
             + 0.001 * min_data + 20.0 / n_estimators)
    loss = floor
    for step in range(ROUNDS):
        loss = floor + 1.0 / (step + 1)
        trial.report(loss, step)
        if trial.should_prune():
            raise optuna.TrialPruned
    return loss


def optuna_study(n_trials: int = 16, *, seed: int = 7, name: str = "steel-forecast-train-1a2b",
                 job_id: str = "steel-forecast-20250101000000-abcdef") -> Study:
    """A ``Study`` record of a real Optuna run of ``n_trials`` trials."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    run = optuna.create_study(direction="minimize",
                              sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=5),
                              pruner=optuna.pruners.MedianPruner(n_startup_trials=3,
                                                                 n_warmup_steps=2))
    run.optimize(_objective, n_trials=n_trials)
    return to_record(run, name=name, job_id=job_id)


def to_record(run: optuna.Study, *, name: str, job_id: str, step: str = "train") -> Study:
    """An Optuna study as the seam's ``Study``."""
    trials = []
    for frozen in run.trials:
        intermediate = dict(frozen.intermediate_values)
        value = frozen.value
        if value is None and intermediate:
            value = intermediate[max(intermediate)]
        trials.append(Trial(number=frozen.number, state=_STATES[frozen.state],
                            params=dict(frozen.params), value=value, intermediate=intermediate,
                            started_at=frozen.datetime_start, ended_at=frozen.datetime_complete,
                            run_id=f"trial-{frozen.number:04d}"))
    complete = [t for t in trials if t.state is TrialState.COMPLETE]
    goal = run.direction.name.lower()
    best = (min if goal == "minimize" else max)(complete, key=lambda t: t.value or 0.0) \
        if complete else None
    space = json.dumps(SEARCH_SPACE, sort_keys=True, separators=(",", ":"))
    return Study(job_id=job_id, step=step, name=name, metric="wape", goal=goal,
                 sampling="bayesian", early_termination="median_stopping",
                 search_space=SEARCH_SPACE,
                 search_space_sha256=hashlib.sha256(space.encode()).hexdigest(),
                 trials=tuple(trials), best_trial=best.number if best else None)
