"""The CI/CD `mlops init` writes into a project: its tests run (and fail when the project's code
breaks), and `--force` never replaces the user's own pipelines or tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_azure import Project
from mlops_azure.config import set_settings
from mlops_azure.errors import UserInputError
from mlops_azure.example.demo import stop_endpoints
from mlops_azure.example.scaffold import init_project
from mlops_azure.init_from_data import init_from_data
from mlops_azure.project_ci import trial_project
from tests.integration.webapp.conftest import write_own_table

pytestmark = pytest.mark.slow


def project_tests(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest on the project's tests/, as its ci.yml runs them (no cache or bytecode left)."""
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "--rootdir", str(root), *args, "tests"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=600)


@pytest.fixture
def homes(tmp_path: Path) -> Path:
    table = tmp_path / "homes.csv"
    root = tmp_path / "homes"
    init_from_data(root, table, column=write_own_table(table))
    return root


def test_the_example_projects_tests_pass_too(tmp_path: Path) -> None:
    root = tmp_path / "steel"
    init_project(root, organisations=2, customers=2)
    ran = project_tests(root)
    assert ran.returncode == 0, ran.stdout[-3000:]
    assert "3 passed" in ran.stdout


def test_a_project_from_a_table_gets_pipelines_and_tests_that_pass(homes: Path) -> None:
    pipelines = sorted(p.relative_to(homes / ".azure-pipelines").as_posix()
                       for p in (homes / ".azure-pipelines").rglob("*.yml"))
    assert pipelines == ["ci.yml", "monitoring.yml", "release.yml", "templates/azure-mlops.yml",
                         "templates/data.yml", "templates/read-model.yml", "templates/setup.yml",
                         "templates/training-attach.yml", "training.yml"]
    # The data the pipelines read is where the project's mlops.yaml says.
    assert "dataPath: data/homes.csv" in (homes / ".azure-pipelines" / "ci.yml").read_text()
    ran = project_tests(homes)
    assert ran.returncode == 0, ran.stdout[-3000:]
    assert "3 passed" in ran.stdout
    # The trial ran in a copy: the project's own workspace was never made.
    assert not (homes / ".mlops").exists()


def test_the_project_tests_fail_when_the_scoring_script_answers_wrong(homes: Path) -> None:
    script = homes / "components" / "score" / "score.py"
    text = script.read_text(encoding="utf-8")
    assert "predictions = values.tolist()" in text
    script.write_text(text.replace("predictions = values.tolist()",
                                   "predictions = (values * 1.1).tolist()"), encoding="utf-8")
    ran = project_tests(homes, "-k", "qa_gate")
    assert ran.returncode == 1, ran.stdout[-3000:]
    assert "parity" in ran.stdout and "1 failed" in ran.stdout


def test_force_refreshes_what_mlops_wrote_and_keeps_what_people_wrote(tmp_path: Path) -> None:
    table = tmp_path / "homes.csv"
    target = write_own_table(table)
    root = tmp_path / "homes"
    init_from_data(root, table, column=target)
    pipelines, tests = root / ".azure-pipelines", root / "tests"
    (pipelines / "build.yml").write_text("trigger: none\n")  # the user's own pipeline
    (tests / "test_mine.py").write_text("def test_mine() -> None:\n    pass\n")
    edited = (pipelines / "monitoring.yml").read_text() + "# tuned by hand\n"
    (pipelines / "monitoring.yml").write_text(edited)
    # Made again from another table: what mlops wrote follows the new data; the rest stays.
    renamed = tmp_path / "Homes 2026.csv"
    renamed.write_bytes(table.read_bytes())
    made = init_from_data(root, renamed, column=target, name="houses", force=True)
    assert made.kept == [".azure-pipelines/monitoring.yml"]
    assert "dataPath: data/homes-2026.csv" in (pipelines / "training.yml").read_text()
    assert "source: houses-training" in (pipelines / "release.yml").read_text()
    assert (pipelines / "monitoring.yml").read_text() == edited
    assert (pipelines / "build.yml").read_text() == "trigger: none\n"
    assert sorted(p.name for p in tests.iterdir()) == ["test_mine.py", "test_project.py"]
    # A file of the user's that happens to share a name is never replaced either.
    (tests / "test_project.py").write_text("def test_other() -> None:\n    pass\n")
    again = init_from_data(root, renamed, column=target, name="houses", force=True)
    assert again.kept == [".azure-pipelines/monitoring.yml", "tests/test_project.py"]
    assert "test_other" in (tests / "test_project.py").read_text()


def test_a_project_in_a_repository_subfolder_points_its_pipelines_there(tmp_path: Path) -> None:
    subprocess.run(["git", "-C", str(tmp_path), "init", "-q"], check=True, timeout=60)
    table = tmp_path / "homes.csv"
    root = tmp_path / "ml" / "homes"
    init_from_data(root, table, column=write_own_table(table))
    for pipeline in ("ci.yml", "training.yml", "release.yml", "monitoring.yml"):
        text = (root / ".azure-pipelines" / pipeline).read_text(encoding="utf-8")
        assert "\n  projectDir: ml/homes\n" in text, pipeline


def test_the_trial_never_touches_the_projects_own_workspace(homes: Path, tmp_path: Path) -> None:
    # A workspace folder of another name inside the project, and data kept outside it.
    set_settings(homes / "mlops.yaml", {"local.workspace_dir": "state",
                                        "data.path": "../homes.csv"})
    (homes / "venv").mkdir()
    (homes / "venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (homes / "components" / "env").mkdir()
    (homes / "components" / "env" / "notes.txt").write_text("not a virtualenv\n")
    project = Project.load(homes)
    ref = project.train().model.ref  # type: ignore[union-attr]
    project.deploy(ref, "staging")
    request = json.loads((homes / "sample-request.json").read_text(encoding="utf-8"))
    try:
        with trial_project(homes, tmp_path / "trial") as trial:
            assert trial.config.workspace_dir == tmp_path / "trial" / ".mlops"
            assert not (tmp_path / "trial" / "state").exists()
            assert trial.config.resolve(trial.config.data.path) == (tmp_path / "homes.csv")
            assert not (tmp_path / "trial" / "venv").exists()  # a virtualenv stays behind
            assert (tmp_path / "trial" / "components" / "env" / "notes.txt").is_file()
            assert trial.models() == []  # a registry of its own
            trial_ref = trial.train().model.ref  # type: ignore[union-attr]
            trial.deploy(trial_ref, "staging")
        # The trial's endpoints are gone; the project's own still answers.
        assert project.invoke("staging", request).ok
    finally:
        stop_endpoints(project.workspace)


@pytest.mark.parametrize(("name", "force", "refusal"), [
    ("tests", True, r"tests: is not a folder"),  # a file where the folder goes: even --force
    ("sample-request.json", False, r"sample-request\.json"),  # the user's own: needs --force
])
def test_a_file_of_the_users_is_refused_and_kept(tmp_path: Path, name: str, force: bool,
                                                 refusal: str) -> None:
    table = tmp_path / "homes.csv"
    target = write_own_table(table)
    root = tmp_path / "homes"
    root.mkdir()
    (root / name).write_text("mine\n")
    with pytest.raises(UserInputError, match=refusal):
        init_from_data(root, table, column=target, force=force)
    assert [p.name for p in root.iterdir()] == [name]  # nothing half-written
    assert (root / name).read_text() == "mine\n"
