"""Connecting to Azure ML: the credential, the ``MLClient`` and one-sentence errors.

``azure.ai.ml`` costs over a second to import, so it is only imported when a client is built.
Transient faults (408, 429, 5xx, dropped connections) are retried by azure-core's own retry
policy with exponential backoff and ``Retry-After``, bounded by ``azure.retries``; everything
else becomes an ``MlopsError`` with the exit code of the CLI contract.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops_azure.errors import BackendError, MlopsError, NotFoundError, UserInputError

if TYPE_CHECKING:
    from azure.ai.ml import MLClient
    from azure.core.credentials import TokenCredential

#: What to do when no credential works, in the order people usually have them.
LOGIN_HINT = ("run 'az login', or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET, "
              "or run where a managed identity is assigned")


@dataclass(frozen=True)
class AzureCoordinates:
    """Which workspace, and how patient to be with it."""

    subscription_id: str
    resource_group: str
    workspace_name: str
    retries: int = 4
    retry_backoff_s: float = 0.8
    operation_timeout_s: float = 1800.0

    @property
    def where(self) -> str:
        return f"workspace {self.workspace_name} (resource group {self.resource_group})"


#: What ``AzureCLI@2`` exports for its service connection, and the pipeline's own token (mapped
#: with ``SYSTEM_ACCESSTOKEN: $(System.AccessToken)``): with all four mlops signs in with
#: ``AzurePipelinesCredential``.
PIPELINE_VARIABLES = {"tenant_id": "AZURESUBSCRIPTION_TENANT_ID",
                      "client_id": "AZURESUBSCRIPTION_CLIENT_ID",
                      "service_connection_id": "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID",
                      "system_access_token": "SYSTEM_ACCESSTOKEN"}
#: Entra ID's code for an expired federated assertion.
EXPIRED_ASSERTION = "AADSTS700024"
DEVOPS_SIGN_IN_HINT = ("the Azure DevOps step's federated sign-in expired (it lasts about 10 "
                       "minutes): map SYSTEM_ACCESSTOKEN: $(System.AccessToken) in the step's env "
                       "so that mlops signs in with AzurePipelinesCredential")


def default_credential() -> TokenCredential:
    """The credential mlops signs in with, unattended (no interactive browser).

    In an Azure DevOps ``AzureCLI@2`` step with the pipeline's ``System.AccessToken`` mapped, it is
    ``AzurePipelinesCredential``: the ``az login`` of a workload-identity service connection rests
    on a federated assertion that expires after about 10 minutes, so a token for a new scope
    (storage, ``https://ml.azure.com``) asked later in a 50-minute wait fails with AADSTS700024,
    and every token fails once the cached ones expire (about an hour, before a 120-minute promote
    ends). Fetching scopes up front would only cover the first hour; AzurePipelinesCredential
    asks Azure DevOps for a fresh assertion whenever it needs a token, for as long as the job runs
    ("Troubleshoot workload identity service connections", learn.microsoft.com/azure/devops/
    pipelines/release/troubleshoot-workload-identity). Anywhere else it is
    ``DefaultAzureCredential``; ``AZURE_TOKEN_CREDENTIALS`` (azure-identity's own variable) narrows
    that chain.
    """
    found = {key: os.environ.get(name, "") for key, name in PIPELINE_VARIABLES.items()}
    if all(found.values()):
        from azure.identity import AzurePipelinesCredential

        return AzurePipelinesCredential(**found)
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential(exclude_interactive_browser_credential=True)


def make_client(coords: AzureCoordinates, credential: TokenCredential) -> MLClient:
    """An ``MLClient`` with bounded retries; building it makes no HTTP call."""
    from azure.ai.ml import MLClient

    quiet_sdk()
    return MLClient(
        credential, coords.subscription_id, coords.resource_group, coords.workspace_name,
        show_progress=False, retry_total=coords.retries,
        retry_backoff_factor=coords.retry_backoff_s, retry_backoff_max=30,
    )


#: Which built-in role an operation needs ("Manage access to Azure Machine Learning workspaces",
#: learn.microsoft.com/azure/machine-learning/how-to-assign-roles): AzureML Data Scientist can do
#: everything in a workspace except create or delete compute; blob data is the storage account's
#: ("Assign an Azure role for access to blob data"), whatever the workspace role.
DATA_SCIENTIST_ROLE = "the AzureML Data Scientist role on the workspace"
COMPUTE_ROLE = "the AzureML Compute Operator role on the workspace (or Contributor)"
STORAGE_ROLE = ("the Storage Blob Data Contributor role on the storage account behind the "
                "workspace's datastores")
#: Azure Storage's error codes for a request the identity may not make.
STORAGE_DENIED = ("AuthorizationPermissionMismatch", "AuthorizationFailure",
                  "AuthorizationResourceTypeMismatch", "AuthorizationSourceIPMismatch")


def _request_of(exc: BaseException) -> tuple[str, str]:
    """(method, url) of the request that failed, when the exception carries its response."""
    request = getattr(getattr(exc, "response", None), "request", None)
    return str(getattr(request, "method", "") or "").upper(), str(getattr(request, "url", "") or "")


#: How many times a registration takes the next number after losing a race for one.
VERSION_ATTEMPTS = 5


class VersionTaken(UserInputError):
    """An asset version that already exists with other content: asset versions are immutable,
    so whoever raced us to that number keeps it and we take the next one."""


def role_needed(exc: BaseException, doing: str) -> str:
    """The role to ask for after a 401/403: by the service and the operation that refused."""
    method, url = _request_of(exc)
    host = url.split("://", 1)[-1].split("/", 1)[0]
    if getattr(exc, "error_code", None) in STORAGE_DENIED or ".blob." in host:
        return STORAGE_ROLE
    path = url.split("?", 1)[0]
    if ("/computes/" in path and method in ("PUT", "PATCH", "DELETE")) or \
            doing.startswith(("creating compute", "deleting compute")):
        return COMPUTE_ROLE
    return DATA_SCIENTIST_ROLE


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    if status is None:
        response = getattr(exc, "response", None)
        status = getattr(response, "status_code", None)
    return status if isinstance(status, int) else None


def _service_message(exc: BaseException) -> str:
    """The service's own error message, on one line, without the SDK's extra blurb."""
    error = getattr(exc, "error", None)
    message = str(getattr(error, "message", None) or getattr(exc, "message", None) or exc)
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    # azure-ai-ml formats validation errors as a report; its "(x) ..." lines are the findings.
    findings = [line.removeprefix("(x)").strip() for line in lines if line.startswith("(x)")]
    first = "; ".join(findings) if findings else (lines[0] if lines else type(exc).__name__)
    return first.split(") ", 1)[-1] if first.startswith("(") else first


def _schema_findings(exc: BaseException) -> str | None:
    """azure-ai-ml's report on a YAML file its schema refuses ("Validation for XSchema failed:"
    then JSON) as "key (line N) = value: what" findings on one line; None for any other error."""
    text = str(exc)
    start, end = text.find("{"), text.rfind("}")
    if "Validation for" not in text or start < 0:
        return None
    try:
        errors = json.loads(text[start:end + 1]).get("errors") or []
    except (ValueError, AttributeError):
        return None
    findings = []
    for error in errors if isinstance(errors, list) else []:
        if not isinstance(error, dict):
            continue
        line = str(error.get("location", "")).rpartition("#")[2]
        given = f" = {json.dumps(error['value'])[:80]}" if "value" in error else ""
        what = " ".join(str(error.get("message", "")).split())
        findings.append(f"{error.get('path', '?')}{f' ({line})' if line else ''}{given}: "
                        f"{what[:160]}{'...' if len(what) > 160 else ''}")
    return "; ".join(findings) or None


def _tried(exc: BaseException) -> str:
    """Which credentials DefaultAzureCredential tried and why each failed, on one line."""
    lines = [line.strip() for line in str(getattr(exc, "message", None) or exc).splitlines()]
    attempts = [line.split(".", 1)[0] for line in lines
                if line.split(":", 1)[0].endswith("Credential") and ":" in line]
    if attempts:
        return "DefaultAzureCredential tried " + "; ".join(attempts[:4])
    return _service_message(exc).rstrip(".")


def _is_not_found(exc: BaseException) -> bool:
    """The SDK often wraps a 404 in its own exception (error_type RESOURCE_NOT_FOUND)."""
    from azure.core.exceptions import ResourceNotFoundError

    seen: BaseException | None = exc
    for _ in range(4):  # the cause chain is short; never loop on a cycle
        if seen is None:
            return False
        if isinstance(seen, ResourceNotFoundError) or "NOT_FOUND" in str(
                getattr(getattr(seen, "error_type", None), "name", "")).upper():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def translate(exc: BaseException, coords: AzureCoordinates, doing: str) -> MlopsError:
    """One sentence for an exception raised by azure-core, azure-identity or azure-ai-ml."""
    from azure.core.exceptions import (
        ClientAuthenticationError,
        ServiceRequestError,
        ServiceResponseError,
    )

    where = coords.where
    if isinstance(exc, MlopsError):
        return exc
    name = type(exc).__name__
    if isinstance(exc, ClientAuthenticationError) or name == "CredentialUnavailableError":
        if EXPIRED_ASSERTION in str(exc):
            return BackendError(f"cannot sign in to Azure while {doing}: {DEVOPS_SIGN_IN_HINT}")
        return BackendError(f"cannot sign in to Azure while {doing} ({_tried(exc)}): {LOGIN_HINT}")
    status = _status(exc)
    # The cause chain only speaks for an exception without a status of its own: a 400 raised
    # while handling an earlier lookup's 404 is a refusal, not a missing resource.
    if status == 404 or (status is None and _is_not_found(exc)):
        return NotFoundError(f"{doing}: not found in {where} ({_service_message(exc)})")
    if status in (401, 403):
        return BackendError(f"no permission for {doing} on {where}: ask for "
                            f"{role_needed(exc, doing)} ({_service_message(exc)})")
    if status == 409 and "/versions/" in _request_of(exc)[1]:
        return VersionTaken(f"Azure ML refused {doing}: {_service_message(exc)}")
    if status == 429:
        return BackendError(f"Azure ML kept throttling {doing} on {where} after retries: "
                            "try again in a few minutes")
    if status is not None and status >= 500:
        return BackendError(f"Azure ML failed while {doing} on {where} (HTTP {status}, "
                            f"after retries): {_service_message(exc)}")
    if status is not None and 400 <= status < 500:
        return UserInputError(f"Azure ML refused {doing}: {_service_message(exc)}")
    if isinstance(exc, ServiceRequestError | ServiceResponseError):
        return BackendError(f"cannot reach Azure ML while {doing}: {_service_message(exc)}")
    if name in ("ValidationException", "UserErrorException", "AssetException",
                "JobException", "ModelException", "ComponentException", "ScheduleException"):
        return UserInputError(f"{doing}: {_service_message(exc)}")
    schema = _schema_findings(exc) if name == "ValidationError" else None
    if schema:
        return UserInputError(f"{doing}: Azure ML's schema refuses {schema}")
    if name == "DeploymentException":
        return BackendError(f"{doing}: {_service_message(exc)}")
    return BackendError(f"{doing} failed on {where}: {name}: {_service_message(exc)}")


@contextmanager
def calling(coords: AzureCoordinates, doing: str) -> Iterator[None]:
    """Turn Azure SDK exceptions raised inside the block into one-sentence mlops errors."""
    from azure.core.exceptions import AzureError

    try:
        # azure-ai-ml prints a dot to stdout on every poll of a long-running operation; stdout
        # belongs to the command's result (``--json``), so SDK chatter goes to stderr.
        with contextlib.redirect_stdout(sys.stderr):
            yield
    except MlopsError:
        raise
    except (AzureError, OSError) as exc:
        raise translate(exc, coords, doing) from None
    except Exception as exc:  # the SDK also raises plain ValueError/KeyError on bad bodies
        if type(exc).__module__.startswith(("azure.", "msrest", "marshmallow", "jwt")):
            raise translate(exc, coords, doing) from None
        raise


def with_retries(kwargs: dict[str, Any], coords: AzureCoordinates) -> dict[str, Any]:
    """azure-core retry settings for clients we build ourselves (blob storage)."""
    return {**kwargs, "retry_total": coords.retries, "retry_backoff_factor": coords.retry_backoff_s}


def quiet_sdk() -> None:
    """Silence the SDK's experimental-class notices (sent through logging, set up on import)."""
    for name in ("azure.ai.ml", "azure.ai.ml._utils._experimental", "azure.identity"):
        logging.getLogger(name).setLevel(logging.ERROR)
    logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)
