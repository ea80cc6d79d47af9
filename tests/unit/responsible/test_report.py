"""``ResponsibleReport.to_dict`` has the agreed JSON shape, is strict JSON, and reads back equal."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest

from mlops_azure.config import DataSchema, ResponsibleConfig
from mlops_azure.responsible import ResponsibleReport, allowed_values, analyse, with_verdict


def report(**policy: object) -> ResponsibleReport:
    frame = pd.DataFrame({
        "segment": ["a"] * 4 + ["b"] * 4 + ["c"],
        "region": ["n", "s"] * 4 + ["n"],
        "y": [0, 0, 0, 0, 1, 1, 1, 1, 0],
        "p": [0, 1, 0, 0, 1, 1, 0, 1, 1],
    })
    config = ResponsibleConfig.model_validate({
        "sensitive": ["segment"], "cohorts": ["segment", "region"], "task": "classification",
        "metric": "tpr", "min_group_size": 2, "policy": policy})
    made = analyse(frame, config, y_true="y", y_pred="p", allowed={"segment": ["a", "b", "c", "d"]},
                   explanations={"importance": {"price": 0.7}}, mitigation=None)
    return with_verdict(made, config.policy, at="registration")


def test_the_json_shape_is_the_agreed_one() -> None:
    doc = report(max_disparity={"segment": {"difference": 0.1}}).to_dict()
    assert list(doc) == ["task", "metric", "min_group_size", "overall", "groups", "exploration",
                         "cohorts", "explanations", "mitigation", "verdict"]
    assert (doc["task"], doc["metric"], doc["min_group_size"]) == ("classification", "tpr", 2)
    assert set(doc["overall"]) == {"rows", "selection_rate", "tpr", "fpr", "accuracy"}
    segment = doc["groups"]["segment"]
    assert set(segment) == {"by_group", "difference", "ratio", "worst_group", "trusted_groups"}
    assert set(segment["by_group"][0]) == {"group", "rows", "share", "trusted", "selection_rate", "tpr",
                                           "fpr", "accuracy"}
    # Group a has no positives: its TPR is undefined, null rather than NaN.
    a = next(row for row in segment["by_group"] if row["group"] == "a")
    assert a["tpr"] is None and a["fpr"] == 0.25
    assert set(doc["exploration"]["segment"]) >= {"sizes", "imbalance_ratio", "small_groups"}
    assert doc["exploration"]["segment"]["small_groups"] == ["c", "d"]
    assert set(doc["cohorts"][0]) >= {"features", "rows", "tpr", "ratio_to_overall"}
    assert doc["explanations"] == {"importance": {"price": 0.7}} and doc["mitigation"] is None
    verdict = doc["verdict"]
    assert (verdict["status"], verdict["at"]) == ("warn", "registration")
    assert set(verdict["findings"][0]) >= {"kind", "feature", "group", "metric", "value", "limit", "message"}
    assert verdict["policy"]["max_disparity"] == {"segment": {"difference": 0.1, "ratio": None}}


def test_the_report_is_strict_json_and_round_trips() -> None:
    original = report(max_disparity={"segment": {"ratio": 1.5}}, worst_cohort_metric=0.9)
    text = json.dumps(original.to_dict(), allow_nan=False)
    again = ResponsibleReport.from_dict(json.loads(text))
    assert again == original
    assert again.to_dict() == original.to_dict()


def test_a_report_without_verdict_round_trips_and_extra_keys_are_ignored() -> None:
    original = report()
    doc = json.loads(json.dumps(original.to_dict(), allow_nan=False))
    doc["added_later"] = {"x": 1}
    again = ResponsibleReport.from_dict({**doc, "verdict": None})
    assert again.verdict is None
    assert again == dataclasses.replace(original, verdict=None)


def test_allowed_values_come_from_the_schema() -> None:
    schema = DataSchema.model_validate({"columns": {
        "segment": {"type": "string", "allowed": ["energy", "construction"]},
        "y": {"type": "float"}}})
    assert allowed_values(schema) == {"segment": ["energy", "construction"]}


def test_the_verdict_is_frozen_and_names_the_small_groups() -> None:
    verdict = report().verdict
    assert verdict is not None
    # The only findings are the untrusted small groups c and d.
    assert [f.group for f in verdict.findings] == ["c", "d"]
    assert verdict.status == "warn"
    with pytest.raises(AttributeError):
        verdict.status = "pass"  # type: ignore[misc]
