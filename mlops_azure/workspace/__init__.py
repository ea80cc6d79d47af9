"""The one seam between mlops and a backend: the ``Workspace`` and its services.

Everything that touches stored state goes through a ``Workspace``, one small interface per
concern: ``ws.data`` (:class:`DataAssets`), ``ws.jobs`` (:class:`Jobs`), ``ws.models``
(:class:`ModelRegistry`), ``ws.endpoints`` (:class:`OnlineEndpoints`), ``ws.schedules``
(:class:`Schedules`), ``ws.locks`` (:class:`Locks`), ``ws.events`` (:class:`AuditTrail`), and the
optional ``ws.live_traffic``, ``ws.batch``, ``ws.monitors`` and ``ws.infrastructure`` (None where a
backend has no such service). The embedded implementation lives in ``mlops_azure.local``; the
Azure ML one in ``mlops_azure.azure``. ``mlops_azure.lifecycle`` only ever sees these interfaces,
so a gate or a promotion is written once and behaves the same on both; the same contract tests
run against each. The values they speak live in ``records`` and ``records_serving``, the rules
both backends enforce in ``rules``; all are re-exported here.
"""

from mlops_azure.records import (
    AuditEvent,
    BatchScoringRun,
    DataAsset,
    DriftMonitor,
    InputValue,
    Job,
    JobEvent,
    JobStatus,
    Lineage,
    LockHolder,
    ModelVersion,
    PipelineSubmission,
    ProgressCallback,
    Schedule,
    ScheduleTrigger,
    StepRun,
)
from mlops_azure.records_serving import (
    BatchDeploymentSpec,
    Deployment,
    DeploymentSpec,
    DeploymentState,
    Endpoint,
    EndpointKeys,
    ServingDeployment,
    TrafficCounts,
)
from mlops_azure.records_tuning import ParamValue, Study, Trial, TrialState
from mlops_azure.rules import (
    ASSET_NAME,
    ENDPOINT_NAME,
    MAX_MIRROR,
    check_endpoint_name,
    check_traffic,
    is_asset_name,
    is_endpoint_name,
)
from mlops_azure.workspace._coordination import AuditTrail, Locks
from mlops_azure.workspace._data import DataAssets
from mlops_azure.workspace._endpoints import LiveTraffic, OnlineEndpoints
from mlops_azure.workspace._jobs import Jobs
from mlops_azure.workspace._models import ModelRegistry
from mlops_azure.workspace._schedules import Schedules
from mlops_azure.workspace._services import BatchEndpoints, DriftMonitors, Infrastructure
from mlops_azure.workspace._workspace import Workspace

__all__ = [
    "ASSET_NAME",
    "ENDPOINT_NAME",
    "MAX_MIRROR",
    "AuditEvent",
    "AuditTrail",
    "BatchDeploymentSpec",
    "BatchEndpoints",
    "BatchScoringRun",
    "DataAsset",
    "DataAssets",
    "Deployment",
    "DeploymentSpec",
    "DeploymentState",
    "DriftMonitor",
    "DriftMonitors",
    "Endpoint",
    "EndpointKeys",
    "Infrastructure",
    "InputValue",
    "Job",
    "JobEvent",
    "JobStatus",
    "Jobs",
    "Lineage",
    "LiveTraffic",
    "LockHolder",
    "Locks",
    "ModelRegistry",
    "ModelVersion",
    "OnlineEndpoints",
    "ParamValue",
    "PipelineSubmission",
    "ProgressCallback",
    "Schedule",
    "ScheduleTrigger",
    "Schedules",
    "ServingDeployment",
    "StepRun",
    "Study",
    "TrafficCounts",
    "Trial",
    "TrialState",
    "Workspace",
    "check_endpoint_name",
    "check_traffic",
    "is_asset_name",
    "is_endpoint_name",
]
