"""Data collection on an Azure ML deployment (simulated): score.py's Azure collector path runs
against ``azureml.ai.monitoring`` as documented, and every body shape score.py accepts is
answered 200 and collected, even while the collector fails."""

from __future__ import annotations

import json

import pytest
import requests
import yaml

from mlops_azure.azure import AzureWorkspace
from mlops_azure.config import ProjectConfig, load_config
from mlops_azure.lifecycle.release import deploy
from mlops_azure.lifecycle.training import train
from mlops_azure.monitoring.collected import read_collected
from mlops_azure.testing import FakeCredential, SimulatedAzureML, _sim_collector

pytestmark = pytest.mark.slow


@pytest.fixture
def cloud(project: ProjectConfig, azure_sim: SimulatedAzureML) -> ProjectConfig:
    path = project.root / "mlops.yaml"
    document = yaml.safe_load(path.read_text())
    document["backend"] = "azure"
    document["azure"] = azure_sim.project_settings()
    document["stages"]["staging"]["target"] = "managed"
    document["training"]["params"]["n_estimators"] = 20
    document.pop("responsible", None)
    path.write_text(yaml.safe_dump(document))
    return load_config(path)


def test_every_body_shape_is_answered_and_collected(
        cloud: ProjectConfig, azure_sim: SimulatedAzureML) -> None:
    ws = AzureWorkspace.from_config(cloud, credential=FakeCredential())
    ws.ensure_infrastructure()
    trained = train(ws, cloud, actor="tester")
    assert trained.model is not None
    deploy(ws, cloud, trained.model.ref, "staging")
    endpoint = cloud.stage("staging").endpoint
    uri = ws.get_endpoint(endpoint).scoring_uri
    headers = {"Authorization": f"Bearer {ws.endpoint_keys(endpoint).primary}",
               "Content-Type": "application/json"}
    records = json.loads((cloud.root / "sample-request.json").read_text())["data"]
    columns = list(records[0])
    split = {"columns": columns, "data": [[row[c] for c in columns] for row in records]}
    shapes = [{"data": records}, split, {"input_data": split}, {"dataframe_split": split}]
    for body in shapes:
        answer = requests.post(uri, json=body, headers=headers, timeout=30)
        assert answer.status_code == 200, (list(body), answer.text[:300])
    assert azure_sim.endpoints.flush_collected() == len(shapes)
    rows = read_collected(ws.collected_data_dir(endpoint))
    assert len(rows) == len(shapes) * len(records)

    deployment = next(iter(ws.get_endpoint(endpoint).traffic))
    _sim_collector.fail_collection(azure_sim, endpoint, deployment)
    for body in shapes:
        answer = requests.post(uri, json=body, headers=headers, timeout=30)
        assert answer.status_code == 200, (list(body), answer.text[:300])
    assert azure_sim.endpoints.flush_collected() == 0
