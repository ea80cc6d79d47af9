"""Run a ``type: sweep`` step locally: an Optuna study whose trials are the trial component's processes.

Azure ML's settings map onto Optuna (see ``sweep_definition`` for the settings themselves):

* sampling: ``random`` → ``RandomSampler`` (``rule: sobol`` → ``QMCSampler``), ``grid`` →
  ``GridSampler``, ``bayesian`` → ``TPESampler``. The seed is ``sampling_algorithm.seed`` when
  given, else derived from the study's name, so the same sweep on the same inputs samples the same
  parameters (exactly so with one trial at a time; parallel trials see each other's results in
  the order they finish);
* early termination: ``median_stopping`` → ``MedianPruner``, ``truncation_selection`` →
  ``PercentilePruner`` keeping the top 100 - truncation_percentage %, ``bandit`` → a pruner with
  Azure's slack rule (Optuna has none). ``delay_evaluation`` and ``evaluation_interval`` become
  the pruner's warm-up and interval; a pruned trial's process group is killed, as Azure cancels it;
* limits: at most ``max_concurrent_trials`` processes at once (default: one per core), trials
  beyond ``trial_timeout`` are killed and failed, no trial starts after ``timeout``.

A trial reports its primary metric as JSON lines in the file named by ``MLOPS_METRICS_FILE``
(the components' ``tabular/tracking.py``); its value is the last one reported.

The study lives in the workspace, not in the job: ``<studies>/<name>/study.db`` (Optuna's RDB
storage on SQLite) and ``<studies>/<name>/trials/<number>/`` (``outputs/``, ``user_logs/``,
``metrics.jsonl``). The name hashes what makes trials comparable (the trial component and its
code, the fixed inputs and their content, the search space, objective, sampling and policy), so a
sweep that was killed and runs again resumes its study: finished trials are kept, trials left
running are marked failed and run again, and only the remaining ones run. The step's outputs are a
copy of the best trial's outputs; ``steps/<step>/study.json`` describes the study.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_azure._files import make_dirs
from mlops_azure._tree_hash import tree_hash
from mlops_azure.execution.command_template import CommandTemplate, TemplateValue, format_value
from mlops_azure.execution.sweep_definition import Parameter, SweepSettings
from mlops_azure.execution.trial_processes import TrialLauncher, TrialProcess
from mlops_azure.records_tuning import Study, Trial, TrialState

if TYPE_CHECKING:
    import optuna

#: How often running trials are polled for metrics and exits.
POLL_S = 0.02
METRICS_ENV = "MLOPS_METRICS_FILE"
Notify = Callable[[str], None]


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


@dataclass
class _Running:
    trial: optuna.trial.Trial
    process: TrialProcess
    folder: Path
    started: float
    metrics_file: Path
    offset: int = 0
    last: float | None = None
    reported: dict[int, float] = field(default_factory=dict)


class SweepFailed(Exception):
    """The sweep could not produce a best trial; the message says why."""


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


def _distribution(param: Parameter) -> optuna.distributions.BaseDistribution:
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


def _pruner(settings: SweepSettings) -> optuna.pruners.BasePruner:
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


@contextmanager
def _exclusive(folder: Path, name: str) -> Iterator[None]:
    """One sweep at a time per study: a second would mark the first one's live trials failed."""
    with open(folder / "lock", "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SweepFailed(f"study {name} is being run by another job; run again when it ends") from None
        yield


def _open_study(folder: Path, name: str, settings: SweepSettings) -> optuna.Study:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(f"sqlite:///{folder / 'study.db'}")
    study = optuna.create_study(storage=storage, study_name=name, load_if_exists=True,
                                direction="minimize" if settings.goal == "minimize" else "maximize",
                                sampler=_sampler(settings, _seed(settings, name)),
                                pruner=_pruner(settings))
    from optuna.trial import TrialState as OptunaState

    for stale in study.get_trials(deepcopy=False, states=(OptunaState.RUNNING, OptunaState.WAITING)):
        # Left running by a sweep that was killed: it never finished, so it runs again.
        study._storage.set_trial_state_values(stale._trial_id, OptunaState.FAIL)
    return study


def _new_metrics(running: _Running, metric: str) -> list[tuple[int, float]]:
    """The trial's newly reported values of ``metric`` as (step, value)."""
    try:
        with open(running.metrics_file, "rb") as handle:
            handle.seek(running.offset)
            chunk = handle.read()
    except FileNotFoundError:
        return []
    complete = chunk[: chunk.rfind(b"\n") + 1]  # a line being written is read next time
    running.offset += len(complete)
    found: list[tuple[int, float]] = []
    for line in complete.splitlines():
        try:
            entry = json.loads(line)
            if entry.get("name") != metric:
                continue
            value = float(entry["value"])
        except (ValueError, TypeError, KeyError, AttributeError):
            continue
        step = entry.get("step")
        step = int(step) if isinstance(step, int | float) else len(running.reported) + 1
        found.append((step, value))
    return found


def sample_params(settings: SweepSettings) -> dict[str, TemplateValue]:
    """A value of each swept input (the first choice, the lower bound): to render a sample command."""
    return {p.name: _as_value(p.values[0] if p.values else (int(p.low) if p.integer else p.low))
            for p in settings.search_space.values()}


def _evaluated(settings: SweepSettings, step: int) -> bool:
    """Whether the pruner looks at ``step``: only those steps go into the study's storage."""
    policy = settings.early_termination
    if policy is None:
        return False
    since = step - policy.delay_evaluation
    return since >= 0 and since % policy.evaluation_interval == 0


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


class _Sweep:
    """One run of a sweep step: launches, follows and judges trials until the limits say stop."""

    study: optuna.Study  # opened once the trial processes' forker is starting (see run_sweep)

    def __init__(self, run: SweepRun, folder: Path, env: Mapping[str, str], notify: Notify,
                 umask: int) -> None:
        self.run, self.folder, self.notify, self.umask = run, folder, notify, umask
        settings = run.settings
        cores = os.cpu_count() or 1
        self.concurrency = settings.max_concurrent_trials or min(settings.max_total_trials, cores)
        self.env = {**env, "OMP_NUM_THREADS": str(max(1, cores // self.concurrency))}
        self.distributions = {p.name: _distribution(p) for p in settings.search_space.values()}
        self.launcher = TrialLauncher(self._command(sample_params(settings)), run.code_dir, self.env)
        self.running: list[_Running] = []

    def _command(self, params: Mapping[str, Any], folder: Path | None = None) -> str:
        outputs = {name: (folder or Path("/dev/null")) / "outputs" / name for name in self.run.outputs}
        paths = {n: p / n if self.run.outputs[n] == "uri_file" else p for n, p in outputs.items()}
        values = {**self.run.fixed, **{k: _as_value(v) for k, v in params.items()}}
        return self.run.command.render(values, paths)

    def finished_count(self) -> int:
        from optuna.trial import TrialState as OptunaState

        return len(self.study.get_trials(deepcopy=False, states=(OptunaState.COMPLETE, OptunaState.PRUNED)))

    def launch(self) -> None:
        trial = self.study.ask(self.distributions)
        folder = self.folder / "trials" / str(trial.number)
        if folder.exists():
            shutil.rmtree(folder)  # a number reused after a crash: nothing of it is trusted
        for name in self.run.outputs:
            make_dirs(folder / "outputs" / name)
        make_dirs(folder / "user_logs")
        metrics_file = folder / "metrics.jsonl"
        env = {**self.env, METRICS_ENV: str(metrics_file),
               "AZUREML_RUN_ID": f"{self.study.study_name}_{trial.number}"}
        command = self._command(trial.params, folder)
        process = self.launcher.start(command, self.run.code_dir, env, folder / "user_logs" / "std_log.txt",
                                      self.umask)
        self.running.append(_Running(trial, process, folder, time.monotonic(), metrics_file))

    def _finish(self, item: _Running, state: str, why: str = "") -> None:
        from optuna.trial import TrialState as OptunaState

        self.running.remove(item)
        number = item.trial.number
        if state == "COMPLETE" and item.last is None:
            state, why = "FAIL", f"it reported no '{self.run.settings.metric}'"
        if item.last is not None:
            item.trial.set_user_attr("last_value", item.last)
        if state == "COMPLETE":
            self.study.tell(item.trial, item.last)
        else:
            self.study.tell(item.trial, state=OptunaState[state])
        best = self._best()
        shown = f"{self.run.settings.metric}={item.last:.6g}" if item.last is not None else "no value"
        best_text = (f"; best {best.value:.6g} (trial {best.number})"
                     if best and best.value is not None else "")
        word = {"COMPLETE": "completed", "PRUNED": "pruned", "FAIL": "failed"}[state]
        self.notify(f"trial {number} {word}: {shown}{f' ({why})' if why else ''}"
                    f"{best_text} [{self.finished_count()}/{self.run.settings.max_total_trials}]")

    def _best(self) -> optuna.trial.FrozenTrial | None:
        try:
            return self.study.best_trial
        except ValueError:
            return None

    def poll(self) -> None:
        for item in list(self.running):
            code = item.process.poll()  # first: once it has exited, every metric it wrote is there
            if self._follow(item, judge=code is None):
                continue
            if code == 0:
                self._finish(item, "COMPLETE")
            elif code is not None:
                self._finish(item, "FAIL", f"exit code {code}")
            elif self._timed_out(item):
                item.process.kill()
                self._finish(item, "FAIL", f"trial_timeout of {self.run.settings.trial_timeout_s:g} s")

    def _follow(self, item: _Running, *, judge: bool) -> bool:
        """Record the trial's new metric values; True when the policy stopped it (a trial that has
        already ended is not judged: Azure ML cancels running trials only)."""
        for step, value in _new_metrics(item, self.run.settings.metric):
            item.last = value
            if not _evaluated(self.run.settings, step) or step in item.reported:
                continue
            item.trial.report(value, step)
            item.reported[step] = value
            if judge and item.trial.should_prune():
                item.process.kill()
                self._finish(item, "PRUNED", f"at step {step}")
                return True
        return False

    def _timed_out(self, item: _Running) -> bool:
        limit = self.run.settings.trial_timeout_s
        return limit is not None and time.monotonic() - item.started > limit

    def stop_all(self, why: str) -> None:
        for item in list(self.running):
            item.process.kill()
            self._finish(item, "FAIL", why)


def _as_value(value: Any) -> TemplateValue:
    return value if isinstance(value, str | int | float | bool) else format_value(value)


def run_sweep(run: SweepRun, studies_dir: Path, job_id: str, env: Mapping[str, str], notify: Notify,
              umask: int = -1) -> Study:
    """Run (or resume) the sweep's study; copy the best trial's outputs to the step's outputs.

    Raises ``SweepFailed`` when no trial completed.
    """
    name = study_name(run)
    folder = studies_dir / name
    make_dirs(folder)
    settings = run.settings
    with _exclusive(folder, name):
        # The forker starts first: its imports (~1 s) overlap opening the study (~0.5 s).
        sweep = _Sweep(run, folder, env, notify, umask)
        try:
            study = sweep.study = _open_study(folder, name, settings)
            limit = settings.max_total_trials if settings.grid_size is None else min(
                settings.max_total_trials, settings.grid_size)
            done, launched = sweep.finished_count(), 0
            if done:
                notify(f"resuming study {name}: {done} of {limit} trials already finished")
            deadline = None if settings.timeout_s is None else time.monotonic() + settings.timeout_s
            while True:
                sweep.poll()
                # A trial that fails in this run uses up its place, as on Azure ML; only trials
                # left unfinished by an earlier run are run again.
                remaining = limit - done - launched
                if deadline is not None and time.monotonic() > deadline:
                    sweep.stop_all(f"the sweep's timeout of {settings.timeout_s:g} s")
                    break
                if remaining > 0 and len(sweep.running) < sweep.concurrency:
                    sweep.launch()
                    launched += 1
                    continue
                if not sweep.running:
                    break
                time.sleep(POLL_S)
        finally:
            sweep.stop_all("the sweep was interrupted")
            sweep.launcher.close()
        best = sweep._best()
        record = study_record(study, run, job_id, best.number if best else None)
        (run.step_dir / "study.json").write_text(json.dumps(record.to_dict(), indent=1, default=str) + "\n",
                                                 encoding="utf-8")
        if best is None:
            raise SweepFailed(f"no trial of study {name} completed ({len(record.trials)} ran); see the "
                              f"trial logs under {folder / 'trials'}")
        for output, target in run.output_dirs.items():
            shutil.rmtree(target, ignore_errors=True)
            shutil.copytree(folder / "trials" / str(best.number) / "outputs" / output, target)
        notify(f"best trial {best.number}: {settings.metric}={best.value:.6g} "
               f"{json.dumps(best.params, default=str)}")
        return record
