"""Parameter importances of a study: Optuna's evaluator (fANOVA) on an in-memory Optuna study
rebuilt from the study's completed trials, so a study run by Azure ML is judged the same way."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from mlops_azure.records_tuning import ParamValue, Study, Trial, TrialState

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution

#: Azure ML search-space types whose bounds are natural-log exponents, sampled on a log scale.
LOG_TYPES = ("loguniform", "qloguniform", "lognormal", "qlognormal")
#: Fewer completed trials than this: no importances (fANOVA needs values to vary).
MIN_TRIALS = 2


def is_log(spec: object) -> bool:
    """Whether a search-space entry samples on a log scale."""
    return isinstance(spec, Mapping) and spec.get("type") in LOG_TYPES


def completed(study: Study) -> list[Trial]:
    """The completed trials with a finite value, in number order."""
    return sorted((t for t in study.trials if t.state is TrialState.COMPLETE
                   and t.value is not None and math.isfinite(t.value)), key=lambda t: t.number)


def param_importances(study: Study) -> dict[str, float] | None:
    """Each parameter's share of the value's variance (summing to 1, largest first), or None when
    fewer than two trials completed or no parameter varied."""
    trials = completed(study)
    if len(trials) < MIN_TRIALS:
        return None
    import optuna
    from optuna.importance import FanovaImportanceEvaluator, get_param_importances

    distributions = {name: distribution(study.search_space.get(name), values)
                     for name, values in _observed(trials).items()}
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "study created" lines on stderr
    try:
        rebuilt = optuna.create_study(
            direction="maximize" if study.goal == "maximize" else "minimize")
        for trial in trials:
            params = {k: _internal(distributions[k], v) for k, v in trial.params.items()}
            rebuilt.add_trial(optuna.trial.create_trial(
                params=params, distributions={k: distributions[k] for k in params},
                value=trial.value))
        # A fixed seed: the same study always gives the same page.
        found = get_param_importances(rebuilt, evaluator=FanovaImportanceEvaluator(seed=0))
    except (ValueError, RuntimeError, ZeroDivisionError):
        return None  # e.g. every parameter held a single value
    finally:
        optuna.logging.set_verbosity(before)
    if not found or not all(math.isfinite(v) for v in found.values()):
        return None
    return {k: float(v) for k, v in found.items()}


def distribution(spec: object, values: Sequence[ParamValue]) -> BaseDistribution:
    """The Optuna distribution of one parameter: the search space's declared type and bounds
    (Azure ML's format), widened to the values the trials actually took."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    declared: Mapping[str, Any] = spec if isinstance(spec, Mapping) else {}
    kind = declared.get("type")
    if kind == "choice" or any(isinstance(v, str | bool) for v in values):
        options = [v for v in declared.get("values") or () if isinstance(v, str | int | float | bool)]
        return CategoricalDistribution(tuple(dict.fromkeys([*options, *values])))
    numbers = [float(v) for v in values]
    low, high = min(numbers), max(numbers)
    bounds = _declared_bounds(declared)
    if bounds is not None:
        low, high = min(low, bounds[0]), max(high, bounds[1])
    if all(n.is_integer() for n in numbers) and kind in (None, "randint", "quniform",
                                                         "qloguniform", "qnormal", "qlognormal"):
        return IntDistribution(math.floor(low), math.ceil(high), log=kind in LOG_TYPES and low >= 1)
    return FloatDistribution(low, high, log=kind in LOG_TYPES and low > 0)


def _declared_bounds(spec: Mapping[str, Any]) -> tuple[float, float] | None:
    try:
        kind = spec.get("type")
        if kind == "randint":
            return 0.0, float(spec["upper"]) - 1
        if kind in ("uniform", "quniform"):
            return float(spec["min_value"]), float(spec["max_value"])
        if kind in ("loguniform", "qloguniform"):
            return math.exp(float(spec["min_value"])), math.exp(float(spec["max_value"]))
    except (KeyError, TypeError, ValueError, OverflowError):
        pass
    return None  # normal and lognormal have no bounds: the observed range stands


def _observed(trials: Sequence[Trial]) -> dict[str, list[ParamValue]]:
    found: dict[str, list[ParamValue]] = {}
    for trial in trials:
        for name, value in trial.params.items():
            found.setdefault(name, []).append(value)
    return found


def _internal(dist: BaseDistribution, value: ParamValue) -> ParamValue:
    from optuna.distributions import IntDistribution

    return int(value) if isinstance(dist, IntDistribution) else value


__all__ = ["LOG_TYPES", "MIN_TRIALS", "completed", "distribution", "is_log", "param_importances"]
