"""Batch scoring on Azure ML: a ``BatchEndpoint`` with a ``ModelBatchDeployment`` of the model,
invoked with a data asset.

The deployment runs the project's batch scoring script (``init()`` / ``run(mini_batch)``) over
mini-batches of the asset's files and appends every returned row to one output file
(``append_row``). mlops names the job (so a rerun after a crash follows the job it already
submitted instead of scoring twice) and its ``score`` output, in the documented form for a model
deployment: a ``uri_file``, the path of that file on the default datastore (so it can download
the result without the run-history artifact API); it waits for the job and downloads the file.
The input is declared with the data asset's own type (``uri_file`` or ``uri_folder``). Each
model version gets its own deployment; Azure allows 20 per endpoint, so the oldest ones beyond
:data:`KEEP_DEPLOYMENTS` are deleted (never the endpoint's default one).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from mlops_azure.azure.blobs import datastore_uri, parse_datastore_uri
from mlops_azure.azure.connection import AzureConnection
from mlops_azure.errors import BackendError, NotFoundError, UserInputError
from mlops_azure.workspace import (
    BatchDeploymentSpec,
    BatchScoringRun,
    DataAsset,
    JobEvent,
    JobStatus,
    ProgressCallback,
    check_endpoint_name,
)

#: The output every model batch deployment job writes (Azure's name for it).
SCORE_OUTPUT = "score"
#: Batch deployments kept per endpoint (Azure's limit is 20): the newest, the default one and
#: the one just made; older ones are deleted after each deploy.
KEEP_DEPLOYMENTS = 5


class AzureBatchEndpoints(AzureConnection):
    """``score_with_batch_endpoint`` on Azure ML batch endpoints."""

    compute: str

    def environment_for(self, conda_file: Any) -> str:
        raise NotImplementedError  # provided by AzureInfrastructure

    def get_model(self, name: str, version: int | None = None) -> Any:
        raise NotImplementedError  # provided by AzureModels

    def job_state(self, job_id: str) -> JobStatus:
        raise NotImplementedError  # provided by AzureJobs

    def _operation(self, start: Any, doing: str, timeout_s: float | None = None) -> Any:
        raise NotImplementedError  # provided by AzureEndpoints

    def score_with_batch_endpoint(
        self, spec: BatchDeploymentSpec, data: DataAsset, *, job_name: str,
        progress: ProgressCallback | None = None,
    ) -> BatchScoringRun:
        check_endpoint_name(spec.endpoint, "batch endpoint")
        check_endpoint_name(spec.deployment, "batch deployment")
        output = datastore_uri(self.datastore_name,
                               f"azureml/{job_name}/{SCORE_OUTPUT}/{spec.output_file_name}")
        try:
            status = self.job_state(job_name)  # resumed: the job was submitted before
        except NotFoundError:
            self._deploy(spec)
            self._invoke(spec, data, job_name, output)
            status = JobStatus.QUEUED
        if progress is not None:
            progress(JobEvent(job_name, None, status, f"batch job {job_name}"))
        while not status.is_terminal:
            time.sleep(self.poll_interval_s)
            status = self.job_state(job_name)
        if progress is not None:
            progress(JobEvent(job_name, None, status, ""))
        if status is not JobStatus.COMPLETED:
            return BatchScoringRun(job_name, status, None, self._error_of(job_name))
        return BatchScoringRun(job_name, status, self._download(job_name, output, spec))

    def _deploy(self, spec: BatchDeploymentSpec) -> None:
        from azure.ai.ml.entities import (
            BatchEndpoint,
            BatchRetrySettings,
            CodeConfiguration,
            ModelBatchDeployment,
            ModelBatchDeploymentSettings,
        )

        script = spec.code_dir / spec.scoring_script
        if not script.is_file():
            raise UserInputError(f"batch scoring script {script} does not exist")
        if spec.mini_batch_size < 1 or spec.error_threshold < -1:
            raise UserInputError("mini_batch_size must be at least 1 and error_threshold -1 or more")
        self.get_model(spec.model_name, spec.model_version)  # NotFoundError before any upload
        endpoint = BatchEndpoint(name=spec.endpoint, description="mlops score batch")
        self._operation(lambda: self.ml.batch_endpoints.begin_create_or_update(endpoint),
                        f"creating batch endpoint {spec.endpoint}")
        deployment = ModelBatchDeployment(
            name=spec.deployment, endpoint_name=spec.endpoint,
            model=f"azureml:{spec.model_name}:{spec.model_version}",
            code_configuration=CodeConfiguration(code=str(spec.code_dir),
                                                 scoring_script=spec.scoring_script),
            environment=self.environment_for(spec.environment), compute=self.compute,
            settings=ModelBatchDeploymentSettings(
                mini_batch_size=spec.mini_batch_size, instance_count=spec.instance_count,
                output_action="append_row", output_file_name=spec.output_file_name,
                max_concurrency_per_instance=spec.max_concurrency_per_instance,
                retry_settings=BatchRetrySettings(max_retries=spec.max_retries,
                                                  timeout=spec.timeout_s),
                error_threshold=spec.error_threshold, logging_level="info"))
        self._prune(spec)  # first: at Azure's limit the new deployment would be refused
        self._operation(lambda: self.ml.batch_deployments.begin_create_or_update(deployment),
                        f"deploying {spec.model_name}:{spec.model_version} as batch "
                        f"{spec.endpoint}/{spec.deployment}")

    def _prune(self, spec: BatchDeploymentSpec) -> None:
        """Make room for ``spec.deployment``: delete the oldest other deployments of the
        endpoint so that at most :data:`KEEP_DEPLOYMENTS` remain with it, never its default."""
        with self.call(f"listing the deployments of batch endpoint {spec.endpoint}"):
            found = list(self.ml.batch_deployments.list(endpoint_name=spec.endpoint))
            default = getattr(getattr(self.ml.batch_endpoints.get(spec.endpoint), "defaults",
                                      None), "deployment_name", None)

        def created(deployment: Any) -> str:
            return str(getattr(getattr(deployment, "creation_context", None), "created_at", "")
                       or "")

        others = sorted((d for d in found if d.name != spec.deployment), key=created, reverse=True)
        for old in others[KEEP_DEPLOYMENTS - 1:]:
            if old.name == default:
                continue
            self._operation(lambda name=old.name: self.ml.batch_deployments.begin_delete(
                name=name, endpoint_name=spec.endpoint),
                f"deleting old batch deployment {spec.endpoint}/{old.name}")

    def _invoke(self, spec: BatchDeploymentSpec, data: DataAsset, job_name: str,
                output: str) -> None:
        from azure.ai.ml import Input, Output
        from azure.ai.ml.constants._endpoint import EndpointInvokeFields

        with self.call(f"reading data asset {data.ref}"):
            kind = str(self.ml.data.get(data.name, version=str(data.version)).type)
        # azure-ai-ml 1.35's invoke writes the token and the deployment name into the class-wide
        # DEFAULT_HEADER dict, so every later online invoke in this process would carry them
        # (and be routed to this deployment): put it back as it was.
        shared = EndpointInvokeFields.DEFAULT_HEADER
        saved = dict(shared)
        try:
            with self.call(f"invoking batch endpoint {spec.endpoint} with {data.ref}"):
                self.ml.batch_endpoints.invoke(
                    endpoint_name=spec.endpoint, deployment_name=spec.deployment,
                    inputs={"data": Input(type=kind,
                                          path=f"azureml:{data.name}:{data.version}")},
                    outputs={SCORE_OUTPUT: Output(type="uri_file", path=output)},
                    job_name=job_name, experiment_name=spec.endpoint)
        finally:
            shared.clear()
            shared.update(saved)

    def _error_of(self, job_name: str) -> str | None:
        with self.call(f"reading step run {job_name}"):
            run = self.ml.jobs._runs_operations.get_run(job_name)
        error = getattr(getattr(run, "error", None), "error", None)
        return str(getattr(error, "message", "") or "") or None

    def _download(self, job_name: str, output: str, spec: BatchDeploymentSpec) -> Path:
        final = self.cached("batch", job_name)
        if not (final / spec.output_file_name).is_file():
            datastore, blob_path = parse_datastore_uri(output)
            staging = self.staging("batch")
            with self.call(f"downloading the output of batch job {job_name}"):
                self.folder(datastore).download(blob_path, staging)
            if final.exists():
                import shutil

                shutil.rmtree(final)
            final.parent.mkdir(parents=True, exist_ok=True)
            staging.replace(final)
        found = final / spec.output_file_name
        if not found.is_file():
            raise BackendError(f"batch job {job_name} completed without its output file "
                               f"{spec.output_file_name}")
        return found
