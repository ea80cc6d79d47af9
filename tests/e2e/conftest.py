"""Fixtures for the end-to-end tests on ``--backend azure``: the example project pointed at the
simulated Azure ML service (over Azurite), driven through the real CLI in-process."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mlops_azure.cli.main import app
from mlops_azure.cli.state import STATE
from mlops_azure.example.demo import stop_endpoints
from mlops_azure.example.scaffold import init_project
from mlops_azure.local import LocalWorkspace
from mlops_azure.testing import FakeCredential, SimulatedAzureML

MODEL = "steel-purchase-forecast"
AKS = "aks-prod"

def on_simulator(config: dict[str, Any], sim: SimulatedAzureML, rollout: dict[str, Any]) -> dict[str, Any]:
    """``config`` (a parsed mlops.yaml) on the simulated workspace: staging on a managed online
    endpoint, production on Kubernetes, the given rollout."""
    config["backend"] = "azure"
    config["azure"] = sim.project_settings(kubernetes_compute=AKS)
    config["stages"]["staging"]["target"] = "managed"
    config["stages"]["production"]["target"] = "kubernetes"
    config["rollout"] = rollout
    return config


def _configure(root: Path, sim: SimulatedAzureML) -> None:
    """Point the example project at the simulated workspace; production on Kubernetes."""
    import yaml

    config_file = root / "mlops.yaml"
    config = on_simulator(yaml.safe_load(config_file.read_text(encoding="utf-8")), sim,
                          {"steps": [10, 50, 100], "warmup_requests": 3, "requests_per_step": 10})
    # These tests release deliberately weak (40-tree) models quickly; the responsible-ML gate
    # would rightly stop them. test_azure_responsible.py runs it on Azure.
    config.pop("responsible", None)
    config_file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


@pytest.fixture
def cloud_project(
    azure_sim: SimulatedAzureML, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    root = tmp_path / "proj"
    init_project(root)
    _configure(root, azure_sim)
    azure_sim.add_kubernetes_compute(AKS)
    monkeypatch.chdir(root)
    # The CLI signs in with DefaultAzureCredential; tests hand it a fake one instead.
    monkeypatch.setattr("mlops_azure.azure.client.default_credential", FakeCredential)
    yield root
    STATE.__init__()  # type: ignore[misc]  # the CLI keeps global state per process


def run_mlops(*args: str, code: int | None = 0) -> Any:
    """``mlops --json ARGS`` in-process; asserts the exit code (unless None: 0 or 1), returns
    the parsed JSON."""
    result = CliRunner().invoke(app, ["--json", *args])
    expected = (0, 1) if code is None else (code,)
    assert result.exit_code in expected, result.stderr[-3000:] or result.stdout[-3000:]
    try:
        return json.loads(result.stdout) if result.stdout.strip() else None
    except ValueError:
        raise AssertionError(f"not JSON: {result.stdout[-2000:]}") from None


@pytest.fixture
def mlops() -> Any:
    """The CLI as a function: ``mlops("train", code=0)`` → parsed ``--json`` output."""
    return run_mlops


@pytest.fixture
def local_folder(tmp_path: Path) -> Iterator[Path]:
    """A folder for a project on the embedded workspace; the endpoints it starts (processes that
    outlive the commands) are stopped afterwards."""
    folder = tmp_path / "project"
    try:
        yield folder
    finally:
        if (folder / ".mlops").is_dir():
            stop_endpoints(LocalWorkspace(folder / ".mlops"))


def write_cancer(path: Path) -> str:
    """scikit-learn's breast cancer table (30 features, 569 rows) with its 0/1 target as text
    labels, written to ``path``; returns the target column."""
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame["diagnosis"] = frame.pop("target").map({0: "malignant", 1: "benign"})
    frame.to_csv(path, index=False)
    return "diagnosis"
