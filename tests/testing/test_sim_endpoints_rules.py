"""The simulated service refuses and delays online deployments as Azure ML does: slow provisioning
with an image build the first time an environment is used, a PUT into a deployment still
provisioning refused with 409, the managed SKU list, the per-deployment instance limit, the
Kubernetes name-length rule and ``appInsightsEnabled`` (harness in ``conftest.py``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError

Harness = Any  # the conftest's harness (its class cannot be imported under --import-mode=importlib)
EP = "ep-rules"


def _deployment(name: str, **kwargs: Any) -> Any:
    from azure.ai.ml.entities import CodeConfiguration, ManagedOnlineDeployment

    settings: dict[str, Any] = {"environment": "azureml:sklearn-env:1",
                                "instance_type": "Standard_DS3_v2", "instance_count": 1, **kwargs}
    return ManagedOnlineDeployment(
        name=name, endpoint_name=EP, model="azureml:clf:1",
        code_configuration=CodeConfiguration(code="azureml:score:1", scoring_script="score.py"),
        **settings)


@pytest.fixture(scope="module")
def endpoint(harness: Harness) -> Harness:
    from azure.ai.ml.entities import ManagedOnlineEndpoint

    harness.ml.online_endpoints.begin_create_or_update(
        ManagedOnlineEndpoint(name=EP, auth_mode="key")).result()
    return harness


@pytest.fixture
def slow(endpoint: Harness) -> Iterator[Harness]:
    """Provisioning that takes a while, and an image build of its own the first time."""
    sims = endpoint.endpoints
    sims.provision_s, sims.image_build_s = 1.5, 1.0
    try:
        yield endpoint
    finally:
        sims.provision_s, sims.image_build_s = 0.0, 0.0


def _state(h: Harness, name: str) -> str:
    state = h.ml.online_deployments.get(name, EP).provisioning_state
    return str(getattr(state, "value", state))


def test_provisioning_takes_its_time_and_a_put_meanwhile_is_a_conflict(slow: Harness) -> None:
    h = slow
    poller = h.ml.online_deployments.begin_create_or_update(_deployment("slow"))
    assert _state(h, "slow") == "Creating"
    assert not poller.done()
    with pytest.raises(HttpResponseError, match="is Creating") as refused:
        h.ml.online_deployments.begin_create_or_update(_deployment("slow"))
    assert refused.value.status_code == 409
    assert poller.result(timeout=60).provisioning_state == "Succeeded"
    assert _state(h, "slow") == "Succeeded"
    h.ml.online_deployments.begin_delete("slow", EP).result()


def test_the_first_deployment_of_an_environment_builds_its_image_later_ones_reuse_it(
        slow: Harness) -> None:
    h = slow
    sims = h.endpoints
    sims.provision_s = 0.0
    environment = "azureml:fresh-env:1"
    h.ml.online_deployments.begin_create_or_update(
        _deployment("first", environment=environment)).result()
    assert any("fresh-env" in key for key in sims.images)
    build = sims.image_build_s
    sims.image_build_s = 30.0  # a second build would outlast the wait below
    started = time.monotonic()
    h.ml.online_deployments.begin_create_or_update(
        _deployment("again", environment=environment)).result(timeout=20)
    assert _state(h, "again") == "Succeeded" and time.monotonic() - started < 20
    sims.image_build_s = build
    # curated environments come prebuilt: no build at all
    curated = "azureml://registries/azureml/environments/sklearn-1.5/labels/latest"
    assert sims.images.keys() >= {k for k in sims.images if "fresh-env" in k}
    before = set(sims.images)
    h.ml.online_deployments.begin_create_or_update(
        _deployment("curated", environment=curated)).result()
    assert set(sims.images) == before
    for name in ("first", "again", "curated"):
        h.ml.online_deployments.begin_delete(name, EP).result()


def test_managed_deployments_use_the_documented_sizes_and_instance_limit(endpoint: Harness) -> None:
    h = endpoint
    with pytest.raises(HttpResponseError, match="not supported for managed online") as refused:
        h.ml.online_deployments.begin_create_or_update(
            _deployment("odd", instance_type="Standard_B2s")).result()
    assert refused.value.status_code == 400
    # sizes compare case-insensitively, as Azure's
    h.ml.online_deployments.begin_create_or_update(
        _deployment("lower", instance_type="standard_f2s_v2")).result()
    with pytest.raises(HttpResponseError, match="exceeds the limit of 50"):
        h.ml.online_deployments.begin_create_or_update(
            _deployment("many", instance_count=51)).result()
    assert _state(h, "many") == "Failed"
    for name in ("lower", "many"):
        h.ml.online_deployments.begin_delete(name, EP).result()


def test_kubernetes_endpoint_and_deployment_names_total_6_to_62(harness: Harness) -> None:
    from azure.ai.ml.entities import (
        CodeConfiguration,
        KubernetesOnlineDeployment,
        KubernetesOnlineEndpoint,
    )

    ml = harness.ml
    long_endpoint = "k" + "8" * 31  # 32 characters, the longest endpoint name
    ml.online_endpoints.begin_create_or_update(KubernetesOnlineEndpoint(
        name=long_endpoint, compute="k8s-compute", auth_mode="key")).result()

    def deploy(name: str) -> Any:
        return ml.online_deployments.begin_create_or_update(KubernetesOnlineDeployment(
            name=name, endpoint_name=long_endpoint, model="azureml:clf:1",
            code_configuration=CodeConfiguration(code="azureml:score:1", scoring_script="score.py"),
            environment="azureml:sklearn-env:1", instance_count=1)).result()

    with pytest.raises(HttpResponseError, match="must total 6-62") as refused:
        deploy("d" * 31)
    assert refused.value.status_code == 400
    assert deploy("d" * 30).provisioning_state == "Succeeded"  # 62 characters
    ml.online_endpoints.begin_delete(long_endpoint).result()


def test_app_insights_is_a_boolean_of_the_body_false_when_left_out(endpoint: Harness) -> None:
    h = endpoint
    h.ml.online_deployments.begin_create_or_update(_deployment("plain")).result()
    assert h.ml.online_deployments.get("plain", EP).app_insights_enabled is False
    h.ml.online_deployments.begin_create_or_update(
        _deployment("watched", app_insights_enabled=True)).result()
    assert h.ml.online_deployments.get("watched", EP).app_insights_enabled is True
    body = h.endpoints.endpoints[EP].deployments["watched"].body
    assert body["properties"]["appInsightsEnabled"] is True
    # raw REST body with a non-boolean value: refused before anything is provisioned
    raw = {"location": "westeurope", "sku": {"name": "Default", "capacity": 1},
           "properties": {**body["properties"], "appInsightsEnabled": "yes"}}
    path = f"{h.sim.ws_path}/onlineEndpoints/{EP}/deployments/odd"
    status, _, text = h.endpoints.route("PUT", path, "https://management.azure.com" + path, raw)
    assert status == 400 and "appInsightsEnabled must be true or false" in text
    # the simulated server never sends telemetry, whatever the body says
    pid = h.endpoints.endpoints[EP].deployments["watched"].pid
    environ = open(f"/proc/{pid}/environ", "rb").read().split(b"\0")  # noqa: SIM115
    assert b"AML_APP_INSIGHTS_ENABLED=false" in environ
    for name in ("plain", "watched"):
        h.ml.online_deployments.begin_delete(name, EP).result()
