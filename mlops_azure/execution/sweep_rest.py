"""Azure ML ``sweep`` nodes as the SDK sends them, back to the pipeline YAML the runner reads.

azure-ai-ml 1.35 sends a pipeline's sweep step almost in its YAML shape: ``search_space``,
``objective``, ``limits`` and ``sampling_algorithm`` as written (the algorithm always a mapping
with ``type``), the trial as ``{"componentId": <component ARM id>}`` (an anonymous component for
a ``trial: file.yml``), ``inputs`` / ``outputs`` as bindings, and ``early_termination`` in the
service's own words (``{"policy_type": "MedianStopping", "evaluation_interval": 1, ...}``,
seen on the wire). ``yaml_node`` turns that back into the YAML sweep node; ``check`` refuses
what Azure ML refuses when such a job is submitted, in one sentence each. Both are used by the
simulated service for submitted jobs.

Sources: "CLI (v2) sweep job YAML schema" (reference-yaml-job-sweep) for the fields and their
allowed values; "Hyperparameter tuning a model (v2)" (how-to-tune-hyperparameters) for what
each sampling algorithm accepts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mlops_azure.errors import UserInputError

#: The service's policy names → the YAML ``type`` (and back).
POLICIES = {"Bandit": "bandit", "MedianStopping": "median_stopping",
            "TruncationSelection": "truncation_selection"}
SAMPLING = ("random", "grid", "bayesian")
GOALS = ("maximize", "minimize")
#: Each parameter expression and the keys it requires (reference-yaml-job-sweep).
EXPRESSIONS: dict[str, tuple[str, ...]] = {
    "choice": ("values",), "randint": ("upper",),
    "uniform": ("min_value", "max_value"), "loguniform": ("min_value", "max_value"),
    "quniform": ("min_value", "max_value", "q"), "qloguniform": ("min_value", "max_value", "q"),
    "normal": ("mu", "sigma"), "lognormal": ("mu", "sigma"),
    "qnormal": ("mu", "sigma", "q"), "qlognormal": ("mu", "sigma", "q"),
}
#: "Bayesian sampling supports only choice, uniform, and quniform distributions".
BAYESIAN_EXPRESSIONS = ("choice", "uniform", "quniform")
#: Fields of a sweep node that pass to YAML unchanged.
SWEEP_FIELDS = ("search_space", "objective", "limits")


def sampling_of(node: Mapping[str, Any]) -> dict[str, Any]:
    """The sampling algorithm as a mapping with a lower-case ``type``."""
    raw = node.get("sampling_algorithm")
    if isinstance(raw, str):
        return {"type": raw.lower()}
    found = dict(raw or {})
    kind = found.pop("sampling_algorithm_type", None) or found.get("type")
    found["type"] = str(kind or "").lower()
    return {k: v for k, v in found.items() if v is not None}


def policy_of(node: Mapping[str, Any]) -> dict[str, Any] | None:
    """The early-termination policy in YAML words (``type: median_stopping``), or None."""
    raw = node.get("early_termination")
    if not raw:
        return None
    found = {k: v for k, v in dict(raw).items() if v is not None}
    kind = found.pop("policy_type", None) or found.pop("type", None)
    found = {"type": POLICIES.get(str(kind), str(kind).lower()), **found}
    return found


def check(where: str, node: Mapping[str, Any]) -> None:
    """What Azure ML refuses in a sweep step, in one sentence naming ``where``."""
    objective = dict(node.get("objective") or {})
    if not objective.get("primary_metric"):
        raise UserInputError(f"{where}: objective.primary_metric is required")
    if str(objective.get("goal") or "").lower() not in GOALS:
        raise UserInputError(f"{where}: objective.goal must be maximize or minimize, "
                             f"not {objective.get('goal')!r}")
    sampling = sampling_of(node)
    if sampling["type"] not in SAMPLING:
        raise UserInputError(f"{where}: sampling_algorithm must be random, grid or bayesian, "
                             f"not {sampling['type']!r}")
    if sampling["type"] == "random" and str(sampling.get("rule") or "random") not in ("random",
                                                                                     "sobol"):
        raise UserInputError(f"{where}: sampling_algorithm.rule must be random or sobol, "
                             f"not {sampling.get('rule')!r}")
    space = dict(node.get("search_space") or {})
    if not space:
        raise UserInputError(f"{where}: search_space needs at least one parameter")
    for name, expression in space.items():
        _check_expression(where, name, expression, sampling["type"])
    policy = policy_of(node)
    if policy is not None:
        _check_policy(where, policy, sampling["type"])
    _check_limits(where, dict(node.get("limits") or {}))


def _check_expression(where: str, name: str, expression: Any, sampling: str) -> None:
    kind = str(expression.get("type") if isinstance(expression, Mapping) else "")
    if kind not in EXPRESSIONS:
        raise UserInputError(f"{where}: search_space.{name} has no known type ({kind or 'none'}; "
                             f"one of {', '.join(EXPRESSIONS)})")
    missing = [key for key in EXPRESSIONS[kind] if expression.get(key) is None]
    if missing:
        raise UserInputError(f"{where}: search_space.{name} ({kind}) needs {', '.join(missing)}")
    if kind == "choice" and not list(expression["values"]):
        raise UserInputError(f"{where}: search_space.{name} (choice) has no values")
    if sampling == "grid" and kind != "choice":
        raise UserInputError(f"{where}: grid sampling takes only choice parameters, "
                             f"search_space.{name} is {kind}")
    if sampling == "bayesian" and kind not in BAYESIAN_EXPRESSIONS:
        raise UserInputError(f"{where}: bayesian sampling takes only choice, uniform and "
                             f"quniform parameters, search_space.{name} is {kind}")


def _check_policy(where: str, policy: Mapping[str, Any], sampling: str) -> None:
    kind = policy["type"]
    if sampling == "bayesian":
        raise UserInputError(f"{where}: bayesian sampling takes no early_termination "
                             f"(remove the {kind} policy or sample randomly)")
    if kind not in POLICIES.values():
        raise UserInputError(f"{where}: early_termination.type must be bandit, median_stopping "
                             f"or truncation_selection, not {kind!r}")
    if kind == "bandit" and not (policy.get("slack_factor") or policy.get("slack_amount")):
        raise UserInputError(f"{where}: a bandit policy needs slack_factor or slack_amount")
    if kind == "truncation_selection" and policy.get("truncation_percentage") is None:
        raise UserInputError(f"{where}: a truncation_selection policy needs "
                             f"truncation_percentage")
    for key in ("evaluation_interval", "delay_evaluation"):
        if int(policy.get(key) or 0) < 0:
            raise UserInputError(f"{where}: early_termination.{key} must not be negative")


def _check_limits(where: str, limits: Mapping[str, Any]) -> None:
    total = limits.get("max_total_trials")
    concurrent = limits.get("max_concurrent_trials")
    for key in ("max_total_trials", "max_concurrent_trials", "timeout", "trial_timeout"):
        value = limits.get(key)
        if value is not None and int(value) < 1:
            raise UserInputError(f"{where}: limits.{key} must be at least 1, not {value}")
    if total is not None and concurrent is not None and int(concurrent) > int(total):
        raise UserInputError(f"{where}: limits.max_concurrent_trials ({concurrent}) is more "
                             f"than limits.max_total_trials ({total})")


def yaml_node(node: Mapping[str, Any], trial_file: str,
              binding: Any = lambda value: value) -> dict[str, Any]:
    """The YAML sweep node for REST node ``node`` whose trial component is in ``trial_file``;
    ``binding`` turns one REST input/output binding into its YAML value."""
    found: dict[str, Any] = {"type": "sweep", "trial": trial_file,
                             "inputs": {k: binding(v) for k, v in dict(node.get("inputs")
                                                                       or {}).items()
                                        if v is not None},
                             "outputs": {k: binding(v) for k, v in dict(node.get("outputs")
                                                                        or {}).items()
                                         if v is not None},
                             "sampling_algorithm": sampling_of(node)}
    for key in SWEEP_FIELDS:
        if node.get(key) is not None:
            found[key] = _plain(node[key])
    policy = policy_of(node)
    if policy is not None:
        found["early_termination"] = policy
    return found


def _plain(value: Any) -> Any:
    """Drop the nulls the SDK sends for unset fields (``timeout: null``)."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value
