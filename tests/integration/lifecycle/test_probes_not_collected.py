"""The QA gate's and a rollout's own requests are not production data: after both, with no user
traffic, the production stage has nothing to monitor; a user's `mlops invoke` is collected."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from mlops_azure.backends import open_workspace
from mlops_azure.cli.main import app
from mlops_azure.cli.state import STATE
from mlops_azure.config import ProjectConfig, load_config
from mlops_azure.lifecycle.approval import approve, record_qa
from mlops_azure.lifecycle.qa import run_qa_gate
from mlops_azure.lifecycle.release import deploy, promote
from mlops_azure.monitoring.collected import read_collected

V2 = "steel-purchase-forecast:2"


@pytest.fixture
def project(released_project: ProjectConfig, monkeypatch: pytest.MonkeyPatch) -> Iterator[ProjectConfig]:
    """The released project as the working directory, with a shorter QA gate and rollout."""
    file = released_project.root / "mlops.yaml"
    document = yaml.safe_load(file.read_text())
    document["qa"] = {**document.get("qa", {}), "latency_requests": 10}
    document["rollout"] = {**document.get("rollout", {}), "warmup_requests": 5,
                           "requests_per_step": 5}
    file.write_text(yaml.safe_dump(document))
    monkeypatch.chdir(released_project.root)
    yield load_config(file)
    STATE.__init__()  # type: ignore[misc]  # the CLI keeps global state per process


def mlops(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_probes_are_not_production_data_and_user_requests_are(project: ProjectConfig) -> None:
    ws = open_workspace(project)
    deploy(ws, project, V2, "staging")
    report = run_qa_gate(ws, project, "staging")
    assert report.passed, report.checks
    record_qa(ws, report, actor="qa")
    approve(ws, project, V2, "production", reason="release")
    promote(ws, project, V2, "production")
    assert run_qa_gate(ws, project, "production").passed  # a gate on production probes it too

    for stage, endpoint in (("staging", "steel-staging"), ("production", "steel-production")):
        folder = ws.endpoints.collected_data_dir(endpoint)
        assert folder is not None and read_collected(folder).empty
        assert not any(f.read_bytes() for f in folder.glob("*.jsonl"))  # not written at all
        code, _, err = mlops("monitor", "drift", "--stage", stage, "--window", "1h")
        assert code == 2, err
        assert f"stage '{stage}' recorded no user requests in the last 1h" in err
        assert "probes are not counted" in err and len(err.strip().splitlines()) == 1

    request = json.loads(Path("sample-request.json").read_text())
    for _ in range(3):
        assert mlops("invoke", "--stage", "production", "--file", "sample-request.json")[0] == 0
    folder = ws.endpoints.collected_data_dir("steel-production")
    assert folder is not None
    assert len(read_collected(folder)) == 3 * len(request["data"])
    code, out, err = mlops("--json", "monitor", "drift", "--stage", "production", "--window", "1h")
    found = json.loads(out)
    assert found["rows_current"] == 3 * len(request["data"])
    assert code == 0 and not found["judged"] and found["verdict"].startswith("no verdict: ")
