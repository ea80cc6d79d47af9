"""The values of the ``Workspace`` seam that describe serving: online endpoints, their
deployments and traffic, and batch deployments. ``mlops_azure.records`` and
``mlops_azure.workspace`` re-export them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class ServingDeployment:
    """A deployment behind an endpoint, the model version it serves and its traffic share (%)."""

    endpoint: str
    deployment: str
    model_name: str
    model_version: int
    traffic: int


class DeploymentState(enum.StrEnum):
    """Provisioning and health of a deployment, named as Azure ML names provisioning states.

    ``Unhealthy`` is a deployment that was provisioned but no longer answers (a crashed local
    process, an Azure deployment whose instances fail their probes): reported, never hidden.
    """

    CREATING = "Creating"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    UNHEALTHY = "Unhealthy"
    DELETING = "Deleting"


@dataclass(frozen=True)
class DeploymentSpec:
    """What a deployment runs: a model version, the scoring code and its environment, on what.

    ``code_dir`` is the folder deployed as the scoring code and ``scoring_script`` the entry
    script relative to it (Azure ML's ``CodeConfiguration``). ``instance_count`` instances serve
    it (locally: that many server worker processes).
    """

    model_name: str
    model_version: int
    code_dir: Path
    scoring_script: str
    environment: Path | None = None
    instance_type: str | None = None
    instance_count: int = 1
    request_timeout_ms: int = 5000
    environment_variables: Mapping[str, str] = field(default_factory=dict)
    #: Record each request and its predictions for drift monitoring (where the backend can).
    collect: bool = False
    #: Azure: send the deployment's request logs, latency and failures to the workspace's
    #: Application Insights. Local servers never send telemetry, whatever this says.
    app_insights_enabled: bool = True


@dataclass(frozen=True)
class Endpoint:
    """An online endpoint: one stable scoring URL, key auth, and traffic over its deployments.

    ``traffic`` maps deployment names to the share of live requests (%, summing to 100 when
    any is set); ``mirror_traffic`` to the share of requests copied to a deployment whose
    answers are discarded (shadow testing).
    """

    name: str
    scoring_uri: str
    kind: str
    state: str
    traffic: Mapping[str, int]
    mirror_traffic: Mapping[str, int]
    created_at: datetime
    auth_mode: str = "key"
    error: str = ""


@dataclass(frozen=True)
class Deployment:
    """A model version served behind an endpoint."""

    endpoint: str
    name: str
    model_name: str
    model_version: int
    state: DeploymentState
    created_at: datetime
    instance_type: str | None = None
    instance_count: int = 1
    error: str = ""

    @property
    def model_ref(self) -> str:
        return f"{self.model_name}:{self.model_version}"


@dataclass(frozen=True)
class EndpointKeys:
    """The two auth keys of an endpoint (either is accepted; rotate one while using the other)."""

    primary: str
    secondary: str

    def __repr__(self) -> str:  # keys never end up in logs or tracebacks by accident
        return "EndpointKeys(primary='***', secondary='***')"


@dataclass(frozen=True)
class TrafficCounts:
    """Answers one deployment gave to client requests (probes excluded), cumulative since the
    endpoint's front started counting at ``started_at``. ``latency_counts[i]`` counts answers
    that took at most ``latency_bounds_ms[i]`` ms (and more than the bound before); its one
    extra last entry counts slower ones."""

    requests: int = 0
    status_2xx: int = 0
    status_4xx: int = 0
    status_5xx: int = 0
    latency_bounds_ms: tuple[float, ...] = ()
    latency_counts: tuple[int, ...] = ()
    started_at: datetime | None = None

    @property
    def failed(self) -> int:
        """Answers that were server errors (the deployment's, or the front's 502/504 for it)."""
        return self.status_5xx

    def since(self, earlier: TrafficCounts) -> TrafficCounts:
        """The answers counted after ``earlier`` was read (all of these when counting restarted)."""
        if earlier.started_at != self.started_at or earlier.requests > self.requests:
            return self
        return TrafficCounts(
            self.requests - earlier.requests, self.status_2xx - earlier.status_2xx,
            self.status_4xx - earlier.status_4xx, self.status_5xx - earlier.status_5xx,
            self.latency_bounds_ms,
            tuple(a - b for a, b in zip(self.latency_counts, earlier.latency_counts, strict=True)),
            self.started_at)

    def p95_ms(self) -> float | None:
        """The 95th percentile latency, as the upper bound of the bucket holding it (``inf``:
        slower than the last bound); None without answers."""
        total = sum(self.latency_counts)
        if total == 0:
            return None
        seen = 0
        for i, count in enumerate(self.latency_counts):
            seen += count
            if seen >= 0.95 * total:
                return self.latency_bounds_ms[i] if i < len(self.latency_bounds_ms) else float("inf")
        return float("inf")


@dataclass(frozen=True)
class BatchDeploymentSpec:
    """A batch endpoint's deployment of one model version: the batch scoring script
    (``init()`` / ``run(mini_batch)``), its environment, and how the job splits and retries."""

    endpoint: str
    deployment: str
    model_name: str
    model_version: int
    code_dir: Path
    scoring_script: str
    environment: Path | None
    mini_batch_size: int = 1
    output_file_name: str = "predictions.csv"
    instance_count: int = 1
    max_concurrency_per_instance: int = 2
    max_retries: int = 3
    timeout_s: int = 300
    #: Files that may fail before the job fails (-1: any number).
    error_threshold: int = 0
