"""The serving half of the Workspace contract: endpoints, deployments, traffic, keys, logs.

Each backend runs the same tests. Deployments really serve: a tiny scoring script over the
contract model (``model.json`` with the doubled sum of the input numbers).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_azure.errors import NotFoundError, UserInputError
from mlops_azure.lifecycle.scoring import ScoringClient
from mlops_azure.workspace import DeploymentSpec, DeploymentState, Job, Lineage, Workspace

SCORE_PY = """\
import json, os, pathlib

total = None

def init():
    global total
    found = next(pathlib.Path(os.environ["AZUREML_MODEL_DIR"]).rglob("model.json"))
    total = json.loads(found.read_text())["total"]

def run(raw):
    rows = json.loads(raw)["data"]
    return {"predictions": [total * len(rows)]}
"""


@pytest.fixture
def served(workspace: Workspace, completed_job: Job, make_lineage: Callable[[str], Lineage],
           tmp_path: Path) -> Callable[[int], DeploymentSpec]:
    """Registers two versions of model ``clf``; returns a spec builder for a version."""
    for _ in range(2):
        workspace.models.register("clf", job_id=completed_job.id, output="model", metrics={"wape": 0.2},
                                 lineage=make_lineage(completed_job.id))
    code = tmp_path / "serving"
    code.mkdir()
    (code / "score.py").write_text(SCORE_PY, encoding="utf-8")
    return lambda version: DeploymentSpec("clf", version, code, "score.py", request_timeout_ms=5000)


@pytest.fixture
def endpoint(workspace: Workspace) -> Callable[[str], str]:
    """Creates endpoints and deletes them after the test, so no server outlives it."""
    created: list[str] = []

    def create(name: str) -> str:
        workspace.endpoints.create(name)
        created.append(name)
        return name

    yield create  # type: ignore[misc]
    for name in created:
        with contextlib.suppress(NotFoundError):
            workspace.endpoints.delete(name)


def test_creating_an_endpoint_twice_returns_the_same_endpoint(
    workspace: Workspace, endpoint: Callable[[str], str]
) -> None:
    first = workspace.endpoints.get(endpoint("ep-one"))
    again = workspace.endpoints.create("ep-one")
    assert again.scoring_uri == first.scoring_uri and again.created_at == first.created_at
    assert (again.traffic, again.mirror_traffic, again.auth_mode) == ({}, {}, "key")
    assert workspace.endpoints.keys("ep-one") == workspace.endpoints.keys("ep-one")
    assert [e.name for e in workspace.endpoints.all()] == ["ep-one"]


def test_endpoint_names_follow_azure_rules(workspace: Workspace) -> None:
    for bad in ("ab", "1abc", "has_underscore", "ends-", "x" * 33):
        with pytest.raises(UserInputError, match="invalid"):
            workspace.endpoints.create(bad)
    with pytest.raises(NotFoundError, match="endpoint 'nowhere' does not exist"):
        workspace.endpoints.get("nowhere")
    with pytest.raises(NotFoundError):
        workspace.endpoints.list_deployments("nowhere")


def test_keys_are_two_long_distinct_secrets_that_do_not_print(
    workspace: Workspace, endpoint: Callable[[str], str]
) -> None:
    keys = workspace.endpoints.keys(endpoint("ep-keys"))
    assert keys.primary != keys.secondary and min(len(keys.primary), len(keys.secondary)) >= 32
    assert keys.primary not in repr(keys) and keys.primary not in str(keys)


def test_a_new_deployment_serves_at_zero_traffic(
    workspace: Workspace, endpoint: Callable[[str], str], served: Callable[[int], DeploymentSpec]
) -> None:
    name = endpoint("ep-new")
    deployment = workspace.endpoints.create_deployment(name, "blue", served(1))
    assert (deployment.name, deployment.model_ref, deployment.state) == (
        "blue", "clf:1", DeploymentState.SUCCEEDED)
    assert workspace.endpoints.get(name).traffic == {"blue": 0}
    assert workspace.endpoints.traffic(name)[0].traffic == 0
    with ScoringClient.for_endpoint(workspace, name) as client:
        assert client.score({"data": [1]}).status == 503  # nothing takes traffic yet
        # the contract model holds 2 x sum(3 1 4 1 5 9 2 6) = 62; the script multiplies by rows
        assert client.predictions({"data": [1, 2]}, deployment="blue") == [124]
    assert "blue" in [d.name for d in workspace.endpoints.list_deployments(name)]
    assert workspace.endpoints.deployment_logs(name, "blue", 50).strip()


def test_deployment_arguments_are_checked(
    workspace: Workspace, endpoint: Callable[[str], str], served: Callable[[int], DeploymentSpec],
    tmp_path: Path,
) -> None:
    name = endpoint("ep-args")
    with pytest.raises(NotFoundError):
        workspace.endpoints.create_deployment("nowhere", "blue", served(1))
    with pytest.raises(NotFoundError):
        workspace.endpoints.create_deployment(name, "blue",
                                              DeploymentSpec("clf", 9, served(1).code_dir, "score.py"))
    with pytest.raises(UserInputError, match="scoring script"):
        workspace.endpoints.create_deployment(name, "blue", DeploymentSpec("clf", 1, tmp_path, "nope.py"))
    with pytest.raises(UserInputError, match="deployment name"):
        workspace.endpoints.create_deployment(name, "b_1", served(1))
    assert workspace.endpoints.list_deployments(name) == []


def test_traffic_split_mirror_and_deletion_rules(
    workspace: Workspace, endpoint: Callable[[str], str], served: Callable[[int], DeploymentSpec]
) -> None:
    name = endpoint("ep-traffic")
    workspace.endpoints.create_deployment(name, "blue", served(1))
    workspace.endpoints.create_deployment(name, "green", served(2))
    found = workspace.endpoints.set_traffic(name, {"blue": 90, "green": 10})
    assert found.traffic == {"blue": 90, "green": 10}
    assert [(d.deployment, d.traffic) for d in workspace.endpoints.traffic(name)] == [
        ("blue", 90), ("green", 10)]
    found = workspace.endpoints.set_traffic(name, {"blue": 100}, mirror={"green": 20})
    assert (found.traffic, found.mirror_traffic) == ({"blue": 100, "green": 0}, {"green": 20})
    again = workspace.endpoints.get(name)  # a mirror-only deployment is listed at 0 % too
    assert (again.traffic, again.mirror_traffic) == ({"blue": 100, "green": 0}, {"green": 20})
    for traffic, mirror, message in [
        ({"blue": 50}, None, "add up to 50 %"),
        ({"blue": 101, "green": -1}, None, "0-100"),
        ({"red": 100}, None, "no deployment 'red'"),
        ({"blue": 100}, {"green": 51}, "at most 50 %"),
        ({"blue": 100}, {"blue": 10}, "takes live traffic"),
    ]:
        with pytest.raises(UserInputError, match=message):
            workspace.endpoints.set_traffic(name, traffic, mirror)
    assert workspace.endpoints.get(name).mirror_traffic == {"green": 20}  # unchanged by refusals
    with pytest.raises(UserInputError, match="still takes 100 %"):
        workspace.endpoints.delete_deployment(name, "blue")
    workspace.endpoints.set_traffic(name, {"blue": 100})
    workspace.endpoints.delete_deployment(name, "green")
    assert [d.name for d in workspace.endpoints.list_deployments(name)] == ["blue"]
    with pytest.raises(NotFoundError):
        workspace.endpoints.get_deployment(name, "green")


def test_replacing_a_deployment_keeps_its_traffic_and_serves_the_new_version(
    workspace: Workspace, endpoint: Callable[[str], str], served: Callable[[int], DeploymentSpec]
) -> None:
    name = endpoint("ep-replace")
    workspace.endpoints.create_deployment(name, "blue", served(1))
    workspace.endpoints.set_traffic(name, {"blue": 100})
    replaced = workspace.endpoints.create_deployment(name, "blue", served(2))
    assert replaced.model_ref == "clf:2"
    assert workspace.endpoints.get(name).traffic == {"blue": 100}
    with ScoringClient.for_endpoint(workspace, name) as client:
        assert client.score({"data": [1]}).ok


def test_deleting_an_endpoint_removes_its_deployments(
    workspace: Workspace, endpoint: Callable[[str], str], served: Callable[[int], DeploymentSpec]
) -> None:
    name = endpoint("ep-gone")
    workspace.endpoints.create_deployment(name, "blue", served(1))
    workspace.endpoints.delete(name)
    with pytest.raises(NotFoundError):
        workspace.endpoints.get(name)
    assert workspace.endpoints.traffic(name) == []
    assert workspace.endpoints.all() == []


def test_events_can_be_filtered_by_action_and_subject(workspace: Workspace) -> None:
    workspace.events.record("deploy", "clf:1", {}, actor="a")
    workspace.events.record("approve", "clf:1", {}, actor="b")
    workspace.events.record("approve", "clf:2", {}, actor="c")
    assert [e.actor for e in workspace.events.recent(action="approve")] == ["c", "b"]
    assert [e.actor for e in workspace.events.recent(subject="clf:1")] == ["b", "a"]
    assert [e.actor for e in workspace.events.recent(action="approve", subject="clf:1")] == ["b"]
    assert workspace.events.recent(action="rollback") == []
