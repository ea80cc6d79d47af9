"""``mlops maturity`` on real projects: a fresh one, one through the whole loop (``mlops run``'s
demo) in a git repository with CI definitions, and one made by ``mlops init --data``."""

from __future__ import annotations

import json
import shutil
import subprocess
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

REPO = Path(__file__).resolve().parents[3]
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


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.email=dev@example.com", "-c",
                    "user.name=dev", *args], check=True, capture_output=True, timeout=60)


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
    assert {"code-versioned", "ci-tests", "unit-tests", "data-versioned",
            "model-integration-tests"} <= set(gaps)
    assert all(g["missing"] and g["fix"] for g in gaps.values())
    by_id = {c["id"]: c for c in result["criteria"]}
    # What the files show is judged before anything ran: the pipeline and its environments.
    assert by_id["training-pipeline"]["status"] == "met"
    html = page.read_text(encoding="utf-8")
    assert "<script" not in html and "What level 1 needs" in html

    _, said = maturity(root, "--require-level", "1", code=1)
    assert "is at level 0 (No MLOps); level 1 needs code-versioned: " in " ".join(said.split())


def test_the_whole_loop_in_a_repository_with_ci_reaches_level_4_with_evidence(
        tmp_path: Path, stop_after: list[Path]) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    shutil.copytree(REPO / ".azure-pipelines", repo / ".azure-pipelines")
    (repo / "tests").mkdir()
    (repo / "tests" / "test_prep.py").write_text("def test_prep() -> None:\n    assert True\n")
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "CI and tests")
    root = repo / "project"
    stop_after.append(root)
    run_demo(root, say=_quiet)
    # mlops run's one promotion had nothing serving before it: releasing the latest version (the
    # many-models one), as the demo's last lines suggest, is a canary beside a serving version.
    config = load_config(root / "mlops.yaml")
    ws = open_workspace(config, "local")
    release(ws, config, ws.models.get(config.model.name).ref, root, _quiet)
    git(repo, "add", "-A", "project/components", "project/pipelines", "project/environments",
        "project/mlops.yaml")
    git(repo, "commit", "-q", "-m", "the project")
    junit = tmp_path / "pytest.xml"
    junit.write_text('<testsuites><testsuite name="t"><testcase name="test_prep"/></testsuite>'
                     "</testsuites>")

    result, _ = maturity(root, "--junit", str(junit), "--require-level", "4")
    missing = {c["id"]: c["missing"] for c in result["criteria"] if c["status"] != "met"}
    assert missing == {}
    assert result["level"] == 4 and result["gaps"] == []
    for found in result["criteria"]:
        assert found["evidence"], found["id"]
        assert_evidence_exists(found, root if found["id"] != "code-versioned" else repo, ws)
    retrained = next(c for c in result["criteria"] if c["id"] == "retraining-from-metrics")
    assert "trigger=drift" in retrained["evidence"][0]["note"]


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
