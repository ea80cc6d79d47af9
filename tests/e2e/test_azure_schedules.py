"""Training schedules on ``--backend azure`` over the simulated service: a firing only trains,
so ``mlops schedule settle`` judges and registers it (once); a schedule pinned to a data version
and a champion at creation is re-created when a newer one appears."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlops_azure.testing import SimulatedAzureML

MODEL = "steel-purchase-forecast"
DATA = "steel-purchases"


def _stored(sim: SimulatedAzureML, name: str) -> dict[str, Any]:
    definition = sim.resources[sim.arm_id(f"/schedules/{name}")]["properties"]["action"]
    return dict(definition["jobDefinition"])


def test_a_fired_run_is_settled_once_with_its_lineage(
    cloud_project: Path, azure_sim: SimulatedAzureML, mlops: Any
) -> None:
    assert mlops("train", "-p", "n_estimators=40")["registered"] == f"{MODEL}:1"
    mlops("schedule", "create", "nightly", "--cron", "0 3 * * *")
    tags = _stored(azure_sim, "nightly")["tags"]
    # what finish_training needs, pinned as Azure ML pins it
    assert (tags["data"], tags["champion"], tags["schedule"]) == (f"{DATA}:1", f"{MODEL}:1",
                                                                  "nightly")
    assert mlops("schedule", "settle") == []  # nothing fired yet

    fired = azure_sim.trigger_schedule("nightly")
    azure_sim.wait_for_jobs()
    [settled] = mlops("schedule", "settle")
    assert (settled["job_id"], settled["schedule"], settled["error"]) == (fired, "nightly", None)
    assert settled["registered"] == f"{MODEL}:2", settled
    model = mlops("models", "show", f"{MODEL}:2")
    lineage = model["lineage"]
    assert lineage["job_id"] == fired and lineage["data_version"] == 1
    assert lineage["extra"]["trigger"] == "schedule" and lineage["extra"]["schedule"] == "nightly"
    assert mlops("schedule", "settle") == []  # settled once: a second pass does nothing
    assert len([e for e in mlops("history") if e["action"] == "schedule.settle"]) == 1
    # the new champion is pinned into the schedule for its next firing
    assert _stored(azure_sim, "nightly")["tags"]["champion"] == f"{MODEL}:2"


def test_new_data_re_pins_the_schedule(
    cloud_project: Path, azure_sim: SimulatedAzureML, mlops: Any
) -> None:
    assert mlops("train", "-p", "n_estimators=40")["registered"] == f"{MODEL}:1"
    mlops("schedule", "create", "nightly", "--cron", "0 3 * * *")
    inputs = json.loads(_stored(azure_sim, "nightly")["tags"]["mlops.inputs"])
    assert inputs["raw_data"] == f"azureml:{DATA}:1"
    data = cloud_project / "data" / "newer.csv"
    original = next((cloud_project / "data").glob("*.csv"))
    data.write_text(original.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    uploaded = mlops("data", "upload", str(data), "--name", DATA)
    assert uploaded["version"] == 2 and uploaded["schedules_repinned"] == ["nightly"]
    stored = _stored(azure_sim, "nightly")
    assert json.loads(stored["tags"]["mlops.inputs"])["raw_data"] == f"azureml:{DATA}:2"
    assert stored["tags"]["data"] == f"{DATA}:2"
    repins = [e for e in mlops("history") if e["action"] == "schedule.repin"]
    assert len(repins) == 1 and repins[0]["subject"] == "nightly"
