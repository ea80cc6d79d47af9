"""Pipeline jobs on Azure ML: the same pipeline YAML the embedded workspace runs, submitted as is.

Before submitting, mlops binds what only it knows: inputs (asset references stay references,
local files are uploaded once, content-addressed), where each pipeline output is written
(Azure's own default ``azureml/<job>/<output>/``, set explicitly so mlops can read it back
without the run-history artifact API), the training cluster, and each step's environment pinned
to the version built from ``environments/`` (so ``@latest`` never changes under a job).
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops_azure._tree_hash import tree_hash
from mlops_azure.azure.blobs import datastore_uri, parse_datastore_uri
from mlops_azure.azure.client import quiet_sdk
from mlops_azure.azure.connection import AzureConnection, AzurePart, created_at, utc
from mlops_azure.azure.infrastructure import AzureInfrastructure
from mlops_azure.azure.parallel import bind_parallel_steps, variant_of
from mlops_azure.errors import NotFoundError, UserInputError
from mlops_azure.records_tuning import Study
from mlops_azure.workspace import (
    DataAssets,
    InputValue,
    Job,
    JobEvent,
    Jobs,
    JobStatus,
    PipelineSubmission,
    ProgressCallback,
    StepRun,
)

#: Azure ML run states → the states mlops reports.
_STATES = {
    "NotStarted": JobStatus.QUEUED, "Starting": JobStatus.QUEUED, "Provisioning": JobStatus.QUEUED,
    "Preparing": JobStatus.QUEUED, "Queued": JobStatus.QUEUED, "Running": JobStatus.RUNNING,
    "Finalizing": JobStatus.RUNNING, "CancelRequested": JobStatus.RUNNING,
    "Completed": JobStatus.COMPLETED, "Failed": JobStatus.FAILED,
    "NotResponding": JobStatus.FAILED, "Canceled": JobStatus.CANCELED,
    "Skipped": JobStatus.SKIPPED,
}
PATH_TYPES = ("uri_file", "uri_folder", "mltable", "custom_model", "mlflow_model")
#: Tags mlops puts on every job it submits, read back by ``get_job``.
PIPELINE_TAG = "mlops.pipeline"
INPUTS_TAG = "mlops.inputs"
LOG_BLOB = "ExperimentRun/dcid.{run}/user_logs/std_log.txt"
LATEST_DATA = re.compile(r"azureml:(?P<name>[A-Za-z0-9][A-Za-z0-9_.-]*)@latest")
#: How Azure ML reports a command step's exit status in the run's error.
EXIT_STATUS = re.compile(r"exited with (?:status|exit) code (-?\d+)")


def job_status(value: object) -> JobStatus:
    """Azure ML's state (a string, or the SDK's own enum) as mlops names it."""
    return _STATES.get(str(getattr(value, "value", value)), JobStatus.RUNNING)


class AzureJobs(AzurePart, Jobs):
    """Azure ML pipeline jobs: submitted on ``compute``, steps pinned to the environments
    ``infrastructure`` registers, ``@latest`` data inputs resolved through ``data``."""

    def __init__(self, conn: AzureConnection, data: DataAssets, infrastructure: AzureInfrastructure,
                 *, compute: str = "cpu-cluster",
                 pipeline_variants: Mapping[Path, Path] | None = None) -> None:
        super().__init__(conn)
        self.data = data
        self.infrastructure = infrastructure
        self.compute = compute
        #: Pipelines submitted in place of others (``azure_variants``).
        self.pipeline_variants = dict(pipeline_variants or {})

    def upload_input(self, path: Path) -> str:
        """Upload a local file or folder once (content-addressed); its ``azureml://`` path."""
        digest = tree_hash(path)
        prefix = f"mlops/inputs/{digest.sha256}"
        target = f"{prefix}/{path.name}"
        with self.call(f"uploading {path} to datastore {self.datastore_name}"):
            if not self.store.exists(target):
                self.store.upload(path, prefix)
        return datastore_uri(self.datastore_name, target)

    def build_pipeline_job(self, submission: PipelineSubmission, name: str | None) -> Any:
        """The SDK ``PipelineJob`` for a submission (shared with schedules)."""
        from azure.ai.ml import Input, Output, load_job

        from mlops_azure.execution.parallel import checked_definition

        # On Azure a partitioned training may run as a parallel job (partitions.azure_parallel).
        pipeline_file = variant_of(self.pipeline_variants, Path(submission.pipeline_file))
        definition = checked_definition(pipeline_file)  # our checks, our messages
        quiet_sdk()
        with self.call(f"reading pipeline {pipeline_file}"):
            job: Any = load_job(pipeline_file)
        bind_parallel_steps(job, submission.inputs)
        recorded: dict[str, Any] = {}
        for key, value in submission.inputs.items():
            declared = definition.inputs.get(key)
            if declared is None:
                raise UserInputError(f"{definition.shown}: the pipeline has no input '{key}'")
            if declared.type in PATH_TYPES:
                path = self._input_path(key, value)
                setattr(job.inputs, key, Input(type=declared.type, path=path))
                recorded[key] = path if path.startswith("azureml:") else str(value)
            else:
                setattr(job.inputs, key, value)
                recorded[key] = value
        for key, declared in definition.inputs.items():
            if declared.type in PATH_TYPES and key not in submission.inputs:
                # An unbound optional path input (e.g. no champion yet): Azure ML wants neither
                # the pipeline input nor the step inputs bound to it.
                job.inputs.pop(key, None)
                for step_name, step in definition.steps.items():
                    for input_name, binding in step.inputs.items():
                        if binding.kind == "parent_input" and binding.source == key:
                            setattr(job.jobs[step_name].inputs, input_name, None)
        if name:
            for output, spec in definition_outputs(job).items():
                setattr(job.outputs, output, Output(
                    type=spec, path=datastore_uri(self.datastore_name, f"azureml/{name}/{output}/")))
        environments = self.infrastructure.ensure_environments()
        for node in job.jobs.values():
            wanted = str(getattr(node.component, "environment", "") or "")
            base = wanted.removeprefix("azureml:").split("@")[0].split(":")[0]
            if base in environments:
                pinned = f"azureml:{base}:{environments[base]}"
                if getattr(node, "type", None) == "parallel":
                    node.task.environment = pinned  # a parallel step's environment is its task's
                else:
                    node.environment = pinned
        job.settings.default_compute = self.compute
        if not name:
            # A schedule fires this same body again and again: Azure ML would reuse every
            # deterministic step of the first run (same inputs), never training again.
            job.settings.force_rerun = True
        job.experiment_name = submission.experiment or definition.experiment_name
        job.tags = {**dict(submission.tags), PIPELINE_TAG: str(pipeline_file),
                    INPUTS_TAG: json.dumps(recorded)}
        if name:
            job.name = name
        return job

    def _input_path(self, key: str, value: InputValue) -> str:
        text = str(value)
        latest = LATEST_DATA.fullmatch(text)
        if not isinstance(value, Path) and latest:
            # azure-ai-ml resolves labels on the client anyway (and mis-parses this form in
            # schedules): pin the newest version here, visibly.
            return f"azureml:{latest['name']}:{self.data.get(latest['name']).version}"
        if not isinstance(value, Path) and (text.startswith("azureml:") or "://" in text):
            return text
        path = Path(text)
        if not path.exists():
            raise UserInputError(f"input '{key}': {path} does not exist")
        return self.upload_input(path)

    def submit_pipeline(self, submission: PipelineSubmission) -> Job:
        """Submit the pipeline job and return at once."""
        experiment = submission.experiment or "mlops"
        name = f"{experiment}-{datetime.now(UTC):%Y%m%d%H%M%S}-{secrets.token_hex(3)}".lower()
        job = self.build_pipeline_job(submission, name)
        with self.call(f"submitting pipeline {submission.pipeline_file}"):
            created = self.ml.jobs.create_or_update(job, experiment_name=job.experiment_name)
        return self._to_job(created, steps=())

    def run_pipeline(
        self, submission: PipelineSubmission, progress: ProgressCallback | None = None
    ) -> Job:
        """Submit, then follow the job until it ends; a failed job is returned, not raised."""
        job = self.submit_pipeline(submission)
        if progress is not None:
            progress(JobEvent(job.id, None, job.status, f"submitted {job.id}"))
        return self.wait(job.id, progress)

    def wait(
        self, job_id: str, progress: ProgressCallback | None = None, timeout_s: float | None = None
    ) -> Job:
        """Poll the job (one GET per interval; its steps too while someone shows progress)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        seen: dict[str | None, JobStatus] = {}
        while True:
            raw = self._get_raw(job_id)
            status = job_status(raw.status)
            steps = (self._steps(job_id, detailed=status.is_terminal)
                     if progress is not None or status.is_terminal else ())
            if progress is not None:
                for step in ((None, status), *((s.name, s.status) for s in steps)):
                    if seen.get(step[0]) is not step[1]:
                        seen[step[0]] = step[1]
                        progress(JobEvent(job_id, step[0], step[1], ""))
            if status.is_terminal or (deadline is not None and time.monotonic() >= deadline):
                return self._to_job(raw, steps=steps, timed=status.is_terminal)
            time.sleep(self.poll_interval_s)

    def _get_raw(self, job_id: str) -> Any:
        try:
            with self.call(f"reading job {job_id}"):
                return self.ml.jobs.get(job_id)
        except NotFoundError:
            raise NotFoundError(f"job '{job_id}' does not exist") from None

    def job_state(self, job_id: str) -> JobStatus:
        """A job's state alone (one request)."""
        return job_status(self._get_raw(job_id).status)

    def _steps(self, job_id: str, *, detailed: bool = True) -> tuple[StepRun, ...]:
        """The job's steps; ``detailed`` adds each step's times, exit status and error from its
        run-history record (one request per step: the SDK's child job entity drops them)."""
        with self.call(f"listing the steps of job {job_id}"):
            children = list(self.ml.jobs.list(parent_job_name=job_id))
        steps = []
        for child in children:
            status = job_status(child.status)
            started, ended, exit_code, error = None, None, None, None
            if detailed and status is not JobStatus.SKIPPED:
                started, ended, exit_code, error = self._step_details(str(child.name))
            if status is JobStatus.COMPLETED and exit_code is None:
                exit_code = 0  # a command step completes only when its process exits 0
            steps.append(StepRun(name=str(child.display_name or child.name), status=status,
                                 started_at=started, ended_at=ended, exit_code=exit_code,
                                 error=error))
        return tuple(sorted(steps, key=lambda s: (s.started_at or datetime.max.replace(tzinfo=UTC),
                                                  s.name)))

    def _step_details(
        self, run_id: str
    ) -> tuple[datetime | None, datetime | None, int | None, str | None]:
        with self.call(f"reading step run {run_id}"):
            run = self.ml.jobs._runs_operations.get_run(run_id)
        error = getattr(getattr(run, "error", None), "error", None)
        message = str(getattr(error, "message", "") or "") or None
        found = EXIT_STATUS.search(message or "")
        start, end = getattr(run, "start_time_utc", None), getattr(run, "end_time_utc", None)
        return (utc(start) if start else None, utc(end) if end else None,
                int(found[1]) if found else None, message)

    def studies(self, job_id: str) -> list[Study]:
        """The studies of the job's sweep steps (``azure.studies``: 4 requests plus one per
        trial for a job with one sweep step, 1 for a job without)."""
        from mlops_azure.azure.studies import AzureStudies

        return AzureStudies(self).studies(job_id)

    def get(self, job_id: str) -> Job:
        """One job with its steps."""
        raw = self._get_raw(job_id)
        return self._to_job(raw, steps=self._steps(job_id), timed=True)

    def recent(self, limit: int = 20) -> list[Job]:
        """Jobs mlops submitted, newest first (their steps are not listed here)."""
        if limit < 1:
            raise UserInputError(f"limit must be at least 1, got {limit}")
        jobs = []
        with self.call("listing jobs"):
            for raw in self.ml.jobs.list():
                if PIPELINE_TAG in (raw.tags or {}):
                    jobs.append(self._to_job(raw, steps=()))
                if len(jobs) >= limit:
                    break
        return sorted(jobs, key=lambda j: j.created_at, reverse=True)

    def _child_names(self, job_id: str) -> list[tuple[str, str]]:
        with self.call(f"listing the steps of job {job_id}"):
            return [(str(c.display_name or c.name), str(c.name))
                    for c in self.ml.jobs.list(parent_job_name=job_id)]

    def logs(self, job_id: str, step: str | None = None) -> str:
        """Each step's ``user_logs/std_log.txt`` from the workspace artifact store."""
        self._get_raw(job_id)  # an unknown job is "not found", not "no steps"
        children = self._child_names(job_id)
        if step is not None:
            children = [c for c in children if c[0] == step]
            if not children:
                known = ", ".join(sorted(c[0] for c in self._child_names(job_id))) or "none"
                raise NotFoundError(f"job '{job_id}' has no step '{step}' (steps: {known})")
        parts = []
        for shown, run in children:
            name = LOG_BLOB.format(run=run)
            with self.call(f"reading the log of step {shown} of job {job_id}"):
                text = (self.artifact_store.read(name).decode("utf-8", "replace")
                        if self.artifact_store.exists(name) else "(no log written)\n")
            parts.append(text if step is not None else f"===== {shown} =====\n{text}")
        return "".join(parts)

    def output_path(self, job_id: str, output: str) -> Path:
        """A finished job's output folder, downloaded once into the local cache."""
        final = self.cached("jobs", f"{job_id}/{output}")
        if final.exists():
            return final
        raw = self._get_raw(job_id)
        status = job_status(raw.status)
        if status is not JobStatus.COMPLETED:
            raise NotFoundError(f"job '{job_id}' is {status.value}: only a Completed job has outputs")
        declared = (raw.outputs or {}).get(output)
        if declared is None:
            known = ", ".join(sorted(raw.outputs or {})) or "none"
            raise NotFoundError(f"job '{job_id}' has no output '{output}' (outputs: {known})")
        path = getattr(declared, "path", None) or self._default_output_path(raw, job_id, output)
        datastore, blob_path = parse_datastore_uri(str(path))
        staging = self.staging("jobs")
        with self.call(f"downloading output '{output}' of job {job_id}"):
            self.folder(datastore).download(blob_path, staging)
        final.parent.mkdir(parents=True, exist_ok=True)
        staging.replace(final)
        return final

    def _default_output_path(self, raw: Any, job_id: str, output: str) -> str:
        """Where Azure ML writes a pipeline output given no path: the default datastore, under
        the name of the step job that produces it and the step's output name
        (``${{default_datastore}}/paths/${{name}}/${{output_name}}``, "Manage inputs and
        outputs of pipelines") — a scheduled run's outputs, for one."""
        wanted = f"${{{{parent.outputs.{output}}}}}"
        for step, node in (getattr(raw, "jobs", None) or {}).items():
            for name, bound in (getattr(node, "outputs", None) or {}).items():
                if str(getattr(bound, "_data", bound)) == wanted:
                    children = dict(self._child_names(job_id))
                    child = children.get(step) or children.get(str(getattr(node, "display_name",
                                                                         "") or ""))
                    if child is None:
                        raise NotFoundError(f"job '{job_id}' has no run of step '{step}', "
                                            f"which writes output '{output}'")
                    return datastore_uri(self.datastore_name, f"{child}/{name}/")
        raise NotFoundError(f"job '{job_id}': no step writes output '{output}'")

    def _to_job(self, raw: Any, steps: tuple[StepRun, ...], timed: bool = False) -> Job:
        tags = dict(raw.tags or {})
        status = job_status(raw.status)
        started, ended, _, service_error = (self._step_details(str(raw.name)) if timed
                                            else (None, None, None, None))
        error = None
        if status is JobStatus.FAILED:
            failed = [s for s in steps if s.status is JobStatus.FAILED]
            error = (f"step '{failed[0].name}' failed: {failed[0].error or 'no error recorded'}"
                     if failed else service_error or "the job failed on Azure ML")
        outputs = {name: str(getattr(o, "path", "") or "") for name, o in (raw.outputs or {}).items()}
        try:
            inputs = json.loads(tags.get(INPUTS_TAG, "{}"))
        except ValueError:
            inputs = {}
        return Job(
            id=str(raw.name), experiment=str(raw.experiment_name or ""), status=status,
            created_at=created_at(raw), pipeline=tags.get(PIPELINE_TAG, str(raw.display_name or "")),
            inputs=inputs, outputs=outputs, steps=steps, started_at=started, ended_at=ended,
            error=error,
            tags={k: v for k, v in tags.items() if not k.startswith("mlops.")},
        )


def definition_outputs(job: Any) -> Mapping[str, str]:
    """Pipeline-level outputs and their types, as the loaded job declares them."""
    found = {}
    for name, value in (job.outputs or {}).items():
        data = getattr(value, "_data", value)
        found[name] = str(getattr(data, "type", None) or "uri_folder")
    return found
