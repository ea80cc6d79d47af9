"""The QA gate against real local endpoints: a sound deployment passes, skew and 5xx fail."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mlops_azure.backends import open_workspace
from mlops_azure.config import ProjectConfig
from mlops_azure.errors import NotFoundError
from mlops_azure.lifecycle.qa import run_qa_gate
from mlops_azure.lifecycle.release import deploy
from mlops_azure.workspace import Workspace

V1 = "steel-purchase-forecast:1"
ALL = ["health", "schema", "parity", "latency_p50", "latency_p95", "error_rate", "bad_requests"]


@pytest.fixture
def project(released_project: ProjectConfig) -> ProjectConfig:
    return released_project.model_copy(update={"qa": released_project.qa.model_copy(
        update={"latency_requests": 20})})


@pytest.fixture
def ws(project: ProjectConfig) -> Workspace:
    return open_workspace(project)


def serving(project: ProjectConfig, wrapped_score: Callable[[ProjectConfig, str, str], str],
            name: str, body: str) -> ProjectConfig:
    stages = dict(project.stages)
    stages["staging"] = stages["staging"].model_copy(
        update={"scoring_script": wrapped_score(project, name, body)})
    return project.model_copy(update={"stages": stages})


def test_a_sound_deployment_passes_every_check(ws: Workspace, project: ProjectConfig) -> None:
    deploy(ws, project, V1, "staging")
    report = run_qa_gate(ws, project, "staging", model=V1)
    assert [c.name for c in report.checks] == ALL
    assert report.passed, report.failed
    assert (report.model, report.deployment, report.endpoint) == (V1, "v001", "steel-staging")
    parity = next(c for c in report.checks if c.name == "parity")
    assert parity.measured is not None and parity.measured <= 1e-6
    assert "all 200 rows equal the offline predictions" in parity.detail
    # Without --model the gate takes the deployment that serves the traffic.
    assert run_qa_gate(ws, project, "staging").deployment == "v001"


def test_a_skewed_scoring_script_fails_parity_only(
    ws: Workspace, project: ProjectConfig, wrapped_score: Callable[[ProjectConfig, str, str], str]
) -> None:
    skewed = serving(project, wrapped_score, "score_skewed.py",
                     "init = real.init\n"
                     "def run(raw):\n    out = real.run(raw)\n"
                     "    if isinstance(out, dict):\n"
                     "        out = {'predictions': [p * 1.01 for p in out['predictions']]}\n"
                     "    return out\n")
    deploy(ws, skewed, V1, "staging")
    report = run_qa_gate(ws, skewed, "staging", model=V1)
    assert [c.name for c in report.failed] == ["parity"]
    assert "200 of 200 rows differ from the offline predictions" in report.failed[0].detail


def test_a_scoring_script_that_crashes_on_bad_input_fails_bad_requests(
    ws: Workspace, project: ProjectConfig, wrapped_score: Callable[[ProjectConfig, str, str], str]
) -> None:
    fragile = serving(project, wrapped_score, "score_fragile.py",
                      "import json\ninit = real.init\n"
                      "def run(raw):\n    rows = json.loads(raw)['data']\n"
                      "    if not rows or not isinstance(rows[0], dict):\n        raise ValueError('bad')\n"
                      "    return real.run(raw)\n")
    deploy(ws, fragile, V1, "staging")
    report = run_qa_gate(ws, fragile, "staging", model=V1)
    assert [c.name for c in report.failed] == ["bad_requests"]
    detail = report.failed[0].detail
    assert "3 of 5 malformed requests were not refused with a 4xx" in detail
    assert "not JSON got HTTP 500" in detail


def test_a_dead_deployment_fails_health_and_skips_the_rest(
    ws: Workspace, project: ProjectConfig, server_pid: Callable[..., int]
) -> None:
    import os
    import signal
    import time

    from mlops_azure.local import processes

    deploy(ws, project, V1, "staging")
    pid = server_pid(project.workspace_dir, "steel-staging", "v001")
    os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while processes.alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    report = run_qa_gate(ws, project, "staging", model=V1)
    assert not report.passed and [c.name for c in report.failed] == ALL
    assert "Unhealthy" in report.checks[0].detail


def test_gating_a_version_that_is_not_deployed_is_a_clear_error(
    ws: Workspace, project: ProjectConfig
) -> None:
    deploy(ws, project, V1, "staging")
    with pytest.raises(NotFoundError, match=r"no deployment of endpoint 'steel-staging' \(stage "
                                            r"'staging'\) serves steel-purchase-forecast:2"):
        run_qa_gate(ws, project, "staging", model="steel-purchase-forecast:2")
    with pytest.raises(NotFoundError, match="stage 'production' has no endpoint 'steel-production'"):
        run_qa_gate(ws, project, "production")
