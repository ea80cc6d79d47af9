"""Where the project stands: which model version serves at each stage, with what traffic and in
which state, and the latest registered version."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from mlops_azure.config import ProjectConfig, StageConfig
from mlops_azure.errors import NotFoundError
from mlops_azure.lifecycle.endpoint_lock import lock_name
from mlops_azure.lifecycle.traffic_journal import unfinished
from mlops_azure.workspace import Workspace


@dataclass(frozen=True)
class StageDeployment:
    """One row of the status: a deployment behind a stage's endpoint, or the reason there is none
    (``deployment`` and ``model`` None, ``state`` saying why)."""

    stage: str
    endpoint: str
    deployment: str | None
    model: str | None
    traffic: int
    state: str
    scoring_uri: str | None
    #: Share of requests copied to this deployment, answers discarded (shadow testing).
    mirror: int = 0


@dataclass(frozen=True)
class ProjectStatus:
    """Every stage's deployments (most traffic first) and the latest registered version."""

    stages: list[StageDeployment]
    latest_registered: str | None
    #: Per endpoint, a traffic operation running now or left unfinished by a killed command.
    operations: dict[str, str] = field(default_factory=dict)
    #: Per Azure stage, where its request logs, latency and failures can be read.
    telemetry: dict[str, str] = field(default_factory=dict)

    def scoring_uri(self, stage: str) -> str | None:
        """The URL of ``stage``'s endpoint, None when it is not deployed."""
        return next((r.scoring_uri for r in self.stages if r.stage == stage and r.scoring_uri), None)

    def to_dict(self) -> dict[str, Any]:
        return {"stages": [asdict(r) for r in self.stages],
                "latest_registered": self.latest_registered, "operations": self.operations,
                "telemetry": self.telemetry}


#: Where an Azure stage's deployments report, when ``app_insights_enabled`` (the default).
APP_INSIGHTS = ("the workspace's Application Insights (Azure portal: the workspace's Application "
                "Insights resource, Failures / Performance / Logs: requests, traces, exceptions)")


def telemetry_of(stage: StageConfig) -> str | None:
    """Where ``stage``'s request logs, latency and failures land; None for a local stage (its
    servers send no telemetry)."""
    if stage.kind == "local":
        return None
    if stage.app_insights_enabled:
        return APP_INSIGHTS
    return "nowhere: app_insights_enabled is false for this stage (only the deployment logs)"


def project_status(ws: Workspace, config: ProjectConfig) -> ProjectStatus:
    """Read the status of every stage named in ``config`` from the workspace."""
    rows: list[StageDeployment] = []
    operations: dict[str, str] = {}
    for stage_name, stage in config.stages.items():
        try:
            endpoint = ws.get_endpoint(stage.endpoint)
        except NotFoundError:
            rows.append(StageDeployment(stage_name, stage.endpoint, None, None, 0, "not deployed", None))
            continue
        operation = operation_state(ws, stage.endpoint)
        if operation:
            operations[stage.endpoint] = operation
        deployments = ws.list_deployments(stage.endpoint)
        if endpoint.state != "Succeeded" or not deployments:
            state = f"endpoint {endpoint.state}" + (f": {endpoint.error}" if endpoint.error else "")
            rows.append(StageDeployment(stage_name, stage.endpoint, None, None, 0, state,
                                        endpoint.scoring_uri))
        for d in sorted(deployments, key=lambda d: -endpoint.traffic.get(d.name, 0)):
            rows.append(StageDeployment(
                stage_name, stage.endpoint, d.name, d.model_ref, endpoint.traffic.get(d.name, 0),
                d.state.value + (f": {d.error}" if d.error else ""), endpoint.scoring_uri,
                endpoint.mirror_traffic.get(d.name, 0)))
    versions = ws.list_models(config.model.name)
    telemetry = {name: where for name, stage in config.stages.items()
                 if (where := telemetry_of(stage)) is not None}
    return ProjectStatus(rows, versions[0].ref if versions else None, operations, telemetry)


def operation_state(ws: Workspace, endpoint: str) -> str:
    """What is changing ``endpoint`` now, or what a killed command left unfinished; '' when
    neither."""
    holder = ws.lock_holder(lock_name(endpoint))
    if holder is not None:
        since = f" since {holder.since.isoformat(timespec='seconds')}" if holder.since else ""
        return f"in progress: {holder.holder}{since}"
    found = unfinished(ws, endpoint)
    if found is None:
        return ""
    return (f"unfinished {found.event.command} by {found.event.holder or found.audit.actor}, begun "
            f"{found.audit.time.isoformat(timespec='seconds')} (its process is gone): the next "
            f"deploy, promote or rollback of this endpoint undoes it first")
