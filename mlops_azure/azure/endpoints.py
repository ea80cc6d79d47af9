"""Online endpoints on Azure ML: managed and Kubernetes, with traffic, mirror traffic and keys.

Every change is a long-running operation; mlops waits for it with ``azure.operation_timeout_s``
as the bound. A deployment that ends ``Failed`` raises ``DeploymentFailed`` with the tail of its
logs, and nothing here ever changes an endpoint's traffic as a side effect.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mlops_azure.azure.collected import MDC_COLLECTIONS, AzureCollected
from mlops_azure.azure.connection import (
    MODEL_ID,
    AzureConnection,
    AzurePart,
    as_version,
    created_at,
    utc,
)
from mlops_azure.azure.infrastructure import AzureInfrastructure
from mlops_azure.errors import BackendError, DeploymentFailed, NotFoundError, UserInputError
from mlops_azure.rules import check_online_deployment
from mlops_azure.workspace import (
    Deployment,
    DeploymentSpec,
    DeploymentState,
    Endpoint,
    EndpointKeys,
    ModelRegistry,
    OnlineEndpoints,
    check_endpoint_name,
    check_traffic,
)

#: Lines of deployment log shown when a deployment fails.
FAILURE_LOG_LINES = 40
DEFAULT_INSTANCE_TYPE = "Standard_DS3_v2"
CREATED_TAG = "mlops.created_at"
_DEPLOYMENT_STATES = {"Creating": DeploymentState.CREATING, "Updating": DeploymentState.CREATING,
                      "Scaling": DeploymentState.CREATING, "Succeeded": DeploymentState.SUCCEEDED,
                      "Failed": DeploymentState.FAILED, "Canceled": DeploymentState.FAILED,
                      "Deleting": DeploymentState.DELETING}


class AzureEndpoints(AzurePart, OnlineEndpoints):
    """Azure ML online endpoints serving ``models`` in the environments ``infrastructure``
    registers; Kubernetes endpoints default to ``kubernetes_compute``."""

    def __init__(self, conn: AzureConnection, models: ModelRegistry,
                 infrastructure: AzureInfrastructure, *,
                 kubernetes_compute: str | None = None) -> None:
        super().__init__(conn)
        self.models = models
        self.infrastructure = infrastructure
        self.kubernetes_compute = kubernetes_compute
        self.collected = AzureCollected(conn, self)

    def create(self, name: str, *, kind: str = "managed", description: str = "",
                        compute: str | None = None) -> Endpoint:
        """Create the endpoint (key auth, no traffic), or return it when it exists."""
        from azure.ai.ml.entities import KubernetesOnlineEndpoint, ManagedOnlineEndpoint

        check_endpoint_name(name, "endpoint")
        try:
            return self.get(name)
        except NotFoundError:
            pass
        # The SDK's endpoint entity carries no creation time: mlops records it as a tag.
        tags = {CREATED_TAG: datetime.now(UTC).isoformat()}
        if kind == "kubernetes":
            target = compute or self.kubernetes_compute
            if not target:
                raise UserInputError(f"endpoint '{name}' is a Kubernetes endpoint but no compute "
                                     "is named: set the stage's compute or azure.kubernetes_compute")
            entity: Any = KubernetesOnlineEndpoint(name=name, compute=target, auth_mode="key",
                                                   description=description or None, tags=tags)
        else:
            entity = ManagedOnlineEndpoint(name=name, auth_mode="key",
                                           description=description or None, tags=tags)
        created = self._operation(lambda: self.ml.online_endpoints.begin_create_or_update(entity),
                                  f"creating endpoint {name}")
        return self._to_endpoint(created, [])

    def get(self, name: str) -> Endpoint:
        """The endpoint; its traffic lists every deployment, 0 % included, as locally. The
        SDK's ``get`` already lists the deployments to add the 0 % ones (mirror-only ones
        aside), so listing them again would cost a request for nothing."""
        raw = self._raw_endpoint(name)
        return self._to_endpoint(raw, list(raw.mirror_traffic or {}))

    def _raw_endpoint(self, name: str) -> Any:
        try:
            with self.call(f"reading endpoint {name}"):
                return self.ml.online_endpoints.get(name)
        except NotFoundError:
            raise NotFoundError(f"endpoint '{name}' does not exist") from None

    def all(self) -> list[Endpoint]:
        with self.call("listing endpoints"):
            found = list(self.ml.online_endpoints.list())
        return sorted((self._to_endpoint(e) for e in found), key=lambda e: e.name)

    def delete(self, name: str) -> None:
        self._raw_endpoint(name)  # NotFoundError with our sentence, not a poller error
        self._operation(lambda: self.ml.online_endpoints.begin_delete(name=name),
                        f"deleting endpoint {name}")

    def collected_data_dir(self, endpoint: str, since_s: float | None = None) -> Path:
        """See :meth:`AzureCollected.collected_data_dir`."""
        return self.collected.collected_data_dir(endpoint, since_s)

    @staticmethod
    def _data_collector(spec: DeploymentSpec) -> dict[str, Any]:
        """Azure ML's online data collector for inputs and outputs, and the switch that makes
        score.py log to it (components/tabular/collect.py)."""
        from azure.ai.ml.entities import DataCollector, DeploymentCollection

        collections = {name: DeploymentCollection(enabled="true") for name in MDC_COLLECTIONS}
        return {"data_collector": DataCollector(collections=collections, sampling_rate=1.0),
                "environment_variables": {**spec.environment_variables,
                                          "MLOPS_COLLECT_AZUREML": "true"}}

    def create_deployment(
        self, endpoint: str, name: str, spec: DeploymentSpec, *, timeout_s: float = 300.0
    ) -> Deployment:
        """Create or replace a deployment at 0 % traffic and wait until it is provisioned."""
        from azure.ai.ml.entities import (
            CodeConfiguration,
            KubernetesOnlineDeployment,
            ManagedOnlineDeployment,
            OnlineRequestSettings,
        )

        check_endpoint_name(name, "deployment")
        found = self._raw_endpoint(endpoint)
        check_online_deployment(endpoint, name, kind=_kind(found), instance_count=spec.instance_count,
                                instance_type=spec.instance_type)
        script = spec.code_dir / spec.scoring_script
        if not script.is_file():
            raise UserInputError(f"scoring script {script} does not exist")
        self.models.get(spec.model_name, spec.model_version)  # NotFoundError before any upload
        started = time.monotonic()
        pending = self._still_provisioning(endpoint, name, timeout_s)
        if pending is not None and pending.state is DeploymentState.SUCCEEDED \
                and pending.model_ref == f"{spec.model_name}:{spec.model_version}":
            return pending  # an earlier run's deployment of this model finished meanwhile
        timeout_s = max(timeout_s - (time.monotonic() - started), 1.0)
        common: dict[str, Any] = dict(
            name=name, endpoint_name=endpoint,
            model=f"azureml:{spec.model_name}:{spec.model_version}",
            code_configuration=CodeConfiguration(code=str(spec.code_dir),
                                                 scoring_script=spec.scoring_script),
            environment=self.infrastructure.environment_for(spec.environment),
            instance_count=spec.instance_count,
            request_settings=OnlineRequestSettings(request_timeout_ms=spec.request_timeout_ms),
            environment_variables=dict(spec.environment_variables) or None,
            app_insights_enabled=spec.app_insights_enabled,
        )
        if spec.collect:
            common.update(self._data_collector(spec))
        if _kind(found) == "kubernetes":
            entity: Any = KubernetesOnlineDeployment(
                **common, instance_type=spec.instance_type or None)
        else:
            entity = ManagedOnlineDeployment(
                **common, instance_type=spec.instance_type or DEFAULT_INSTANCE_TYPE)
        doing = f"deploying {spec.model_name}:{spec.model_version} as {endpoint}/{name}"
        try:
            with self.call(doing):
                poller = self.ml.online_deployments.begin_create_or_update(entity)
                finished, _ = self.wait_for(poller, timeout_s)
        except (BackendError, UserInputError) as exc:
            raise DeploymentFailed(f"{doing} failed: {exc.message}",
                                   self._logs_or_note(endpoint, name)) from None
        if not finished:
            raise DeploymentFailed(
                f"{doing} did not finish within {timeout_s:.0f} s (the stage's "
                "deployment_timeout_s); it may still complete on Azure ML, and a rerun waits "
                "for it", self._logs_or_note(endpoint, name))
        deployment = self.get_deployment(endpoint, name)
        if deployment.state is not DeploymentState.SUCCEEDED:
            raise DeploymentFailed(f"{doing} ended {deployment.state.value}",
                                   self._logs_or_note(endpoint, name))
        return deployment

    def _still_provisioning(self, endpoint: str, name: str, timeout_s: float) -> Deployment | None:
        """The deployment ``name`` once an operation still running on it (an earlier, interrupted
        run's) has ended, waiting at most ``timeout_s``: Azure refuses a PUT into a deployment
        that is ``Creating`` or ``Updating`` (409). None when there was none running."""
        try:  # the endpoint was just read: a 404 here means no such deployment, nothing else
            with self.call(f"reading deployment {endpoint}/{name}"):
                current = self._to_deployment(self.ml.online_deployments.get(name, endpoint))
        except NotFoundError:
            return None
        if current.state is not DeploymentState.CREATING:
            return None
        deadline = time.monotonic() + timeout_s
        while current.state is DeploymentState.CREATING:
            if time.monotonic() >= deadline:
                raise DeploymentFailed(
                    f"deployment {endpoint}/{name} is still being provisioned by an earlier run "
                    f"after {timeout_s:.0f} s (the stage's deployment_timeout_s); it may still "
                    "complete on Azure ML, and a rerun waits for it",
                    self._logs_or_note(endpoint, name))
            time.sleep(min(self.poll_interval_s, max(deadline - time.monotonic(), 0.0)))
            current = self.get_deployment(endpoint, name)
        return current

    def _logs_or_note(self, endpoint: str, name: str) -> str:
        try:
            return self.deployment_logs(endpoint, name, FAILURE_LOG_LINES)
        except (BackendError, UserInputError) as exc:
            return f"(no logs: {exc.message})"

    def get_deployment(self, endpoint: str, name: str) -> Deployment:
        try:
            with self.call(f"reading deployment {endpoint}/{name}"):
                return self._to_deployment(self.ml.online_deployments.get(name, endpoint))
        except NotFoundError:
            self._raw_endpoint(endpoint)
            raise NotFoundError(f"endpoint '{endpoint}' has no deployment '{name}'") from None

    def list_deployments(self, endpoint: str) -> list[Deployment]:
        with self.call(f"listing the deployments of endpoint {endpoint}"):
            found = list(self.ml.online_deployments.list(endpoint))
        return sorted((self._to_deployment(d) for d in found), key=lambda d: d.name)

    def delete_deployment(self, endpoint: str, name: str) -> None:
        current = self.get(endpoint)
        self.get_deployment(endpoint, name)
        if current.traffic.get(name, 0) > 0:
            raise UserInputError(
                f"deployment '{name}' still takes {current.traffic[name]} % of endpoint "
                f"'{endpoint}''s traffic: move its traffic to another deployment first")
        self._operation(lambda: self.ml.online_deployments.begin_delete(
            name=name, endpoint_name=endpoint), f"deleting deployment {endpoint}/{name}")

    def set_traffic(
        self, endpoint: str, traffic: Mapping[str, int], mirror: Mapping[str, int] | None = None
    ) -> Endpoint:
        """Check Azure's rules here (one clear sentence), then update the endpoint."""
        raw = self._raw_endpoint(endpoint)
        states = {d.name: d.state.value for d in self.list_deployments(endpoint)}
        check_traffic(endpoint, states, dict(traffic), dict(mirror or {}))
        if mirror and any(mirror.values()) and _kind(raw) == "kubernetes":
            raise UserInputError(f"endpoint '{endpoint}' runs on Kubernetes, where Azure ML "
                                 "does not support mirror traffic")
        raw.traffic = {k: int(v) for k, v in traffic.items()}
        raw.mirror_traffic = {k: int(v) for k, v in (mirror or {}).items()}
        doing = f"setting the traffic of endpoint {endpoint}"
        updated = self._operation(lambda: self.ml.online_endpoints.begin_create_or_update(raw),
                                  doing)
        return self._to_endpoint(updated, list(states))

    def keys(self, endpoint: str) -> EndpointKeys:
        with self.call(f"reading the keys of endpoint {endpoint}"):
            keys = self.ml.online_endpoints.get_keys(endpoint)
        return EndpointKeys(str(keys.primary_key), str(keys.secondary_key))

    def deployment_logs(self, endpoint: str, name: str, lines: int = 100) -> str:
        with self.call(f"reading the logs of deployment {endpoint}/{name}"):
            return str(self.ml.online_deployments.get_logs(name, endpoint, lines) or "")

    def _to_endpoint(self, raw: Any, deployments: list[str] | None = None) -> Endpoint:
        # Azure ML leaves 0 % deployments out of the traffic map; mlops lists them all.
        traffic = {d: 0 for d in deployments or []}
        traffic.update({k: int(v) for k, v in (raw.traffic or {}).items()})
        return Endpoint(
            name=str(raw.name), scoring_uri=str(raw.scoring_uri or ""), kind=_kind(raw),
            state=_text(raw.provisioning_state),
            traffic=traffic,
            mirror_traffic={k: int(v) for k, v in (raw.mirror_traffic or {}).items()},
            created_at=utc((raw.tags or {}).get(CREATED_TAG)) if (raw.tags or {}).get(CREATED_TAG)
            else created_at(raw),
            auth_mode=_text(raw.auth_mode or "key").lower(),
        )

    def _to_deployment(self, raw: Any) -> Deployment:
        found = MODEL_ID.search(str(raw.model or ""))
        if found is None:
            raise BackendError(f"deployment {raw.endpoint_name}/{raw.name} serves '{raw.model}', "
                               "not a registered model version")
        state = _DEPLOYMENT_STATES.get(_text(raw.provisioning_state), DeploymentState.CREATING)
        return Deployment(
            endpoint=str(raw.endpoint_name), name=str(raw.name), model_name=found["name"],
            model_version=as_version(found["version"], f"model {found['name']}"),
            state=state, created_at=created_at(raw),
            instance_type=getattr(raw, "instance_type", None),
            instance_count=int(getattr(raw, "instance_count", None) or 1),
        )


def _text(value: object) -> str:
    """An SDK enum member or a string, as the plain string Azure sends."""
    return str(getattr(value, "value", value) or "")


def _kind(raw: Any) -> str:
    return "kubernetes" if type(raw).__name__.startswith("Kubernetes") else "managed"
