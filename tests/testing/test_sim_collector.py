"""The simulated data collector behaves as Azure ML's documents it: ``azureml.ai.monitoring``'s
``Collector`` raises on a collection fault unless given ``on_error``, takes DataFrames only, and
returns the correlation context; the collected lines land in ``workspaceblobstore`` as Azure
writes them (many requests to a file, a request's rows over several lines sharing its
correlation id) ("Collect production data from models deployed for real-time inferencing")."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from mlops_azure.testing import SimulatedAzureML, _mdc_collector, _sim_collector


@pytest.fixture
def spool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "blue" / _sim_collector.SPOOL
    monkeypatch.setenv(_mdc_collector.SPOOL_ENV, str(folder))
    monkeypatch.setenv(_mdc_collector.COLLECTIONS_ENV, "model_inputs,model_outputs")
    return folder


def test_a_collection_fault_raises_unless_on_error_is_given(spool: Path) -> None:
    with pytest.raises(Exception, match="not enabled"):
        _mdc_collector.Collector(name="request_payload")
    seen: list[Exception] = []
    collector = _mdc_collector.Collector(name="model_inputs", on_error=seen.append)
    with pytest.raises(TypeError, match=r"pandas\.DataFrame"):
        _mdc_collector.Collector(name="model_inputs").collect({"x": [1]})
    spool.mkdir(parents=True)
    (spool / _mdc_collector.FAULT_FILE).touch()
    with pytest.raises(Exception, match="queue is full"):
        _mdc_collector.Collector(name="model_inputs").collect(pd.DataFrame({"x": [1]}))
    context = collector.collect(pd.DataFrame({"x": [1]}))
    assert context.get_id() and len(seen) == 1


def test_collected_rows_are_batched_into_workspaceblobstore_as_azure_writes_them(
        spool: Path, azure_sim: SimulatedAzureML) -> None:
    inputs = _mdc_collector.Collector(name="model_inputs")
    outputs = _mdc_collector.Collector(name="model_outputs")
    contexts = []
    for n in (5, 1):
        context = inputs.collect(pd.DataFrame({"x": list(range(n))}))
        outputs.collect(pd.DataFrame({"prediction": [0.5] * n}), context)
        contexts.append(context.get_id())
    assert _sim_collector.flush(azure_sim, "ep-c", "blue", spool.parent) == 2
    container = azure_sim.container("workspaceblobstore")
    names = sorted(b.name for b in container.list_blobs("modelDataCollector/ep-c/blue/"))
    assert len(names) == 2  # one file per collection for both requests
    inputs_blob = next(n for n in names if "/model_inputs/" in n)
    assert inputs_blob.endswith(".jsonl")
    lines = [json.loads(line) for line in
             container.download_blob(inputs_blob).readall().decode().splitlines()]
    assert [line["correlationid"] for line in lines] == [contexts[0]] * 3 + [contexts[1]]
    assert [len(line["data"]) for line in lines] == [2, 2, 1, 1]
    assert {line["type"] for line in lines} == {"azureml.inference.model_inputs"}
    assert _sim_collector.flush(azure_sim, "ep-c", "blue", spool.parent) == 0  # moved once
