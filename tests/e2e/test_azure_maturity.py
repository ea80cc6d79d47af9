"""``mlops maturity --backend azure``: the evidence read from Azure ML (the simulated service) and
the blob audit trail, as on the embedded workspace."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlops_azure.backends import open_workspace
from mlops_azure.config import load_config
from tests.support.maturity import assert_evidence_exists

MODEL = "steel-purchase-forecast"

pytestmark = pytest.mark.slow


def test_maturity_on_azure_reads_its_evidence_from_the_workspace(
        cloud_project: Path, mlops: Any) -> None:
    for params in (["-p", "n_estimators=40"], []):
        ref = mlops("train", *params)["registered"]
        mlops("deploy", ref, "--stage", "staging")
        mlops("gate", "qa", "--stage", "staging", "--model", ref)
        mlops("approve", ref, "--stage", "production", "--by", "alice", "--reason", "QA passed")
        mlops("promote", ref, "--stage", "production")

    result = mlops("maturity")
    assert result["backend"] == "azure"
    by_id = {c["id"]: c for c in result["criteria"]}
    ws = open_workspace(load_config(cloud_project / "mlops.yaml"))
    for met in ("data-versioned", "model-integration-tests", "experiments-tracked",
                "tests-each-release", "staged-environments", "ab-testing", "traceability",
                "policy-promotion", "zero-downtime"):
        assert by_id[met]["status"] == "met", (met, by_id[met]["missing"])
        assert_evidence_exists(by_id[met], cloud_project, ws)
    # Nothing compared production's data with the training data yet: the gap says how.
    assert by_id["production-metrics"]["status"] == "not met"
    assert "mlops monitor drift" in by_id["production-metrics"]["fix"]
    assert result["level"] == 0  # the project folder is not in git
