"""The credential mlops signs in with: one that survives an Azure DevOps job's long waits."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_azure.azure.client import AzureCoordinates, default_credential, translate
from mlops_azure.testing import FakeCredential

SCOPES = {"arm": "https://management.azure.com/.default",
          "storage": "https://storage.azure.com/.default", "ml": "https://ml.azure.com/.default"}
MINUTE = 60.0


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def devops(monkeypatch: pytest.MonkeyPatch) -> tuple[Clock, list[dict[str, Any]]]:
    """An AzureCLI@2 step: az signed in with a federated assertion that lasts 10 minutes (what
    DefaultAzureCredential finds), the task's service-connection variables and the pipeline's
    System.AccessToken mapped; AzurePipelinesCredential asks for a fresh assertion per token."""
    clock, made = Clock(), []
    for name, value in {"TF_BUILD": "True", "AZURESUBSCRIPTION_TENANT_ID": "tenant",
                        "AZURESUBSCRIPTION_CLIENT_ID": "client",
                        "AZURESUBSCRIPTION_SERVICE_CONNECTION_ID": "connection",
                        "SYSTEM_ACCESSTOKEN": "pipeline-token"}.items():
        monkeypatch.setenv(name, value)

    def az_login(**_: Any) -> FakeCredential:
        return FakeCredential(clock=clock, federated_assertion_s=10 * MINUTE)

    def pipelines(**kwargs: Any) -> FakeCredential:
        made.append(kwargs)
        return FakeCredential(clock=clock)

    monkeypatch.setattr("azure.identity.DefaultAzureCredential", az_login)
    monkeypatch.setattr("azure.identity.AzurePipelinesCredential", pipelines)
    return clock, made


def test_a_fifty_minute_wait_in_devops_keeps_the_sign_in(
        devops: tuple[Clock, list[dict[str, Any]]]) -> None:
    clock, made = devops
    credential = default_credential()
    credential.get_token(SCOPES["arm"])  # the attach step starts: status polls
    clock.now += 50 * MINUTE  # `mlops train --attach JOB --wait-minutes 50`
    credential.get_token(SCOPES["storage"])  # then reads the outputs and registers
    credential.get_token(SCOPES["ml"])
    clock.now += 70 * MINUTE  # the 120-minute promote job renews its ARM token
    credential.get_token(SCOPES["arm"])
    assert made == [{"tenant_id": "tenant", "client_id": "client",
                     "service_connection_id": "connection",
                     "system_access_token": "pipeline-token"}]


def test_without_the_pipeline_token_the_az_login_is_used(
        devops: tuple[Clock, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SYSTEM_ACCESSTOKEN")
    assert isinstance(default_credential(), FakeCredential) and devops[1] == []


def test_an_expired_federated_sign_in_says_what_to_map() -> None:
    clock = Clock()
    signed_in = FakeCredential(clock=clock, federated_assertion_s=10 * MINUTE)
    clock.now += 11 * MINUTE
    with pytest.raises(Exception) as caught:
        signed_in.get_token(SCOPES["storage"])
    found = translate(caught.value, AzureCoordinates("s", "rg", "ws"), "reading job outputs")
    assert "SYSTEM_ACCESSTOKEN: $(System.AccessToken)" in found.message
    assert "\n" not in found.message
