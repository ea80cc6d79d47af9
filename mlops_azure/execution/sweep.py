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
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_azure._files import make_dirs
from mlops_azure.execution.command_template import output_paths
from mlops_azure.execution.sweep_definition import SweepSettings
from mlops_azure.execution.sweep_study import (
    SweepRun,
    as_value,
    distribution,
    open_study,
    sample_params,
    study_name,
    study_record,
)
from mlops_azure.execution.trial_processes import TrialLauncher, TrialProcess
from mlops_azure.records_tuning import Study

if TYPE_CHECKING:
    import optuna

#: How often running trials are polled for metrics and exits.
POLL_S = 0.02
METRICS_ENV = "MLOPS_METRICS_FILE"
#: How often a job waiting for a study another job runs tries its lock again.
LOCK_POLL_S = 0.5
Notify = Callable[[str], None]


@dataclass
class _Running:
    trial: optuna.trial.Trial
    process: TrialProcess
    folder: Path
    started: float
    metrics_file: Path
    offset: int = 0
    step: int = 0  # the last step reported: a value without a step is the next one
    last: float | None = None
    reported: dict[int, float] = field(default_factory=dict)


class SweepFailed(Exception):
    """The sweep could not produce a best trial; the message says why."""


@contextmanager
def _exclusive(folder: Path, name: str, notify: Notify, timeout_s: float | None) -> Iterator[None]:
    """One sweep at a time per study (a second would mark the first one's live trials failed):
    a job finding it taken waits, then resumes whatever is left of it. The lock is the kernel's,
    so a holder that dies, even by SIGKILL, releases it."""
    with open(folder / "lock", "a+b") as handle:
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        waiting = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline is not None and time.monotonic() > deadline:
                    raise SweepFailed(f"study {name} was run by another job for all of the sweep's "
                                      f"timeout ({timeout_s:g} s); run again when it ends") from None
                if not waiting:
                    notify(f"waiting for study {name}: another job is running it")
                    waiting = True
                time.sleep(LOCK_POLL_S)
        yield


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
        running.step = int(step) if isinstance(step, int | float) else running.step + 1
        found.append((running.step, value))
    return found


def _evaluated(settings: SweepSettings, step: int) -> bool:
    """Whether the pruner looks at ``step``: only those steps go into the study's storage."""
    policy = settings.early_termination
    if policy is None:
        return False
    since = step - policy.delay_evaluation
    return since >= 0 and since % policy.evaluation_interval == 0


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
        self.distributions = {p.name: distribution(p) for p in settings.search_space.values()}
        self.launcher = TrialLauncher(self._command(sample_params(settings)), run.code_dir, self.env)
        self.running: list[_Running] = []

    def _command(self, params: Mapping[str, Any], folder: Path | None = None) -> str:
        folders = {name: (folder or Path("/dev/null")) / "outputs" / name for name in self.run.outputs}
        paths = output_paths(folders, self.run.outputs)
        values = {**self.run.fixed, **{k: as_value(v) for k, v in params.items()}}
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


def run_sweep(run: SweepRun, studies_dir: Path, job_id: str, env: Mapping[str, str], notify: Notify,
              umask: int = -1) -> Study:
    """Run (or resume) the sweep's study; copy the best trial's outputs to the step's outputs.

    Raises ``SweepFailed`` when no trial completed.
    """
    name = study_name(run)
    folder = studies_dir / name
    make_dirs(folder)
    settings = run.settings
    with _exclusive(folder, name, notify, settings.timeout_s):
        # The forker starts first: its imports (~1 s) overlap opening the study (~0.5 s).
        sweep = _Sweep(run, folder, env, notify, umask)
        try:
            study = sweep.study = open_study(folder, name, settings)
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


__all__ = ["SweepFailed", "SweepRun", "run_sweep", "sample_params"]
