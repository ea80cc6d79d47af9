"""The command template: placeholders, optional blocks, quoting, value typing."""

from __future__ import annotations

import shlex
import subprocess
from pathlib import Path

import pytest

from mlops_azure.errors import UserInputError
from mlops_azure.execution.command_template import (
    CommandTemplate,
    ComponentInput,
    check_constraints,
    coerce_primitive,
    literal_type,
    parse_command,
    parse_input_spec,
)

WHERE = "components/train/train.yml"
EVALUATE = "eval --model ${{inputs.data}} $[[--champion ${{inputs.champion}}]] --out ${{outputs.model}}"


def parse(command: str, inputs: tuple[str, ...] = ("data", "lr", "champion", "flag"),
          outputs: tuple[str, ...] = ("model",)) -> CommandTemplate:
    return parse_command(command, WHERE, inputs=inputs, outputs=outputs)


def test_placeholders_are_replaced_with_quoted_values() -> None:
    template = parse("python train.py --data ${{inputs.data}} --lr ${{ inputs.lr }} --out ${{outputs.model}}")
    command = template.render({"data": Path("/d/raw.csv"), "lr": 0.05}, {"model": Path("/o/model")})
    assert command == "python train.py --data /d/raw.csv --lr 0.05 --out /o/model"
    assert template.input_names == {"data", "lr"}
    assert template.output_names == {"model"}


def test_booleans_are_passed_as_azure_ml_does() -> None:
    template = parse("run --flag ${{inputs.flag}}")
    assert template.render({"flag": True}, {}) == "run --flag True"
    assert template.render({"flag": False}, {}) == "run --flag False"


@pytest.mark.parametrize("value", ["/tmp/with space/raw.csv", "/tmp/it's/raw.csv", "/tmp/$HOME;rm -rf x/a",
                                   "a\"b`c`"])
def test_awkward_values_reach_the_command_as_one_unchanged_argument(value: str) -> None:
    template = parse("printf '%s\\n' ${{inputs.data}} ${{outputs.model}}")
    command = template.render({"data": value}, {"model": Path("/o/m o")})
    assert shlex.split(command) == ["printf", "%s\\n", value, "/o/m o"]
    printed = subprocess.run(["bash", "-c", command], capture_output=True, text=True, check=True).stdout
    assert printed == f"{value}\n/o/m o\n"


def test_optional_block_is_kept_when_its_input_is_provided() -> None:
    template = parse(EVALUATE)
    rendered = template.render({"data": "m", "champion": "/c h"}, {"model": "o"})
    assert rendered == "eval --model m --champion '/c h' --out o"


@pytest.mark.parametrize("absent", [{}, {"champion": None}])
def test_optional_block_is_dropped_when_its_input_is_absent(absent: dict[str, str | None]) -> None:
    template = parse(EVALUATE)
    assert template.render({"data": "m", **absent}, {"model": "o"}) == "eval --model m  --out o"


def test_a_block_with_several_inputs_needs_all_of_them() -> None:
    template = parse("x $[[--pair ${{inputs.lr}} ${{inputs.champion}}]]")
    assert template.render({"lr": 1}, {}) == "x "
    assert template.render({"lr": 1, "champion": "c"}, {}) == "x --pair 1 c"


def test_outputs_inside_a_block_do_not_decide_whether_it_is_kept() -> None:
    template = parse("x $[[--c ${{inputs.champion}} --o ${{outputs.model}}]]")
    assert template.render({}, {"model": "o"}) == "x "
    assert template.render({"champion": "c"}, {"model": "o"}) == "x --c c --o o"


def test_bash_double_brackets_outside_a_block_are_left_alone() -> None:
    template = parse("[[ -d ${{outputs.model}} ]] && echo ok")
    assert template.render({}, {"model": "/o"}) == "[[ -d /o ]] && echo ok"


def test_an_absent_input_outside_a_block_is_an_error_naming_the_component() -> None:
    template = parse("x --champion ${{inputs.champion}}")
    with pytest.raises(UserInputError, match=r"components/train/train.yml: .*input 'champion'.*\$\[\["):
        template.render({}, {})


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("x ${{inputs.nope}}", r"declares no input named 'nope'"),
        ("x ${{outputs.nope}}", r"declares no output named 'nope'"),
        ("x ${{parent.inputs.data}}", r"unknown placeholder \$\{\{parent.inputs.data\}\}"),
        ("x ${{search_space.lr}}", r"unknown placeholder"),
        ("x ${{inputs.data", r"without its closing"),
        ("x $[[--c ${{inputs.champion}}", r"never closed"),
        ("x $[[ $[[ ${{inputs.champion}} ]] ]]", r"nests"),
    ],
)
def test_bad_templates_name_the_component_file(command: str, message: str) -> None:
    with pytest.raises(UserInputError, match=rf"^components/train/train.yml: .*{message}"):
        parse(command)


@pytest.mark.parametrize(
    ("value", "type_", "expected"),
    [
        ("42", "integer", 42), (3.0, "integer", 3), (7, "integer", 7),
        ("0.5", "number", 0.5), (2, "number", 2), ("1e-3", "number", 0.001),
        ("TRUE", "boolean", True), ("false", "boolean", False), (True, "boolean", True),
        (5, "string", "5"), (True, "string", "True"), (Path("/a"), "string", "/a"),
    ],
)
def test_values_are_coerced_to_their_declared_type(value: object, type_: str, expected: object) -> None:
    result = coerce_primitive(value, type_, "here")
    assert result == expected and type(result) is type(expected)


@pytest.mark.parametrize(
    ("value", "type_"),
    [("abc", "integer"), (True, "integer"), (2.5, "integer"), ("x", "number"), (False, "number"),
     ("yes", "boolean"), (1, "boolean"), (Path("/a"), "integer")],
)
def test_values_of_the_wrong_type_are_rejected(value: object, type_: str) -> None:
    with pytest.raises(UserInputError, match=rf"^pipe.yml: input 'n': .* is not an? {type_}$"):
        coerce_primitive(value, type_, "pipe.yml: input 'n'")


def test_literal_types_follow_yaml() -> None:
    assert [literal_type(v) for v in (True, 3, 0.5, "a")] == ["boolean", "integer", "number", "string"]


def test_constraints_enum_min_max() -> None:
    port = ComponentInput("n", "integer", min=1, max=10)
    assert check_constraints(5, port, "w") == 5
    with pytest.raises(UserInputError, match="below the minimum 1"):
        check_constraints(0, port, "w")
    with pytest.raises(UserInputError, match="above the maximum 10"):
        check_constraints(11, port, "w")
    with pytest.raises(UserInputError, match="'c' is not one of a, b"):
        check_constraints("c", ComponentInput("s", "string", enum=("a", "b")), "w")


def test_input_specs_are_parsed_and_their_defaults_typed() -> None:
    port = parse_input_spec("lr", {"type": "number", "default": "0.1", "min": 0, "max": 1}, WHERE)
    assert port == ComponentInput("lr", "number", False, 0.1, None, 0, 1)
    assert not port.required
    assert parse_input_spec("data", {"type": "uri_folder"}, WHERE).required
    assert not parse_input_spec("c", {"type": "uri_folder", "optional": True}, WHERE).required


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"description": "no type"}, r"inputs.n needs a 'type'"),
        ({"type": "int"}, r"inputs.n.type 'int' is not a supported"),
        ({"type": "integer", "default": "abc"}, r"inputs.n.default: 'abc' is not an integer"),
        ({"type": "integer", "default": 0, "min": 1}, r"inputs.n.default: 0 is below the minimum"),
        ({"type": "integer", "optional": "yes"}, r"inputs.n.optional must be true or false"),
        ({"type": "string", "enum": []}, r"inputs.n.enum must be a non-empty list"),
        ({"type": "integer", "min": "low"}, r"inputs.n.min and inputs.n.max must be numbers"),
    ],
)
def test_bad_input_specs_name_the_file_and_key(spec: dict[str, object], message: str) -> None:
    with pytest.raises(UserInputError, match=rf"^components/train/train.yml: {message}"):
        parse_input_spec("n", spec, WHERE)
