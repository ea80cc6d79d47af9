"""The prediction form's fields (from a model's rows, its features.json and the schema) and the
parsing of a submission, typed as the scoring script types a request."""

from __future__ import annotations

from typing import Any

import pytest

from mlops_azure.config import ColumnSpec
from mlops_azure.webapp._forms import (
    MAX_SELECT_OPTIONS,
    FieldSpec,
    field_specs,
    parse_row,
    parse_value,
    prefill,
    rows_of,
)

ROWS: list[dict[str, Any]] = [
    {"area": 111.4, "district": "hills", "rooms": 2, "code": "007", "lag": 3, "note": "x"},
    {"area": 57.25, "district": "centre", "rooms": 3, "code": "012", "lag": 4.5, "note": None},
]
FEATURES: dict[str, Any] = {
    "features": ["rooms", "area", "district", "code", "lag"],
    "categorical_features": ["district", "code"],
    "categories": {"district": ["centre", "hills", "harbour"],
                   "code": [f"{i:03d}" for i in range(MAX_SELECT_OPTIONS + 1)]},
}
COLUMNS = {
    "area": ColumnSpec(type="float", min=13.2, max=217.0),
    "rooms": ColumnSpec(type="integer", min=0.5, max=6.5),
    "district": ColumnSpec(type="string", allowed=["centre", "hills", "harbour", "suburbs"]),
    "lag": ColumnSpec(type="float", max_null_fraction=0.1),
}


def _specs() -> dict[str, FieldSpec]:
    return {s.name: s for s in field_specs(ROWS, FEATURES, COLUMNS)}


def test_fields_follow_the_models_features_then_the_rows_other_keys() -> None:
    assert [s.name for s in field_specs(ROWS, FEATURES, COLUMNS)] == [
        "rooms", "area", "district", "code", "lag", "note"]
    assert [s.name for s in field_specs(ROWS, None, {})] == [
        "area", "district", "rooms", "code", "lag", "note"]


def test_each_feature_is_typed_as_the_scoring_script_takes_it() -> None:
    specs = _specs()
    assert specs["rooms"].kind == "integer" and specs["rooms"].step == "1"
    assert specs["area"].kind == "float" and specs["area"].step == "any"
    # A model feature outside the schema is a number even when its rows hold whole numbers.
    assert specs["lag"].kind == "float"
    assert specs["code"].kind == "category"  # categorical in features.json: "007" stays text
    assert specs["note"].kind == "category"  # not the model's: its rows hold text
    untyped = {s.name: s.kind for s in field_specs(ROWS, None, {})}
    assert untyped == {"area": "float", "district": "category", "rooms": "float",
                       "code": "category", "lag": "float", "note": "category"}
    by_schema = {s.name: s.kind for s in field_specs(ROWS, None, COLUMNS)}
    assert by_schema["rooms"] == "integer" and by_schema["district"] == "category"


def test_widgets_bounds_and_hints() -> None:
    specs = _specs()
    district, code, rooms, area = specs["district"], specs["code"], specs["rooms"], specs["area"]
    assert district.widget == "select"
    assert district.allowed == ("centre", "hills", "harbour", "suburbs")
    assert district.options == district.allowed  # declared values win over the model's
    assert code.widget == "datalist" and len(code.options) == MAX_SELECT_OPTIONS + 1
    assert code.allowed is None
    few = field_specs(ROWS, {**FEATURES, "categories": {"code": ["007", "012"]}}, {})
    assert next(s for s in few if s.name == "code").widget == "select"
    assert area.widget == "number" and area.min_attr == "13.2" and area.max_attr == "217"
    assert area.hint == "number, training range 13.2\u2013217"
    # An integer field's bounds round inwards: a browser counts the step from min.
    assert (rooms.min_attr, rooms.max_attr) == ("1", "6")
    assert rooms.hint == "whole number, training range 0.5\u20136.5"
    assert FieldSpec("x", "float", minimum=0).hint == "number, at least 0"
    assert FieldSpec("x", "integer", maximum=9).hint == "whole number, at most 9"


def test_required_means_the_training_data_has_no_missing_value() -> None:
    specs = _specs()
    assert specs["area"].required and specs["district"].required
    assert not specs["lag"].required  # the schema lets 10 % of it be missing
    assert not specs["code"].required  # not a schema column


def test_prefill_gives_the_rows_exact_numbers_as_text() -> None:
    specs = field_specs(ROWS, FEATURES, COLUMNS)
    values = prefill(specs, {**ROWS[0], "area": 100.1 + 0.2, "lag": float("nan")})
    assert values == {"rooms": "2", "area": repr(100.1 + 0.2), "district": "hills",
                      "code": "007", "lag": "", "note": "x"}
    assert parse_row(specs, values).row["area"] == 100.1 + 0.2


@pytest.mark.parametrize(("kind", "raw", "expected"), [
    ("float", "12", 12.0), ("float", "  12 ", 12.0), ("float", "1e3", 1000.0),
    ("float", "-.5", -0.5), ("float", "+4.", 4.0), ("integer", "7", 7), ("integer", " 1e3", 1000),
    ("integer", "4.0", 4), ("integer", "123456789012345678901", 123456789012345678901),
    ("category", " hills ", "hills"), ("category", "007", "007"), ("float", "", None),
    ("category", "   ", None),
])
def test_values_are_typed(kind: str, raw: str, expected: Any) -> None:
    value = parse_value(FieldSpec("f", kind), raw)  # type: ignore[arg-type]
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(("spec", "raw", "sentence"), [
    (FieldSpec("price", "float"), "abc", 'price must be a number, not "abc"'),
    (FieldSpec("price", "float"), "nan", 'price must be a number, not "nan"'),
    (FieldSpec("price", "float"), "inf", 'price must be a number, not "inf"'),
    (FieldSpec("price", "float"), "1_000", 'price must be a number, not "1_000"'),
    (FieldSpec("price", "float"), "1e999", 'price is too large for a number: "1e999"'),
    (FieldSpec("rooms", "integer"), "2.5", 'rooms must be a whole number, not "2.5"'),
    (FieldSpec("rooms", "integer"), "two", 'rooms must be a whole number, not "two"'),
    (FieldSpec("price", "float", minimum=100), "99.5",
     "price must be at least 100 (the declared range), not 99.5"),
    (FieldSpec("price", "float", maximum=5000), "5e3.1", "price must be a number"),
    (FieldSpec("price", "float", maximum=5000), "5001",
     "price must be at most 5000 (the declared range), not 5001"),
    (FieldSpec("size", "category", options=("s", "m"), allowed=("s", "m")), "xl",
     'size must be one of s, m, not "xl"'),
    (FieldSpec("size", "category", required=True), "",
     "size is required: the training data has no missing value in this column"),
    (FieldSpec("note", "category", allowed=("a",)), "b" * 100, '"' + "b" * 40 + "\u2026\""),
])
def test_bad_values_get_one_sentence(spec: FieldSpec, raw: str, sentence: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_value(spec, raw)
    assert sentence in str(refused.value)


def test_an_unknown_category_the_schema_does_not_forbid_is_sent() -> None:
    spec = _specs()["code"]
    assert parse_value(spec, "999") == "999"


def test_a_submission_keeps_every_field_and_names_each_bad_one() -> None:
    specs = field_specs(ROWS, FEATURES, COLUMNS)
    typed = {"rooms": "3", "area": "500", "district": "castle", "code": "", "lag": "", "note": "n"}
    parsed = parse_row(specs, typed)
    assert not parsed.ok
    assert set(parsed.errors) == {"area", "district"}
    assert parsed.row == {"rooms": 3, "code": None, "lag": None, "note": "n"}
    good = parse_row(specs, {**typed, "area": "80", "district": "hills"})
    assert good.ok and good.row == {"rooms": 3, "area": 80.0, "district": "hills", "code": None,
                                    "lag": None, "note": "n"}
    assert parse_row(specs, {}).errors.keys() == {"rooms", "area", "district"}  # all required


def test_rows_come_in_either_orientation() -> None:
    assert rows_of({"data": [{"a": 1}]}) == [{"a": 1}]
    assert rows_of({"columns": ["a", "b"], "data": [[1, "x"], [2, "y"]]}) == [
        {"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    assert rows_of({"data": "nonsense"}) == []
