"""What the prediction form reads on Azure ML (over the simulated service): a registered model's
parity.json and features.json from its downloaded folder, and a series' history from its
training data asset, each read once per server process."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mlops_azure.azure import AzureWorkspace
from mlops_azure.config import load_config
from mlops_azure.webapp import _series_history
from mlops_azure.webapp._model_inputs import model_inputs
from mlops_azure.webapp._series_history import series_history
from mlops_azure.workspace import Lineage, PipelineSubmission

STEP = """$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json
name: make
version: '1'
type: command
code: .
environment: azureml://registries/azureml/environments/sklearn-1.5/labels/latest
outputs: {model: {type: uri_folder}}
command: python make.py ${{outputs.model}}
"""
PIPELINE = """$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json
type: pipeline
experiment_name: shop
outputs: {model: {type: uri_folder}}
jobs:
  make:
    type: command
    component: ./make.yml
    outputs: {model: '${{parent.outputs.model}}'}
"""
CONFIG = """project: shop
model: {name: sales-model}
data:
  asset: sales
  target: qty
  time_column: month
  schema:
    columns:
      month: {type: date}
      store: {type: string}
      price: {type: float, min: 1, max: 50}
      qty: {type: float}
stages:
  production: {endpoint: shop-prod}
"""
PARITY = {"request": {"columns": ["store", "price"], "data": [["north", 9.5], ["south", 12.0]]},
          "predictions": [3.0, 4.0]}
FEATURES = {"features": ["store", "price"], "categorical_features": ["store"],
            "categories": {"store": ["north", "south"]}, "keys": ["month", "store"]}


def test_the_form_reads_an_azure_models_files_and_training_data_once(
        azure_workspace: AzureWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "make.py").write_text(
        "import json, sys, pathlib\nout = pathlib.Path(sys.argv[1]); out.mkdir(parents=True, "
        f"exist_ok=True)\n(out / 'parity.json').write_text(json.dumps({PARITY!r}))\n"
        f"(out / 'features.json').write_text(json.dumps({FEATURES!r}))\n")
    (tmp_path / "make.yml").write_text(STEP)
    (tmp_path / "pipeline.yml").write_text(PIPELINE)
    (tmp_path / "sales.csv").write_text(
        "month,store,price,qty\n" + "".join(f"2024-{m:02d}-01,{s},10,{m * (2 if s == 'south' else 1)}\n"
                                            for m in range(1, 13) for s in ("north", "south")))
    asset = azure_workspace.data.upload("sales", tmp_path / "sales.csv")
    job = azure_workspace.jobs.run_pipeline(PipelineSubmission(tmp_path / "pipeline.yml", {},
                                                               "shop"))
    lineage = Lineage(data_asset="sales", data_version=asset.version, data_sha256=asset.sha256,
                      code_commit="c", job_id=job.id, params={}, environment_hash="cd" * 32,
                      creator="a@example.com")
    model = azure_workspace.models.register("sales-model", job_id=job.id, output="model",
                                            metrics={"wape": 0.2}, lineage=lineage)
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "mlops.yaml").write_text(CONFIG)
    config = load_config(tmp_path / "proj" / "mlops.yaml")

    downloads: list[Any] = []
    real = azure_workspace.models.local_path
    monkeypatch.setattr(azure_workspace.models, "local_path",
                        lambda *a: downloads.append(a) or real(*a))
    inputs = model_inputs(azure_workspace, config, "azure", model.name, model.version)
    assert inputs.rows == [{"store": "north", "price": 9.5}, {"store": "south", "price": 12.0}]
    assert [(s.name, s.kind, s.widget) for s in inputs.specs(config)] == [
        ("store", "category", "select"), ("price", "float", "number")]
    assert inputs.series_keys(config) == ["store"]
    again = model_inputs(azure_workspace, config, "azure", model.name, model.version)
    assert again is inputs and len(downloads) == 1

    history = series_history(azure_workspace, config, "azure", inputs, {"store": "south",
                                                                        "price": 12.0})
    assert history is not None and history.source == f"sales:{asset.version}"
    assert history.values == [2.0 * m for m in range(1, 13)]
    assert str(history.forecast_at.date()) == "2025-01-01"
    assert history.period.startswith("monthly data")
    reads: list[Any] = []
    monkeypatch.setattr(_series_history, "_read_table", lambda *a: reads.append(a))
    north = series_history(azure_workspace, config, "azure", inputs, {"store": "north"})
    assert north is not None and north.values[-1] == 12.0 and reads == []  # the table is kept
    assert series_history(azure_workspace, config, "azure", inputs, {"store": "east"}) is None
