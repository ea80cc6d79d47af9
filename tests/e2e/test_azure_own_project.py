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

from mlops_azure.cli.state import STATE
from mlops_azure.testing import FakeCredential, SimulatedAzureML

pytestmark = pytest.mark.slow

AKS = "aks-prod"


def _diabetes(path: Path) -> str:
    from sklearn.datasets import load_diabetes

    load_diabetes(as_frame=True).frame.to_csv(path, index=False)
    return "target"


def _cancer(path: Path) -> str:
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame["diagnosis"] = frame.pop("target").map({0: "malignant", 1: "benign"})
    frame.to_csv(path, index=False)
    return "diagnosis"


def _point_at(root: Path, sim: SimulatedAzureML) -> None:
    """What a user edits to go to Azure: the backend, the workspace, the stages' targets."""
    import yaml

    config_file = root / "mlops.yaml"
    config = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    config["backend"] = "azure"
    config["azure"] = sim.project_settings(kubernetes_compute=AKS)
    config["stages"]["staging"]["target"] = "managed"
    config["stages"]["production"]["target"] = "kubernetes"
    config["rollout"] = {"steps": [50, 100], "warmup_requests": 2, "requests_per_step": 4}
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
        init_from_data(root, data, column=target)
        _point_at(root, azure_sim)
        azure_sim.add_kubernetes_compute(AKS)
        monkeypatch.chdir(root)
        return root

    monkeypatch.setattr("mlops_azure.azure.client.default_credential", FakeCredential)
    yield make
    STATE.__init__()  # type: ignore[misc]  # the CLI keeps global state per process


@pytest.mark.parametrize(("writer", "task"), [(_cancer, "classification"),
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

    asked = json.loads(Path("sample-request.json").read_text(encoding="utf-8"))
    Path("explain-request.json").write_text(json.dumps({**asked, "explain": True}), encoding="utf-8")
    explained = mlops("invoke", "--stage", "production", "--file", "explain-request.json")
    explanations = explained.get("response", explained)["explanations"]
    assert len(explanations) == 5 and set(explanations[0]["contributions"]) == set(asked["data"][0])
    assert mlops("explain", f"{model}:1") is not None
    lineage = mlops("models", "show", f"{model}:1")
    assert "mine-data" in json.dumps(lineage)

    _batch_scores_like_here(mlops, model, task)
    actions = [e["action"] for e in mlops("history")]
    for action in ("register", "deploy", "gate.qa", "approve", "promote"):
        assert action in actions
    assert json.dumps(mlops("status")).count("v001") >= 1


def _batch_scores_like_here(mlops: Any, model: str, task: str) -> None:
    """A data asset scored on an Azure ML batch endpoint gives what scoring it here gives."""
    import pandas as pd

    rows = pd.DataFrame(json.loads(Path("sample-request.json").read_text(encoding="utf-8"))["data"])
    rows.to_csv("to-score.csv", index=False)
    mlops("data", "upload", "to-score.csv", "--name", "to-score")
    remote = mlops("score", "batch", "--input", "azureml:to-score:1", "--output", "remote",
                   "--model", f"{model}:1")
    here = mlops("score", "batch", "--input", "to-score.csv", "--output", "here", "--here",
                 "--model", f"{model}:1", "--workers", "1")
    assert remote["rows"] == here["rows"] == len(rows)
    scored = [pd.concat([pd.read_csv(p) for p in sorted(Path(f).glob("part-*.csv"))])
              for f in ("remote", "here")]
    assert list(scored[0].columns) == list(scored[1].columns) == ["prediction"]
    assert scored[0]["prediction"].round(9).tolist() == scored[1]["prediction"].round(9).tolist()
    if task == "classification":
        assert scored[0]["prediction"].between(0.0, 1.0).all()
