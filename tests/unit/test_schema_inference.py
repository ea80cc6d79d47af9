"""Schema and task inference for `mlops init --data`."""

from __future__ import annotations

import pandas as pd
import pytest

from mlops_azure.errors import UserInputError
from mlops_azure.schema_inference import column_type, infer_schema, infer_task


def text(values: list[object]) -> pd.Series:
    return pd.Series([None if v is None else str(v) for v in values], dtype=object)


@pytest.mark.parametrize(("values", "kind"), [
    ([1, 2, None, 40], "integer"), (["1.5", "2", "-3e2"], "float"), (["true", "False"], "boolean"),
    (["2024-01-31", "2024-02-29"], "date"), (["red", "blue"], "string"), ([None, None], "string"),
    (["007", "12"], "integer"),
])
def test_column_types(values: list[object], kind: str) -> None:
    assert column_type(text(values)) == kind


def test_ranges_get_a_margin_and_non_negative_stays_non_negative() -> None:
    frame = pd.DataFrame({"qty": text([0, 10, 100]), "temp": text([-5, 5, 15]), "y": text([1, 2, 3])})
    schema = infer_schema(frame, target="y", id_columns=[], time_column=None)
    assert schema.columns["qty"] == {"type": "integer", "min": 0, "max": 110}
    assert schema.columns["temp"] == {"type": "integer", "min": -7, "max": 17}
    assert "min" not in schema.columns["y"]  # the target's range is not a rule for new data


def test_low_cardinality_text_lists_its_values_and_nulls_get_room() -> None:
    frame = pd.DataFrame({"colour": text(["red", "blue", None, "red"]), "y": text([1, 2, 3, 4])})
    spec = infer_schema(frame, target="y", id_columns=[], time_column=None).columns["colour"]
    assert spec["allowed"] == ["blue", "red"] and spec["max_null_fraction"] == pytest.approx(0.385)


def test_one_value_per_row_text_is_an_identifier_and_a_unique_key() -> None:
    frame = pd.DataFrame({"ref": [f"R{i}" for i in range(60)], "x": text(list(range(60))),
                          "y": text([i % 2 for i in range(60)])})
    schema = infer_schema(frame, target="y", id_columns=[], time_column=None)
    assert schema.id_columns == ["ref"] and schema.unique_key == ["ref"]
    assert "allowed" not in schema.columns["ref"] and "identifier" in schema.notes[0]


@pytest.mark.parametrize(("values", "task"), [
    (["yes", "no"], "classification"), ([0, 1, 1], "classification"), (["true", "false"], "classification"),
    ([1.5, 2.5], "regression"), ([1, 2, 3, 40], "regression"),
])
def test_the_task_follows_the_target(values: list[object], task: str) -> None:
    assert infer_task(text(values), "y") == task


def test_a_date_target_is_refused() -> None:
    with pytest.raises(UserInputError, match="holds dates"):
        infer_task(text(["2024-01-01", "2024-02-01"]), "when")
