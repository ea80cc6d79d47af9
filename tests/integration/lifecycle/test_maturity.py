"""``mlops maturity`` on real projects: a fresh one, one through the whole loop (``mlops run``
alone), and one made by ``mlops init --data``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mlops_azure.backends import open_workspace
from mlops_azure.cli.main import app
from mlops_azure.cli.state import STATE
from mlops_azure.config import load_config
from mlops_azure.example.demo import release, run_demo, stop_endpoints
from mlops_azure.example.scaffold import init_project
from mlops_azure.init_from_data import init_from_data
from mlops_azure.lifecycle.training import train
from mlops_azure.project import Project
from tests.integration.webapp.conftest import write_own_table
from tests.support.maturity import assert_evidence_exists

pytestmark = pytest.mark.slow


def _quiet(_: str) -> None:
    pass


def maturity(root: Path, *args: str, code: int = 0) -> tuple[Any, str]:
    """``mlops --json --config ROOT/mlops.yaml maturity ARGS``: its JSON and its stderr."""
    result = CliRunner().invoke(app, ["--json", "--config", str(root / "mlops.yaml"), "maturity",
                                      *args])
    STATE.__init__()  # type: ignore[misc]  # the CLI keeps global state per process
    assert result.exit_code == code, result.stderr[-3000:] or result.stdout[-3000:]
    return json.loads(result.stdout), result.stderr


@pytest.fixture
def stop_after(tmp_path: Path) -> Iterator[list[Path]]:
    """Projects whose local endpoints are stopped when the test ends."""
    roots: list[Path] = []
    yield roots
    for root in roots:
        if (root / "mlops.yaml").is_file():
            stop_endpoints(open_workspace(load_config(root / "mlops.yaml"), "local"))


def test_a_fresh_project_is_at_level_0_with_its_gap_list(tmp_path: Path) -> None:
    root = tmp_path / "fresh"
    init_project(root, organisations=2, customers=2)
    page = tmp_path / "maturity.html"
    result, _ = maturity(root, "--html", str(page))
    assert result["level"] == 0 and result["next_level"] == 1
    gaps = {g["id"]: g for g in result["gaps"]}
    assert set(gaps) == {"code-versioned", "data-versioned", "model-integration-tests"}
    assert all(g["missing"] and g["fix"] for g in gaps.values())
    by_id = {c["id"]: c for c in result["criteria"]}
    # What the files show is judged before anything ran: the pipelines and tests mlops init
    # wrote, the training pipeline and its environments.
    for met in ("ci-tests", "unit-tests", "training-pipeline", "release-pipeline",
                "monitoring-automated", "automated-training-testing"):
        assert by_id[met]["status"] == "met", (met, by_id[met]["missing"])
    assert by_id["ci-tests"]["evidence"][0]["ref"] == ".azure-pipelines/ci.yml"
    assert by_id["unit-tests"]["evidence"][0]["ref"] == "tests/test_project.py"
    html = page.read_text(encoding="utf-8")
    assert "<script" not in html and "What level 1 needs" in html

    _, said = maturity(root, "--require-level", "1", code=1)
    assert "is at level 0 (No MLOps); level 1 needs code-versioned: " in " ".join(said.split())


def test_mlops_run_alone_reaches_level_4_with_evidence_for_each_criterion(
        tmp_path: Path, stop_after: list[Path]) -> None:
    root = tmp_path / "demo"
    stop_after.append(root)
    summary = run_demo(root, say=_quiet)
    # The retrained model went out as a canary beside the first: the A/B and rollback evidence.
    assert summary["second_release"]["promotion"]["previous"]

    result, _ = maturity(root, "--require-level", "4")
    missing = {c["id"]: c["missing"] for c in result["criteria"] if c["status"] != "met"}
    assert missing == {}
    assert result["level"] == 4 and result["gaps"] == []
    ws = open_workspace(load_config(root / "mlops.yaml"), "local")
    for found in result["criteria"]:
        assert found["evidence"], found["id"]
        assert_evidence_exists(found, root, ws)
    retrained = next(c for c in result["criteria"] if c["id"] == "retraining-from-metrics")
    assert "trigger=drift" in retrained["evidence"][0]["note"]

    # A failing test report takes level 1 away: the level is judged, not given.
    junit = tmp_path / "pytest.xml"
    junit.write_text('<testsuites><testsuite name="t"><testcase name="test_prep"><failure/>'
                     "</testcase></testsuite></testsuites>")
    failing, _ = maturity(root, "--junit", str(junit))
    assert failing["level"] == 0 and [g["id"] for g in failing["gaps"]] == ["unit-tests"]


def test_a_project_made_from_a_table_is_judged_the_same_way(
        tmp_path: Path, stop_after: list[Path]) -> None:
    table = tmp_path / "homes.csv"
    root = tmp_path / "homes"
    init_from_data(root, table, column=write_own_table(table))
    stop_after.append(root)
    config = load_config(root / "mlops.yaml")
    ws = open_workspace(config)
    outcome = train(ws, config, params={"n_estimators": 60}, actor="tester")
    assert outcome.model is not None, outcome.decision.reason
    release(ws, config, outcome.model.ref, root, _quiet)

    judged = Project.load(root).maturity()
    by_id = {j.criterion.id: j for j in judged.judged}
    for met in ("data-versioned", "model-integration-tests", "training-pipeline",
                "experiments-tracked", "tests-each-release", "staged-environments",
                "traceability", "policy-promotion"):
        assert by_id[met].met, (met, by_id[met].verdict.missing)
    # One release had nothing serving beside it: no canary between two versions yet.
    for gap in ("ab-testing", "zero-downtime"):
        assert not by_id[gap].met and "release a second version" in by_id[gap].verdict.fix
    # Not in git: the version-control criteria say so, and the level stays 0.
    assert not by_id["code-versioned"].met and not by_id["models-versioned"].met
    assert judged.level == 0 and "code-versioned" in {j.criterion.id for j in judged.gaps()}
