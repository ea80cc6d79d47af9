"""The whole lifecycle with ``--backend azure``: the real azure-ai-ml SDK against the simulated
Azure ML service (jobs really run, deployments really serve) and Azurite.

upload data → train (twice: a small first model, then a better one) → register → deploy staging
(managed) → QA gate → approve → promote production (Kubernetes) with canary → rollback; and what
was sent on the wire at each step.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mlops_azure.cli.main import app
from mlops_azure.cli.state import STATE
from mlops_azure.scaffold import init_project
from mlops_azure.testing import FakeCredential, SimulatedAzureML

MODEL = "steel-purchase-forecast"
AKS = "aks-prod"

pytestmark = pytest.mark.slow


def _configure(root: Path, sim: SimulatedAzureML) -> None:
    """Point the example project at the simulated workspace; production on Kubernetes."""
    import yaml

    config_file = root / "mlops.yaml"
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    config["backend"] = "azure"
    config["azure"] = {"subscription_id": sim.subscription, "resource_group": sim.resource_group,
                       "workspace_name": sim.workspace, "compute": "cpu-cluster",
                       "kubernetes_compute": AKS, "poll_interval_s": 0.1,
                       "retry_backoff_s": 0.01, "operation_timeout_s": 300}
    config["stages"]["staging"]["target"] = "managed"
    config["stages"]["production"]["target"] = "kubernetes"
    config["rollout"] = {"steps": [10, 50, 100], "warmup_requests": 3, "requests_per_step": 10}
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


def mlops(*args: str, code: int = 0) -> Any:
    result = CliRunner().invoke(app, ["--json", *args])
    assert result.exit_code == code, result.stderr[-3000:] or result.stdout[-3000:]
    try:
        return json.loads(result.stdout) if result.stdout.strip() else None
    except ValueError:
        raise AssertionError(f"not JSON: {result.stdout[-2000:]}") from None


def _bodies(sim: SimulatedAzureML, method: str, pattern: str) -> list[dict[str, Any]]:
    return [c.body for c in sim.calls_to(method, pattern) if isinstance(c.body, dict)]


def test_the_release_loop_on_azure(azure_sim: SimulatedAzureML, cloud_project: Path) -> None:
    mlops("infra", "ensure")
    assert azure_sim.calls_to("PUT", r"/computes/cpu-cluster$")

    first = mlops("train", "-p", "n_estimators=40")
    assert first["registered"] == f"{MODEL}:1"
    put = _bodies(azure_sim, "PUT", rf"/models/{MODEL}/versions/1$")[-1]["properties"]
    assert put["modelUri"].startswith("azureml://jobs/") or "/outputs/" in json.dumps(put)
    assert put["tags"]["lineage.data_asset"] == "steel-purchases"
    assert put["tags"]["lineage.job_id"] == first["job_id"]
    assert not azure_sim.calls_to("PUT", r"/models/.*\.blob\.")  # registered, never re-uploaded

    second = mlops("train")
    assert second["decision"]["verdict"] == "better", second["decision"]
    assert second["registered"] == f"{MODEL}:2"

    mlops("deploy", f"{MODEL}:1", "--stage", "staging")
    mlops("gate", "qa", "--stage", "staging", "--model", f"{MODEL}:1")
    mlops("approve", f"{MODEL}:1", "--stage", "production", "--by", "alice", "--reason", "first")
    mlops("promote", f"{MODEL}:1", "--stage", "production")

    mlops("deploy", f"{MODEL}:2", "--stage", "staging")
    mlops("gate", "qa", "--stage", "staging", "--model", f"{MODEL}:2")
    mlops("approve", f"{MODEL}:2", "--stage", "production", "--by", "alice", "--reason", "better")
    before = len(azure_sim.calls)
    promoted = mlops("promote", f"{MODEL}:2", "--stage", "production")
    assert promoted["traffic"] == {"v002": 100, "v001": 0}
    steps = [b["properties"].get("traffic") for b in
             _bodies_since(azure_sim, before, "PUT", r"/onlineEndpoints/steel-production$")]
    assert steps == [{"v001": 90, "v002": 10}, {"v001": 50, "v002": 50}, {"v002": 100}]

    rolled = mlops("rollback", "--stage", "production")
    assert rolled["traffic"]["v001"] == 100
    status = mlops("status")
    assert json.dumps(status).count("v001") >= 1
    actions = [e["action"] for e in mlops("history")]
    for action in ("register", "gate.champion", "deploy", "gate.qa", "approve", "promote",
                   "rollback"):
        assert action in actions


def _bodies_since(sim: SimulatedAzureML, start: int, method: str,
                  pattern: str) -> list[dict[str, Any]]:
    import re

    return [c.body for c in sim.calls[start:] if c.method == method
            and re.search(pattern, c.path) and isinstance(c.body, dict)]
