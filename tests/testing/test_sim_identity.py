"""The simulator's identity, permission and asset rules, each as Azure documents it."""

from __future__ import annotations

from typing import Any

import pytest
from azure.core.exceptions import ClientAuthenticationError

from mlops_azure.testing import FakeCredential, SimulatedAzureML

STORAGE = "https://storage.azure.com/.default"
ML = "https://ml.azure.com/.default"
MINUTE = 60.0


class Clock:
    """Time a test moves on by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _client(sim: SimulatedAzureML, credential: FakeCredential) -> Any:
    from azure.ai.ml import MLClient

    return MLClient(credential, sim.subscription, sim.resource_group, sim.workspace,
                    retry_total=0)


def test_a_federated_sign_in_refuses_new_scopes_after_its_assertion_expires(
        azure_sim: SimulatedAzureML) -> None:
    clock = Clock()
    signed_in = FakeCredential(clock=clock, federated_assertion_s=10 * MINUTE)
    assert list(_client(azure_sim, signed_in).models.list()) == []
    clock.now += 50 * MINUTE
    # The management token issued at sign-in is still cached (it lasts about an hour).
    assert list(_client(azure_sim, signed_in).models.list()) == []
    for scope in (STORAGE, ML):
        with pytest.raises(ClientAuthenticationError, match="AADSTS700024"):
            signed_in.get_token(scope)
    clock.now += 20 * MINUTE  # past the cached token's expiry: its renewal is refused too
    with pytest.raises(ClientAuthenticationError, match="AADSTS700024"):
        list(_client(azure_sim, signed_in).models.list())


def test_within_the_assertion_any_scope_is_granted_and_by_default_always() -> None:
    clock = Clock()
    signed_in = FakeCredential(clock=clock, federated_assertion_s=10 * MINUTE)
    clock.now += 9 * MINUTE
    assert signed_in.get_token(STORAGE).token
    clock.now += 600 * MINUTE
    assert FakeCredential(clock=clock).get_token(ML).expires_on > clock.now


def test_a_storage_403_is_storage_shaped(azure_sim: SimulatedAzureML) -> None:
    import requests
    from azure.core.exceptions import HttpResponseError

    container = azure_sim.container("workspaceblobstore")
    azure_sim.inject("PUT", r"/denied\.txt$", 403, storage=True)
    with pytest.raises(HttpResponseError) as caught:
        container.upload_blob("denied.txt", b"x")
    assert caught.value.status_code == 403
    assert caught.value.error_code == "AuthorizationPermissionMismatch"
    assert caught.value.response is not None
    assert caught.value.response.headers["content-type"] == "application/xml"
    assert "<Code>AuthorizationPermissionMismatch</Code>" in caught.value.response.text()
    container.upload_blob("denied.txt", b"x")  # used up: the next request goes to storage
    # An ARM 403 stays ARM-shaped (JSON), and never fires on storage paths.
    azure_sim.inject("GET", r"/datastores$", 403)
    refused = requests.get(f"https://management.azure.com{azure_sim.ws_path}/datastores", timeout=5)
    assert refused.json()["error"]["code"] == "AuthorizationFailed"


def test_an_asset_version_is_immutable(azure_sim: SimulatedAzureML) -> None:
    from azure.ai.ml.entities import Data
    from azure.core.exceptions import HttpResponseError

    ml: Any = _client(azure_sim, FakeCredential())
    path = "azureml://datastores/workspaceblobstore/paths/raw/{}.csv"
    ml.data.create_or_update(Data(name="sales", version="1", type="uri_file",
                                  path=path.format("a")))
    # Same content again, new tags, archiving: allowed.
    ml.data.create_or_update(Data(name="sales", version="1", type="uri_file",
                                  path=path.format("a"), tags={"k": "v"}))
    ml.data.archive("sales", version="1")
    with pytest.raises(HttpResponseError) as caught:
        ml.data.create_or_update(Data(name="sales", version="1", type="uri_file",
                                      path=path.format("b")))
    assert caught.value.status_code == 409 and "immutable" in str(caught.value)
    assert ml.data.get("sales", version="1").path.endswith("raw/a.csv")


def test_an_endpoint_name_with_consecutive_hyphens_is_refused(azure_sim: SimulatedAzureML) -> None:
    import requests

    url = (f"https://management.azure.com{azure_sim.ws_path}/onlineEndpoints/steel--prod"
           "?api-version=2024-04-01")
    answer = requests.put(url, json={"location": azure_sim.location,
                                     "properties": {"authMode": "Key"}}, timeout=5)
    assert answer.status_code == 400 and "steel--prod" in answer.json()["error"]["message"]
