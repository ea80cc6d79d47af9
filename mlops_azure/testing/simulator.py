"""A simulated Azure ML workspace that the real ``azure-ai-ml`` SDK drives, offline.

``SimulatedAzureML`` intercepts every HTTPS request of this process with ``responses`` (the SDK and
azure-storage-blob both send through ``requests``) and answers like Azure Resource Manager and the
Azure ML services would, from state it keeps in memory. Routing is on the URL path; the
``api-version`` is ignored. What the service would store in blob storage goes to a real blob
service — Azurite — and plain-HTTP traffic to 127.0.0.1 passes through untouched, so Azurite and
the local processes behind simulated endpoints are reached for real. Nothing else leaves the
process: an unmodelled HTTPS request is answered 404 and recorded.

Jobs run for real (``mlops_azure.execution``), online deployments serve for real
(``azureml-inference-server-http`` on 127.0.0.1). Faults can be injected; every request is kept in
``calls`` for assertions. See docs/simulated-azure-ml.md.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

ARM = "https://management.azure.com"
Response = tuple[int, dict[str, str], str]
JSON = {"content-type": "application/json"}


@dataclass(frozen=True)
class RecordedCall:
    """One request the simulator answered (or let through to 127.0.0.1)."""

    method: str
    host: str
    path: str
    query: dict[str, str]
    body: Any
    status: int


@dataclass
class Request:
    """A request as the handlers see it; ``rel`` is the path below the workspace (or None)."""

    method: str
    url: str
    host: str
    path: str
    rel: str | None
    query: dict[str, str]
    body: Any
    headers: dict[str, str]


@dataclass
class _Fault:
    method: str
    pattern: re.Pattern[str]
    status: int
    times: int
    retry_after: float | None
    code: str
    message: str
    storage: bool = False


#: Azure Storage's own error codes and messages ("Blob Storage error codes",
#: https://learn.microsoft.com/rest/api/storageservices/blob-service-error-codes): a 403 on blob
#: data for an identity without a Storage Blob Data role is AuthorizationPermissionMismatch.
STORAGE_ERRORS = {
    403: ("AuthorizationPermissionMismatch",
          "This request is not authorized to perform this operation using this permission."),
    404: ("BlobNotFound", "The specified blob does not exist."),
    429: ("ServerBusy", "The server is busy."),
    500: ("InternalError", "The server encountered an internal error. Please retry the request."),
    503: ("ServerBusy", "The server is currently unable to receive requests. Please retry your "
                        "request."),
}


def now_iso() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return status, {**JSON, **(headers or {})}, json.dumps(body)


def arm_error(status: int, code: str, message: str,
              headers: dict[str, str] | None = None) -> Response:
    return reply({"error": {"code": code, "message": message}}, status, headers)


def storage_error(status: int, code: str, message: str,
                  headers: dict[str, str] | None = None) -> Response:
    """An error as Azure Storage sends it: an XML ``<Error>`` body and ``x-ms-error-code`` (not
    ARM's JSON), which azure-storage-blob turns into ``HttpResponseError.error_code``."""
    request_id = str(uuid.uuid4())
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f0Z")
    body = (f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{code}</Code><Message>{message}'
            f"\nRequestId:{request_id}\nTime:{stamp}</Message></Error>")
    return status, {"content-type": "application/xml", "x-ms-error-code": code,
                    "x-ms-request-id": request_id, **(headers or {})}, body


def not_found(what: str) -> Response:
    return arm_error(404, "ResourceNotFound", f"{what} was not found")


def _as_requests_response(adapter: Any, request: Any, answer: Response) -> Any:
    """A ``requests`` response built the way requests builds one from urllib3."""
    import io

    from urllib3 import HTTPResponse

    status, headers, body = answer
    data = body.encode()
    raw = HTTPResponse(body=io.BytesIO(data), headers={**headers, "content-length": str(len(data))},
                       status=status, preload_content=False, decode_content=False)
    return adapter.build_response(request, raw)


def _parse_body(raw: Any) -> Any:
    if raw is None:
        return None
    if hasattr(raw, "read"):
        raw = raw.read()
    if isinstance(raw, str):
        raw = raw.encode()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return raw


class SimulatedAzureML:
    """An Azure ML workspace in memory, with Azurite as its storage account.

    Use as a context manager around code that builds an ``MLClient`` (or an ``AzureWorkspace``)
    with a ``FakeCredential`` for ``subscription`` / ``resource_group`` / ``workspace``.
    """

    def __init__(
        self,
        blob_connection_string: str,
        root: Path,
        *,
        subscription: str = "00000000-0000-0000-0000-000000000000",
        resource_group: str = "rg-mlops-sim",
        workspace: str = "mlw-sim",
        location: str = "westeurope",
    ) -> None:
        from azure.storage.blob import BlobServiceClient

        self.subscription = subscription
        self.resource_group = resource_group
        self.workspace = workspace
        self.location = location
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.arm = ARM
        self.ws_path = (f"/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/"
                        f"Microsoft.MachineLearningServices/workspaces/{workspace}")
        self.api_host = f"{location}.api.azureml.ms"
        self.blob_connection_string = blob_connection_string
        self.blobs = BlobServiceClient.from_connection_string(blob_connection_string)
        #: Every stored resource by its ARM path (case as first written).
        self.resources: dict[str, dict[str, Any]] = {}
        self.calls: list[RecordedCall] = []
        #: Requests let through to 127.0.0.1 (Azurite, simulated endpoints): method, host, path.
        self.local_calls: list[tuple[str, str, str]] = []
        self.lock = threading.RLock()
        self._faults: list[_Fault] = []
        self._mock: Any = None
        self._endpoints: Any = None
        from mlops_azure.testing._sim_assets import AssetHandlers
        from mlops_azure.testing._sim_jobs import JobHandlers

        self.assets = AssetHandlers(self)
        self.jobs = JobHandlers(self)
        from mlops_azure.testing._sim_schedules import ScheduleHandlers

        self.schedules = ScheduleHandlers(self)
        from mlops_azure.testing._sim_batch import BatchHandlers

        self.batch = BatchHandlers(self)

    # -- lifecycle -----------------------------------------------------------------------------
    def __enter__(self) -> SimulatedAzureML:
        import responses

        self.assets.create_storage()
        unpatched = responses._real_send  # requests' own send, saved before any mock patches it

        def send(adapter: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
            # counted, not changed: storage and scoring traffic to 127.0.0.1 goes out for real,
            # unless a storage fault was injected for it
            parts = urlsplit(str(request.url))
            self.local_calls.append((str(request.method), f"{parts.hostname}:{parts.port}",
                                     parts.path))
            fault = self._storage_fault(str(request.method), parts.path)
            if fault is not None:
                return _as_requests_response(adapter, request, fault)
            return unpatched(adapter, request, *args, **kwargs)

        self._mock = responses.RequestsMock(assert_all_requests_are_fired=False,
                                            real_adapter_send=send)
        self._mock.start()
        for method in ("GET", "PUT", "POST", "DELETE", "HEAD", "PATCH"):
            self._mock.add_callback(method, re.compile(r"https://.*"), callback=self._route)
        self._mock.add_passthru("http://127.0.0.1")
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            self.jobs.close()
            if self._endpoints is not None:
                self._endpoints.close()
        finally:
            if self._mock is not None:
                self._mock.stop()
                self._mock.reset()
                self._mock = None

    @property
    def endpoints(self) -> Any:
        """The online endpoints part (``OnlineEndpointsSim``), started on first use."""
        if self._endpoints is None:
            from mlops_azure.testing._sim_endpoints import OnlineEndpointsSim

            self._endpoints = OnlineEndpointsSim(self)
        return self._endpoints

    # -- faults and inspection -----------------------------------------------------------------
    def inject(self, method: str, path_regex: str, status: int, *, times: int = 1,
               retry_after: float | None = None, code: str | None = None,
               message: str | None = None, storage: bool = False) -> None:
        """The next ``times`` requests matching ``method`` and ``path_regex`` (searched in the
        URL path) get ``status`` with an ARM error body (and ``Retry-After`` when given).

        With ``storage=True`` the fault is for the blob service instead (the datastores'
        account: Azurite, path ``/<account>/<container>/<blob>``) and the body is Azure
        Storage's XML error, e.g. ``AuthorizationPermissionMismatch`` for a 403."""
        if storage:
            default_code, default_message = STORAGE_ERRORS.get(status, ("Injected", ""))
        else:
            default_code = {429: "TooManyRequests", 403: "AuthorizationFailed"}.get(status,
                                                                                   "Injected")
            default_message = ""
        self._faults.append(_Fault(method.upper(), re.compile(path_regex), status, times,
                                   retry_after, code or default_code,
                                   message or default_message or f"injected fault: HTTP {status}",
                                   storage))

    def fail_step(self, step: str) -> None:
        """The next pipeline job that has step ``step`` fails in that step (exit code 1)."""
        self.jobs.failing_steps.add(step)

    def trigger_schedule(self, name: str) -> str:
        """Fire schedule ``name`` once, as its trigger would: submits its job definition as a new
        pipeline job and returns the job's name."""
        return self.schedules.fire(name)

    def add_kubernetes_compute(self, name: str, namespace: str = "azureml") -> None:
        """An attached AKS cluster (with the Azure ML extension), as an admin would attach it."""
        self.assets.add_kubernetes_compute(name, namespace)

    def calls_to(self, method: str, path_regex: str) -> list[RecordedCall]:
        pattern = re.compile(path_regex)
        return [c for c in self.calls if c.method == method.upper() and pattern.search(c.path)]

    def wait_for_jobs(self, timeout_s: float = 300.0) -> None:
        """Block until every submitted job has finished."""
        self.jobs.wait(timeout_s)

    # -- helpers for the handlers --------------------------------------------------------------
    def arm_id(self, rel: str) -> str:
        return self.ws_path + rel

    def system_data(self) -> dict[str, str]:
        stamp = now_iso()
        return {"createdAt": stamp, "createdBy": "tester@example.com", "createdByType": "User",
                "lastModifiedAt": stamp}

    def new_id(self) -> str:
        return uuid.uuid4().hex

    def project_settings(self, **overrides: Any) -> dict[str, Any]:
        """The ``azure:`` section of an ``mlops.yaml`` that points at this simulated workspace,
        with the quick polling and retries tests want (``overrides`` added or replaced)."""
        return {"subscription_id": self.subscription, "resource_group": self.resource_group,
                "workspace_name": self.workspace, "compute": "cpu-cluster",
                "poll_interval_s": 0.1, "retries": 3, "retry_backoff_s": 0.01,
                "operation_timeout_s": 300, **overrides}

    def container(self, datastore: str) -> Any:
        return self.blobs.get_container_client(self.assets.container_of(datastore))

    def get_compute(self, name: str) -> dict[str, Any] | None:
        return self.resources.get(self.arm_id(f"/computes/{name}"))

    def resolve_model_dir(self, model_arm_id: str) -> Path:
        return self.assets.model_dir(model_arm_id)

    def resolve_code_dir(self, code_arm_id: str) -> Path:
        return self.assets.code_dir(code_arm_id)

    # -- routing -------------------------------------------------------------------------------
    def _route(self, prepared: Any) -> Response:
        url = str(prepared.url)
        parts = urlsplit(url)
        path = parts.path
        rel = None
        if parts.hostname == "management.azure.com" and path.lower().startswith(self.ws_path.lower()):
            rel = path[len(self.ws_path):]
        elif parts.hostname == self.api_host and self.ws_path.lower() in path.lower():
            rel = path[path.lower().index(self.ws_path.lower()) + len(self.ws_path):]
        request = Request(prepared.method.upper(), url, str(parts.hostname), path, rel,
                          dict(parse_qsl(parts.query)), _parse_body(prepared.body),
                          {k.lower(): v for k, v in prepared.headers.items()})
        response = self._fault(request) or self._dispatch(request)
        self.calls.append(RecordedCall(request.method, request.host, path, request.query,
                                       request.body if not isinstance(request.body, bytes) else None,
                                       response[0]))
        return response

    def _take_fault(self, method: str, path: str, *, storage: bool) -> _Fault | None:
        with self.lock:
            for fault in self._faults:
                if fault.times > 0 and fault.storage == storage and fault.method == method and \
                        fault.pattern.search(path):
                    fault.times -= 1
                    return fault
        return None

    def _fault(self, request: Request) -> Response | None:
        fault = self._take_fault(request.method, request.path, storage=False)
        if fault is None:
            return None
        headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
        return arm_error(fault.status, fault.code, fault.message, headers)

    def _storage_fault(self, method: str, path: str) -> Response | None:
        if not path.startswith(f"/{self.blobs.account_name}/"):
            return None  # a simulated endpoint's server, not the storage account
        fault = self._take_fault(method.upper(), path, storage=True)
        if fault is None:
            return None
        headers = {"Retry-After": f"{fault.retry_after:g}"} if fault.retry_after is not None else {}
        return storage_error(fault.status, fault.code, fault.message, headers)

    def _dispatch(self, request: Request) -> Response:
        handlers: list[Callable[[Request], Response | None]] = [self.jobs.handle,
                                                                self.batch.handle,
                                                                self.schedules.handle,
                                                                self.assets.handle]
        if (request.rel is not None and request.rel.startswith("/onlineEndpoints")) or \
                "/mfeOperationsStatus/" in request.path:
            return self.endpoints.route(request.method, request.path, request.url,
                                        request.body) or not_found(request.path)
        with self.lock:
            for handler in handlers:
                found = handler(request)
                if found is not None:
                    return found
        return arm_error(404, "NoSimulatedRoute",
                         f"the simulated Azure ML service has no route for {request.method} "
                         f"{request.host}{request.path}")


__all__ = ["RecordedCall", "Request", "Response", "SimulatedAzureML", "arm_error", "not_found",
           "reply", "storage_error"]
