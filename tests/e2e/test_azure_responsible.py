"""The responsible-ML gate and the model card on Azure ML (the simulated service): the report and
the card are stored beside the version in the workspace's datastore, promotion judges them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from mlops_azure.testing import SimulatedAzureML
from tests.e2e.conftest import MODEL

REPO_CONFIG = Path(__file__).resolve().parents[2] / "examples" / "steel" / "mlops.yaml"


def test_the_card_and_report_live_with_the_version_and_gate_promotion(
    azure_sim: SimulatedAzureML, cloud_project: Path, mlops: Any
) -> None:
    config_file = cloud_project / "mlops.yaml"
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    config["responsible"] = yaml.safe_load(REPO_CONFIG.read_text(encoding="utf-8"))["responsible"]
    config_file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    mlops("infra", "ensure")

    trained = mlops("train")
    assert trained["registered"] == f"{MODEL}:1"
    assert trained["responsible"]["status"] in ("pass", "warn")
    blobs = sorted(b for b in azure_sim.container("workspaceblobstore").list_blob_names(
        name_starts_with=f"mlops/model-docs/{MODEL}/1/"))
    assert blobs == [f"mlops/model-docs/{MODEL}/1/{name}"
                     for name in ("card.html", "card.md", "responsible.json")]

    card = mlops("models", "card", f"{MODEL}:1", "--html", str(cloud_project / "card.html"))
    assert card["markdown"].startswith(f"# Model card: {MODEL} version 1")
    assert (cloud_project / "card.html").read_text(encoding="utf-8").count("<svg") >= 5

    mlops("deploy", f"{MODEL}:1", "--stage", "staging")
    mlops("gate", "qa", "--stage", "staging", "--model", f"{MODEL}:1")
    approval = mlops("approve", f"{MODEL}:1", "--stage", "production", "--by", "alice",
                     "--reason", "fair enough")
    assert approval["evidence"]["responsible"]["document"] == "responsible.json"

    config["responsible"]["policy"]["worst_cohort_metric"] = 0.01
    config_file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    from mlops_azure.cli.state import STATE

    STATE.__init__()  # type: ignore[misc]  # the tightened config is read afresh
    mlops("promote", f"{MODEL}:1", "--stage", "production", code=1)
    refused = next(e for e in mlops("history") if e["action"] == "promote")
    assert refused["details"]["outcome"] == "refused"
    assert "above the limit 0.01" in refused["details"]["reason"]
