"""A training job's outputs against the contract: the model folder and metrics.json, each
problem one sentence naming the file and the field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mlops_azure.config import ProjectConfig, load_config
from mlops_azure.errors import UserInputError
from mlops_azure.lifecycle.contract_checks import check_metrics, check_model_folder

REPO = Path(__file__).resolve().parents[3]
PARITY = {"request": {"data": [{"x": 1.0}]}, "predictions": [2.0]}


@pytest.fixture
def config() -> ProjectConfig:
    # champion.metric wape, with a responsible section
    return load_config(REPO / "examples" / "steel" / "mlops.yaml")


def model_folder(tmp_path: Path, **files: Any) -> Path:
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.txt").write_text("trees")
    for name, document in files.items():
        (folder / name.replace("_", "-").replace("-json", ".json")).write_text(json.dumps(document))
    return folder


def test_a_model_folder_with_its_parity_sample_passes(tmp_path: Path) -> None:
    check_model_folder(model_folder(tmp_path, parity_json=PARITY,
                                    features_json={"keys": ["id"], "categorical_features": []}),
                       "job 1: output model/")


def test_a_model_folder_without_parity_json(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=r"^job 1: output model/parity.json does not exist "
                                             r"\(every model folder needs it"):
        check_model_folder(model_folder(tmp_path), "job 1: output model/")


def test_an_empty_model_folder(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    with pytest.raises(UserInputError, match=r"^job 1: output model is empty: the step wrote no model$"):
        check_model_folder(tmp_path / "model", "job 1: output model/")


def test_optional_files_are_checked_when_present(tmp_path: Path) -> None:
    folder = model_folder(tmp_path, parity_json=PARITY,
                          reference_predictions_json={"predictions": ["a"]})
    with pytest.raises(UserInputError, match=r"^job 1: output model/reference-predictions.json: "
                                             r"field 'predictions\[0\]' should be a valid number"):
        check_model_folder(folder, "job 1: output model/")


def write_metrics(folder: Path, document: dict[str, Any]) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps(document))
    (folder / "predictions.csv").write_text("y,candidate\n1,1\n")
    return folder


GOOD = {"candidate": {"wape": 0.2, "rows": 3}, "champion": None,
        "predictions": {"file": "predictions.csv", "actual": "y", "predicted": "candidate"}}


def test_metrics_come_back_as_written(tmp_path: Path, config: ProjectConfig) -> None:
    found = check_metrics(config, write_metrics(tmp_path / "m", GOOD), "job 1: output metrics/")
    assert found == GOOD and isinstance(found["candidate"]["rows"], int)


@pytest.mark.parametrize(("document", "message"), [
    ({**GOOD, "candidate": {"mae": 1.0}},
     "job 1: output metrics/metrics.json: field 'candidate' has no 'wape' (champion.metric); it "
     "has mae"),
    ({"candidate": {"wape": 0.2}},
     "job 1: output metrics/metrics.json has no field 'predictions' (the per-row holdout "
     "predictions the responsible section needs)"),
    ({**GOOD, "predictions": {**GOOD["predictions"], "file": "rows.csv"}},
     "job 1: output metrics/metrics.json: field 'predictions.file' names rows.csv, which the step "
     "did not write"),
    ({"candidates": {"wape": 0.2}}, "job 1: output metrics/metrics.json has no field 'candidate'"),
])
def test_wrong_metrics_are_one_sentence(tmp_path: Path, config: ProjectConfig,
                                        document: dict[str, Any], message: str) -> None:
    with pytest.raises(UserInputError) as error:
        check_metrics(config, write_metrics(tmp_path / "m", document), "job 1: output metrics/")
    assert error.value.message == message


def test_missing_metrics_file(tmp_path: Path, config: ProjectConfig) -> None:
    (tmp_path / "m").mkdir()
    with pytest.raises(UserInputError, match=r"^job 1: output metrics/metrics.json does not exist$"):
        check_metrics(config, tmp_path / "m", "job 1: output metrics/")
