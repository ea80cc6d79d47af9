"""Reading and validating Azure ML pipeline-job YAML: every mistake is one sentence with its key path."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_azure.errors import UserInputError
from mlops_azure.execution.definition import load_pipeline

REPO = Path(__file__).resolve().parents[3]

COMPONENTS: dict[str, dict[str, Any]] = {
    "make": {
        "$schema": "https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json",
        "type": "command", "name": "make", "version": "1", "code": "./src",
        "inputs": {"start": {"type": "integer", "default": 1}, "seed_file": {"type": "uri_file"}},
        "outputs": {"out": {"type": "uri_folder"}},
        "command": "python make.py ${{inputs.seed_file}} ${{inputs.start}} ${{outputs.out}}",
    },
    "add": {
        "type": "command", "name": "add", "version": "2", "code": "./src",
        "inputs": {"source": {"type": "uri_folder"}, "amount": {"type": "integer", "min": 0},
                   "label": {"type": "string", "optional": True}},
        "outputs": {"out": {"type": "uri_folder"}},
        "command": ("python add.py --source ${{inputs.source}} --amount ${{inputs.amount}} "
                    "$[[--label ${{inputs.label}}]] --out ${{outputs.out}}"),
    },
}


def chain() -> dict[str, Any]:
    """make -> middle (add) -> last (add), the last step's output promoted."""
    return {
        "$schema": "https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json",
        "type": "pipeline", "experiment_name": "toy", "settings": {"default_compute": "azureml:cpu"},
        "inputs": {"seed_file": {"type": "uri_file"}, "amount": 10, "label": "none"},
        "outputs": {"final": {"type": "uri_folder"}},
        "jobs": {
            "make": {"type": "command", "component": "file:./components/make.yml",
                     "inputs": {"seed_file": "${{parent.inputs.seed_file}}", "start": 2}},
            "middle": {"type": "command", "component": "./components/add.yml",
                       "inputs": {"source": "${{parent.jobs.make.outputs.out}}",
                                  "amount": "${{parent.inputs.amount}}"}},
            "last": {"type": "command", "component": "./components/add.yml", "compute": "azureml:gpu",
                     "inputs": {"source": "${{parent.jobs.middle.outputs.out}}", "amount": 100,
                                "label": "${{parent.inputs.label}}"},
                     "outputs": {"out": "${{parent.outputs.final}}"}},
        },
    }


@pytest.fixture
def write(tmp_path: Path) -> Callable[[dict[str, Any]], Path]:
    def write_pipeline(pipeline: dict[str, Any]) -> Path:
        (tmp_path / "components" / "src").mkdir(parents=True, exist_ok=True)
        for name, component in COMPONENTS.items():
            (tmp_path / "components" / f"{name}.yml").write_text(yaml.safe_dump(component))
        file = tmp_path / "pipeline.yml"
        file.write_text(yaml.safe_dump(pipeline, sort_keys=False))
        return file

    return write_pipeline


def test_the_definition_exposes_inputs_order_and_outputs(write: Callable[[dict[str, Any]], Path]) -> None:
    definition = load_pipeline(write(chain()))
    assert definition.experiment_name == "toy"
    assert definition.step_order == ("make", "middle", "last")
    assert definition.output_names == ("final",)
    assert definition.outputs == {"final": ("last", "out")}
    assert {n: (i.type, i.default, i.optional) for n, i in definition.inputs.items()} == {
        "seed_file": ("uri_file", None, False), "amount": ("integer", 10, True),
        "label": ("string", "none", True)}
    middle, last = definition.steps["middle"], definition.steps["last"]
    assert middle.component is last.component  # one file, parsed once
    assert (last.depends_on, last.component.version) == (("middle",), "2")


def test_steps_are_ordered_by_dependencies_not_declaration(write: Callable[[dict[str, Any]], Path]) -> None:
    pipeline = chain()
    pipeline["jobs"] = dict(reversed(list(pipeline["jobs"].items())))
    assert load_pipeline(write(pipeline)).step_order == ("make", "middle", "last")


def test_without_experiment_name_the_file_stem_is_used(write: Callable[[dict[str, Any]], Path]) -> None:
    pipeline = chain()
    del pipeline["experiment_name"]
    assert load_pipeline(write(pipeline)).experiment_name == "pipeline"


_DELETE = object()


def _edit(path: str, value: Any = _DELETE) -> Callable[[dict[str, Any]], None]:
    """Set (or delete) the value at a dotted key path of a pipeline dict."""

    def edit(pipeline: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node = pipeline
        for key in parents:
            node = node.setdefault(key, {})
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value

    return edit


BAD_DEFINITIONS = [
    (_edit("jobs.make.component", "./components/nope.yml"),
     r"jobs.make.component refers to .*components/nope.yml, which does not exist"),
    (_edit("jobs.make.component", "azureml:make:1"), r"jobs.make.component refers to a registered component"),
    (_edit("jobs.middle.inputs.bogus", 1), r"jobs.middle.inputs.bogus is not an input of component 'add'"),
    (_edit("jobs.last.inputs.source", "${{parent.jobs.prepp.outputs.out}}"),
     r"jobs.last.inputs.source refers to unknown step 'prepp'"),
    (_edit("jobs.last.inputs.source", "${{parent.jobs.make.outputs.model}}"),
     r"jobs.last.inputs.source refers to output 'model' of step 'make'"),
    (_edit("jobs.middle.inputs.amount", "${{parent.inputs.nope}}"),
     r"jobs.middle.inputs.amount refers to unknown pipeline input 'nope'"),
    (_edit("jobs.middle.inputs.amount", "${{parent.input.amount}}"),
     r"jobs.middle.inputs.amount is not a supported reference"),
    (_edit("jobs.middle.inputs.amount", "${{parent.jobs.make.outputs.out}}"),
     r"jobs.middle.inputs.amount is an integer input but is bound to a step output"),
    (_edit("jobs.middle.inputs.amount", "abc"), r"jobs.middle.inputs.amount: 'abc' is not an integer"),
    (_edit("jobs.middle.inputs.amount", -1), r"jobs.middle.inputs.amount: -1 is below the minimum 0"),
    (_edit("jobs.make.inputs.seed_file", 3), r"jobs.make.inputs.seed_file must be a path for a uri_file"),
    (_edit("inputs.amount", "abc"),
     r"inputs.amount \(used by jobs.middle.inputs.amount\): 'abc' is not an integer"),
    (_edit("inputs.amount", 2.5), r"inputs.amount \(used by .*\): 2.5 is not an integer"),
    # What Azure ML's pipeline-job schema refuses is refused locally too, with a way out.
    (_edit("inputs.amount", {"type": "integer", "default": 2}),
     r"inputs.amount must be a value \(e.g. 'amount: 1'\), not a mapping: Azure ML takes an? "
     r"integer pipeline input as a literal"),
    (_edit("inputs.label", {"type": "string"}), r"inputs.label must be a value \(e.g. 'label: none'\)"),
    (_edit("inputs.label", None), r"inputs.label has no value, which Azure ML refuses"),
    (_edit("inputs.seed_file", {"type": "uri_file", "optional": True}),
     r"inputs.seed_file.optional is refused by Azure ML in a pipeline job"),
    (_edit("inputs.seed_file", {"type": "file"}), r"inputs.seed_file.type 'file' is not a supported"),
    (_edit("inputs.amount", {"type": "uri_folder"}),
     r"jobs.middle.inputs.amount is an integer input but pipeline input 'amount' is uri_folder"),
    (_edit("jobs.middle.inputs.source"),
     r"jobs.middle.inputs.source is required by component 'add' but is not bound"),
    (_edit("jobs.last.outputs.out", "${{parent.outputs.nope}}"),
     r"jobs.last.outputs.out refers to unknown pipeline output 'nope'"),
    (_edit("jobs.last.outputs.bogus", "${{parent.outputs.final}}"),
     r"jobs.last.outputs.bogus is not an output of component 'add'"),
    (_edit("outputs.extra", {"type": "uri_folder"}), r"outputs.extra is not bound by any step"),
    (_edit("jobs.middle.outputs", {"out": "${{parent.outputs.final}}"}),
     r"jobs.last.outputs.out binds pipeline output 'final', already bound by jobs.middle.outputs.out"),
    (_edit("jobs.middle.type", "parallel"), r"jobs.middle.type 'parallel' is not supported"),
    (_edit("jobs.middle.component"), r"jobs.middle.component is missing"),
    (_edit("jobs", {}), r"jobs is empty"),
    (_edit("jobs.bad-name", {"component": "./components/make.yml"}), r"jobs.bad-name is not a valid name"),
    (_edit("type", "command"), r"type is 'command', expected 'pipeline'"),
    (_edit("jobs.middle.inputs.source", "${{parent.jobs.last.outputs.out}}"),
     r"jobs form a cycle: middle -> last -> middle$"),
    (_edit("jobs.last.inputs.source", "${{parent.jobs.last.outputs.out}}"),
     r"jobs form a cycle: last -> last$"),
]


@pytest.mark.parametrize(("edit", "message"), BAD_DEFINITIONS)
def test_bad_definitions_name_the_file_and_key(write: Callable[[dict[str, Any]], Path],
                                               edit: Callable[[dict[str, Any]], None], message: str) -> None:
    pipeline = chain()
    edit(pipeline)
    file = write(pipeline)
    with pytest.raises(UserInputError, match=rf"^{re.escape(str(file))}: {message}"):
        load_pipeline(file)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"command": "python add.py ${{inputs.missing}}"}, re.escape("command uses ${{inputs.missing}}")),
        ({"code": "./no-such-folder"}, r"code refers to .*no-such-folder, which is not a folder"),
        ({"code": "azureml:code:1"}, r"code must be a local folder path"),
        ({"type": "parallel"}, r"type 'parallel' is not supported locally"),
        ({"outputs": {"out": {"type": "string"}}}, r"outputs.out.type 'string' is not a supported output"),
        ({"inputs": {"source": "uri_folder"}}, r"inputs.source needs a 'type'"),
    ],
)
def test_problems_inside_a_component_name_the_component_file(
    write: Callable[[dict[str, Any]], Path], change: dict[str, Any], message: str
) -> None:
    file = write(chain())
    component = file.parent / "components" / "add.yml"
    component.write_text(yaml.safe_dump({**COMPONENTS["add"], **change}))
    with pytest.raises(UserInputError, match=rf"^{re.escape(str(component))}: {message}"):
        load_pipeline(file)


def test_unreadable_files_are_bad_input(write: Callable[[dict[str, Any]], Path], tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=r"nope.yml: pipeline file does not exist$"):
        load_pipeline(tmp_path / "nope.yml")
    (tmp_path / "list.yml").write_text("- a\n- b\n")
    with pytest.raises(UserInputError, match=r"list.yml: expected a pipeline job mapping$"):
        load_pipeline(tmp_path / "list.yml")
    file = write(chain())
    (file.parent / "components" / "add.yml").write_text("type: command\ncommand: [unclosed\n")
    with pytest.raises(UserInputError, match=r"components/add.yml: not valid YAML at line \d+$"):
        load_pipeline(file)


def test_paths_in_messages_are_shown_as_given(write: Callable[[dict[str, Any]], Path], tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    pipeline = chain()
    pipeline["jobs"]["last"]["inputs"]["source"] = "${{parent.jobs.prepp.outputs.out}}"
    write(pipeline)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UserInputError) as error:
        load_pipeline(Path("pipeline.yml"))
    assert error.value.message == "pipeline.yml: jobs.last.inputs.source refers to unknown step 'prepp'"


def test_the_project_training_pipeline_loads() -> None:
    definition = load_pipeline(REPO / "examples" / "steel" / "pipelines" / "training.yml")
    assert definition.step_order[0] == "data_check"
    assert "model" in definition.output_names
    assert definition.inputs["champion_model"].optional  # no champion yet: --champion_model is dropped
    assert not definition.inputs["raw_data"].optional


def test_component_tags_are_kept_as_text_and_must_be_a_mapping(
    write: Callable[[dict[str, Any]], Path]
) -> None:
    file = write(chain())
    component = file.parent / "components" / "add.yml"
    component.write_text(yaml.safe_dump({**COMPONENTS["add"], "tags": {"mlops.metrics": "a,b",
                                                                         "n": 1}}))
    assert load_pipeline(file).steps["last"].component.tags == {"mlops.metrics": "a,b", "n": "1"}
    assert load_pipeline(file).steps["make"].component.tags == {}
    component.write_text(yaml.safe_dump({**COMPONENTS["add"], "tags": ["mlops.metrics"]}))
    with pytest.raises(UserInputError, match=r"add.yml: tags must be a mapping of names to text$"):
        load_pipeline(file)
