"""A ``type: sweep`` step of an Azure ML pipeline job, read and checked as Azure ML reads it.

The step names a command component (``trial``), binds its fixed inputs and declares
``search_space``, ``objective``, ``sampling_algorithm``, ``limits`` and ``early_termination`` in
Azure's own words. This module checks them once, before anything runs, with one sentence per
problem naming the file and key, and refuses what Azure ML refuses (bayesian sampling with an
early-termination policy, grid sampling over anything but ``choice``), so a sweep that runs
locally also submits. How the local executor maps them onto Optuna lives in ``sweep``.

Azure's distributions: ``choice`` (``values``), ``randint`` (``upper``: 0 to upper - 1),
``uniform`` (``min_value``, ``max_value``), ``loguniform`` (the bounds are natural-log exponents:
the value is ``exp(uniform(min_value, max_value))``) and ``quniform`` (``q``: the uniform value
rounded to a multiple of q). The normal families have no bounded equivalent in Optuna and are
refused here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mlops_azure.errors import UserInputError
from mlops_azure.execution.command_template import ComponentInput
from mlops_azure.records_tuning import search_space_sha256

SAMPLING = ("random", "grid", "bayesian")
POLICIES = {"median_stopping": "median_stopping", "bandit": "bandit",
            "truncation_selection": "truncation_selection",
            # The REST names azure-ai-ml sends (``policy_type``), so a submitted job reads back.
            "medianstopping": "median_stopping", "truncationselection": "truncation_selection"}
DISTRIBUTIONS = ("choice", "randint", "uniform", "loguniform", "quniform")
_REFUSED = ("normal", "lognormal", "qnormal", "qlognormal", "qloguniform")


@dataclass(frozen=True)
class Parameter:
    """One dimension of the search space, as declared."""

    name: str
    type: str
    values: tuple[Any, ...] = ()
    low: float = 0.0  # min_value (an exponent for loguniform); 0 for randint
    high: float = 0.0  # max_value; upper - 1 for randint
    q: float | None = None
    integer: bool = False  # the trial's input is an integer

    @property
    def log(self) -> bool:
        return self.type == "loguniform"


@dataclass(frozen=True)
class EarlyTermination:
    """Azure ML's early-termination policy; steps are the trial's metric reports."""

    type: str  # median_stopping, bandit or truncation_selection
    evaluation_interval: int = 1
    delay_evaluation: int = 0
    slack_factor: float | None = None
    slack_amount: float | None = None
    truncation_percentage: int | None = None


@dataclass(frozen=True)
class SweepSettings:
    """Everything of a sweep step but its trial component and bindings."""

    search_space: Mapping[str, Parameter]
    declared_space: Mapping[str, Any]  # the mapping as written: what lineage hashes
    metric: str
    goal: str
    sampling: str
    seed: int | None
    sobol: bool
    max_total_trials: int
    max_concurrent_trials: int | None
    timeout_s: float | None
    trial_timeout_s: float | None
    early_termination: EarlyTermination | None

    @property
    def space_sha256(self) -> str:
        """SHA-256 of the declared search space in canonical JSON."""
        return search_space_sha256(self.declared_space)

    @property
    def grid_size(self) -> int | None:
        if self.sampling != "grid":
            return None
        return math.prod(len(p.values) for p in self.search_space.values())


def _number(raw: Any, where: str, *, integer: bool = False, positive: bool = False) -> Any:
    ok = isinstance(raw, int) if integer else isinstance(raw, int | float)
    if isinstance(raw, bool) or not ok:
        raise UserInputError(f"{where} must be {'an integer' if integer else 'a number'}, not {raw!r}")
    if positive and raw <= 0:
        raise UserInputError(f"{where} must be greater than 0 (got {raw})")
    return raw


def _parameter(name: str, raw: Any, port: ComponentInput, where: str) -> Parameter:
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        raise UserInputError(f"{where} must be a mapping with a 'type' ({', '.join(DISTRIBUTIONS)})")
    type_ = raw["type"].lower()
    if type_ in _REFUSED:
        raise UserInputError(f"{where}.type {type_} has no bounded equivalent in the local executor: "
                             "use uniform, loguniform or quniform")
    if type_ not in DISTRIBUTIONS:
        raise UserInputError(f"{where}.type '{raw['type']}' is not one of {', '.join(DISTRIBUTIONS)}")
    integer = port.type == "integer"
    if port.type not in ("integer", "number", "string", "boolean"):
        raise UserInputError(f"{where}: the trial's input '{name}' is a {port.type}, which cannot be swept")
    if type_ == "choice":
        values = raw.get("values")
        if not isinstance(values, list) or not values:
            raise UserInputError(f"{where}.values must be a non-empty list")
        if any(not isinstance(v, str | int | float | bool) for v in values):
            raise UserInputError(f"{where}.values must hold single values (text, numbers, booleans)")
        if len(set(map(repr, values))) != len(values):
            raise UserInputError(f"{where}.values lists a value twice")
        return Parameter(name, type_, tuple(values), integer=integer)
    if port.type not in ("integer", "number"):
        raise UserInputError(f"{where}: a {type_} distribution needs a numeric input, but '{name}' "
                             f"is a {port.type}")
    if type_ == "randint":
        upper = _number(raw.get("upper"), f"{where}.upper", integer=True, positive=True)
        return Parameter(name, type_, low=0, high=upper - 1, integer=True)
    low = _number(raw.get("min_value"), f"{where}.min_value")
    high = _number(raw.get("max_value"), f"{where}.max_value")
    if low >= high:
        raise UserInputError(f"{where}: min_value ({low}) must be below max_value ({high})")
    q = None
    if type_ == "quniform":
        q = _number(raw.get("q"), f"{where}.q", positive=True)
        if math.floor(high / q) < math.ceil(low / q):
            raise UserInputError(f"{where}: no multiple of q={q} lies between {low} and {high}")
    elif integer:
        raise UserInputError(f"{where}: '{name}' is an integer input; a {type_} draws fractions, so "
                             "use quniform (q: 1), randint or choice")
    return Parameter(name, type_, low=float(low), high=float(high), q=q, integer=integer)


def _policy(raw: Any, where: str) -> EarlyTermination | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise UserInputError(f"{where} must be a mapping with a 'type'")
    kind = raw.get("type", raw.get("policy_type"))
    key = str(kind).lower()
    if key not in POLICIES:
        raise UserInputError(f"{where}.type {kind!r} is not one of median_stopping, bandit, "
                             "truncation_selection")
    policy = POLICIES[key]
    interval = _number(raw.get("evaluation_interval", 1), f"{where}.evaluation_interval", integer=True,
                       positive=True)
    delay = _number(raw.get("delay_evaluation", 0), f"{where}.delay_evaluation", integer=True)
    if delay < 0:
        raise UserInputError(f"{where}.delay_evaluation must be 0 or more (got {delay})")
    factor, amount, percentage = raw.get("slack_factor"), raw.get("slack_amount"), None
    if policy == "bandit":
        if (factor is None) == (amount is None):
            raise UserInputError(f"{where}: a bandit policy takes one of slack_factor or slack_amount")
        if factor is not None:
            factor = _number(factor, f"{where}.slack_factor", positive=True)
        if amount is not None:
            amount = _number(amount, f"{where}.slack_amount", positive=True)
    if policy == "truncation_selection":
        percentage = _number(raw.get("truncation_percentage"), f"{where}.truncation_percentage",
                             integer=True)
        if not 1 <= percentage <= 99:
            raise UserInputError(f"{where}.truncation_percentage must be between 1 and 99 (got {percentage})")
    return EarlyTermination(policy, interval, delay, factor, amount, percentage)


def _sampling(raw: Any, where: str) -> tuple[str, int | None, bool]:
    if isinstance(raw, str):
        raw = {"type": raw}
    if not isinstance(raw, dict) or str(raw.get("type", "")).lower() not in SAMPLING:
        raise UserInputError(f"{where} must be one of {', '.join(SAMPLING)} (or a mapping with that 'type')")
    kind = str(raw["type"]).lower()
    seed = raw.get("seed")
    if seed is not None:
        seed = _number(seed, f"{where}.seed", integer=True)
    rule = str(raw.get("rule", "random")).lower()
    if rule not in ("random", "sobol"):
        raise UserInputError(f"{where}.rule must be random or sobol (got {raw.get('rule')!r})")
    if kind != "random" and (seed is not None or "rule" in raw):
        raise UserInputError(f"{where}: seed and rule belong to random sampling only")
    return kind, seed, rule == "sobol"


def _limits(raw: Any, where: str) -> tuple[int, int | None, float | None, float | None]:
    if not isinstance(raw, dict) or "max_total_trials" not in raw:
        raise UserInputError(f"{where}.max_total_trials is required")
    total = _number(raw["max_total_trials"], f"{where}.max_total_trials", integer=True, positive=True)
    concurrent = raw.get("max_concurrent_trials")
    if concurrent is not None:
        concurrent = _number(concurrent, f"{where}.max_concurrent_trials", integer=True, positive=True)
        if concurrent > total:
            raise UserInputError(f"{where}.max_concurrent_trials ({concurrent}) exceeds max_total_trials "
                                 f"({total})")
    timeouts = [raw.get(k) for k in ("timeout", "trial_timeout")]
    timeout, trial_timeout = (None if v is None else float(_number(v, f"{where}.{k}", positive=True))
                              for v, k in zip(timeouts, ("timeout", "trial_timeout"), strict=True))
    return total, concurrent, timeout, trial_timeout


def parse_sweep(job: Mapping[str, Any], ports: Mapping[str, ComponentInput], where: str) -> SweepSettings:
    """The sweep settings of step ``job`` (a ``type: sweep`` mapping) whose trial has ``ports``."""
    space_raw = job.get("search_space")
    if not isinstance(space_raw, dict) or not space_raw:
        raise UserInputError(f"{where}.search_space must map at least one input to a distribution")
    space: dict[str, Parameter] = {}
    for name, raw in space_raw.items():
        if name not in ports:
            raise UserInputError(f"{where}.search_space.{name} is not an input of the trial component")
        space[name] = _parameter(name, raw, ports[name], f"{where}.search_space.{name}")
    objective = job.get("objective")
    if not isinstance(objective, dict) or not isinstance(objective.get("primary_metric"), str) \
            or not objective["primary_metric"].strip():
        raise UserInputError(f"{where}.objective.primary_metric is required (the metric the trial logs)")
    goal = str(objective.get("goal", "")).lower()
    if goal not in ("minimize", "maximize"):
        raise UserInputError(f"{where}.objective.goal must be minimize or maximize")
    sampling, seed, sobol = _sampling(job.get("sampling_algorithm", "random"), f"{where}.sampling_algorithm")
    policy = _policy(job.get("early_termination"), f"{where}.early_termination")
    if sampling == "bayesian" and policy is not None:
        raise UserInputError(f"{where}: Azure ML's bayesian sampling takes no early_termination policy "
                             "(use random sampling with a policy, or drop the policy)")
    allowed = {"grid": ("choice",), "bayesian": ("choice", "uniform", "quniform")}.get(sampling)
    bad = next((p for p in space.values() if allowed and p.type not in allowed), None)
    if bad is not None:
        raise UserInputError(f"{where}.search_space.{bad.name}: Azure ML's {sampling} sampling takes "
                             f"{', '.join(allowed or ())} parameters only, not {bad.type}")
    total, concurrent, timeout, trial_timeout = _limits(job.get("limits"), f"{where}.limits")
    return SweepSettings(space, space_raw, objective["primary_metric"].strip(), goal, sampling, seed, sobol,
                         total, concurrent, timeout, trial_timeout, policy)
