"""Simulated online endpoints driven by the real azure-ai-ml SDK, scoring through real processes
(the harness, one ``OnlineEndpointsSim`` per module, is in ``conftest.py``). One managed endpoint
is shared by the module (servers take a second or two to start).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from azure.core.exceptions import HttpResponseError

from mlops_azure.local import processes

EP = "ep-main"
Harness = Any  # the conftest's harness (its class cannot be imported under --import-mode=importlib)


def _deployment(name: str, endpoint: str = EP, model: str = "azureml:clf:1", **kwargs: Any) -> Any:
    from azure.ai.ml.entities import CodeConfiguration, ManagedOnlineDeployment

    return ManagedOnlineDeployment(
        name=name, endpoint_name=endpoint, model=model,
        code_configuration=CodeConfiguration(code="azureml:score:1", scoring_script="score.py"),
        environment="azureml:sklearn-env:1", instance_type="Standard_DS3_v2", instance_count=1,
        **kwargs)


def _set_traffic(h: Harness, traffic: dict[str, int], mirror: dict[str, int] | None = None) -> Any:
    endpoint = h.ml.online_endpoints.get(EP)
    endpoint.traffic = traffic
    endpoint.mirror_traffic = mirror or {}
    return h.ml.online_endpoints.begin_create_or_update(endpoint).result()


def _pids(h: Harness, endpoint: str) -> list[int]:
    ep = h.endpoints.endpoints[endpoint]
    return [p for p in [ep.router_pid, *(d.pid for d in ep.deployments.values())] if p]


@pytest.fixture(scope="module")
def main_endpoint(harness: Harness) -> Harness:
    """``ep-main`` with deployment ``blue`` (model clf:1, factor 2) taking all traffic."""
    from azure.ai.ml.entities import ManagedOnlineEndpoint

    ml = harness.ml
    created = ml.online_endpoints.begin_create_or_update(
        ManagedOnlineEndpoint(name=EP, auth_mode="key")).result()
    assert created.provisioning_state == "Succeeded"
    assert created.scoring_uri.startswith("http://127.0.0.1:")
    blue = ml.online_deployments.begin_create_or_update(_deployment("blue")).result()
    assert blue.provisioning_state == "Succeeded"
    _set_traffic(harness, {"blue": 100})
    return harness


def test_managed_endpoint_is_a_real_lro_and_scores_through_sdk_and_requests(main_endpoint: Harness) -> None:
    h = main_endpoint
    # creating was a real long-running operation: 201 + status document polled
    puts = [c for c in h.calls if c[0] == "PUT" and c[1].endswith(f"/onlineEndpoints/{EP}/deployments/blue")]
    assert puts[0][2] == 201
    assert any("/mfeOperationsStatus/" in c[1] for c in h.calls)

    assert json.loads(h.ml.online_endpoints.invoke(EP, request_file=str(h.request_file))) == {"y": [2.0, 4.0]}
    out = h.ml.online_endpoints.invoke(EP, request_file=str(h.request_file), deployment_name="blue")
    assert json.loads(out) == {"y": [2.0, 4.0]}

    endpoint = h.ml.online_endpoints.get(EP)
    assert endpoint.traffic == {"blue": 100}
    keys = h.ml.online_endpoints.get_keys(EP)
    answer = requests.post(endpoint.scoring_uri, json={"data": [5]}, timeout=10,
                           headers={"Authorization": f"Bearer {keys.secondary_key}"})
    assert answer.status_code == 200 and answer.json() == {"y": [10.0]}
    assert answer.headers["azureml-model-deployment"] == "blue"
    assert requests.post(endpoint.scoring_uri, json={"data": [5]}, timeout=10).status_code == 401

    routes = h.endpoints.endpoints[EP].folder / "routes.json"
    assert routes.stat().st_mode & 0o777 == 0o600
    assert keys.primary_key not in routes.read_text()

    assert "POST /score 200" in h.ml.online_deployments.get_logs("blue", EP, lines=50)
    blue = h.ml.online_deployments.get("blue", EP)
    assert (blue.instance_count, blue.instance_type) == (1, "Standard_DS3_v2")
    assert blue.model.endswith("/models/clf/versions/1")
    assert [d.name for d in h.ml.online_deployments.list(EP)] == ["blue"]


def test_blue_green_traffic_and_mirror_rules(main_endpoint: Harness) -> None:
    h = main_endpoint
    h.ml.online_deployments.begin_create_or_update(_deployment("green", model="azureml:clf:2")).result()
    assert _set_traffic(h, {"blue": 90, "green": 10}).traffic == {"blue": 90, "green": 10}
    out = h.ml.online_endpoints.invoke(EP, request_file=str(h.request_file), deployment_name="green")
    assert json.loads(out) == {"y": [3.0, 6.0]}

    for traffic, mirror, expected in (
        ({"blue": 90, "green": 10}, {"green": 10}, "takes live traffic"),
        ({"blue": 100}, {"green": 60}, "at most 50"),
        ({"blue": 60, "green": 30}, {}, "add up to 90"),
        ({"blue": 100, "nope": 0}, {"nope": 10}, "no deployment 'nope'"),
    ):
        with pytest.raises(HttpResponseError, match=expected):
            _set_traffic(h, traffic, mirror)
    assert h.ml.online_endpoints.get(EP).traffic == {"blue": 90, "green": 10}  # unchanged

    mirrored = _set_traffic(h, {"blue": 100}, {"green": 20})
    assert mirrored.mirror_traffic == {"green": 20}
    routes = json.loads((h.endpoints.endpoints[EP].folder / "routes.json").read_text())
    assert routes["traffic"] == {"blue": 100} and routes["mirror"] == {"green": 20}

    # a deployment with live or mirror traffic cannot be deleted
    with pytest.raises(HttpResponseError, match="mirror traffic"):
        h.ml.online_deployments.begin_delete("green", EP).result()
    _set_traffic(h, {"blue": 90, "green": 10})
    with pytest.raises(HttpResponseError, match="10 % of the live traffic"):
        h.ml.online_deployments.begin_delete("green", EP).result()
    _set_traffic(h, {"blue": 100})
    green_pid = h.endpoints.endpoints[EP].deployments["green"].pid
    h.ml.online_deployments.begin_delete("green", EP).result()
    assert not processes.alive(green_pid)
    assert [d.name for d in h.ml.online_deployments.list(EP)] == ["blue"]


def test_fail_deployment_fault_fails_the_lro_and_keeps_serving(main_endpoint: Harness) -> None:
    h = main_endpoint
    h.endpoints.fail_deployment(EP, "blue", logs="ImportError: No module named 'lightgbm'")
    with pytest.raises(HttpResponseError, match="lightgbm"):
        h.ml.online_deployments.begin_create_or_update(_deployment("blue", model="azureml:clf:2")).result()
    assert h.ml.online_deployments.get("blue", EP).provisioning_state == "Failed"
    assert [d.provisioning_state for d in h.ml.online_deployments.list(EP)] == ["Failed"]
    assert "No module named 'lightgbm'" in h.ml.online_deployments.get_logs("blue", EP, lines=20)
    assert h.ml.online_endpoints.get(EP).traffic == {"blue": 100}
    # the previous server still serves (Azure rolls a failed update back)
    assert json.loads(h.ml.online_endpoints.invoke(EP, request_file=str(h.request_file))) == {"y": [2.0, 4.0]}

    # a new deployment whose server crashes in init(): Failed, with the traceback in the logs
    crash = _deployment("red", environment_variables={"CRASH_IN_INIT": "bad header"})
    with pytest.raises(HttpResponseError, match="model file is corrupt"):
        h.ml.online_deployments.begin_create_or_update(crash).result()
    assert "RuntimeError: model file is corrupt: bad header" in \
        h.ml.online_deployments.get_logs("red", EP, lines=100)
    with pytest.raises(HttpResponseError, match="'red' is Failed"):
        _set_traffic(h, {"blue": 50, "red": 50})
    h.ml.online_deployments.begin_delete("red", EP).result()

    # retried without the fault: the new server is swapped in, the old one stopped, traffic kept
    old_pid = h.endpoints.endpoints[EP].deployments["blue"].pid
    h.ml.online_deployments.begin_create_or_update(_deployment("blue", model="azureml:clf:2")).result()
    assert not processes.alive(old_pid)
    assert h.ml.online_endpoints.get(EP).traffic == {"blue": 100}
    assert json.loads(h.ml.online_endpoints.invoke(EP, request_file=str(h.request_file))) == {"y": [3.0, 6.0]}


def test_dead_server_stays_succeeded_but_the_router_answers_502(main_endpoint: Harness) -> None:
    h = main_endpoint
    h.ml.online_deployments.begin_create_or_update(_deployment("spare")).result()
    pid = h.endpoints.endpoints[EP].deployments["spare"].pid
    processes.stop(pid)
    assert h.ml.online_deployments.get("spare", EP).provisioning_state == "Succeeded"
    keys = h.ml.online_endpoints.get_keys(EP)
    answer = requests.post(h.ml.online_endpoints.get(EP).scoring_uri, json={"data": [1]}, timeout=10,
                           headers={"Authorization": f"Bearer {keys.primary_key}",
                                    "azureml-model-deployment": "spare"})
    assert answer.status_code == 502
    h.ml.online_deployments.begin_delete("spare", EP).result()


def test_keys_regenerate_and_unsupported_auth(main_endpoint: Harness) -> None:
    from azure.ai.ml.entities import ManagedOnlineEndpoint

    h = main_endpoint
    old = h.ml.online_endpoints.get_keys(EP)
    h.ml.online_endpoints.begin_regenerate_keys(EP, key_type="secondary").result()
    new = h.ml.online_endpoints.get_keys(EP)
    assert new.primary_key == old.primary_key and new.secondary_key != old.secondary_key
    uri = h.ml.online_endpoints.get(EP).scoring_uri
    for key, status in ((old.secondary_key, 401), (new.secondary_key, 200)):
        answer = requests.post(uri, json={"data": [1]}, timeout=10,
                               headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == status
    with pytest.raises(HttpResponseError, match="only key authentication"):
        h.ml.online_endpoints.begin_create_or_update(
            ManagedOnlineEndpoint(name="ep-token", auth_mode="aml_token")).result()


def test_kubernetes_endpoint_needs_a_kubernetes_compute_and_refuses_mirroring(harness: Harness) -> None:
    from azure.ai.ml.entities import (
        CodeConfiguration,
        KubernetesOnlineDeployment,
        KubernetesOnlineEndpoint,
    )

    ml = harness.ml
    for compute, expected in (("missing-k8s", "does not exist"),
                              ("cpu-cluster", "not an attached Kubernetes")):
        with pytest.raises(HttpResponseError, match=expected):
            ml.online_endpoints.begin_create_or_update(
                KubernetesOnlineEndpoint(name="ep-k8s", compute=compute, auth_mode="key")).result()
    endpoint = ml.online_endpoints.begin_create_or_update(
        KubernetesOnlineEndpoint(name="ep-k8s", compute="k8s-compute", auth_mode="key")).result()
    assert isinstance(endpoint, KubernetesOnlineEndpoint)
    assert endpoint.compute.endswith("/computes/k8s-compute")
    ml.online_deployments.begin_create_or_update(KubernetesOnlineDeployment(
        name="blue", endpoint_name="ep-k8s", model="azureml:clf:1",
        code_configuration=CodeConfiguration(code="azureml:score:1", scoring_script="score.py"),
        environment="azureml:sklearn-env:1", instance_type="defaultinstancetype", instance_count=2,
    )).result()
    deployment = ml.online_deployments.get("blue", "ep-k8s")
    assert isinstance(deployment, KubernetesOnlineDeployment) and deployment.instance_count == 2
    server = harness.endpoints.endpoints["ep-k8s"].deployments["blue"].pid
    assert b"--workers\x002" in Path(f"/proc/{server}/cmdline").read_bytes()  # instances = workers
    with pytest.raises(HttpResponseError, match="must be Kubernetes deployments"):
        ml.online_deployments.begin_create_or_update(_deployment("green", endpoint="ep-k8s")).result()
    endpoint = ml.online_endpoints.get("ep-k8s")
    endpoint.traffic = {"blue": 100}
    ml.online_endpoints.begin_create_or_update(endpoint).result()
    assert json.loads(ml.online_endpoints.invoke("ep-k8s", request_file=str(harness.request_file))) == \
        {"y": [2.0, 4.0]}
    endpoint.mirror_traffic = {"blue": 10}
    with pytest.raises(HttpResponseError, match="not supported for Kubernetes"):
        ml.online_endpoints.begin_create_or_update(endpoint).result()

    pids = _pids(harness, "ep-k8s")
    assert len(pids) == 2 and all(processes.alive(p) for p in pids)
    ml.online_endpoints.begin_delete("ep-k8s").result()
    assert not any(processes.alive(p) for p in pids)
    assert "ep-k8s" not in [e.name for e in ml.online_endpoints.list()]
