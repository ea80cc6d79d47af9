"""Experiments compared: the runs of a training experiment side by side, and the studies of their
sweep steps (``mlops experiments list`` / ``compare``).

Backend-neutral: jobs, their ``metrics`` output, their studies and the registry are read through
the ``Workspace`` seam only, so the same commands read the embedded workspace and Azure ML.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from mlops_azure._files import atomic_write
from mlops_azure.config import ProjectConfig
from mlops_azure.contract import RESERVED_INPUTS
from mlops_azure.errors import MlopsError, NotFoundError, UserInputError
from mlops_azure.lifecycle.contract_checks import check_metrics
from mlops_azure.lifecycle.training import DATA_TAG
from mlops_azure.records_tuning import Study
from mlops_azure.workspace import Job, JobStatus, Workspace

#: How many of the newest jobs a search for an experiment's runs or a study's name looks through.
SCAN_LIMIT = 500


@dataclass(frozen=True)
class Run:
    """One pipeline job of a training experiment, as ``experiments list`` shows it."""

    job_id: str
    experiment: str
    status: JobStatus
    created_at: datetime
    #: The data asset version it trained on (the job's ``data`` tag), "" when it has none.
    data: str
    #: The pipeline inputs it was given, less those mlops binds itself.
    params: Mapping[str, Any]
    #: The candidate's holdout metrics from the evaluate step; None when they cannot be read.
    metrics: Mapping[str, float] | None
    #: ``name:version`` of the model version registered from it, or None.
    registered: str | None
    studies: tuple[Study, ...] = ()

    @property
    def sweep(self) -> str | None:
        """``sweep: N trials, best <metric>=v`` per sweep step, or None for a job without one."""
        if not self.studies:
            return None
        return "; ".join(sweep_summary(s) for s in self.studies)

    def to_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id, "experiment": self.experiment, "status": self.status.value,
            "created_at": self.created_at.isoformat(), "data": self.data,
            "params": {k: _plain(v) for k, v in self.params.items()},
            "metrics": dict(self.metrics) if self.metrics is not None else None,
            "registered": self.registered, "sweep": self.sweep,
            "studies": [s.name for s in self.studies],
        }


@dataclass(frozen=True)
class Comparison:
    """What ``experiments compare`` shows: runs side by side, then whole studies."""

    runs: tuple[Run, ...]
    studies: tuple[Study, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"runs": [r.to_dict() for r in self.runs],
                "studies": [s.to_dict() for s in self.studies]}


def sweep_summary(study: Study) -> str:
    """``sweep: 20 trials, best wape=0.123`` (``best -`` when no trial completed)."""
    best = study.best
    value = "-" if best is None or best.value is None else f"{best.value:.4g}"
    return f"sweep: {len(study.trials)} trials, best {study.metric}={value}"


def experiment_jobs(ws: Workspace, experiment: str, limit: int) -> list[Job]:
    """The newest ``limit`` jobs of ``experiment``, newest first (jobs of other experiments are
    skipped: the listing window grows until enough are found or no job is left)."""
    if limit < 1:
        raise UserInputError(f"--limit must be at least 1, got {limit}")
    window = min(max(limit, 20), SCAN_LIMIT)
    while True:
        jobs = ws.jobs.recent(window)
        found = [j for j in jobs if j.experiment == experiment]
        if len(found) >= limit or len(jobs) < window or window >= SCAN_LIMIT:
            return found[:limit]
        window = min(window * 4, SCAN_LIMIT)


def holdout_metrics(ws: Workspace, config: ProjectConfig, job: Job) -> dict[str, float] | None:
    """The candidate's metrics from the job's ``metrics`` output, read and checked the way the
    champion gate reads them; None when the job has none that can be read (failed, or not
    written to the contract)."""
    if job.status is not JobStatus.COMPLETED:
        return None
    try:
        folder = ws.jobs.output_path(job.id, "metrics")
        document = check_metrics(config, folder, f"job {job.id}: output metrics/")
    except MlopsError:
        return None
    return {k: float(v) for k, v in document["candidate"].items()}


def registered_by_job(ws: Workspace, config: ProjectConfig) -> dict[str, str]:
    """Job id → ``name:version`` of the model version its lineage names (the newest, when a job
    registered more than one)."""
    try:
        versions = ws.models.versions(config.model.name)
    except NotFoundError:
        return {}
    found: dict[str, str] = {}
    for version in versions:  # newest first: the first one seen wins
        found.setdefault(version.lineage.job_id, version.ref)
    return found


def summarise(ws: Workspace, config: ProjectConfig, job: Job, registered: Mapping[str, str]) -> Run:
    """One job as a :class:`Run`; a sweep's best parameters stand for the inputs it swept."""
    studies = tuple(ws.jobs.studies(job.id))
    params = {k: v for k, v in job.inputs.items() if k not in RESERVED_INPUTS}
    for study in studies:
        params.update(study.best.params if study.best else {})
    return Run(
        job_id=job.id, experiment=job.experiment, status=job.status, created_at=job.created_at,
        data=str(job.tags.get(DATA_TAG, "")), params=params,
        metrics=holdout_metrics(ws, config, job), registered=registered.get(job.id), studies=studies,
    )


def list_runs(ws: Workspace, config: ProjectConfig, *, experiment: str | None = None,
              limit: int = 20) -> list[Run]:
    """The newest runs of the training experiment (``training.experiment`` by default)."""
    registered = registered_by_job(ws, config)
    name = experiment or config.training.experiment
    return [summarise(ws, config, job, registered) for job in experiment_jobs(ws, name, limit)]


def compare(ws: Workspace, config: ProjectConfig, targets: Sequence[str], *,
            experiment: str | None = None, last: int | None = None) -> Comparison:
    """Each target as a run (a job id) or a study (a study name among the experiment's jobs),
    plus the ``last`` newest runs; ``UserInputError`` naming a target that is neither."""
    name = experiment or config.training.experiment
    registered = registered_by_job(ws, config)
    runs: dict[str, Run] = {}
    studies: dict[str, Study] = {}
    searched: dict[str, Study] | None = None
    for target in _unique(targets):
        job = _job_or_none(ws, target)
        if job is not None:
            runs[job.id] = summarise(ws, config, job, registered)
            continue
        if searched is None:
            searched = studies_by_name(ws, name)
        if target not in searched:
            raise UserInputError(f"'{target}' is neither a job id nor the name of a study of "
                                 f"experiment '{name}' (see `mlops experiments list`)")
        studies[target] = searched[target]
    if last is not None:
        for job in experiment_jobs(ws, name, last):
            runs.setdefault(job.id, summarise(ws, config, job, registered))
    if not runs and not studies:
        raise UserInputError(f"experiment '{name}' has no runs to compare")
    return Comparison(tuple(runs.values()), tuple(studies.values()))


def studies_by_name(ws: Workspace, experiment: str) -> dict[str, Study]:
    """Study name → the study as its newest job left it (a re-run resumes a study under the same
    name, so the newest job holds all of its trials)."""
    found: dict[str, Study] = {}
    for job in experiment_jobs(ws, experiment, SCAN_LIMIT):
        for study in ws.jobs.studies(job.id):
            found.setdefault(study.name, study)
    return found


def write_html(path: Path, comparison: Comparison) -> None:
    """The self-contained HTML page, written whole or not at all; ``UserInputError`` when
    ``path`` cannot be written."""
    from mlops_azure.lifecycle.experiments_html import render_page

    page = render_page(comparison).encode()
    try:
        atomic_write(path, page)
    except OSError as exc:
        raise UserInputError(f"cannot write --html {path}: {exc.strerror or exc}") from None


def _job_or_none(ws: Workspace, target: str) -> Job | None:
    try:
        return ws.jobs.get(target)
    except NotFoundError:
        return None


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _plain(value: Any) -> Any:
    """An input value as JSON takes it (a local path input is a ``Path``)."""
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


__all__ = ["Comparison", "Run", "compare", "experiment_jobs",
           "holdout_metrics", "list_runs", "registered_by_job", "studies_by_name", "summarise",
           "sweep_summary", "write_html"]
