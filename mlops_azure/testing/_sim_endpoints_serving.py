"""The processes behind simulated online endpoints: one router per endpoint, one
``azureml-inference-server-http`` per deployment, all bound to 127.0.0.1.

The router is the embedded workspace's (:mod:`mlops_azure.local.router`) and reads the same
``routes.json`` (keys only as SHA-256), so a simulated endpoint scores exactly like a local one.
Layout: ``<sim.root>/endpoints/<endpoint>/{routes.json, router.log, <deployment>/server-<n>.log}``;
every provisioning attempt gets its own log, so a failed update keeps the log of the attempt that
failed while the previous server keeps serving.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_azure._files import atomic_write
from mlops_azure.errors import DeploymentFailed
from mlops_azure.local import processes

ROUTER_MARKER = "mlops_azure.local.router"
#: Azure ML's default request timeout of an online deployment (request_settings.request_timeout_ms).
DEFAULT_TIMEOUT_MS = 5000
_ISO_DURATION = re.compile(r"P(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>[\d.]+)S)?)?",
                           re.IGNORECASE)


@dataclass
class ServerSpec:
    """What one inference server runs, resolved from a deployment PUT body."""

    code_dir: Path
    scoring_script: str
    model_dir: Path
    workers: int
    timeout_ms: int
    env: dict[str, str]
    #: The server answers only requests carrying it (the router sends it).
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))


@dataclass
class SimDeployment:
    """A deployment as the simulator keeps it. ``body`` is the ARM resource served to GETs; ``pid``
    and ``port`` are those of the server that serves now (kept through a failed update)."""

    name: str
    body: dict[str, Any]
    folder: Path
    state: str = "Creating"
    pid: int | None = None
    port: int | None = None
    timeout_ms: int = DEFAULT_TIMEOUT_MS
    token: str = ""
    workers: int = 1
    log_file: Path | None = None
    attempts: int = 0

    def next_log(self) -> Path:
        """A fresh log file for the next provisioning attempt."""
        self.attempts += 1
        self.log_file = self.folder / f"server-{self.attempts}.log"
        return self.log_file


@dataclass
class SimEndpoint:
    """An endpoint: its ARM body, keys, router and deployments."""

    name: str
    body: dict[str, Any]
    folder: Path
    keys: list[str]
    port: int
    state: str = "Creating"
    router_pid: int | None = None
    deployments: dict[str, SimDeployment] = field(default_factory=dict)

    @property
    def props(self) -> dict[str, Any]:
        """``body["properties"]``."""
        props: dict[str, Any] = self.body["properties"]
        return props

    @property
    def is_kubernetes(self) -> bool:
        """Kubernetes endpoints name the attached compute they run on."""
        return bool(self.props.get("compute"))


def parse_duration_ms(value: object, default: int = DEFAULT_TIMEOUT_MS) -> int:
    """Milliseconds in an ISO-8601 duration such as ``PT5S`` / ``PT0.5S`` (the SDK's wire form of
    ``request_timeout_ms``); ``default`` when absent or unreadable."""
    if not isinstance(value, str):
        return default
    match = _ISO_DURATION.fullmatch(value.strip())
    if match is None or not any(match.groupdict().values()):
        return default
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    seconds = parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]
    return max(1, int(seconds * 1000))


def write_routes(endpoint: SimEndpoint) -> None:
    """Rewrite the router's table (atomically, 0600): deployments with a server, live and mirror
    traffic, key hashes. The router re-reads it on the next request."""
    served = {n: d for n, d in endpoint.deployments.items() if d.port is not None}
    props = endpoint.props
    routes = {
        "key_sha256": [hashlib.sha256(k.encode()).hexdigest() for k in endpoint.keys],
        "ports": {n: d.port for n, d in served.items()},
        "traffic": {n: int(v) for n, v in (props.get("traffic") or {}).items() if n in served},
        "mirror": {n: int(v) for n, v in (props.get("mirrorTraffic") or {}).items() if n in served},
        "timeout_s": max((d.timeout_ms for d in served.values()), default=DEFAULT_TIMEOUT_MS) / 1000.0,
        "timeouts_s": {n: d.timeout_ms / 1000.0 for n, d in served.items()},
        "workers": {n: d.workers for n, d in served.items()},
        "tokens": {n: d.token for n, d in served.items() if d.token},
    }
    atomic_write(endpoint.folder / "routes.json", json.dumps(routes, indent=1).encode())


def ensure_router(endpoint: SimEndpoint) -> None:
    """Start the endpoint's router on its port unless it already runs (a restart after it died
    keeps the port, so ``scoringUri`` never changes)."""
    if processes.alive(endpoint.router_pid, ROUTER_MARKER):
        return
    write_routes(endpoint)
    pid, port = processes.start_router(endpoint.folder / "routes.json", endpoint.port,
                                       endpoint.folder / "router.log")
    endpoint.router_pid, endpoint.port = pid, port


def start_server(spec: ServerSpec, log_file: Path, timeout_s: float, what: str,
                 started: set[int]) -> tuple[int, int]:
    """Start an inference server for ``spec`` and wait until it answers; (pid, port). Its pid is
    added to ``started`` at once so a closing simulator can stop it mid-start.
    ``DeploymentFailed`` (with the log tail) when it exits or stays silent."""
    port = processes.free_port()
    pid = processes.start_inference_server(
        code_dir=spec.code_dir, scoring_script=spec.scoring_script, model_dir=spec.model_dir,
        port=port, workers=spec.workers, timeout_ms=spec.timeout_ms, log_file=log_file,
        extra_env=spec.env, token=spec.token)
    started.add(pid)
    try:
        processes.wait_until_healthy(pid, port, log_file, timeout_s, what, spec.token)
    except DeploymentFailed:
        processes.stop(pid)
        raise
    return pid, port


def stop_all(pids: list[int | None]) -> None:
    """Stop these process groups in parallel (each may take a graceful moment)."""
    live = [p for p in pids if p]
    if not live:
        return
    with ThreadPoolExecutor(max_workers=min(8, len(live))) as pool:
        list(pool.map(processes.stop, live))
