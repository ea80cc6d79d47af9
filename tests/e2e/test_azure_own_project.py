"""A project made by ``mlops init --data`` on ``--backend azure``, as it runs locally: the real
azure-ai-ml SDK against the simulated Azure ML service over Azurite, through the CLI in-process.

For a text-labelled binary classifier (scikit-learn's breast cancer set, its 0/1 target turned
into "malignant"/"benign") and a regressor (the diabetes set): infra ensure → train → deploy
staging (managed) → QA gate → approve → promote production (Kubernetes, canary) → invoke →
drift on what production collected.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_azure.cli.state import STATE
from mlops_azure.testing import FakeCredential, SimulatedAzureML
from tests.e2e.conftest import AKS, on_simulator, write_cancer

pytestmark = pytest.mark.slow



def _diabetes(path: Path) -> str:
    """Unscaled (age in years, sex coded 1/2: groups for the responsible-ML gate), with a patient
    identifier and a visit date (a time split, and keys in batch output)."""
    import pandas as pd
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True, scaled=False).frame
    frame[["age", "sex"]] = frame[["age", "sex"]].astype(int)
    frame.insert(0, "patient_id", [f"p{n:04d}" for n in range(len(frame))])
    frame.insert(1, "visit_date", pd.date_range("2020-01-01", periods=len(frame), freq="D")
                 .strftime("%Y-%m-%d"))
    frame.to_csv(path, index=False)
    return "target"


#: What `mlops init` is told beside --data and --target, per table.
_INIT: dict[str, dict[str, Any]] = {
    "write_cancer": {}, "_diabetes": {"id_columns": ["patient_id"], "time_column": "visit_date"}}


def _point_at(root: Path, sim: SimulatedAzureML) -> None:
    """What a user edits to go to Azure: the backend, the workspace, the stages' targets; and,
    where init named candidates, the commented responsible-ML section uncommented."""
    config_file = root / "mlops.yaml"
    config = on_simulator(yaml.safe_load(config_file.read_text(encoding="utf-8")), sim,
                          {"steps": [50, 100], "warmup_requests": 2, "requests_per_step": 4})
    lines = config_file.read_text(encoding="utf-8").splitlines()
    start = lines.index("# responsible:")
    end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("#   ")), len(lines))
    commented = "\n".join(line.removeprefix("# ") for line in lines[start:end])  # that section only
    if "<column>" not in commented:
        config["responsible"] = yaml.safe_load(commented)["responsible"]
    config_file.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


@pytest.fixture
def own_project(azure_sim: SimulatedAzureML, tmp_path: Path,
                monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[Callable[[Path], str]], Path]]:
    """``make(writer)``: a project made by ``mlops init --data`` from the table ``writer``
    writes, pointed at the simulated workspace (and the current folder)."""
    from mlops_azure.init_from_data import init_from_data

    def make(writer: Callable[[Path], str]) -> Path:
        data = tmp_path / "table.csv"
        target = writer(data)
        root = tmp_path / "mine"
        init_from_data(root, data, column=target, **_INIT[writer.__name__])
        _point_at(root, azure_sim)
        azure_sim.add_kubernetes_compute(AKS)
        monkeypatch.chdir(root)
        return root

    monkeypatch.setattr("mlops_azure.azure.client.default_credential", FakeCredential)
    yield make
    STATE.__init__()  # type: ignore[misc]  # the CLI keeps global state per process


@pytest.mark.parametrize(("writer", "task"), [(write_cancer, "classification"),
                                              (_diabetes, "regression")],
                         ids=["classification", "regression"])
def test_an_init_data_project_runs_the_loop_on_azure(
    own_project: Callable[[Callable[[Path], str]], Path], azure_sim: SimulatedAzureML,
    mlops: Any, writer: Callable[[Path], str], task: str,
) -> None:
    own_project(writer)
    model = "mine-model"
    mlops("project", "check")
    ensured = mlops("infra", "ensure")
    assert azure_sim.calls_to("PUT", r"/environments/tabular-training/versions/")
    assert azure_sim.calls_to("PUT", r"/environments/tabular-inference/versions/")
    assert ensured is not None

    trained = mlops("train", "-p", "n_estimators=40")
    assert trained["registered"] == f"{model}:1"
    if task == "regression":  # diabetes has 'sex' and 'age': init named them, the user agreed
        assert trained["responsible"]["status"] in ("pass", "warn"), trained["responsible"]
        assert azure_sim.container("workspaceblobstore").list_blob_names(
            name_starts_with=f"mlops/model-docs/{model}/1/responsible.json")
        card = mlops("models", "card", f"{model}:1", "--html", "card.html")
        assert card["markdown"].startswith(f"# Model card: {model} version 1")
    else:
        assert trained["responsible"] is None
    assert trained["decision"]["metric"] == ("auc" if task == "classification" else "rmse")

    mlops("deploy", f"{model}:1", "--stage", "staging")
    mlops("gate", "qa", "--stage", "staging", "--model", f"{model}:1")
    mlops("approve", f"{model}:1", "--stage", "production", "--by", "alice", "--reason", "QA ok")
    promoted = mlops("promote", f"{model}:1", "--stage", "production")
    assert promoted["traffic"] == {"v001": 100}

    answer = mlops("invoke", "--stage", "production", "--file", "sample-request.json")
    body = answer.get("response", answer)
    assert len(body["predictions"]) == 5
    if task == "classification":
        assert set(body["labels"]) <= {"benign", "malignant"}
        assert all(0.0 <= p <= 1.0 for p in body["predictions"])
    else:
        assert "labels" not in body
        assert all(isinstance(p, float) for p in body["predictions"])

    for _ in range(3):
        mlops("invoke", "--stage", "production", "--file", "sample-request.json")
    assert azure_sim.endpoints.flush_collected() >= 4
    drift = mlops("monitor", "drift", "--stage", "production", "--window", "1h", code=None)
    assert drift["rows_current"] >= 4 * 5 and drift["prediction"] is not None
    assert drift["reference"] == "mine-data:1"
    setup = mlops("monitor", "setup", "--stage", "production", "--cron", "0 6 * * *")
    assert setup["monitor"]["name"] == "mine-production-drift"
    config = yaml.safe_load(Path("mlops.yaml").read_text(encoding="utf-8"))
    [schedule] = [c.body for c in azure_sim.calls_to("PUT", r"/schedules/mine-production-drift$")]
    signals = schedule["properties"]["action"]["monitorDefinition"]["signals"]
    assert set(signals["drift-psi"]["features"]["features"]) == set(config["monitoring"]["numeric"])

    # The next candidate is judged against what production serves, on Azure as locally.
    second = mlops("train")
    assert second["champion"] == f"{model}:1", second
    assert second["decision"]["champion"] is not None
    mlops("schedule", "create", "weekly-retrain", "--cron", "0 3 * * 1")
    assert [s["name"] for s in mlops("schedule", "list")] == ["weekly-retrain"]
    mlops("schedule", "delete", "weekly-retrain")
    _new_data_retrains(mlops)

    asked = json.loads(Path("sample-request.json").read_text(encoding="utf-8"))
    Path("explain-request.json").write_text(json.dumps({**asked, "explain": True}), encoding="utf-8")
    explained = mlops("invoke", "--stage", "production", "--file", "explain-request.json")
    explanations = explained.get("response", explained)["explanations"]
    assert len(explanations) == 5 and set(explanations[0]["contributions"]) == set(asked["data"][0])
    assert mlops("explain", f"{model}:1") is not None
    lineage = mlops("models", "show", f"{model}:1")
    assert "mine-data" in json.dumps(lineage)

    keys = {"classification": [], "regression": ["visit_date", "patient_id"]}[task]
    _batch_scores_like_here(mlops, model, task, keys)
    actions = [e["action"] for e in mlops("history")]
    for action in ("register", "deploy", "gate.qa", "approve", "promote"):
        assert action in actions
    assert json.dumps(mlops("status")).count("v001") >= 1


def _batch_scores_like_here(mlops: Any, model: str, task: str, keys: list[str]) -> None:
    """Rows of the table (its target left out) scored on an Azure ML batch endpoint from a data
    asset give what scoring them here gives: the time column and identifiers, then the
    prediction."""
    import pandas as pd

    table = pd.read_csv(Path("..") / "table.csv", dtype=str).head(7)
    table.drop(columns=["diagnosis" if task == "classification" else "target"]).to_csv(
        "to-score.csv", index=False)
    mlops("data", "upload", "to-score.csv", "--name", "to-score")
    remote = mlops("score", "batch", "--input", "azureml:to-score:1", "--output", "remote",
                   "--model", f"{model}:1")
    here = mlops("score", "batch", "--input", "to-score.csv", "--output", "here", "--here",
                 "--model", f"{model}:1", "--workers", "1")
    assert remote["rows"] == here["rows"] == len(table)
    scored = [pd.concat([pd.read_csv(p, dtype={k: str for k in keys})
                         for p in sorted(Path(f).glob("part-*.csv"))]) for f in ("remote", "here")]
    assert list(scored[0].columns) == list(scored[1].columns) == [*keys, "prediction"]
    assert scored[0][keys].values.tolist() == table[keys].values.tolist()
    assert scored[0]["prediction"].round(9).tolist() == scored[1]["prediction"].round(9).tolist()
    if task == "classification":
        assert scored[0]["prediction"].between(0.0, 1.0).all()


def _new_data_retrains(mlops: Any) -> None:
    """A new extract landing in a container becomes a data asset version and a training run
    judged against production (the data-driven trigger)."""
    import os
    import secrets

    from azure.storage.blob import ContainerClient

    name = f"landing-{secrets.token_hex(4)}"
    container = ContainerClient.from_connection_string(
        os.environ["AZURE_STORAGE_CONNECTION_STRING"], name)
    container.create_container()
    lines = next(Path("data").glob("*.csv")).read_text(encoding="utf-8").splitlines(keepends=True)
    container.upload_blob("extracts/next.csv", "".join(lines[:-3]).encode())  # not the same table
    [result] = mlops("watch", "data", "--container", name, "--prefix", "extracts/", "--once")
    assert result["phase"] == "done", result
    assert result["data"] == "mine-data:2" and result["verdict"] in ("better", "not_better")
    container.delete_container()
