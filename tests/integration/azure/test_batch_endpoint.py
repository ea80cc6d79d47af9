"""mlops score batch on Azure ML: a BatchEndpoint and a ModelBatchDeployment of the model,
invoked with a data asset; the simulated service runs the project's batch_score.py (init/run
over mini-batches) and the result lands in the local batch's layout."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml

from mlops_azure.azure import AzureWorkspace
from mlops_azure.config import ProjectConfig, load_config
from mlops_azure.errors import UserInputError
from mlops_azure.lifecycle.batch import score_batch
from mlops_azure.lifecycle.batch_endpoint import score_with_endpoint
from mlops_azure.lifecycle.training import train
from mlops_azure.testing import FakeCredential, SimulatedAzureML

KEYS = ["period", "organisation_id", "customer_id", "material_id"]

pytestmark = pytest.mark.slow


@pytest.fixture
def cloud(project: ProjectConfig, azure_sim: SimulatedAzureML) -> ProjectConfig:
    path = project.root / "mlops.yaml"
    document = yaml.safe_load(path.read_text())
    document["backend"] = "azure"
    document["azure"] = azure_sim.project_settings()
    document["training"]["params"]["n_estimators"] = 30
    path.write_text(yaml.safe_dump(document))
    return load_config(path)


def _parts(folder: Path) -> pd.DataFrame:
    return pd.concat([pd.read_csv(p, dtype=str) for p in sorted(folder.glob("part-*.csv"))],
                     ignore_index=True)


def test_a_data_asset_is_scored_by_a_batch_endpoint(
        cloud: ProjectConfig, azure_sim: SimulatedAzureML) -> None:
    ws = AzureWorkspace.from_config(cloud, credential=FakeCredential())
    ws.ensure_infrastructure()
    trained = train(ws, cloud, actor="tester")
    assert trained.model is not None
    holdout = ws.job_output_path(trained.job.id, "prepared") / "holdout.csv"
    rows = cloud.root / "rows.csv"
    pd.read_csv(holdout, dtype=str).to_csv(rows, index=False)
    asset = ws.upload_data("rows-to-score", rows)

    out = cloud.root / "remote"
    done = score_with_endpoint(ws, cloud, f"azureml:{asset.name}:{asset.version}", out,
                               chunk_rows=50)
    total = len(pd.read_csv(rows))
    assert done.rows == total and done.chunks == -(-total // 50)
    assert json.loads((out / "_SUCCESS").read_text())["rows"] == total
    remote = _parts(out)
    assert list(remote.columns) == [*KEYS, "prediction"]
    local = score_batch(ws, cloud, str(rows), cloud.root / "local", chunk_rows=10_000, workers=1)
    here = _parts(cloud.root / "local")
    assert local.rows == total
    assert remote[KEYS].values.tolist() == here[KEYS].values.tolist()
    assert remote["prediction"].astype(float).round(9).tolist() == \
        here["prediction"].astype(float).round(9).tolist()

    endpoint = "steel-purchase-forecast-batch"
    deployment = [c.body for c in azure_sim.calls_to(
        "PUT", rf"/batchEndpoints/{endpoint}/deployments/v001$")][-1]["properties"]
    assert deployment["outputAction"] == "AppendRow"
    assert deployment["outputFileName"] == "predictions.csv"
    assert deployment["codeConfiguration"]["scoringScript"] == "score/batch_score.py"
    assert deployment["errorThreshold"] == 0 and deployment["miniBatchSize"] == 1
    invokes = [c for c in azure_sim.calls if c.method == "POST" and
               c.host == f"{endpoint}.{azure_sim.location}.inference.ml.azure.com"]
    assert len(invokes) == 1
    body = invokes[0].body["properties"]
    assert "rows-to-score" in json.dumps(body["inputData"])
    events = ws.list_events(action="batch_scored")
    assert events and events[0].details["status"] == "Completed"
    # The SDK's invoke writes into a class-wide header dict; later online invokes in this
    # process would be routed to the batch deployment (a bug that made other tests fail).
    from azure.ai.ml.constants._endpoint import EndpointInvokeFields

    assert EndpointInvokeFields.DEFAULT_HEADER == {"Content-Type": "application/json"}

    again = score_with_endpoint(ws, cloud, f"azureml:{asset.name}:{asset.version}", out,
                                chunk_rows=50)
    assert again.run_id == done.run_id and again.rows == total
    assert len([c for c in azure_sim.calls if c.method == "POST" and
                c.host.endswith(".inference.ml.azure.com")]) == 1  # the job was followed


def test_a_local_file_is_refused_in_one_sentence(cloud: ProjectConfig,
                                                 azure_sim: SimulatedAzureML) -> None:
    ws = AzureWorkspace.from_config(cloud, credential=FakeCredential())
    with pytest.raises(UserInputError, match="a batch endpoint scores a data asset"):
        score_with_endpoint(ws, cloud, "rows.csv", cloud.root / "out")


def test_the_cli_scores_a_data_asset_on_the_endpoint(
        cloud: ProjectConfig, azure_sim: SimulatedAzureML, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from mlops_azure.cli.main import app
    from mlops_azure.cli.state import STATE

    ws = AzureWorkspace.from_config(cloud, credential=FakeCredential())
    ws.ensure_infrastructure()
    trained = train(ws, cloud, actor="tester")
    assert trained.model is not None
    holdout = ws.job_output_path(trained.job.id, "prepared") / "holdout.csv"
    asset = ws.upload_data("rows-to-score", holdout)
    monkeypatch.chdir(cloud.root)
    monkeypatch.setattr("mlops_azure.azure.client.default_credential", FakeCredential)
    try:
        result = CliRunner().invoke(app, ["--json", "score", "batch", "--input",
                                          f"azureml:{asset.name}:{asset.version}",
                                          "--output", "forecasts", "--endpoint", "steel-batch"])
        assert result.exit_code == 0, result.stderr[-2000:] or result.stdout[-2000:]
        done = json.loads(result.stdout)
        assert done["rows"] == len(pd.read_csv(holdout)) and done["input"].startswith("data asset")
        assert azure_sim.calls_to("PUT", r"/batchEndpoints/steel-batch$")
        refused = CliRunner().invoke(app, ["--backend", "local", "score", "batch", "--input",
                                           f"azureml:{asset.name}:1", "--output", "x",
                                           "--endpoint", "steel-batch"])
        assert refused.exit_code == 2
    finally:
        STATE.__init__()  # type: ignore[misc]  # the CLI keeps global state per process


def test_a_folder_asset_on_an_endpoint_at_its_deployment_limit(
        cloud: ProjectConfig, azure_sim: SimulatedAzureML) -> None:
    """The input is declared as the asset's type (a folder is uri_folder), the score output is
    the documented uri_file, and old deployments make room under Azure's 20 per endpoint."""
    import copy

    from mlops_azure.workspace import BatchDeploymentSpec

    ws = AzureWorkspace.from_config(cloud, credential=FakeCredential())
    ws.ensure_infrastructure()
    trained = train(ws, cloud, actor="tester")
    assert trained.model is not None
    holdout = pd.read_csv(ws.job_output_path(trained.job.id, "prepared") / "holdout.csv", dtype=str)
    folder = cloud.root / "rows"
    folder.mkdir()
    for number, part in enumerate((holdout.iloc[:20], holdout.iloc[20:40])):
        part.to_csv(folder / f"part-{number}.csv", index=False)
    asset = ws.upload_data("rows-folder", folder)
    out = cloud.root / "remote"
    done = score_with_endpoint(ws, cloud, f"azureml:{asset.name}:{asset.version}", out,
                               chunk_rows=50)
    assert done.rows == 40

    endpoint = "steel-purchase-forecast-batch"
    key = azure_sim.arm_id(f"/batchEndpoints/{endpoint}/deployments/v001")
    for n in range(19):  # 20 deployments in all, as after 20 model versions
        doc = copy.deepcopy(azure_sim.resources[key])
        doc["name"] = f"old{n:02d}"
        doc["id"] = key.rsplit("/", 1)[0] + f"/old{n:02d}"
        doc["systemData"]["createdAt"] = f"2024-01-{n + 1:02d}T00:00:00Z"
        azure_sim.resources[doc["id"]] = doc
    spec = BatchDeploymentSpec(
        endpoint=endpoint, deployment="v002", model_name=trained.model.name,
        model_version=trained.model.version, code_dir=cloud.resolve(cloud.batch.code),
        scoring_script=cloud.batch.scoring_script,
        environment=cloud.resolve(Path("environments/inference.yml")))
    again = ws.score_with_batch_endpoint(spec, ws.get_data(asset.name, asset.version),
                                         job_name="batch-at-limit")
    assert again.output_file is not None and again.output_file.is_file()
    left = [k.rsplit("/", 1)[-1] for k in azure_sim.resources
            if k.startswith(key.rsplit("/", 1)[0] + "/")]
    assert "v001" in left and "v002" in left and len(left) <= 5
