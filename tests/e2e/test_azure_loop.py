"""The whole lifecycle with ``--backend azure``: the real azure-ai-ml SDK against the simulated
Azure ML service (jobs really run, deployments really serve) and Azurite.

upload data → train (twice: a small first model, then a better one) → register → deploy staging
(managed) → QA gate → approve → promote production (Kubernetes) with canary → rollback; and what
was sent on the wire at each step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlops_azure.testing import SimulatedAzureML

MODEL = "steel-purchase-forecast"

pytestmark = pytest.mark.slow

def _bodies(sim: SimulatedAzureML, method: str, pattern: str) -> list[dict[str, Any]]:
    return [c.body for c in sim.calls_to(method, pattern) if isinstance(c.body, dict)]


def test_the_release_loop_on_azure(
    azure_sim: SimulatedAzureML, cloud_project: Path, mlops: Any
) -> None:
    mlops("infra", "ensure")
    assert azure_sim.calls_to("PUT", r"/computes/cpu-cluster$")

    first = mlops("train", "-p", "n_estimators=40")
    assert first["registered"] == f"{MODEL}:1"
    put = _bodies(azure_sim, "PUT", rf"/models/{MODEL}/versions/1$")[-1]["properties"]
    assert put["modelUri"].startswith("azureml://jobs/") or "/outputs/" in json.dumps(put)
    assert put["tags"]["lineage.data_asset"] == "steel-purchases"
    assert put["tags"]["lineage.job_id"] == first["job_id"]
    assert not azure_sim.calls_to("PUT", r"/models/.*\.blob\.")  # registered, never re-uploaded

    checked = mlops("data", "check", "azureml:steel-purchases:1")  # read back from Azurite
    assert checked["passed"] and checked["rows"] > 500

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

    mlops("schedule", "create", "weekly-retrain", "--cron", "0 3 * * 1",
          "--time-zone", "Europe/Berlin")
    schedule = _bodies(azure_sim, "PUT", r"/schedules/weekly-retrain$")[-1]["properties"]
    assert schedule["trigger"]["expression"] == "0 3 * * 1"
    assert schedule["action"]["jobDefinition"]["jobType"] == "Pipeline"
    assert [s["name"] for s in mlops("schedule", "list")] == ["weekly-retrain"]
    mlops("schedule", "delete", "weekly-retrain")
    assert mlops("schedule", "list") == []


def _bodies_since(sim: SimulatedAzureML, start: int, method: str,
                  pattern: str) -> list[dict[str, Any]]:
    import re

    return [c.body for c in sim.calls[start:] if c.method == method
            and re.search(pattern, c.path) and isinstance(c.body, dict)]
