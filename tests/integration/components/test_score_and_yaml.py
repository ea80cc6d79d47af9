"""components/score/score.py in-process and behind azureml-inference-server-http, and the
example's YAML through the real azure-ai-ml SDK (no workspace, no network)."""

from __future__ import annotations

import copy
import json
import logging
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd
import pytest

COMPONENTS = Path(__file__).resolve().parents[3] / "examples" / "steel" / "components"
PIPELINE = COMPONENTS.parent / "pipelines" / "training.yml"



@pytest.fixture
def model_dir(tmp_path: Path, trained: dict[str, Path]) -> Path:
    """A model laid out as Azure ML mounts it: $AZUREML_MODEL_DIR/<name>/<version>/<folder>/."""
    shutil.copytree(trained["model"], tmp_path / "mounted" / "steel-purchase-forecast" / "1" / "model")
    return tmp_path / "mounted"


@pytest.fixture
def request_body(trained: dict[str, Path]) -> dict[str, Any]:
    sys.path.insert(0, str(COMPONENTS))
    from steel.model_io import sample_request_from_files

    body: dict[str, Any] = sample_request_from_files(trained["model"], trained["prepared"] / "holdout.csv", 5)
    return body


def test_score_predicts_what_evaluate_predicted(
    load_score: Callable[..., ModuleType], model_dir: Path, request_body: dict[str, Any],
    trained: dict[str, Path],
) -> None:
    score = load_score(model_dir)
    assert request_body["data"][0]["customer_id"].startswith("CUST-")
    result = score.run(json.dumps(request_body))
    offline = pd.read_csv(trained["metrics"] / "predictions.csv")["candidate"].head(5)
    assert result["predictions"] == pytest.approx(offline.tolist())


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ("{not json", "not valid JSON"),
        ('{"rows": []}', '"data" list'),
        ('{"data": []}', "empty"),
        ('{"data": [7]}', "data[0] is not an object"),
        ("MISSING", "lacks feature(s) lag_1"),
        ("WRONG_TYPE", "data[1].price_eur_per_tonne must be a number"),
        ("NUMERIC_ID", "data[0].customer_id must be text"),
    ],
)
def test_score_rejects_bad_requests_with_400(
    load_score: Callable[..., ModuleType], model_dir: Path, request_body: dict[str, Any],
    body: str, says: str,
) -> None:
    score = load_score(model_dir)
    rows = copy.deepcopy(request_body)
    if body == "MISSING":
        del rows["data"][2]["lag_1"]
    elif body == "WRONG_TYPE":
        rows["data"][1]["price_eur_per_tonne"] = "expensive"
    elif body == "NUMERIC_ID":
        rows["data"][0]["customer_id"] = 17
    response = score.run(json.dumps(rows) if body.isupper() else body)
    assert response.status_code == 400
    assert says in json.loads(response.get_data(as_text=True))["error"]


def test_score_serves_through_the_inference_server(
    through_server: Callable[[str, Path, Any], Any], model_dir: Path, request_body: dict[str, Any],
) -> None:
    out = through_server(
        "out = {'health': client.get('/').status_code}\n"
        "for name, kw in {'ok': {'json': payload}, 'bad': {'data': 'oops', 'content_type': 'text/plain'},\n"
        "                 'missing': {'json': {'data': [{'month': 1}]}}}.items():\n"
        "    r = client.post('/score', **kw)\n"
        "    out[name] = [r.status_code, r.get_json(silent=True)]\n",
        model_dir, request_body)
    assert out["health"] == 200
    assert out["ok"][0] == 200 and len(out["ok"][1]["predictions"]) == 5
    assert out["bad"][0] == 400 and "not valid JSON" in out["bad"][1]["error"]
    assert out["missing"][0] == 400 and "lacks feature(s)" in out["missing"][1]["error"]


# -- the YAML through the real SDK --------------------------------------------------------------

@pytest.mark.filterwarnings("ignore")  # the SDK's own marshmallow deprecation chatter
def test_components_and_pipeline_load_and_validate_with_the_sdk() -> None:
    logging.getLogger("azure.ai.ml").setLevel(logging.ERROR)  # experimental-class chatter
    from azure.ai.ml import load_component, load_job

    for name in ("data_check", "prep", "train", "evaluate"):
        component = load_component(source=str(COMPONENTS / name / f"{name}.yml"))
        assert component.name == name and component.type == "command"
        assert component.environment == "azureml:steel-training@latest" or \
            str(component.environment).endswith("steel-training@latest")
        assert component._validate().passed, component._validate().error_messages
    assert load_component(source=str(COMPONENTS / "evaluate" / "evaluate.yml")).inputs[
        "champion_model"].optional is True

    job = load_job(source=str(PIPELINE))
    result = job._validate()
    assert result.passed, result.error_messages
    assert job.experiment_name == "steel-forecast"
    assert list(job.jobs) == ["data_check", "prep", "train", "evaluate"]
    assert set(job.outputs) == {"check_report", "prepared", "model", "metrics"}
    shape = job._to_dict()
    assert shape["jobs"]["prep"]["inputs"]["check_report"]["path"] == \
        "${{parent.jobs.data_check.outputs.report}}"
    assert shape["jobs"]["evaluate"]["inputs"]["champion_model"]["path"] == \
        "${{parent.inputs.champion_model}}"
    assert shape["inputs"]["n_estimators"] == 300 and shape["inputs"]["holdout_months"] == 6
