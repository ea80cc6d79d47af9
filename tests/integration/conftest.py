"""Fixtures for integration tests: a fresh example project on the embedded workspace."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlops_azure.backends import open_workspace
from mlops_azure.config import ProjectConfig, load_config
from mlops_azure.example.scaffold import init_project
from mlops_azure.workspace import Workspace

#: Small, fast hyper-parameters for tests that only need *a* model.
FAST = {"n_estimators": 60}


@pytest.fixture
def project(tmp_path: Path) -> ProjectConfig:
    """A fresh `mlops init` project (data generated, nothing registered)."""
    root = tmp_path / "proj"
    init_project(root)
    return load_config(root / "mlops.yaml")


@pytest.fixture
def workspace(project: ProjectConfig) -> Workspace:
    return open_workspace(project)


@pytest.fixture
def edit_data(project: ProjectConfig) -> Callable[[Callable[[list[str]], list[str]]], None]:
    """Rewrite the project's CSV line by line (header first)."""

    def edit(change: Callable[[list[str]], list[str]]) -> None:
        path = project.resolve(project.data.path)
        lines = path.read_text(encoding="utf-8").splitlines()
        path.write_text("\n".join(change(lines)) + "\n", encoding="utf-8")

    return edit


@pytest.fixture(scope="session")
def trained_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project with two registered versions (v1 small, v2 the default size), trained once per
    test session; copy it with ``released_project`` rather than changing it."""
    from mlops_azure.lifecycle.training import train

    root = tmp_path_factory.mktemp("trained") / "proj"
    init_project(root)
    config = load_config(root / "mlops.yaml")
    ws = open_workspace(config)
    train(ws, config, params=FAST, actor="tester")
    outcome = train(ws, config, params={"n_estimators": 200}, actor="tester")
    assert outcome.model is not None and outcome.model.version == 2, outcome.decision.reason
    return root


@pytest.fixture
def released_project(trained_template: Path, tmp_path: Path) -> Iterator[ProjectConfig]:
    """A copy of the trained project; every endpoint it starts is deleted afterwards, so no
    server process outlives the test even when it fails."""
    import shutil

    root = tmp_path / "proj"
    shutil.copytree(trained_template, root, symlinks=True)
    config = load_config(root / "mlops.yaml")
    try:
        yield config
    finally:
        ws = open_workspace(config)
        for endpoint in ws.endpoints.all():
            ws.endpoints.delete(endpoint.name)


@pytest.fixture
def wrapped_score() -> Callable[[ProjectConfig, str, str], str]:
    """Write a scoring script beside the project's real one that imports it as ``real`` (to
    reuse or break its ``init``/``run``); returns its path relative to the code folder."""

    def write(project: ProjectConfig, name: str, body: str) -> str:
        folder = project.resolve(Path("components/score"))
        (folder / name).write_text(
            "import sys\nfrom pathlib import Path\nsys.path.insert(0, str(Path(__file__).parent))\n"
            "import score as real\n" + body, encoding="utf-8")
        return f"score/{name}"

    return write


@pytest.fixture
def with_script(
    wrapped_score: Callable[[ProjectConfig, str, str], str]
) -> Callable[[ProjectConfig, str, str, str], ProjectConfig]:
    """The project with ``stage`` serving a scoring script (``name``, ``body``) that wraps the
    real one: ``with_script(project, stage, name, body)``."""

    def change(project: ProjectConfig, stage: str, name: str, body: str) -> ProjectConfig:
        stages = dict(project.stages)
        stages[stage] = stages[stage].model_copy(
            update={"scoring_script": wrapped_score(project, name, body)})
        return project.model_copy(update={"stages": stages})

    return change


def _cmdline(pid_dir: Path) -> bytes:
    try:
        return (pid_dir / "cmdline").read_bytes()
    except OSError:
        return b""


@pytest.fixture
def find_process() -> Callable[..., int]:
    """The pid of the process whose command line holds every given fragment (e.g. a server's
    ``127.0.0.1:PORT`` and ``gunicorn``); fails the test when there is none."""

    def find(*fragments: str) -> int:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and all(f.encode() in _cmdline(entry) for f in fragments):
                return int(entry.name)
        raise AssertionError(f"no process with {fragments} in its command line")

    return find


@pytest.fixture
def server_pid(find_process: Callable[..., int]) -> Callable[[Path, str, str], int]:
    """The gunicorn master of a local deployment, by its port in the router's routes file."""

    def find(workspace_dir: Path, endpoint: str, deployment: str) -> int:
        routes = json.loads((workspace_dir / "endpoints" / endpoint / "routes.json").read_text())
        return find_process(f"127.0.0.1:{routes['ports'][deployment]}", "gunicorn")

    return find
