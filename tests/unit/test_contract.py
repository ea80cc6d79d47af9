"""The tool <-> project contract: what each document must hold, and one sentence naming the file
and the field when it does not."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlops_azure import contract
from mlops_azure.contract import (
    MetricsFile,
    ParityFile,
    PartitionInputs,
    ReferencePredictionsFile,
    ReservedInputs,
    ScoreResponse,
    declared_metrics,
    read_document,
    validate,
)
from mlops_azure.errors import BackendError, MlopsError, UserInputError

METRICS = {"candidate": {"mae": 3.0, "rmse": 4.5, "wape": 0.2, "rows": 120}, "champion": None,
           "holdout": {"start": "2024-01", "rows": 120},
           "predictions": {"file": "predictions.csv", "actual": "y", "predicted": "candidate"}}


def test_a_valid_metrics_file_keeps_what_the_project_adds() -> None:
    found = validate(MetricsFile, {**METRICS, "policy": {"metric": "wape"}}, "metrics.json")
    assert found.candidate["wape"] == 0.2 and found.champion is None
    assert found.predictions is not None and found.predictions.actual == "y"
    assert found.model_extra == {"policy": {"metric": "wape"}}


@pytest.mark.parametrize(("change", "message"), [
    ({"candidate": None}, "metrics.json: field 'candidate' should be a valid dictionary"),
    ({"candidate": {"wape": "0.2"}}, "metrics.json: field 'candidate.wape' should be a valid number"),
    ({"candidate": {"wape": True}}, "metrics.json: field 'candidate.wape' should be a valid number"),
    ({"champion": {"wape": [1]}}, "metrics.json: field 'champion.wape' should be a valid number"),
    ({"predictions": {"file": "p.csv", "actual": "y"}},
     "metrics.json has no field 'predictions.predicted'"),
    ({"partitions": {"global": "kept"}}, "metrics.json has no field 'partitions.summary'"),
])
def test_a_wrong_metrics_file_is_one_sentence_naming_the_field(change: dict[str, Any],
                                                               message: str) -> None:
    with pytest.raises(UserInputError) as error:
        validate(MetricsFile, {**METRICS, **change}, "metrics.json", UserInputError)
    assert error.value.message == message


def test_a_metrics_file_without_candidate() -> None:
    with pytest.raises(MlopsError, match=r"^job 7: metrics.json has no field 'candidate'$"):
        validate(MetricsFile, {"champion": None}, "job 7: metrics.json")


def test_partition_outcomes_read_global_by_its_name() -> None:
    found = validate(MetricsFile, {**METRICS, "partitions": {"summary": {"improved": 2},
                                                             "global": "kept"}}, "m")
    assert found.partitions is not None and found.partitions.global_outcome == "kept"


def test_parity_needs_one_prediction_per_request_row() -> None:
    request = {"data": [{"x": 1}, {"x": 2}]}
    assert validate(ParityFile, {"request": request, "predictions": [1, 2.5]}, "p").predictions == [
        1.0, 2.5]
    with pytest.raises(MlopsError, match=r"^parity.json holds 1 predictions for 2 request rows$"):
        validate(ParityFile, {"request": request, "predictions": [1]}, "parity.json")
    with pytest.raises(MlopsError, match=r"field 'request.data' list should have at least 1 item"):
        validate(ParityFile, {"request": {"data": []}, "predictions": []}, "parity.json")
    with pytest.raises(MlopsError, match=r"^parity.json: field 'predictions\[1\]' should be a valid "
                                         r"number"):
        validate(ParityFile, {"request": request, "predictions": [1, None]}, "parity.json")


def test_read_document_names_the_file_when_missing_or_not_json(tmp_path: Path) -> None:
    file = tmp_path / "reference-predictions.json"
    with pytest.raises(BackendError, match=r"^ref of m:1 does not exist$"):
        read_document(ReferencePredictionsFile, file, "ref of m:1", BackendError)
    file.write_text("{oops")
    with pytest.raises(BackendError, match=r"^ref of m:1 is not readable JSON"):
        read_document(ReferencePredictionsFile, file, "ref of m:1", BackendError)
    file.write_text(json.dumps({"source": "holdout", "predictions": [0.5, 1]}))
    assert read_document(ReferencePredictionsFile, file).predictions == [0.5, 1.0]


def test_the_reserved_inputs_and_the_required_outputs() -> None:
    assert contract.RESERVED_INPUTS == ("raw_data", "schema", "champion_model")
    assert contract.REQUIRED_OUTPUTS == ("model", "metrics")
    bound = ReservedInputs.model_validate({"raw_data": "a.csv", "schema": "s.json"})
    assert bound.model_dump(by_alias=True) == {"raw_data": "a.csv", "schema": "s.json",
                                               "champion_model": None}
    assert set(ReservedInputs.model_fields) - {"schema_file"} | {"schema"} == set(
        contract.RESERVED_INPUTS)
    assert "champion_metric" in PartitionInputs.model_fields


def test_fields_carry_their_docstrings() -> None:
    assert "champion.metric" in (MetricsFile.model_fields["candidate"].description or "")
    assert all(v.name.startswith(("MLOPS_", "AZUREML_", "AML_")) for v in contract.VARIABLES)


def test_score_response_one_finite_number_per_row() -> None:
    answer = validate(ScoreResponse, {"predictions": [1, 2.0], "explanations": [
        {"base_value": 1.0, "contributions": {"x": 0.1}}] * 2}, "response")
    assert answer.explanations is not None and answer.explanations[0].contributions == {"x": 0.1}
    with pytest.raises(MlopsError, match=r"^response has no field 'predictions'$"):
        validate(ScoreResponse, {"prediction": [1]}, "response")


@pytest.mark.parametrize(("tags", "declared"), [
    ({}, None), ({"mlops.metrics": "mae, rmse,wape"}, ("mae", "rmse", "wape")),
    ({"mlops.metrics": ""}, ()), ({"other": "x"}, None),
])
def test_declared_metrics(tags: dict[str, str], declared: tuple[str, ...] | None) -> None:
    assert declared_metrics(tags) == declared


def test_the_contract_imports_no_heavy_module() -> None:
    code = ("import sys, mlops_azure.contract; "
            "print(sorted(m for m in ('pandas', 'numpy', 'yaml', 'azure.ai.ml') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
