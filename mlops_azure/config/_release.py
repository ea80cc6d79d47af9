"""``training:``, ``champion:``, ``stages:``, ``qa:`` and ``rollout:``: how models are
trained, judged and released."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from mlops_azure.config._base import _Strict
from mlops_azure.metrics import Direction, known_direction
from mlops_azure.rules import MAX_MANAGED_INSTANCES
from mlops_azure.workspace import is_endpoint_name

#: Default wait for an Azure deployment: "This deployment might take up to 15 minutes, depending
#: on whether the underlying environment or image is being built for the first time" ("Deploy and
#: score a machine learning model by using an online endpoint"), doubled for slow image builds.
AZURE_DEPLOYMENT_WAIT_S = 1800.0


class TrainingConfig(_Strict):
    pipeline: Path = Path("pipelines/training.yml")
    experiment: str = "training"
    #: Values for the pipeline's primitive inputs (hyper-parameters, holdout size).
    params: dict[str, int | float | str | bool] = Field(default_factory=dict)


class ChampionPolicy(_Strict):
    """When a candidate beats the champion: strictly better by both minimums.

    In ``mlops.yaml`` the metric defaults by ``model.task`` (``ProjectConfig`` fills it in).
    """

    #: A key of the evaluate step's metrics.
    metric: str = Field(min_length=1)
    #: Inferred for a metric of :data:`mlops_azure.metrics.DIRECTIONS`, where a contradicting one
    #: is refused; required for any other metric.
    direction: Direction = Field(None, validate_default=True)
    min_abs_improvement: float = Field(0.0, ge=0.0)
    min_rel_improvement: float = Field(0.0, ge=0.0)

    @field_validator("direction", mode="before")
    @classmethod
    def _direction_of_metric(cls, value: Any, info: ValidationInfo) -> Any:
        metric = info.data.get("metric")
        if not isinstance(metric, str):
            return value  # the metric itself is refused
        known = known_direction(metric)
        if value is None:
            if known is None:
                raise ValueError(f"metric '{metric}' has no known direction: write direction: "
                                 "minimize (lower is better) or maximize (higher is better)")
            return known
        if known is not None and value in ("minimize", "maximize") and value != known:
            better = "higher" if known == "maximize" else "lower"
            raise ValueError(f"'{value}' contradicts metric '{metric}', which is better when "
                             f"{better}: write direction: {known}, or leave direction out")
        return value


#: Printed when a stage says ``target: aci``.
ACI_NOTE = ("target 'aci' is read as 'managed': ACI web services exist only in the v1 SDK, and "
            "managed online endpoints are their documented successor")


class StageConfig(_Strict):
    """A release stage: the endpoint that serves it, what kind of target it is, what it runs."""

    endpoint: str
    target: Literal["local", "managed", "kubernetes", "aci"] = "local"
    requires_approval: bool = False
    instance_type: str | None = None
    #: Instances serving each deployment (locally: server worker processes).
    instance_count: int = Field(1, ge=1, le=64)
    request_timeout_ms: int = Field(5000, ge=100, le=180_000)
    #: The folder deployed as scoring code, and the entry script inside it.
    code: Path = Path("components")
    scoring_script: str = "score/score.py"
    environment: Path = Path("environments/inference.yml")
    #: Kubernetes targets: the attached AKS compute that hosts the endpoint.
    compute: str | None = None
    #: Longest wait for a deployment to be provisioned (see :attr:`deployment_wait_s`).
    deployment_timeout_s: float | None = Field(None, gt=0, le=86_400)
    #: Managed and Kubernetes targets: request logs, latency and failures go to the workspace's
    #: Application Insights. Local servers never send telemetry.
    app_insights_enabled: bool = True

    @model_validator(mode="after")
    def _managed_instance_limit(self) -> StageConfig:
        if self.kind == "managed" and self.instance_count > MAX_MANAGED_INSTANCES:
            raise ValueError(f"instance_count {self.instance_count}: a managed online deployment "
                             f"has at most {MAX_MANAGED_INSTANCES} instances (Azure ML's default "
                             "limit)")
        return self

    @property
    def deployment_wait_s(self) -> float:
        """How long deploy/promote wait for a new deployment: ``deployment_timeout_s`` when set,
        else 30 minutes on Azure - twice the 15 minutes Azure ML documents for a first deployment
        that builds its environment image - and, locally, 60 s or four request timeouts."""
        if self.deployment_timeout_s is not None:
            return self.deployment_timeout_s
        if self.kind == "local":
            return max(60.0, self.request_timeout_ms / 1000 * 4)
        return AZURE_DEPLOYMENT_WAIT_S

    @property
    def kind(self) -> Literal["local", "managed", "kubernetes"]:
        """The target kind, with ``aci`` read as ``managed`` (see :data:`ACI_NOTE`)."""
        return "managed" if self.target == "aci" else self.target

    @field_validator("endpoint")
    @classmethod
    def _endpoint_name(cls, value: str) -> str:
        if not is_endpoint_name(value):
            raise ValueError(
                f"'{value}' is not a valid endpoint name (3-32 characters: letters, digits and "
                "hyphens, starting with a letter)"
            )
        return value


class QaPolicy(_Strict):
    """Thresholds of the QA gate (``mlops gate qa``)."""

    #: Rows of the model's parity sample scored through the endpoint.
    parity_rows: int = Field(200, ge=1)
    #: |online - offline| <= abs + rel * |offline| for every row.
    parity_abs_tolerance: float = Field(1e-6, ge=0.0)
    parity_rel_tolerance: float = Field(1e-6, ge=0.0)
    #: Requests timed for the latency SLO.
    latency_requests: int = Field(100, ge=5)
    p50_ms: float = Field(100.0, gt=0)
    p95_ms: float = Field(250.0, gt=0)
    max_error_rate: float = Field(0.0, ge=0.0, le=1.0)


class RolloutPolicy(_Strict):
    """How ``mlops promote`` shifts traffic to a new deployment, and what stops it."""

    #: Traffic shares (%) of the new deployment, in order; the last must be 100.
    steps: list[int] = Field(default_factory=lambda: [10, 50, 100])
    warmup_requests: int = Field(20, ge=0)
    #: Requests sent to the new deployment after each step before the next one.
    requests_per_step: int = Field(50, ge=1)
    max_error_rate: float = Field(0.0, ge=0.0, le=1.0)
    p95_ms: float = Field(500.0, gt=0)
    #: Keep the previous deployment (at 0 %) so ``mlops rollback`` is instant.
    keep_previous: bool = True
    #: Seconds deploy / promote / rollback wait for another one changing the same endpoint
    #: before giving up (exit 1, naming the holder).
    lock_wait_s: float = Field(120.0, ge=0)

    @field_validator("steps")
    @classmethod
    def _steps_rise_to_100(cls, value: list[int]) -> list[int]:
        if not value or value[-1] != 100:
            raise ValueError("must end at 100")
        if any(not 0 < v <= 100 for v in value) or value != sorted(set(value)):
            raise ValueError(f"must rise strictly between 1 and 100 (got {value})")
        return value
