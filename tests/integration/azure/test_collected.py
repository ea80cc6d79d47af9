"""Reading Azure ML's data collector output: the window, the join on correlation ids, and
deployments that no longer exist."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from mlops_azure.azure import AzureWorkspace
from mlops_azure.monitoring.collected import read_collected
from mlops_azure.testing import SimulatedAzureML


def line(kind: str, when: datetime, correlation: str, data: list[dict[str, object]]) -> str:
    return json.dumps({"specversion": "1.0", "type": f"azureml.inference.{kind}",
                       "time": when.isoformat().replace("+00:00", "Z"),
                       "correlationid": correlation, "data": data})


def test_a_deleted_deployment_still_counts_and_old_hours_are_skipped(
        azure_sim: SimulatedAzureML, azure_workspace: AzureWorkspace) -> None:
    azure_workspace.create_endpoint("ep-collect", kind="managed")
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
    folder = azure_workspace.collected_data_dir("ep-collect", since_s=3600)
    assert folder is not None
    rows = read_collected(folder)
    assert rows["price"].tolist() == [700.0] and rows["prediction"].tolist() == [1.5]
    assert rows["deployment"].tolist() == ["retired"]
    assert abs(rows["time"].iloc[0] - time.time()) < 3700
    everything = read_collected(azure_workspace.collected_data_dir("ep-collect"))
    assert sorted(everything["price"]) == [700.0, 900.0]


def test_requests_batched_and_split_over_lines_are_put_back_together(
        azure_sim: SimulatedAzureML, azure_workspace: AzureWorkspace, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Azure's collector writes many requests to one file and a large request's rows over
    several lines sharing its correlation id; each request comes back whole, once."""
    import pandas as pd

    from mlops_azure.testing import _mdc_collector, _sim_collector

    azure_workspace.create_endpoint("ep-batched", kind="managed")
    spool = tmp_path / "blue" / _sim_collector.SPOOL
    monkeypatch.setenv(_mdc_collector.SPOOL_ENV, str(spool))
    monkeypatch.setenv(_mdc_collector.COLLECTIONS_ENV, "model_inputs,model_outputs")
    inputs = _mdc_collector.Collector(name="model_inputs")
    outputs = _mdc_collector.Collector(name="model_outputs")
    for n in (5, 1, 3):
        context = inputs.collect(pd.DataFrame({"price": [100.0 * n + i for i in range(n)]}))
        outputs.collect(pd.DataFrame({"prediction": [float(n)] * n}), context)
    assert _sim_collector.flush(azure_sim, "ep-batched", "blue", spool.parent) == 3
    rows = read_collected(azure_workspace.collected_data_dir("ep-batched", since_s=3600))
    assert sorted(rows["price"].tolist()) == sorted(
        [100.0 * n + i for n in (5, 1, 3) for i in range(n)])
    assert sorted(zip(rows["price"], rows["prediction"], strict=True))[:5] == [
        (100.0, 1.0), (300.0, 3.0), (301.0, 3.0), (302.0, 3.0), (500.0, 5.0)]
