"""Online endpoints of the simulated Azure ML service, served by real local processes.

``OnlineEndpointsSim`` answers the ARM requests the ``azure-ai-ml`` SDK sends for managed and
Kubernetes online endpoints and deployments, and backs each with real processes on 127.0.0.1
(see :mod:`._sim_endpoints_serving`): ``scoringUri`` is ``http://127.0.0.1:<router port>/score``,
so ``ml_client.online_endpoints.invoke`` (and any HTTP client holding a key) scores for real.

Long-running operations behave as on Azure: creating an endpoint or a deployment answers ``201``
with an ``Azure-AsyncOperation`` header; deletes answer ``202``; the status document
(``.../locations/<loc>/mfeOperationsStatus/<id>``) says ``InProgress`` until the work done in a
background thread ends ``Succeeded`` or ``Failed`` (with an ARM error). Updating an existing
endpoint (traffic, mirror traffic, tags) is answered synchronously with ``200`` and the body.
"""

from __future__ import annotations

import json
import secrets
import shutil
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from mlops_azure.errors import DeploymentFailed, UserInputError
from mlops_azure.local import processes
from mlops_azure.testing._sim_endpoints_deploy import deployment_body, deployment_request
from mlops_azure.testing._sim_endpoints_serving import (
    SimDeployment,
    SimEndpoint,
    ensure_router,
    stop_all,
    write_routes,
)
from mlops_azure.workspace import check_traffic, is_endpoint_name

Response = tuple[int, dict[str, str], str]
_JSON = {"content-type": "application/json"}
_BUSY = ("Creating", "Updating", "Deleting")


def _reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return status, {**_JSON, **(headers or {})}, json.dumps(body)


def _error(status: int, code: str, message: str) -> Response:
    return _reply({"error": {"code": code, "message": message}}, status)


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class OnlineEndpointsSim:
    """The ``onlineEndpoints`` part of a simulated workspace (see the module docstring).

    ``sim`` provides ``root``, ``location``, ``subscription``, ``resource_group``, ``workspace``,
    ``ws_path``, ``arm``, ``resolve_model_dir(arm_id)``, ``resolve_code_dir(arm_id)`` and
    ``get_compute(name)``.
    """

    #: Longest wait for a deployment's server to answer ``GET /`` before it is ``Failed``.
    provision_timeout_s: float = 120.0
    #: Seconds the SDK is told to wait between polls (``Retry-After``); small keeps tests fast.
    poll_after_s: float = 0.2
    #: Seconds a deployment stays ``Creating``/``Updating`` before its server starts (Azure
    #: provisions VMs or pods first); a test sets it to model a slow provisioning.
    provision_s: float = 0.0
    #: Seconds the first deployment using an environment spends building its image; later ones
    #: reuse the image (see :mod:`._sim_endpoints_deploy`).
    image_build_s: float = 0.0
    #: Instances one managed deployment may have (Azure's default limit, raised on request).
    max_instances: int = 50

    def __init__(self, sim: Any) -> None:
        self.sim = sim
        self.root = Path(sim.root) / "endpoints"
        self.endpoints: dict[str, SimEndpoint] = {}
        self._ops: dict[str, dict[str, Any]] = {}
        self._faults: dict[tuple[str, str], str] = {}
        self._pids: set[int] = set()
        self._threads: list[threading.Thread] = []
        self._lock = threading.RLock()
        self._closed = False
        self._closing = threading.Event()  # ends the waits of provisioning phases at close()
        #: Environment images built so far (by image key), and the one being built.
        self.images: dict[str, threading.Event] = {}
        self._prefix = f"{sim.ws_path}/onlineEndpoints".lower()

    # -- public ----------------------------------------------------------------------------------
    def route(self, method: str, path: str, url: str, body: dict[str, Any] | None) -> Response | None:
        """Answer one request, or None when it is not about online endpoints."""
        del url  # routing is on the path; the api-version differs per operation and is ignored
        if "/mfeoperationsstatus/" in path.lower():
            return self._operation_status(path.rsplit("/", 1)[-1])
        if not path.lower().startswith(self._prefix):
            return None
        parts = [unquote(p) for p in path[len(self._prefix):].split("/") if p]
        body = body if isinstance(body, dict) else {}
        with self._lock:
            return self._dispatch(method.upper(), parts, body)

    def fail_deployment(self, endpoint: str, deployment: str,
                        logs: str = "Traceback (most recent call last):\n"
                                    "RuntimeError: simulated failure in init()") -> None:
        """Make the next provisioning of ``endpoint``/``deployment`` end ``Failed``: no server
        starts, the operation reports the failure and ``getLogs`` returns ``logs``."""
        with self._lock:
            self._faults[(endpoint, deployment)] = logs

    def crash_deployment(self, endpoint: str, deployment: str) -> None:
        """Kill the deployment's server, as when its instances die: it stays ``Succeeded`` in
        ARM (Azure reports unhealthy instances, not a provisioning change) and its requests get
        502/503 from the endpoint."""
        with self._lock:
            found = self.endpoints[endpoint].deployments[deployment]
            pid = found.pid
        processes.stop(pid, grace_s=2.0)

    def flush_collected(self) -> int:
        """Write what deployments with a data collector recorded to the workspace blob store, as
        Azure's collector does shortly after each request; returns the number of requests."""
        from mlops_azure.testing import _sim_collector

        with self._lock:
            found = [(e.name, d.name, e.folder / d.name) for e in self.endpoints.values()
                     for d in e.deployments.values()]
        return sum(_sim_collector.flush(self.sim, *where) for where in found)

    def close(self) -> None:
        """Stop every router and inference server this simulator started (by process group)."""
        with self._lock:
            self._closed = True
            self._closing.set()
            pids = list(self._pids)
        stop_all(list(pids))  # also ends servers still starting, so their threads finish quickly
        for thread in list(self._threads):
            thread.join(timeout=30)
        with self._lock:
            stop_all(list(self._pids))
            self._pids.clear()

    # -- routing ---------------------------------------------------------------------------------
    def _dispatch(self, method: str, parts: list[str], body: dict[str, Any]) -> Response | None:
        if not parts:
            if method == "GET":
                return _reply({"value": [self._endpoint_body(e) for e in self.endpoints.values()]})
            return None
        name, rest = parts[0], parts[1:]
        if not rest:
            handlers: dict[str, Callable[[], Response]] = {
                "PUT": lambda: self._put_endpoint(name, body, patch=False),
                "PATCH": lambda: self._put_endpoint(name, body, patch=True),
                "GET": lambda: self._get_endpoint(name),
                "DELETE": lambda: self._delete_endpoint(name),
            }
            handler = handlers.get(method)
            return handler() if handler else None
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            return _error(404, "ResourceNotFound", f"online endpoint '{name}' was not found")
        if method == "POST" and len(rest) == 1:
            return self._endpoint_action(endpoint, rest[0].lower(), body)
        if rest[0].lower() != "deployments":
            return None
        if len(rest) == 1:
            return _reply({"value": [deployment_body(d) for d in endpoint.deployments.values()]}) \
                if method == "GET" else None
        return deployment_request(self, endpoint, method, rest[1], rest[2:], body)

    # -- operations (LRO) ------------------------------------------------------------------------
    def _lro(self, status: int, body: Any, work: Callable[[], None]) -> Response:
        """Start ``work`` in a thread as a long-running operation; answer ``status`` with the
        ``Azure-AsyncOperation`` URL the SDK polls. ``work`` raising ``DeploymentFailed`` (or
        anything) ends the operation ``Failed`` with that message."""
        op_id = uuid.uuid4().hex
        self._ops[op_id] = {"id": op_id, "name": op_id, "status": "InProgress", "startTime": _now()}

        def run() -> None:
            try:
                work()
                outcome: dict[str, Any] = {"status": "Succeeded"}
            except DeploymentFailed as exc:
                outcome = {"status": "Failed", "error": {"code": getattr(exc, "code", None)
                                                         or "DeploymentFailed",
                                                         "message": str(exc)}}
            except Exception as exc:  # a simulator bug must fail the LRO, not hang the poller
                outcome = {"status": "Failed", "error": {"code": "InternalServerError",
                                                         "message": f"{type(exc).__name__}: {exc}"}}
            with self._lock:
                self._ops[op_id].update(outcome, endTime=_now())

        thread = threading.Thread(target=run, name=f"sim-endpoint-op-{op_id[:8]}", daemon=True)
        self._threads.append(thread)
        thread.start()
        sim = self.sim
        status_url = (f"{sim.arm}/subscriptions/{sim.subscription}/providers/"
                      f"Microsoft.MachineLearningServices/locations/{sim.location}/"
                      f"mfeOperationsStatus/{op_id}")
        # 202 answers have their Retry-After parsed as an int by the SDK's generated client.
        retry = f"{self.poll_after_s:g}" if status != 202 else "1"
        headers = {"Azure-AsyncOperation": status_url, "Retry-After": retry}
        return status, {**_JSON, **headers}, json.dumps(body) if body is not None else ""

    def _operation_status(self, op_id: str) -> Response:
        with self._lock:
            op = self._ops.get(op_id)
            if op is None:
                return _error(404, "ResourceNotFound", f"operation '{op_id}' was not found")
            headers = {"Retry-After": f"{self.poll_after_s:g}"} if op["status"] == "InProgress" else {}
            return _reply(dict(op), 200, headers)

    # -- endpoints -------------------------------------------------------------------------------
    def _endpoint_body(self, endpoint: SimEndpoint) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(json.dumps(endpoint.body))
        body["properties"]["provisioningState"] = endpoint.state
        return body

    def _get_endpoint(self, name: str) -> Response:
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            return _error(404, "ResourceNotFound", f"online endpoint '{name}' was not found")
        return _reply(self._endpoint_body(endpoint))

    def _check_endpoint(self, name: str, props: dict[str, Any],
                        existing: SimEndpoint | None) -> str | None:
        """The first Azure rule the endpoint properties break, or None."""
        if not is_endpoint_name(name):
            return (f"endpoint name '{name}' is invalid: use 3-32 letters, digits and hyphens, "
                    "starting with a letter and not ending with a hyphen")
        auth = str(props.get("authMode") or "Key")
        if auth.lower() != "key":
            return (f"authMode '{auth}' is not supported by the simulated service: only key "
                    "authentication ('Key') is modelled; use auth_mode='key'")
        compute = props.get("compute")
        if existing is not None and (compute or None) != (existing.props.get("compute") or None):
            return "the compute of an online endpoint cannot be changed; create a new endpoint"
        if compute:
            short = str(compute).rstrip("/").rsplit("/", 1)[-1]
            found = self.sim.get_compute(short)
            if found is None:
                return f"compute '{short}' does not exist in workspace '{self.sim.workspace}'"
            kind = (found.get("properties") or {}).get("computeType")
            if kind != "Kubernetes":
                return (f"compute '{short}' is {kind}, not an attached Kubernetes cluster: "
                        "Kubernetes online endpoints need a Kubernetes compute")
            if any(int(v or 0) > 0 for v in (props.get("mirrorTraffic") or {}).values()):
                return "mirror traffic is not supported for Kubernetes online endpoints"
        traffic, mirror = props.get("traffic") or {}, props.get("mirrorTraffic") or {}
        states = {n: self._traffic_state(existing, n, traffic) for n in existing.deployments} \
            if existing else {}
        try:
            check_traffic(name, states, traffic, mirror)
        except UserInputError as exc:
            return str(exc)
        return None

    @staticmethod
    def _traffic_state(endpoint: SimEndpoint, name: str, traffic: dict[str, Any]) -> str:
        """The state traffic rules see: a deployment whose update failed still runs its previous
        server (Azure rolls back), so it may keep - not raise - the share it has."""
        deployment = endpoint.deployments[name]
        kept = (endpoint.props.get("traffic") or {}).get(name, 0)
        if deployment.state == "Failed" and deployment.pid and traffic.get(name, 0) <= kept:
            return "Succeeded"
        return deployment.state

    def _put_endpoint(self, name: str, body: dict[str, Any], *, patch: bool) -> Response:
        existing = self.endpoints.get(name)
        if existing is None and patch:
            return _error(404, "ResourceNotFound", f"online endpoint '{name}' was not found")
        if existing is not None and existing.state in _BUSY:
            return _error(409, "Conflict", f"online endpoint '{name}' is {existing.state}: "
                                           "wait until that operation ends")
        props = dict(body.get("properties") or {})
        if existing is not None and patch:
            props = {**existing.props, **props}
        problem = self._check_endpoint(name, props, existing)
        if problem:
            return _error(400, "BadArgument", problem)
        if existing is not None:
            return self._update_endpoint(existing, body, props)
        folder = self.root / name
        shutil.rmtree(folder, ignore_errors=True)  # left by an earlier endpoint of that name
        folder.mkdir(parents=True)
        port = processes.free_port()
        arm_id = f"{self.sim.ws_path}/onlineEndpoints/{name}"
        endpoint = SimEndpoint(name=name, folder=folder, port=port,
                               keys=[secrets.token_urlsafe(32), secrets.token_urlsafe(32)], body={
            "id": arm_id, "name": name,
            "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints",
            "location": body.get("location") or self.sim.location,
            "kind": "Kubernetes" if props.get("compute") else "Managed",
            "tags": body.get("tags") or {},
            "identity": self._identity(body.get("identity")),
            "systemData": self._system_data(),
            "properties": {**props, "authMode": "Key", "traffic": props.get("traffic") or {},
                           "mirrorTraffic": props.get("mirrorTraffic") or {},
                           "scoringUri": f"http://127.0.0.1:{port}/score",
                           "swaggerUri": f"http://127.0.0.1:{port}/swagger.json",
                           "publicNetworkAccess": props.get("publicNetworkAccess") or "Enabled",
                           "properties": props.get("properties") or {}},
        })
        self.endpoints[name] = endpoint
        return self._provision_endpoint(endpoint, 201)

    def _provision_endpoint(self, endpoint: SimEndpoint, status: int) -> Response:
        """Start the router as a long-running operation (also the retry of a Failed endpoint)."""
        endpoint.state = "Creating" if status == 201 else "Updating"

        def provision() -> None:
            try:
                with self._lock:
                    self._check_open()
                    ensure_router(endpoint)
                    if endpoint.router_pid:
                        self._pids.add(endpoint.router_pid)
                    endpoint.state = "Succeeded"
            except BaseException:
                endpoint.state = "Failed"
                raise

        return self._lro(status, self._endpoint_body(endpoint), provision)

    def _update_endpoint(self, endpoint: SimEndpoint, body: dict[str, Any],
                         props: dict[str, Any]) -> Response:
        """Traffic, mirror traffic, tags, description: applied at once (the router re-reads its
        table), answered 200 with the body as Azure does for such updates. A Failed endpoint
        is provisioned again instead (200 + ``Azure-AsyncOperation``)."""
        self._apply_update(endpoint, body, props)
        if endpoint.state == "Failed":
            return self._provision_endpoint(endpoint, 200)
        try:
            ensure_router(endpoint)  # restarts a router that died, on the same port
        except DeploymentFailed as exc:
            endpoint.state = "Failed"
            return _error(500, "InternalServerError", f"the endpoint's router did not restart: {exc}")
        if endpoint.router_pid:
            self._pids.add(endpoint.router_pid)
        write_routes(endpoint)
        return _reply(self._endpoint_body(endpoint))

    @staticmethod
    def _apply_update(endpoint: SimEndpoint, body: dict[str, Any], props: dict[str, Any]) -> None:
        for key in ("traffic", "mirrorTraffic"):
            endpoint.props[key] = {k: int(v) for k, v in (props.get(key) or {}).items() if int(v)}
        for key in ("description", "properties", "publicNetworkAccess"):
            if key in props:
                endpoint.props[key] = props[key]
        if "tags" in body:
            endpoint.body["tags"] = body["tags"] or {}
        endpoint.body["systemData"]["lastModifiedAt"] = _now()

    def _delete_endpoint(self, name: str) -> Response:
        endpoint = self.endpoints.get(name)
        if endpoint is None:
            return _reply(None, 204)  # ARM: deleting what is not there succeeds with 204
        if endpoint.state in _BUSY:
            return _error(409, "Conflict", f"online endpoint '{name}' is {endpoint.state}")
        endpoint.state = "Deleting"

        def delete() -> None:
            stop_all([d.pid for d in endpoint.deployments.values()] + [endpoint.router_pid])
            with self._lock:
                self.endpoints.pop(name, None)

        return self._lro(202, None, delete)

    def _endpoint_action(self, endpoint: SimEndpoint, action: str, body: dict[str, Any]) -> Response:
        if action == "listkeys":
            return _reply({"primaryKey": endpoint.keys[0], "secondaryKey": endpoint.keys[1]})
        if action == "regeneratekeys":
            which = str(body.get("keyType") or "Primary").lower()
            if which not in ("primary", "secondary"):
                return _error(400, "BadArgument", "keyType must be 'Primary' or 'Secondary'")
            index = 0 if which == "primary" else 1
            # azure-ai-ml sends the current key as keyValue and expects a new one: only a
            # different value is taken as the key to set.
            wanted = str(body.get("keyValue") or "")
            endpoint.keys[index] = wanted if wanted and wanted != endpoint.keys[index] \
                else secrets.token_urlsafe(32)
            write_routes(endpoint)
            return _reply(None, 200)
        if action == "token":
            return _error(400, "BadArgument", "endpoint tokens (AMLToken) are not modelled by the "
                                              "simulated service: the endpoint uses key authentication")
        return _error(404, "ResourceNotFound", f"no action '{action}' on online endpoints")

    # -- helpers for the deployments module ------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise DeploymentFailed("the simulated service is shutting down")

    def _identity(self, identity: Any) -> dict[str, Any]:
        found = dict(identity) if isinstance(identity, dict) else {"type": "SystemAssigned"}
        if "SystemAssigned" in str(found.get("type")):
            found.setdefault("principalId", str(uuid.uuid4()))
            found.setdefault("tenantId", "11111111-1111-1111-1111-111111111111")
        return found

    def _system_data(self) -> dict[str, str]:
        stamp = _now()
        return {"createdAt": stamp, "createdBy": "tester@example.com", "createdByType": "User",
                "lastModifiedAt": stamp, "lastModifiedBy": "tester@example.com",
                "lastModifiedByType": "User"}

    def _forget(self, endpoint: SimEndpoint, deployment: SimDeployment) -> None:
        endpoint.deployments.pop(deployment.name, None)
        if endpoint.name in self.endpoints:
            write_routes(endpoint)


__all__ = ["OnlineEndpointsSim", "SimDeployment", "SimEndpoint"]
