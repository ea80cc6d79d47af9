"""Models on Azure ML: registered straight from a job's output, with lineage and a content hash.

Registration points the model version at ``azureml://jobs/<job>/outputs/<output>``: nothing is
re-uploaded, and Azure ML records the job as the model's source. mlops adds the lineage as tags
(visible in the studio, searchable) and, whole, as an immutable property, plus the output's tree
hash, which every download is checked against.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mlops_azure._tree_hash import tree_hash
from mlops_azure.audit_events import ArchiveEvent, RegisterEvent
from mlops_azure.azure.blobs import parse_datastore_uri
from mlops_azure.azure.client import VERSION_ATTEMPTS, VersionTaken
from mlops_azure.azure.connection import AzureConnection, AzurePart, as_version, created_at
from mlops_azure.azure.jobs import AzureJobs
from mlops_azure.errors import BackendError, NotFoundError, UserInputError
from mlops_azure.rules import check_asset_name, check_document_name, check_metrics
from mlops_azure.workspace import (
    AuditTrail,
    InputValue,
    JobStatus,
    Lineage,
    ModelRegistry,
    ModelVersion,
)

SHA_TAG = "mlops.sha256"
JOB_OUTPUT_URI = re.compile(r"azureml://jobs/(?P<job>[^/]+)/outputs/(?:artifacts/paths/)?(?P<output>[^/]+)/?")
LINEAGE_PROPERTY = "mlops.lineage"
METRIC_PREFIX = "metric."
#: Lineage fields copied to tags, so the studio shows and filters them.
LINEAGE_TAGS = ("data_asset", "data_version", "data_sha256", "code_commit", "job_id",
                "environment_hash", "creator", "pipeline")


class AzureModels(AzurePart, ModelRegistry):
    """Registered models on Azure ML, made from ``jobs``' outputs and recorded in ``events``."""

    def __init__(self, conn: AzureConnection, jobs: AzureJobs, events: AuditTrail) -> None:
        super().__init__(conn)
        self.jobs = jobs
        self.events = events

    def register(
        self,
        name: str,
        *,
        job_id: str,
        output: str,
        metrics: Mapping[str, float],
        lineage: Lineage,
        tags: Mapping[str, str] | None = None,
        description: str = "",
    ) -> ModelVersion:
        """Register a job output as the next version of ``name``, without re-uploading it."""
        from azure.ai.ml.constants import AssetTypes
        from azure.ai.ml.entities import Model

        check_asset_name(name, "model")
        numbers = check_metrics(metrics, name)
        status = self.jobs.job_state(job_id)  # one request: the steps are not needed here
        if status is not JobStatus.COMPLETED:
            raise UserInputError(f"job '{job_id}' is {status.value}: only a Completed job "
                                 "can be registered as a model")
        digest = tree_hash(self.jobs.output_path(job_id, output))
        lineage_dict = lineage.to_dict()
        all_tags = {**dict(tags or {}), SHA_TAG: digest.sha256,
                    **{f"lineage.{k}": str(lineage_dict[k]) for k in LINEAGE_TAGS}}
        properties = {LINEAGE_PROPERTY: json.dumps(lineage_dict, sort_keys=True, default=str),
                      **{f"{METRIC_PREFIX}{k}": repr(v) for k, v in numbers.items()}}
        for attempt in range(VERSION_ATTEMPTS):
            version = self._next_version(name)
            model = Model(name=name, version=str(version), type=AssetTypes.CUSTOM_MODEL,
                          path=f"azureml://jobs/{job_id}/outputs/{output}", tags=all_tags,
                          properties=properties, description=description or None)
            try:
                with self.call(f"registering model {name}:{version} from job {job_id}"):
                    created = self.ml.models.create_or_update(model)
                break
            except VersionTaken:
                # Another registration took this number between our listing and our PUT.
                if attempt == VERSION_ATTEMPTS - 1:
                    raise
        result = self._to_model(created)
        event = RegisterEvent(subject=result.ref, job_id=job_id, sha256=digest.sha256,
                              metrics=numbers)
        self.events.record(event.ACTION, event.subject, event.details(), actor=lineage.creator)
        return result

    def get(self, name: str, version: int | None = None) -> ModelVersion:
        """One model version; the latest when ``version`` is None."""
        ref = f"{name}:{version}" if version is not None else f"{name} (latest)"
        try:
            with self.call(f"reading model {ref}"):
                found = (self.ml.models.get(name, version=str(version)) if version is not None
                         else self.ml.models.get(name, label="latest"))
        except NotFoundError:
            raise NotFoundError(f"model '{name}' does not exist" if version is None
                                else f"model '{name}' has no version {version}") from None
        return self._to_model(found)

    def versions(self, name: str | None = None) -> list[ModelVersion]:
        """Active model versions registered by mlops, newest first."""
        with self.call("listing models"):
            names = [name] if name else [str(c.name) for c in self.ml.models.list()]
            found = [m for n in names for m in self.ml.models.list(name=n)]
        models = [self._to_model(m) for m in found if SHA_TAG in (m.tags or {})]
        return sorted(models, key=lambda m: (m.name, m.version), reverse=True) if name is None \
            else sorted(models, key=lambda m: m.version, reverse=True)

    def archive(self, name: str, version: int, *, actor: str) -> None:
        """Hide a version from listings and ``latest`` (it stays readable by name and version)."""
        self.get(name, version)  # our not-found sentence
        with self.call(f"archiving model {name}:{version}"):
            self.ml.models.archive(name, version=str(version))
        event = ArchiveEvent(subject=f"{name}:{version}")
        self.events.record(event.ACTION, event.subject, event.details(), actor=actor)

    def _next_version(self, name: str) -> int:
        """One past the highest version ever registered, archived ones included."""
        from azure.ai.ml.constants import ListViewType

        with self.call(f"listing the versions of model {name}"):
            found = [m.version for m in self.ml.models.list(name=name,
                                                             list_view_type=ListViewType.ALL)]
        numbers = [int(v) for v in found if str(v).isdigit()]
        return max(numbers, default=0) + 1

    def put_document(self, name: str, version: int, filename: str, content: bytes) -> None:
        """A blob under ``mlops/model-docs/<name>/<version>/`` in the default datastore: the
        registered model points at its job's output, which stays as the job wrote it."""
        check_document_name(filename)
        self.get(name, version)
        with self.call(f"storing document '{filename}' of model {name}:{version}"):
            self.store.container.upload_blob(_document_blob(name, version, filename), content,
                                             overwrite=True)

    def get_document(self, name: str, version: int, filename: str) -> bytes:
        """A document stored with ``put_model_document``."""
        check_document_name(filename)
        self.get(name, version)  # an unknown version is its own NotFoundError
        try:
            with self.call(f"reading document '{filename}' of model {name}:{version}"):
                return self.store.read(_document_blob(name, version, filename))
        except NotFoundError:
            raise NotFoundError(f"model {name}:{version} has no document '{filename}'") from None

    def local_path(self, name: str, version: int) -> Path:
        """The model version's folder in the local cache, downloaded once, verified by hash."""
        model = self.get(name, version)
        final = self.cached("models", model.sha256)
        if final.exists():
            return final
        staging = self.staging("models")
        from_job = JOB_OUTPUT_URI.match(model.path)
        if from_job:  # the service may keep the job-output form instead of the datastore path
            shutil.rmtree(staging)
            shutil.copytree(self.jobs.output_path(from_job["job"], from_job["output"]), staging)
        else:
            datastore, blob_path = parse_datastore_uri(model.path)
            with self.call(f"downloading model {model.ref}"):
                self.folder(datastore).download(blob_path, staging)
        if tree_hash(staging).sha256 != model.sha256:
            shutil.rmtree(staging, ignore_errors=True)
            raise BackendError(f"the artifacts of model {model.ref} at {model.path} are missing "
                               "or altered (the download does not match the registered hash)")
        staging.replace(final)
        return final

    def input(self, model: ModelVersion) -> InputValue:
        """Jobs read the model's folder where it is stored (its datastore path: a ``uri_folder``
        input given ``azureml:NAME:VERSION`` would be looked up as a data asset)."""
        return model.path

    def _to_model(self, raw: Any) -> ModelVersion:
        tags = dict(raw.tags or {})
        properties = dict(raw.properties or {})
        if SHA_TAG not in tags or LINEAGE_PROPERTY not in properties:
            raise BackendError(f"model {raw.name}:{raw.version} was not registered by mlops "
                               "(no lineage): register models with 'mlops train'")
        metrics = {k.removeprefix(METRIC_PREFIX): float(v) for k, v in properties.items()
                   if k.startswith(METRIC_PREFIX)}
        return ModelVersion(
            name=str(raw.name), version=as_version(raw.version, f"model {raw.name}"),
            path=str(raw.path), sha256=tags[SHA_TAG], created_at=created_at(raw),
            metrics=metrics, lineage=Lineage.from_dict(json.loads(properties[LINEAGE_PROPERTY])),
            tags={k: v for k, v in tags.items()
                  if k != SHA_TAG and not k.startswith("lineage.")},
            description=str(raw.description or ""),
        )


def _document_blob(name: str, version: int, filename: str) -> str:
    return f"mlops/model-docs/{name}/{version}/{filename}"
