"""Reading Azure ML's data collector output: the window, the join on correlation ids, and
deployments that no longer exist."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from mlops_azure.azure import AzureWorkspace
from mlops_azure.monitoring.collected import read_collected
from mlops_azure.testing import SimulatedAzureML


def line(kind: str, when: datetime, correlation: str, data: list[dict[str, object]]) -> str:
    return json.dumps({"specversion": "1.0", "type": f"azureml.inference.{kind}",
                       "time": when.isoformat().replace("+00:00", "Z"),
                       "correlationid": correlation, "data": data})


def test_a_deleted_deployment_still_counts_and_old_hours_are_skipped(
        azure_sim: SimulatedAzureML, azure_workspace: AzureWorkspace) -> None:
    azure_workspace.endpoints.create("ep-collect", kind="managed")
    container = azure_sim.container("workspaceblobstore")
    now = datetime.now(UTC)
    old = now - timedelta(days=3)
    for when, cid, price in ((now, "a", 700.0), (old, "b", 900.0)):
        hour = when.strftime("%Y/%m/%d/%H")
        base = f"modelDataCollector/ep-collect/retired/{{}}/{hour}/x.jsonl"
        container.upload_blob(base.format("model_inputs"),
                              line("model_inputs", when, cid, [{"price": price}]) + "\n{torn")
        container.upload_blob(base.format("model_outputs"),
                              line("model_outputs", when, cid, [{"prediction": 1.5}]))
    folder = azure_workspace.endpoints.collected_data_dir("ep-collect", since_s=3600)
    assert folder is not None
    rows = read_collected(folder)
    assert rows["price"].tolist() == [700.0] and rows["prediction"].tolist() == [1.5]
    assert rows["deployment"].tolist() == ["retired"]
    assert abs(rows["time"].iloc[0] - time.time()) < 3700
    everything = read_collected(azure_workspace.endpoints.collected_data_dir("ep-collect"))
    assert sorted(everything["price"]) == [700.0, 900.0]
