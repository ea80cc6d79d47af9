"""Deployments of simulated online endpoints: ``.../onlineEndpoints/<ep>/deployments/<dep>``.

A PUT provisions for real in a background thread (an inference server started and awaited), as a
long-running operation: ``Creating``/``Updating`` → ``Succeeded``, or ``Failed`` with the tail of
the server's log in the operation's error. Replacing a deployment starts the new server first and
swaps it in only once it answers; if it fails, the previous server keeps serving (as Azure rolls
back) and the endpoint's traffic never changes. A server that dies later leaves the deployment
``Succeeded`` — the router answers 502/503 for it, like unhealthy instances on Azure.
"""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_azure.errors import DeploymentFailed
from mlops_azure.local import processes
from mlops_azure.testing import _sim_collector, _sim_endpoints_rules
from mlops_azure.testing._sim_endpoints_serving import (
    ServerSpec,
    SimDeployment,
    SimEndpoint,
    parse_duration_ms,
    start_server,
    stop_all,
    write_routes,
)
from mlops_azure.workspace import is_endpoint_name

if TYPE_CHECKING:
    from mlops_azure.testing._sim_endpoints import OnlineEndpointsSim, Response

_BUSY = ("Creating", "Updating", "Deleting")
_PROBE = {"failureThreshold": 30, "successThreshold": 1, "timeout": "PT2S", "period": "PT10S",
          "initialDelay": "PT10S"}
#: What Azure fills in when the PUT leaves it out (the SDK cannot read a deployment without
#: ``scaleSettings``).
_DEFAULTS: dict[str, Any] = {
    "scaleSettings": {"scaleType": "Default"},
    "requestSettings": {"requestTimeout": "PT5S", "maxConcurrentRequestsPerInstance": 1,
                        "maxQueueWait": "PT0.5S"},
    "livenessProbe": _PROBE, "readinessProbe": _PROBE, "egressPublicNetworkAccess": "Enabled",
}
#: Kubernetes deployments are read back with their container resources (the SDK needs them).
_K8S_DEFAULTS: dict[str, Any] = {
    "containerResourceRequirements": {"containerResourceRequests": {"cpu": "100m", "memory": "0.5Gi"},
                                      "containerResourceLimits": {}},
}
_JSON = {"content-type": "application/json"}
#: Lines of the server log quoted in a failed operation's message (all of it is in getLogs).
_QUOTED_LINES = 15


def _reply(body: Any, status: int = 200) -> Response:
    return status, dict(_JSON), json.dumps(body)


def _error(status: int, code: str, message: str) -> Response:
    return _reply({"error": {"code": code, "message": message}}, status)


def deployment_request(owner: OnlineEndpointsSim, endpoint: SimEndpoint, method: str, name: str,
                       rest: list[str], body: dict[str, Any]) -> Response | None:
    """Answer a request about deployment ``name`` of ``endpoint`` (``rest``: path after it)."""
    deployment = endpoint.deployments.get(name)
    if rest:
        action = rest[0].lower()
        if deployment is None:
            return _missing(endpoint, name)
        if method == "POST" and action == "getlogs":
            return _reply({"content": _logs(deployment, body)})
        if method == "GET" and action == "skus":
            return _reply({"value": []})
        return None
    if method == "GET":
        return _reply(deployment_body(deployment)) if deployment else _missing(endpoint, name)
    if method in ("PUT", "PATCH"):
        if method == "PATCH":
            if deployment is None:
                return _missing(endpoint, name)
            merged = json.loads(json.dumps(deployment.body))
            merged["properties"].update(body.get("properties") or {})
            if body.get("sku"):
                merged["sku"] = {**merged.get("sku", {}), **body["sku"]}
            body = merged
        return _put(owner, endpoint, name, body)
    if method == "DELETE":
        return _delete(owner, endpoint, name)
    return None


def _missing(endpoint: SimEndpoint, name: str) -> Response:
    return _error(404, "ResourceNotFound",
                  f"deployment '{name}' of online endpoint '{endpoint.name}' was not found")


def deployment_body(deployment: SimDeployment) -> dict[str, Any]:
    """The ARM resource of a deployment with its current provisioning state."""
    body: dict[str, Any] = json.loads(json.dumps(deployment.body))
    body["properties"]["provisioningState"] = deployment.state
    return body


def _logs(deployment: SimDeployment, body: dict[str, Any]) -> str:
    try:
        lines = max(1, int(body.get("tail") or 100))
    except (TypeError, ValueError):
        lines = 100
    if str(body.get("containerType") or "").lower() == "storageinitializer":
        return "storage-initializer: model and code are local folders; nothing was downloaded\n"
    return processes.tail(deployment.log_file, lines) if deployment.log_file else ""


def _put(owner: OnlineEndpointsSim, endpoint: SimEndpoint, name: str,
         body: dict[str, Any]) -> Response:
    if endpoint.state != "Succeeded":
        return _error(409, "Conflict", f"online endpoint '{endpoint.name}' is {endpoint.state}: "
                                       "deployments can be created once it has Succeeded")
    if not is_endpoint_name(name):
        return _error(400, "BadArgument", f"deployment name '{name}' is invalid: use 3-32 letters, "
                                          "digits and hyphens, starting with a letter")
    old = endpoint.deployments.get(name)
    if old is not None and old.state in _BUSY:
        return _error(409, "Conflict", f"deployment '{name}' is {old.state}: wait until that "
                                       "operation ends")
    props = dict(body.get("properties") or {})
    kind = str(props.get("endpointComputeType") or "Managed")
    wanted = "Kubernetes" if endpoint.is_kubernetes else "Managed"
    if kind.lower() != wanted.lower():
        return _error(400, "BadArgument", f"endpoint '{endpoint.name}' is a {wanted} online endpoint: "
                                          f"its deployments must be {wanted} deployments, not {kind}")
    sku = dict(body.get("sku") or {"name": "Default", "capacity": 1})
    rule = _sim_endpoints_rules.check_put(endpoint.name, name, props, sku,
                                          kubernetes=endpoint.is_kubernetes)
    if rule:
        return _error(400, "BadArgument", rule)
    spec = _server_spec(owner.sim, props, sku)
    if isinstance(spec, str):
        return _error(400, "BadArgument", spec)
    recording = _sim_collector.apply(owner.sim, endpoint.name, name, props, endpoint.folder / name)
    if recording:
        spec = dataclasses.replace(spec, env={**spec.env, **recording})
    stamp = owner._system_data()
    system = {**old.body["systemData"], "lastModifiedAt": stamp["lastModifiedAt"]} if old else stamp
    arm_body = {
        "id": f"{endpoint.body['id']}/deployments/{name}", "name": name,
        "type": "Microsoft.MachineLearningServices/workspaces/onlineEndpoints/deployments",
        "location": body.get("location") or endpoint.body["location"],
        "kind": wanted, "tags": body.get("tags") or {}, "sku": sku,
        "systemData": system,
        "properties": {**_DEFAULTS, **(_K8S_DEFAULTS if endpoint.is_kubernetes else {}), **props,
                       "appInsightsEnabled": bool(props.get("appInsightsEnabled", False)),
                       "endpointComputeType": wanted},
    }
    if old is None:
        deployment = SimDeployment(name=name, body=arm_body, folder=endpoint.folder / name)
        endpoint.deployments[name] = deployment
    else:
        deployment = old
        deployment.body, deployment.state = arm_body, "Updating"
    log_file = deployment.next_log()
    fault = owner._faults.pop((endpoint.name, name), None)
    what = f"deployment '{name}' of online endpoint '{endpoint.name}'"
    image = _sim_endpoints_rules.image_key(owner.sim, str(props.get("environmentId") or ""))

    def provision() -> None:
        try:
            _sim_endpoints_rules.check_quota(sku, owner.max_instances,
                                             kubernetes=endpoint.is_kubernetes)
            _build_image(owner, image)
            if owner._closing.wait(owner.provision_s):
                raise DeploymentFailed("the simulated service is shutting down")
            if fault is not None:
                log_file.parent.mkdir(parents=True, exist_ok=True)
                log_file.write_text(fault if fault.endswith("\n") else fault + "\n", encoding="utf-8")
                raise DeploymentFailed(f"{what} failed: its inference server did not start",
                                       processes.tail(log_file, _QUOTED_LINES))
            with owner._lock:
                owner._check_open()
            pid, port = start_server(spec, log_file, owner.provision_timeout_s, what, owner._pids)
        except _sim_endpoints_rules.OperationError:
            with owner._lock:
                deployment.state = "Failed"
            raise
        except DeploymentFailed as exc:
            with owner._lock:
                deployment.state = "Failed"
            raise DeploymentFailed(_failure_message(exc, what)) from exc
        with owner._lock:
            if owner._closed:
                processes.stop(pid)
                raise DeploymentFailed("the simulated service is shutting down")
            previous = deployment.pid
            deployment.pid, deployment.port, deployment.timeout_ms = pid, port, spec.timeout_ms
            deployment.token, deployment.workers = spec.token, spec.workers
            deployment.state = "Succeeded"
            write_routes(endpoint)
        if previous and previous != pid:
            stop_all([previous])  # after the swap: requests in flight on it finish
            owner._pids.discard(previous)

    return owner._lro(201, deployment_body(deployment), provision)


def _build_image(owner: OnlineEndpointsSim, image: str | None) -> None:
    """Wait while the deployment's environment image is built: ``image_build_s`` for the first
    deployment that needs it, as long as that build lasts for any other one started meanwhile,
    nothing once it exists (Azure reuses a built image)."""
    if image is None:
        return
    with owner._lock:
        built = owner.images.get(image)
        builder = built is None
        if builder:
            built = owner.images[image] = threading.Event()
    assert built is not None
    if builder:
        stopped = owner._closing.wait(owner.image_build_s)
        if stopped:
            with owner._lock:
                owner.images.pop(image, None)
            raise DeploymentFailed("the simulated service is shutting down")
        built.set()
        return
    while not built.wait(0.05):
        if owner._closing.is_set():
            raise DeploymentFailed("the simulated service is shutting down")


def _server_spec(sim: Any, props: dict[str, Any], sku: dict[str, Any]) -> ServerSpec | str:
    """What to run for a deployment PUT, or the first problem as a sentence."""
    code = props.get("codeConfiguration") or {}
    if not code.get("codeId") or not code.get("scoringScript"):
        return ("the simulated service serves a scoring script: set code_configuration "
                "(code and scoring_script) on the deployment")
    try:
        code_dir = Path(sim.resolve_code_dir(code["codeId"])).resolve()
    except Exception as exc:  # whatever the asset store raises means a bad reference
        return f"code asset '{code['codeId']}' cannot be resolved: {exc}"
    model = props.get("model")
    if model:
        try:
            model_dir = Path(sim.resolve_model_dir(model)).resolve()
        except Exception as exc:  # as above
            return f"model '{model}' cannot be resolved: {exc}"
    else:
        model_dir = code_dir
    capacity = sku.get("capacity") or 1
    if not isinstance(capacity, int) or capacity < 1:
        return f"instance count must be a whole number of at least 1, not {capacity!r}"
    env = {str(k): str(v) for k, v in (props.get("environmentVariables") or {}).items()}
    timeout_ms = parse_duration_ms((props.get("requestSettings") or {}).get("requestTimeout"))
    return ServerSpec(code_dir=code_dir, scoring_script=str(code["scoringScript"]),
                      model_dir=model_dir, workers=capacity, timeout_ms=timeout_ms, env=env)



def _failure_message(exc: DeploymentFailed, what: str) -> str:
    """Azure's sentence for a container that did not come up, the user's own exception when the
    log shows one, and the log tail (all of the log is in getLogs)."""
    text = str(exc)
    if not text.startswith(what):
        text = f"{what} failed: {text}"
    cause = _cause(exc.logs)
    if cause:
        text = f"{text}: {cause}"
    quoted = "\n".join(exc.logs.splitlines()[-_QUOTED_LINES:])
    hint = ". User container has crashed or terminated; use get_logs for the full server log."
    return f"{text}{hint}\n{quoted}" if quoted else f"{text}{hint}"


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Exit)\b.*")


def _cause(logs: str) -> str:
    """The exception the scoring script raised, as its last traceback line: the one just before
    the server's "direct cause" wrapper, else the last exception line that is not the server's."""
    lines = logs.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("The above exception was the direct cause"):
            found = [x for x in lines[:i] if _EXCEPTION_LINE.match(x)]
            if found:
                return found[-1]
    own = [x for x in lines if _EXCEPTION_LINE.match(x) and not x.startswith("azureml_inference")]
    return own[-1] if own else ""


def _delete(owner: OnlineEndpointsSim, endpoint: SimEndpoint, name: str) -> Response:
    deployment = endpoint.deployments.get(name)
    if deployment is None:
        return 204, dict(_JSON), ""
    live = int((endpoint.props.get("traffic") or {}).get(name, 0) or 0)
    mirrored = int((endpoint.props.get("mirrorTraffic") or {}).get(name, 0) or 0)
    if live or mirrored:
        what = f"{live} % of the live traffic" if live else f"{mirrored} % mirror traffic"
        return _error(400, "BadArgument",
                      f"deployment '{name}' of online endpoint '{endpoint.name}' takes {what}: "
                      "set its traffic to 0 on the endpoint before deleting it")
    if deployment.state in _BUSY:
        return _error(409, "Conflict", f"deployment '{name}' is {deployment.state}")
    deployment.state = "Deleting"

    def delete() -> None:
        stop_all([deployment.pid])
        with owner._lock:
            owner._forget(endpoint, deployment)

    return owner._lro(202, None, delete)
