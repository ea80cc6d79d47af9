"""One sentence and the right exit code for each way the Azure SDK fails."""

from __future__ import annotations

from pathlib import Path

import pytest
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
    ServiceRequestError,
)

from mlops_azure.azure.client import AzureCoordinates, calling, translate
from mlops_azure.errors import BackendError, MlopsError, NotFoundError, UserInputError

COORDS = AzureCoordinates("sub", "rg-ml", "mlw-prod")


def _http(status: int, message: str = "nope") -> HttpResponseError:
    exc = HttpResponseError(message=message)
    exc.status_code = status
    return exc


def test_credential_chain_is_named_with_what_to_do() -> None:
    exc = ClientAuthenticationError(
        "DefaultAzureCredential failed to retrieve a token from the included credentials.\n"
        "Attempted credentials:\n\tAzureCliCredential: Azure CLI not found on path\n"
        "To mitigate this issue, please refer to the troubleshooting guidelines here at "
        "https://aka.ms/azsdk/python/identity/defaultazurecredential/troubleshoot.")
    found = translate(exc, COORDS, "reading model m")
    assert isinstance(found, BackendError) and found.exit_code == 3
    assert "AzureCliCredential: Azure CLI not found on path" in found.message
    assert "az login" in found.message and "\n" not in found.message


@pytest.mark.parametrize("status", [401, 403])
def test_permission_names_the_workspace_and_the_role(status: int) -> None:
    found = translate(_http(status, "AuthorizationFailed"), COORDS, "registering model m:1")
    assert found.exit_code == 3
    assert "mlw-prod" in found.message and "AzureML Data Scientist" in found.message


def test_not_found_is_bad_input() -> None:
    found = translate(ResourceNotFoundError("missing"), COORDS, "reading model m:9")
    assert isinstance(found, NotFoundError) and found.exit_code == 2


def test_throttling_and_server_errors_after_retries_are_backend_failures() -> None:
    assert "throttling" in translate(_http(429), COORDS, "x").message
    server = translate(_http(503, "busy"), COORDS, "submitting pipeline p")
    assert isinstance(server, BackendError) and "HTTP 503" in server.message


def test_a_refused_request_is_bad_input_with_the_service_message() -> None:
    found = translate(_http(400, "(BadRequest) traffic must add up to 100"), COORDS, "x")
    assert isinstance(found, UserInputError) and "traffic must add up to 100" in found.message


def test_a_refusal_raised_while_handling_a_not_found_is_a_refusal() -> None:
    """The SDK looks an asset up (404) and then sends what the service refuses (400): the
    refusal is the error, not the lookup it happened after."""
    refused = _http(400, "(UserError) declared UriFile but data asset rows:1 is uri_folder")
    try:
        try:
            raise ResourceNotFoundError("no such deployment yet")
        except ResourceNotFoundError:
            raise refused from None
    except HttpResponseError as exc:
        assert isinstance(exc.__context__, ResourceNotFoundError)
        found = translate(exc, COORDS, "invoking batch endpoint b")
    assert type(found) is UserInputError and "is uri_folder" in found.message


def test_unreachable_service() -> None:
    found = translate(ServiceRequestError("connection refused"), COORDS, "listing models")
    assert isinstance(found, BackendError) and "cannot reach Azure ML" in found.message


def test_calling_converts_sdk_errors_and_leaves_others_alone() -> None:
    with pytest.raises(MlopsError) as caught, calling(COORDS, "reading model m"):
        raise ResourceNotFoundError("gone")
    assert caught.value.exit_code == 2
    with pytest.raises(ZeroDivisionError), calling(COORDS, "x"):
        raise ZeroDivisionError


def test_a_yaml_file_the_sdk_schema_refuses_names_the_key_and_value(tmp_path: Path) -> None:
    from azure.ai.ml import load_job

    file = tmp_path / "pipeline.yml"
    file.write_text("$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json\n"
                    "type: pipeline\ninputs:\n  target:\n    type: string\njobs: {}\n")
    with pytest.raises(MlopsError) as caught, calling(COORDS, f"reading pipeline {file}"):
        load_job(file)
    assert isinstance(caught.value, UserInputError)
    assert caught.value.message.startswith(f"reading pipeline {file}: Azure ML's schema refuses "
                                           'inputs.target = {"type": "string"}: ')
    assert "\n" not in caught.value.message
