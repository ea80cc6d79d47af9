"""Local online endpoints as real services: router + inference-server processes on 127.0.0.1."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_azure.backends import open_workspace
from mlops_azure.config import ProjectConfig
from mlops_azure.errors import DeploymentFailed, NotFoundError, UserInputError
from mlops_azure.lifecycle.scoring import ScoringClient
from mlops_azure.local import LocalWorkspace, processes
from mlops_azure.workspace import DeploymentSpec, DeploymentState, Workspace

WrappedScore = Callable[[ProjectConfig, str, str], str]
ServerPid = Callable[[Path, str, str], int]

MODEL = "steel-purchase-forecast"
ENDPOINT = "steel-test"


def spec(project: ProjectConfig, version: int, script: str = "score/score.py") -> DeploymentSpec:
    return DeploymentSpec(MODEL, version, project.resolve(Path("components")), script,
                          request_timeout_ms=10_000)


def parity(ws: Workspace, version: int, rows: int) -> dict[str, object]:
    doc = json.loads((ws.models.local_path(MODEL, version) / "parity.json").read_text())
    return {"data": doc["request"]["data"][:rows]}


@pytest.fixture
def ws(released_project: ProjectConfig) -> LocalWorkspace:
    found = open_workspace(released_project)
    assert isinstance(found, LocalWorkspace)
    return found


@pytest.fixture
def two_deployments(ws: LocalWorkspace, released_project: ProjectConfig) -> LocalWorkspace:
    ws.endpoints.create(ENDPOINT)
    ws.endpoints.create_deployment(ENDPOINT, "v001", spec(released_project, 1))
    ws.endpoints.create_deployment(ENDPOINT, "v002", spec(released_project, 2))
    return ws


def test_endpoint_scores_through_one_url_with_key_auth(two_deployments: LocalWorkspace) -> None:
    ws = two_deployments
    ws.endpoints.set_traffic(ENDPOINT, {"v002": 100})
    endpoint = ws.endpoints.get(ENDPOINT)
    assert endpoint.scoring_uri.startswith("http://127.0.0.1:")
    request = parity(ws, 2, 20)
    offline = json.loads((ws.models.local_path(MODEL, 2) / "parity.json").read_text())["predictions"][:20]

    with ScoringClient.for_endpoint(ws, ENDPOINT) as client:
        answer = client.score(request)
        assert answer.status == 200 and answer.deployment == "v002"
        assert answer.json()["predictions"] == pytest.approx(offline, rel=1e-9, abs=1e-9)
        assert client.score(request, key=ws.endpoints.keys(ENDPOINT).secondary).status == 200
        assert client.score(request, key="wrong").status == 401
        assert client.score(request, key="").status == 401
        missing = client.score(request, deployment="v999")
        assert missing.status == 404 and "v999" in missing.message()
        assert client.score(b"{not json").status == 400
        too_deep = client.score(b"[" * 100_000)  # a 500 (RecursionError) in score.py before
        assert too_deep.status == 400 and "nests arrays or objects too deeply" in too_deep.message()
        no_feature = client.score({"data": [{"price_eur_per_tonne": 1.0}]})
        assert no_feature.status == 400 and "lacks feature" in no_feature.message()
    status, body = processes.get(int(endpoint.scoring_uri.split(":")[2].split("/")[0]), "/")
    assert (status, body) == (200, b"Healthy")
    # The router's table holds key hashes only, readable by the owner alone.
    routes = ws.root / "endpoints" / ENDPOINT / "routes.json"
    assert routes.stat().st_mode & 0o777 == 0o600
    assert ws.endpoints.keys(ENDPOINT).primary not in routes.read_text()


def test_traffic_split_is_honoured_and_the_header_pins_a_deployment(two_deployments: LocalWorkspace) -> None:
    ws = two_deployments
    ws.endpoints.set_traffic(ENDPOINT, {"v001": 30, "v002": 70})
    request = parity(ws, 1, 1)
    with ScoringClient.for_endpoint(ws, ENDPOINT) as client:
        served = [client.score(request).deployment for _ in range(400)]
        pinned = {client.score(request, deployment="v001").deployment for _ in range(20)}
    # Binomial(400, 0.3): mean 120, sd 9.2; +-4 sd makes a false failure a 1-in-15,000 event.
    assert abs(served.count("v001") - 120) <= 37
    assert served.count("v001") + served.count("v002") == 400
    assert pinned == {"v001"}


def test_mirror_traffic_reaches_the_shadow_and_clients_only_see_live(two_deployments: LocalWorkspace) -> None:
    ws = two_deployments
    ws.endpoints.set_traffic(ENDPOINT, {"v002": 100}, mirror={"v001": 50})
    shadow_log = ws.root / "endpoints" / ENDPOINT / "v001" / "server.log"
    before = shadow_log.read_text().count("POST /score")
    request = parity(ws, 1, 1)
    with ScoringClient.for_endpoint(ws, ENDPOINT) as client:
        served = {client.score(request).deployment for _ in range(200)}
    time.sleep(0.5)  # mirrored copies are fire-and-forget
    mirrored = shadow_log.read_text().count("POST /score") - before
    assert served == {"v002"}
    assert 60 <= mirrored <= 140  # Binomial(200, 0.5): mean 100, sd 7


def test_traffic_rules_follow_azure(two_deployments: LocalWorkspace) -> None:
    ws = two_deployments
    with pytest.raises(UserInputError, match="add up to 90 %"):
        ws.endpoints.set_traffic(ENDPOINT, {"v001": 40, "v002": 50})
    with pytest.raises(UserInputError, match="no deployment 'blue'"):
        ws.endpoints.set_traffic(ENDPOINT, {"blue": 100})
    with pytest.raises(UserInputError, match="one deployment"):
        ws.endpoints.set_traffic(ENDPOINT, {}, mirror={"v001": 10, "v002": 10})
    with pytest.raises(UserInputError, match="at most 50 %"):
        ws.endpoints.set_traffic(ENDPOINT, {"v002": 100}, mirror={"v001": 60})
    with pytest.raises(UserInputError, match="takes live traffic"):
        ws.endpoints.set_traffic(ENDPOINT, {"v001": 100}, mirror={"v001": 10})
    ws.endpoints.set_traffic(ENDPOINT, {"v001": 100})
    with pytest.raises(UserInputError, match="still takes 100 %"):
        ws.endpoints.delete_deployment(ENDPOINT, "v001")
    assert ws.endpoints.get(ENDPOINT).traffic == {"v001": 100, "v002": 0}
    with pytest.raises(UserInputError, match="invalid"):
        ws.endpoints.create("x")
    with pytest.raises(NotFoundError):
        ws.endpoints.get_deployment(ENDPOINT, "v404")


def test_a_killed_deployment_is_reported_and_costs_no_client_request(
    two_deployments: LocalWorkspace, server_pid: ServerPid
) -> None:
    ws = two_deployments
    ws.endpoints.set_traffic(ENDPOINT, {"v001": 50, "v002": 50})
    pid = server_pid(ws.root, ENDPOINT, "v001")
    os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while processes.alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)

    dead = ws.endpoints.get_deployment(ENDPOINT, "v001")
    assert dead.state is DeploymentState.UNHEALTHY and "not running" in dead.error
    request = parity(ws, 1, 1)
    with ScoringClient.for_endpoint(ws, ENDPOINT) as client:
        answers = [client.score(request) for _ in range(60)]
        pinned = client.score(request, deployment="v001")
    assert [a.status for a in answers] == [200] * 60  # the router re-sends refused requests
    assert {a.deployment for a in answers} == {"v002"}
    assert pinned.status == 502 and "not running" in pinned.message()


def test_a_deployment_that_cannot_start_fails_with_its_log_and_leaves_traffic(
    two_deployments: LocalWorkspace, released_project: ProjectConfig, wrapped_score: WrappedScore
) -> None:
    ws = two_deployments
    ws.endpoints.set_traffic(ENDPOINT, {"v001": 100})
    script = wrapped_score(released_project, "score_broken_init.py",
                          "def init():\n    raise RuntimeError('model store unreachable')\n"
                          "run = real.run\n")
    with pytest.raises(DeploymentFailed) as failure:
        ws.endpoints.create_deployment(ENDPOINT, "v003", spec(released_project, 2, script), timeout_s=60)
    assert "model store unreachable" in failure.value.logs
    assert ws.endpoints.get_deployment(ENDPOINT, "v003").state is DeploymentState.FAILED
    assert ws.endpoints.get(ENDPOINT).traffic == {"v001": 100, "v002": 0, "v003": 0}
    with pytest.raises(UserInputError, match="Failed"):
        ws.endpoints.set_traffic(ENDPOINT, {"v003": 100})


def test_deleting_an_endpoint_stops_every_process(
    two_deployments: LocalWorkspace, server_pid: ServerPid
) -> None:
    ws = two_deployments
    pids = [server_pid(ws.root, ENDPOINT, d) for d in ("v001", "v002")]
    port = int(ws.endpoints.get(ENDPOINT).scoring_uri.split(":")[2].split("/")[0])
    ws.endpoints.delete(ENDPOINT)
    assert not any(processes.alive(p) for p in pids)
    with pytest.raises(OSError):
        processes.get(port, "/", timeout_s=1)
    assert ws.endpoints.all() == []
    with pytest.raises(NotFoundError):
        ws.endpoints.get(ENDPOINT)


def test_a_stopped_router_is_restarted_on_the_same_url(
    two_deployments: LocalWorkspace, find_process: Callable[..., int]
) -> None:
    ws = two_deployments
    ws.endpoints.set_traffic(ENDPOINT, {"v002": 100})
    before = ws.endpoints.get(ENDPOINT)
    router = find_process("mlops_azure.local.router", str(ws.root / "endpoints" / ENDPOINT))
    processes.stop(router)
    assert ws.endpoints.get(ENDPOINT).state == "Unhealthy"

    again = ws.endpoints.create(ENDPOINT)
    assert again.state == "Succeeded" and again.scoring_uri == before.scoring_uri
    with ScoringClient.for_endpoint(ws, ENDPOINT) as client:
        assert client.score(parity(ws, 2, 1)).status == 200

