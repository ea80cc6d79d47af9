"""The QA gate against real local endpoints: a sound deployment passes, skew and 5xx fail."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from mlops_azure.backends import open_workspace
from mlops_azure.config import ProjectConfig
from mlops_azure.contract import PARITY_FILE
from mlops_azure.errors import NotFoundError
from mlops_azure.lifecycle.qa import run_qa_gate
from mlops_azure.lifecycle.release import deploy, deployment_spec
from mlops_azure.workspace import Workspace

V1 = "steel-purchase-forecast:1"
WithScript = Callable[[ProjectConfig, str, str, str], ProjectConfig]
ALL = ["health", "schema", "parity", "latency_p50", "latency_p95", "error_rate", "bad_requests"]


@pytest.fixture
def project(released_project: ProjectConfig) -> ProjectConfig:
    return released_project.model_copy(update={"qa": released_project.qa.model_copy(
        update={"latency_requests": 20})})


@pytest.fixture
def ws(project: ProjectConfig) -> Workspace:
    return open_workspace(project)


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
    ws: Workspace, project: ProjectConfig, with_script: WithScript
) -> None:
    skewed = with_script(project, "staging", "score_skewed.py",
                     "init = real.init\n"
                     "def run(raw):\n    out = real.run(raw)\n"
                     # inside the server a good answer comes back already encoded
                     "    if getattr(out, 'status_code', None) == 200:\n"
                     "        import json\n        out = json.loads(out.get_data())\n"
                     "    if isinstance(out, dict):\n"
                     "        out = {'predictions': [p * 1.01 for p in out['predictions']]}\n"
                     "    return out\n")
    deploy(ws, skewed, V1, "staging")
    report = run_qa_gate(ws, skewed, "staging", model=V1)
    assert [c.name for c in report.failed] == ["parity"]
    assert "200 of 200 rows differ from the offline predictions" in report.failed[0].detail


def test_a_scoring_script_that_crashes_on_bad_input_fails_bad_requests(
    ws: Workspace, project: ProjectConfig, with_script: WithScript
) -> None:
    fragile = with_script(project, "staging", "score_fragile.py",
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


def test_a_canary_at_zero_traffic_is_gated_through_the_endpoint(
    ws: Workspace, project: ProjectConfig
) -> None:
    deploy(ws, project, V1, "staging")
    v2 = ws.models.get("steel-purchase-forecast", 2)
    ws.endpoints.create_deployment("steel-staging", "v002",
                                   deployment_spec(project, project.stage("staging"), v2))
    assert ws.endpoints.get("steel-staging").traffic == {"v001": 100, "v002": 0}
    report = run_qa_gate(ws, project, "staging", model=v2.ref)
    # v1 and v2 predict differently, so parity passing proves the header reached v002.
    assert report.passed, report.failed
    assert (report.model, report.deployment) == (v2.ref, "v002")


def test_a_model_without_a_parity_sample_fails_parity_and_says_so(
    ws: Workspace, project: ProjectConfig
) -> None:
    v1 = ws.models.get("steel-purchase-forecast", 1)
    (ws.jobs.output_path(v1.lineage.job_id, "model") / PARITY_FILE).unlink()
    bare = ws.models.register(v1.name, job_id=v1.lineage.job_id, output="model", metrics=v1.metrics,
                             lineage=v1.lineage)
    stage = project.stage("staging")
    ws.endpoints.create(stage.endpoint)
    ws.endpoints.create_deployment(stage.endpoint, "bare", deployment_spec(project, stage, bare))
    ws.endpoints.set_traffic(stage.endpoint, {"bare": 100})
    report = run_qa_gate(ws, project, "staging")
    # Parity fails loudly; the other checks fall back to the project's sample request and run.
    assert [c.name for c in report.failed] == ["parity"]
    assert f"{bare.ref} has no {PARITY_FILE}" in report.failed[0].detail
