"""Deploy, approve, promote (canary + automatic rollback) and roll back, on real local endpoints."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from mlops_azure.backends import open_workspace
from mlops_azure.config import ProjectConfig
from mlops_azure.errors import GateFailed, UserInputError
from mlops_azure.lifecycle.approval import approve, find_approval
from mlops_azure.lifecycle.release import deploy, promote, rollback
from mlops_azure.lifecycle.scoring import ScoringClient
from mlops_azure.workspace import AuditEvent, Workspace

V1, V2 = "steel-purchase-forecast:1", "steel-purchase-forecast:2"
WithScript = Callable[[ProjectConfig, str, str, str], ProjectConfig]


@pytest.fixture
def project(released_project: ProjectConfig) -> ProjectConfig:
    """Faster rollouts for tests: fewer probe requests, same steps."""
    return released_project.model_copy(update={"rollout": released_project.rollout.model_copy(
        update={"warmup_requests": 5, "requests_per_step": 10})})


@pytest.fixture
def ws(project: ProjectConfig) -> Workspace:
    return open_workspace(project)


def release_events(ws: Workspace) -> list[AuditEvent]:
    """The deploy, promote and rollback events, newest first (not the traffic journal's)."""
    found = [e for action in ("deploy", "promote", "rollback") for e in ws.events.recent(50, action=action)]
    return sorted(found, key=lambda e: e.id, reverse=True)


def qa_passed(ws: Workspace, ref: str, passed: bool = True) -> None:
    """The audit record the QA gate leaves (the gate itself is tested in test_qa_gate.py)."""
    ws.events.record("gate.qa", ref, {"stage": "staging", "passed": passed,
                                     "failed": [] if passed else ["parity"]}, actor="qa")


def approved(ws: Workspace, project: ProjectConfig, ref: str) -> None:
    """``ref`` passed QA and is approved for production."""
    qa_passed(ws, ref)
    approve(ws, project, ref, "production", reason="release")


@pytest.fixture
def v1_in_production(ws: Workspace, project: ProjectConfig) -> None:
    """V1 approved and serving all production traffic."""
    approved(ws, project, V1)
    promote(ws, project, V1, "production")


@contextmanager
def steady_client(ws: Workspace, endpoint: str) -> Iterator[list[int]]:
    """A client calling ``endpoint`` without pause in a thread; yields the statuses it got."""
    statuses: list[int] = []
    stop = threading.Event()
    request = json.loads((ws.models.local_path("steel-purchase-forecast", 1) / "parity.json")
                         .read_text())["request"]
    request = {"data": request["data"][:3]}

    def call() -> None:
        with ScoringClient.for_endpoint(ws, endpoint) as client:
            while not stop.is_set():
                statuses.append(client.score(request).status)

    thread = threading.Thread(target=call, daemon=True)
    thread.start()
    try:
        yield statuses
    finally:
        stop.set()
        thread.join(timeout=30)


def test_deploy_moves_all_traffic_and_rollback_returns_to_the_previous(
    ws: Workspace, project: ProjectConfig
) -> None:
    first = deploy(ws, project, V1, "staging")
    second = deploy(ws, project, V2, "staging")
    assert first.scoring_uri == second.scoring_uri  # one stable URL per endpoint
    assert ws.endpoints.get("steel-staging").traffic == {"v001": 0, "v002": 100}
    assert second.previous == "v001"

    back = rollback(ws, project, "staging")
    assert (back.deployment, back.model) == ("v001", V1)
    assert ws.endpoints.get("steel-staging").traffic == {"v001": 100, "v002": 0}
    again = rollback(ws, project, "staging")  # a rollback can itself be undone
    assert again.deployment == "v002"
    actions = [(e.action, e.subject) for e in release_events(ws)]
    assert actions[:4] == [("rollback", V2), ("rollback", V1), ("deploy", V2), ("deploy", V1)]


def test_deploy_refuses_approval_stages_and_unversioned_refs(ws: Workspace, project: ProjectConfig) -> None:
    with pytest.raises(UserInputError, match="requires approval"):
        deploy(ws, project, V1, "production")
    with pytest.raises(UserInputError, match="never 'latest'"):
        deploy(ws, project, "steel-purchase-forecast", "staging")
    with pytest.raises(UserInputError, match="unknown stage"):
        deploy(ws, project, V1, "qa")
    assert ws.endpoints.all() == []


def test_promotion_to_production_needs_an_approval_backed_by_a_passing_qa_report(
    ws: Workspace, project: ProjectConfig
) -> None:
    with pytest.raises(GateFailed, match="no approval"):
        promote(ws, project, V1, "production")
    assert ws.endpoints.all() == []  # refused before anything was started
    with pytest.raises(GateFailed, match="no QA gate report"):
        approve(ws, project, V1, "production", reason="looks good")
    qa_passed(ws, V1, passed=False)
    with pytest.raises(GateFailed, match="failed parity"):
        approve(ws, project, V1, "production", reason="looks good")
    qa_passed(ws, V1)
    with pytest.raises(UserInputError, match="needs a reason"):
        approve(ws, project, V1, "production", reason="  ")

    approval = approve(ws, project, V1, "production", reason="Q3 release", by="lead@contoso.com")
    assert (approval.by, approval.reason, approval.stage) == ("lead@contoso.com", "Q3 release", "production")
    assert approval.evidence["qa_event"] == ws.events.recent(1, action="gate.qa")[0].id
    assert find_approval(ws, ws.models.get("steel-purchase-forecast", 1), "production") == approval
    assert find_approval(ws, ws.models.get("steel-purchase-forecast", 2), "production") is None


def _devops_timeline_and_approval(mock: Any, status: str = "approved") -> None:
    """Azure DevOps' answers for run 4711: its timeline (stage → checkpoint → approval) and the
    approval with its steps, in the documented shapes ("Timeline - Get", "Approvals - Query")."""
    base = "https://dev.azure.com/contoso/steel/_apis"
    mock.get(f"{base}/build/builds/4711/timeline", json={"records": [
        {"id": "s1", "type": "Stage", "identifier": "Production", "name": "Production"},
        {"id": "c1", "type": "Checkpoint", "parentId": "s1", "state": "completed"},
        {"id": "a-1", "type": "Checkpoint.Approval", "parentId": "c1", "state": "completed"},
        {"id": "s2", "type": "Stage", "identifier": "Staging", "name": "Staging"},
        {"id": "c2", "type": "Checkpoint", "parentId": "s2", "state": "completed"},
        {"id": "a-2", "type": "Checkpoint.Approval", "parentId": "c2", "state": "completed"}]})
    mock.get(f"{base}/pipelines/approvals", json={"count": 1, "value": [{
        "id": "a-1", "status": status, "steps": [{
            "assignedApprover": {"displayName": "Release managers"},
            "actualApprover": {"displayName": "Bea Lead", "uniqueName": "bea@contoso.com"},
            "status": status, "comment": "numbers look right",
            "lastModifiedOn": "2026-12-04T10:00:00Z"}]}]})


def test_devops_environment_approval_records_the_approver(
    ws: Workspace, project: ProjectConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    import responses

    qa_passed(ws, V2)
    with pytest.raises(UserInputError, match="inside a pipeline"):
        approve(ws, project, V2, "production", reason=None, devops_environment=True)
    for var, value in {"TF_BUILD": "True", "BUILD_BUILDID": "4711", "ENVIRONMENT_NAME": "steel-production",
                       "SYSTEM_COLLECTIONURI": "https://dev.azure.com/contoso/",
                       "SYSTEM_TEAMPROJECT": "steel", "SYSTEM_STAGENAME": "Production",
                       "BUILD_REQUESTEDFOR": "Ana"}.items():
        monkeypatch.setenv(var, value)
    with pytest.raises(UserInputError, match=r"SYSTEM_ACCESSTOKEN: \$\(System.AccessToken\)"):
        approve(ws, project, V2, "production", reason=None, devops_environment=True)
    monkeypatch.setenv("SYSTEM_ACCESSTOKEN", "job-token")
    with responses.RequestsMock() as mock:
        _devops_timeline_and_approval(mock)
        approval = approve(ws, project, V2, "production", reason=None, devops_environment=True)
        asked = mock.calls[1].request
    assert "approvalIds=a-1" in str(asked.url) and "expand=steps" in str(asked.url)
    assert asked.headers["Authorization"] == "Bearer job-token"
    run = approval.evidence["devops_run"]
    assert run["run_id"] == "4711" and run["url"].endswith("/steel/_build/results?buildId=4711")
    # The Environment's approver, not the run's requester (Ana queued it).
    assert approval.by == "bea@contoso.com"
    assert "Bea Lead" in approval.reason and "steel-production" in approval.reason
    assert approval.evidence["devops_approvals"][0]["comment"] == "numbers look right"


def test_devops_environment_without_an_approval_is_refused(
    ws: Workspace, project: ProjectConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    import responses

    qa_passed(ws, V2)
    for var, value in {"TF_BUILD": "True", "BUILD_BUILDID": "4711", "SYSTEM_STAGENAME": "Production",
                       "SYSTEM_COLLECTIONURI": "https://dev.azure.com/contoso/",
                       "SYSTEM_TEAMPROJECT": "steel", "SYSTEM_ACCESSTOKEN": "t"}.items():
        monkeypatch.setenv(var, value)
    with responses.RequestsMock() as mock:
        _devops_timeline_and_approval(mock, status="pending")
        with pytest.raises(UserInputError, match="no completed approval"):
            approve(ws, project, V2, "production", reason=None, devops_environment=True)


def test_canary_promotion_shifts_traffic_without_a_single_failed_request(
    ws: Workspace, project: ProjectConfig
) -> None:
    for ref in (V1, V2):
        approved(ws, project, ref)
    first = promote(ws, project, V1, "production")
    assert ws.endpoints.get("steel-production").traffic == {"v001": 100}
    assert first.previous is None

    with steady_client(ws, "steel-production") as statuses:
        outcome = promote(ws, project, V2, "production")
    assert statuses and set(statuses) == {200}, f"{len(statuses)} requests, {statuses.count(200)} ok"
    assert [s["share"] for s in outcome.steps] == [0, 10, 50, 100]
    assert all(s["errors"] == 0 for s in outcome.steps)
    assert ws.endpoints.get("steel-production").traffic == {"v001": 0, "v002": 100}  # v001 kept
    event = ws.events.recent(1, action="promote")[0]
    assert event.details["outcome"] == "succeeded" and event.details["previous"] == "v001"
    assert event.details["approval"] == find_approval(ws, ws.models.get("steel-purchase-forecast", 2),
                                                      "production").event_id  # type: ignore[union-attr]

    back = rollback(ws, project, "production")
    assert back.deployment == "v001"
    assert ws.endpoints.get("steel-production").traffic == {"v001": 100, "v002": 0}


@pytest.mark.usefixtures("v1_in_production")
def test_a_canary_that_answers_errors_is_rolled_back_before_any_client_sees_it(
    ws: Workspace, project: ProjectConfig, with_script: WithScript
) -> None:
    broken = with_script(project, "production", "score_500.py", "init = real.init\n"
                         "def run(raw):\n    raise RuntimeError('feature store timeout')\n")
    approved(ws, broken, V2)

    # The warm-up stops at the first failed probe (the policy allows none).
    with steady_client(ws, "steel-production") as statuses, \
            pytest.raises(GateFailed, match="rolled back: 1 of 1 requests failed at 0 %"):
        promote(ws, broken, V2, "production")
    assert statuses and set(statuses) == {200}
    assert ws.endpoints.get("steel-production").traffic == {"v001": 100}  # canary removed
    auto = release_events(ws)[:2]
    assert [e.action for e in auto] == ["promote", "rollback"]
    assert auto[0].details["outcome"] == "rolled back" and auto[1].details["trigger"] == "automatic"


@pytest.mark.usefixtures("v1_in_production")
def test_a_canary_that_fails_after_taking_traffic_is_rolled_back(
    ws: Workspace, project: ProjectConfig, with_script: WithScript
) -> None:
    # Healthy for the warm-up, then every answer is an error: caught at the first traffic step.
    flaky = with_script(project, "production", "score_degrades.py", "init = real.init\ncalls = 0\n"
                        "def run(raw):\n    global calls\n    calls += 1\n"
                        "    if calls > 5:\n        raise RuntimeError('memory leak')\n"
                        "    return real.run(raw)\n")
    approved(ws, flaky, V2)
    with pytest.raises(GateFailed, match="failed at 10 %"):
        promote(ws, flaky, V2, "production")
    assert ws.endpoints.get("steel-production").traffic == {"v001": 100}


@pytest.mark.usefixtures("v1_in_production")
def test_a_canary_that_cannot_start_leaves_production_untouched(
    ws: Workspace, project: ProjectConfig, with_script: WithScript
) -> None:
    broken = with_script(project, "production", "score_no_init.py",
                         "def init():\n    raise ImportError('lightgbm ABI mismatch')\nrun = real.run\n")
    approved(ws, broken, V2)
    with steady_client(ws, "steel-production") as statuses, \
            pytest.raises(GateFailed, match="traffic of steel-production unchanged") as failure:
        promote(ws, broken, V2, "production")
    assert "lightgbm ABI mismatch" in failure.value.message
    assert statuses and set(statuses) == {200}
    assert ws.endpoints.get("steel-production").traffic == {"v001": 100, "v002": 0}
    assert release_events(ws)[0].details["outcome"] == "failed"
