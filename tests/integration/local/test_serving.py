"""Local deployments behind their router: locked down by a token, keep-alive that keeps the
scoring timeout, and the live-traffic counts the canary reads."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_azure.backends import open_workspace
from mlops_azure.config import ProjectConfig
from mlops_azure.lifecycle.scoring import ScoringClient
from mlops_azure.local import LocalWorkspace, processes
from mlops_azure.probes import ROLLOUT_PROBE
from mlops_azure.workspace import DeploymentSpec

WrappedScore = Callable[[ProjectConfig, str, str], str]
MODEL = "steel-purchase-forecast"
ENDPOINT = "serve-test"


@pytest.fixture
def ws(released_project: ProjectConfig) -> LocalWorkspace:
    found = open_workspace(released_project)
    assert isinstance(found, LocalWorkspace)
    found.endpoints.create(ENDPOINT)
    return found


def spec(project: ProjectConfig, script: str = "score/score.py", timeout_ms: int = 10_000) -> DeploymentSpec:
    return DeploymentSpec(MODEL, 1, project.resolve(Path("components")), script,
                          request_timeout_ms=timeout_ms)


def one_row(ws: LocalWorkspace) -> dict[str, object]:
    doc = json.loads((ws.models.local_path(MODEL, 1) / "parity.json").read_text())
    return {"data": doc["request"]["data"][:1]}


def routes(ws: LocalWorkspace) -> dict[str, dict[str, object]]:
    found: dict[str, dict[str, object]] = json.loads(
        (ws.root / "endpoints" / ENDPOINT / "routes.json").read_text())
    return found


def test_a_deployment_answers_its_router_only(ws: LocalWorkspace, released_project: ProjectConfig) -> None:
    ws.endpoints.create_deployment(ENDPOINT, "blue", spec(released_project))
    ws.endpoints.set_traffic(ENDPOINT, {"blue": 100})
    table = routes(ws)
    port, token = int(str(table["ports"]["blue"])), str(table["tokens"]["blue"])
    assert (ws.root / "endpoints" / ENDPOINT / "routes.json").stat().st_mode & 0o777 == 0o600
    with sqlite3.connect(ws.root / "workspace.db") as conn:
        assert conn.execute("SELECT router_token FROM deployments").fetchone()[0] == token

    for path in ("/", "/swagger.json", "/score"):
        assert processes.get(port, path)[0] == 401
        assert processes.get(port, path, headers={processes.TOKEN_HEADER: token[:-1] + "x"})[0] == 401
    assert processes.get(port, "/", headers={processes.TOKEN_HEADER: token})[0] == 200
    with ScoringClient.for_endpoint(ws, ENDPOINT) as client:
        assert client.score(one_row(ws)).status == 200


def test_the_scoring_timeout_still_fires_on_kept_alive_connections(
    ws: LocalWorkspace, released_project: ProjectConfig, wrapped_score: WrappedScore
) -> None:
    script = wrapped_score(released_project, "score_sleepy.py",
                           "import time\n\ndef init():\n    real.init()\n\n"
                           "def run(raw):\n    if 'sleep' in raw:\n        time.sleep(120)\n"
                           "    return real.run(raw)\n")
    # one worker: if the timeout did not interrupt the sleep, nothing could answer after it
    ws.endpoints.create_deployment(ENDPOINT, "blue", spec(released_project, script, timeout_ms=1000))
    ws.endpoints.set_traffic(ENDPOINT, {"blue": 100})
    with ScoringClient.for_endpoint(ws, ENDPOINT) as client:
        assert client.score(one_row(ws)).status == 200  # opens the kept-alive connection
        slow = client.score({**one_row(ws), "sleep": True})
        assert slow.status == 500 and "timeout" in slow.message().lower()
        assert [client.score(one_row(ws)).status for _ in range(3)] == [200] * 3
    assert slow.deployment == "blue"  # 500: the deployment's own timeout answer (the router says 504)


def test_live_traffic_counts_client_requests_per_deployment(
    ws: LocalWorkspace, released_project: ProjectConfig
) -> None:
    ws.endpoints.create_deployment(ENDPOINT, "blue", spec(released_project))
    ws.endpoints.create_deployment(ENDPOINT, "green", spec(released_project))
    ws.endpoints.set_traffic(ENDPOINT, {"blue": 100})
    with ScoringClient.for_endpoint(ws, ENDPOINT) as client:
        assert client.score(one_row(ws)).status == 200
        before = ws.live_traffic.counts(ENDPOINT)
        assert before is not None
        for _ in range(3):
            client.score(one_row(ws))
        assert client.score(b"{not json").status == 400
    with ScoringClient.for_endpoint(ws, ENDPOINT, probe=ROLLOUT_PROBE) as prober:
        for _ in range(4):
            assert prober.score(one_row(ws), deployment="green").status == 200

    after = ws.live_traffic.counts(ENDPOINT)
    assert after is not None and "green" not in after  # probes are not traffic
    blue = after["blue"].since(before["blue"])
    assert (blue.requests, blue.status_2xx, blue.status_4xx, blue.failed) == (4, 3, 1, 0)
    assert sum(blue.latency_counts) == 4 and blue.p95_ms() is not None
