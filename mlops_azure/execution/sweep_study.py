"""The Optuna side of a sweep step: Azure ML's settings as a sampler, a pruner and distributions,
the study's name (what makes two runs the same study) and the study as the seam's record.
``sweep`` runs the trials.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_azure._tree_hash import tree_hash
from mlops_azure.execution.command_template import CommandTemplate, TemplateValue, format_value
from mlops_azure.execution.sweep_definition import Parameter, SweepSettings
from mlops_azure.records_tuning import Study, Trial, TrialState

if TYPE_CHECKING:
    import optuna


@dataclass(frozen=True)
class SweepRun:
    """A sweep step resolved for running: its settings, trial command and fixed inputs."""

    step: str
    experiment: str
    settings: SweepSettings
    command: CommandTemplate
    component_file: Path
    code_dir: Path
    fixed: Mapping[str, TemplateValue | None]
    outputs: Mapping[str, str]  # output name -> type
    output_dirs: Mapping[str, Path]
    step_dir: Path


def _value_hash(value: TemplateValue | None) -> str:
    if isinstance(value, Path):
        return tree_hash(value).sha256
    return repr(value)


def _code_hash(code_dir: Path) -> str:
    """The trial code's content, less Python's byte-code caches (written by the trials themselves)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in code_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                       and p.suffix != ".pyc"):
        digest.update(f"{path.relative_to(code_dir).as_posix()}\0".encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def study_name(run: SweepRun) -> str:
    """``<experiment>-<step>-<12 hex>``: equal for the same trial code, inputs and settings."""
    settings = run.settings
    key = {
        "component": tree_hash(run.component_file).sha256,
        "code": _code_hash(run.code_dir),
        "fixed": {k: _value_hash(v) for k, v in sorted(run.fixed.items())},
        "space": settings.space_sha256,
        "objective": [settings.metric, settings.goal],
        "sampling": [settings.sampling, settings.seed, settings.sobol],
        "policy": repr(settings.early_termination),
    }
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    return f"{run.experiment}-{run.step}-{digest[:12]}"


def distribution(param: Parameter) -> optuna.distributions.BaseDistribution:
    """The Optuna distribution of one of Azure's (a loguniform's bounds are exponents)."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if param.type == "choice":
        return CategoricalDistribution(list(param.values))
    if param.type == "randint":
        return IntDistribution(int(param.low), int(param.high))
    if param.type == "loguniform":
        return FloatDistribution(math.exp(param.low), math.exp(param.high), log=True)
    if param.type == "quniform":
        assert param.q is not None
        low, high = math.ceil(param.low / param.q) * param.q, math.floor(param.high / param.q) * param.q
        if param.integer and float(param.q).is_integer():
            return IntDistribution(int(low), int(high), step=int(param.q))
        return FloatDistribution(low, high, step=param.q)
    return FloatDistribution(param.low, param.high)


def _seed(settings: SweepSettings, name: str) -> int:
    if settings.seed is not None:
        return settings.seed
    return int(hashlib.sha256(name.encode()).hexdigest()[:8], 16)


def _sampler(settings: SweepSettings, seed: int) -> optuna.samplers.BaseSampler:
    from optuna import samplers

    if settings.sampling == "grid":
        return samplers.GridSampler({p.name: list(p.values) for p in settings.search_space.values()},
                                    seed=seed)
    if settings.sampling == "bayesian":
        return samplers.TPESampler(seed=seed)
    if settings.sobol:
        return samplers.QMCSampler(qmc_type="sobol", seed=seed, warn_independent_sampling=False)
    return samplers.RandomSampler(seed=seed)


def pruner(settings: SweepSettings) -> optuna.pruners.BasePruner:
    """The early-termination policy as an Optuna pruner (``NopPruner`` without one)."""
    from optuna import pruners

    from mlops_azure.execution.sweep_pruners import BanditPruner

    policy = settings.early_termination
    if policy is None:
        return pruners.NopPruner()
    common = {"n_warmup_steps": policy.delay_evaluation, "interval_steps": policy.evaluation_interval}
    if policy.type == "median_stopping":
        return pruners.MedianPruner(**common)
    if policy.type == "truncation_selection":
        assert policy.truncation_percentage is not None
        return pruners.PercentilePruner(100.0 - policy.truncation_percentage, **common)
    return BanditPruner(policy.slack_factor, policy.slack_amount, **common)


def open_study(folder: Path, name: str, settings: SweepSettings) -> optuna.Study:
    """The study in ``folder/study.db``, created or resumed, its stale running trials failed."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(f"sqlite:///{folder / 'study.db'}")
    study = optuna.create_study(storage=storage, study_name=name, load_if_exists=True,
                                direction="minimize" if settings.goal == "minimize" else "maximize",
                                sampler=_sampler(settings, _seed(settings, name)),
                                pruner=pruner(settings))
    from optuna.trial import TrialState as OptunaState

    for stale in study.get_trials(deepcopy=False, states=(OptunaState.RUNNING, OptunaState.WAITING)):
        # Left running by a sweep that was killed: it never finished, so it runs again.
        study._storage.set_trial_state_values(stale._trial_id, OptunaState.FAIL)
    earlier = len(study.get_trials(deepcopy=False))
    if earlier and settings.sampling != "grid" and not settings.sobol:
        # A resumed study must not draw its first parameters again: a random generator seeded
        # as before would. Grid and Sobol sampling keep their place in the study itself.
        study.sampler = _sampler(settings, _seed(settings, name) + earlier)
    return study


def sample_params(settings: SweepSettings) -> dict[str, TemplateValue]:
    """A value of each swept input (the first choice, the lower bound): to render a sample command."""
    return {p.name: as_value(p.values[0] if p.values else (int(p.low) if p.integer else p.low))
            for p in settings.search_space.values()}


def as_value(value: Any) -> TemplateValue:
    """A sampled value as a command placeholder takes it."""
    return value if isinstance(value, str | int | float | bool) else format_value(value)


def _state(state: Any) -> TrialState:
    name = getattr(state, "name", str(state))
    return TrialState(name) if name in TrialState.__members__ else TrialState.RUNNING


def study_record(study: optuna.Study, run: SweepRun, job_id: str, best: int | None) -> Study:
    """The study as the seam describes it, every trial of every run of it included."""
    trials = tuple(
        Trial(number=t.number, state=_state(t.state), params=dict(t.params),
              value=t.value if t.value is not None else t.user_attrs.get("last_value"),
              intermediate=dict(t.intermediate_values),
              started_at=t.datetime_start.astimezone(UTC) if t.datetime_start else None,
              ended_at=t.datetime_complete.astimezone(UTC) if t.datetime_complete else None,
              run_id=f"{study.study_name}/trials/{t.number}")
        for t in study.get_trials(deepcopy=False))
    settings = run.settings
    policy = settings.early_termination
    return Study(job_id=job_id, step=run.step, name=study.study_name, metric=settings.metric,
                 goal=settings.goal, sampling=settings.sampling,
                 early_termination=policy.type if policy else None,
                 search_space=dict(settings.declared_space), search_space_sha256=settings.space_sha256,
                 trials=trials, best_trial=best)
