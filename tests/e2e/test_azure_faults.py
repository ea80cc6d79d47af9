"""Faults on ``--backend azure``, injected into the simulated Azure ML service: throttling and
server errors are retried (bounded), a failed job registers nothing, a deployment that fails to
provision stops the promotion with its logs and leaves production traffic where it was."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from mlops_azure.cli.main import app
from mlops_azure.testing import SimulatedAzureML

MODEL = "steel-purchase-forecast"

pytestmark = pytest.mark.slow


def test_throttling_and_server_errors_are_retried(
    azure_sim: SimulatedAzureML, cloud_project: Path, mlops: Any
) -> None:
    azure_sim.inject("GET", r"/data/steel-purchases$", 429, times=2, retry_after=0)
    azure_sim.inject("PUT", r"/data/steel-purchases/versions/1$", 503, times=1)
    uploaded = mlops("data", "upload", "data/purchases.csv", "--name", "steel-purchases")
    assert uploaded["version"] == 1
    statuses = [c.status for c in azure_sim.calls_to("GET", r"/data/steel-purchases$")]
    assert statuses[:3] == [429, 429, 404]  # two throttled attempts, then the real answer
    assert [c.status for c in azure_sim.calls_to("PUT", r"/versions/1$")] == [503, 200]


def test_retries_are_bounded_and_end_in_one_sentence(
    azure_sim: SimulatedAzureML, cloud_project: Path
) -> None:
    azure_sim.inject("GET", r"/models$", 429, times=50, retry_after=0)
    result = CliRunner().invoke(app, ["models", "list"])
    assert result.exit_code == 3
    assert "throttling" in result.stderr and "Traceback" not in result.output
    assert len(azure_sim.calls_to("GET", r"/models$")) == 4  # azure.retries = 3 in conftest


def test_a_failed_job_registers_nothing(
    azure_sim: SimulatedAzureML, cloud_project: Path, mlops: Any
) -> None:
    azure_sim.fail_step("train")
    result = CliRunner().invoke(app, ["train", "-p", "n_estimators=40"])
    assert result.exit_code == 1, result.output
    assert "step 'train' failed" in result.stderr and "status code 1" in result.stderr
    assert mlops("models", "list") == []
    assert not azure_sim.calls_to("PUT", r"/models/")
    assert "train" in [e["action"] for e in mlops("history")]


def test_a_deployment_that_fails_to_provision_leaves_production_alone(
    azure_sim: SimulatedAzureML, cloud_project: Path, mlops: Any
) -> None:
    mlops("train", "-p", "n_estimators=40")
    mlops("deploy", f"{MODEL}:1", "--stage", "staging")
    mlops("gate", "qa", "--stage", "staging", "--model", f"{MODEL}:1")
    mlops("approve", f"{MODEL}:1", "--stage", "production", "--by", "alice", "--reason", "ok")
    azure_sim.endpoints.fail_deployment("steel-production", "v001",
                                        logs="ImportError: No module named 'lightgbm'")
    result = CliRunner().invoke(app, ["promote", f"{MODEL}:1", "--stage", "production"])
    assert result.exit_code == 1, result.output
    assert "No module named 'lightgbm'" in result.stderr  # the deployment logs' tail
    assert "traffic of steel-production unchanged" in result.stderr
    production = [e for e in mlops("endpoints", "list") if e["name"] == "steel-production"]
    assert production and not any(production[0]["traffic"].values())
    failed = [e for e in mlops("history") if e["action"] == "deploy"
              and e["details"].get("outcome") == "failed"]
    assert failed and "lightgbm" in failed[0]["details"]["logs"]

    promoted = mlops("promote", f"{MODEL}:1", "--stage", "production")  # the fault is gone
    assert promoted["traffic"] == {"v001": 100}


def test_a_deployment_that_dies_during_the_canary_is_rolled_back(
    azure_sim: SimulatedAzureML, cloud_project: Path, mlops: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    mlops("train", "-p", "n_estimators=40")
    mlops("train")
    for version in (1, 2):
        ref = f"{MODEL}:{version}"
        mlops("deploy", ref, "--stage", "staging")
        mlops("gate", "qa", "--stage", "staging", "--model", ref)
        mlops("approve", ref, "--stage", "production", "--by", "alice", "--reason", "ok")
    mlops("promote", f"{MODEL}:1", "--stage", "production")

    from mlops_azure.lifecycle.traffic_journal import Operation

    real_change = Operation.change

    def crash_then_change(op: Operation, traffic: Any, reason: str, mirror: Any = None) -> Any:
        if reason == "canary 50 %":  # v002 took 10 % and answered; now its server dies
            azure_sim.endpoints.crash_deployment("steel-production", "v002")
        return real_change(op, traffic, reason, mirror)

    monkeypatch.setattr(Operation, "change", crash_then_change)
    before = len(azure_sim.calls)
    result = CliRunner().invoke(app, ["promote", f"{MODEL}:2", "--stage", "production"])
    assert result.exit_code == 1, result.output
    assert "rolled back" in result.stderr
    sent = [c.body["properties"].get("traffic") for c in azure_sim.calls[before:]
            if c.method == "PUT" and c.path.endswith("/onlineEndpoints/steel-production")
            and isinstance(c.body, dict)]
    assert sent == [{"v001": 90, "v002": 10}, {"v001": 50, "v002": 50}, {"v001": 100}]
    production = next(e for e in mlops("endpoints", "list") if e["name"] == "steel-production")
    assert {k: v for k, v in production["traffic"].items() if v} == {"v001": 100}
    rollback = next(e for e in mlops("history") if e["action"] == "rollback")
    assert rollback["details"]["trigger"] == "automatic"
