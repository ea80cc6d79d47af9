"""mlops.yaml parsing: defaults, ${VAR} expansion, and one-sentence errors with key paths."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_azure.config import load_config
from mlops_azure.errors import UserInputError

REPO = Path(__file__).resolve().parents[2]

MINIMAL = """
project: p
model: {name: m}
data:
  schema:
    columns:
      a: {type: float, min: 0}
"""


def write(tmp_path: Path, text: str) -> Path:
    file = tmp_path / "mlops.yaml"
    file.write_text(text, encoding="utf-8")
    return file


def test_the_example_project_config_is_valid() -> None:
    config = load_config(REPO / "examples" / "steel" / "mlops.yaml")
    assert config.model.name == "steel-purchase-forecast"
    assert config.stage("production").requires_approval
    assert config.production_stage is config.stages["production"]
    assert config.data.data_schema.unique_key[0] == "period"


def test_defaults_and_paths_resolve_against_the_config_folder(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL))
    assert config.backend == "local"
    assert config.workspace_dir == tmp_path.resolve() / ".mlops"
    assert config.resolve(config.training.pipeline) == tmp_path.resolve() / "pipelines/training.yml"
    assert config.champion.direction == "minimize"
    assert config.production_stage is None


def test_schema_json_is_what_the_data_check_component_reads(tmp_path: Path) -> None:
    schema = json.loads(load_config(write(tmp_path, MINIMAL)).data.data_schema.to_json())
    assert schema["columns"]["a"] == {
        "type": "float", "required": True, "max_null_fraction": 0.0,
        "min": 0.0, "max": None, "allowed": None,
    }
    assert schema["outliers"] is None


def test_environment_variables_expand_with_defaults(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODEL_NAME", "from-env")
    text = MINIMAL.replace("{name: m}", "\n  name: ${MODEL_NAME}") + "backend: ${NOPE:-local}\n"
    config = load_config(write(tmp_path, text))
    assert config.model.name == "from-env"
    assert config.backend == "local"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (MINIMAL + "champion: {direction: down}\n", "champion.direction: must be"),
        (MINIMAL + "colour: red\n", "colour: unknown setting"),
        (MINIMAL.replace("model: {name: m}", ""), "model: required setting is missing"),
        (MINIMAL.replace("{name: m}", "{name: 'bad name!'}"), "model.name: 'bad name!' is not a valid"),
        (MINIMAL + "stages: {prod: {endpoint: x}}\n", "stages.prod.endpoint: 'x' is not a valid"),
        (MINIMAL.replace("min: 0", "min: 5, max: 1"), "data.schema.columns.a: min (5.0) is greater"),
        (MINIMAL.replace("{name: m}", "\n  name: ${MISSING_VAR}"),
         "model.name: environment variable MISSING_VAR is not set"),
        (MINIMAL + "batch: {block_imports: [sklearn, 'scipy sparse']}\n",
         "batch.block_imports: 'scipy sparse' is not a module name"),
        (MINIMAL + "batch: {block_imports: [pandas.io]}\n",
         "batch.block_imports: 'pandas.io' cannot be blocked: the scoring processes need it"),
        ("project: [unclosed\n", "not valid YAML at line"),
        ("- a list\n", "expected a mapping"),
    ],
)
def test_bad_config_names_file_key_and_problem(tmp_path: Path, text: str, expected: str) -> None:
    with pytest.raises(UserInputError) as caught:
        load_config(write(tmp_path, text))
    message = caught.value.message
    assert message.startswith(str(tmp_path / "mlops.yaml"))
    assert expected in message
    assert "\n" not in message


def test_every_problem_is_listed_with_its_key_path_in_file_order(tmp_path: Path) -> None:
    file = write(tmp_path, "backend: moon\nstages:\n  prod: {endpoint: 3, colour: red}\n")
    with pytest.raises(UserInputError) as caught:
        load_config(file)
    assert caught.value.message == (
        f"{file} has 6 problems: backend: must be 'local' or 'azure', got 'moon'; "
        "stages.prod.endpoint: must be a valid string, got 3; stages.prod.colour: unknown setting; "
        "data: required setting is missing; model: required setting is missing; "
        "project: required setting is missing"
    )


def test_one_problem_reads_as_one_plain_sentence(tmp_path: Path) -> None:
    file = write(tmp_path, MINIMAL + "backend: moon\n")
    with pytest.raises(UserInputError) as caught:
        load_config(file)
    assert caught.value.message == f"{file}: backend: must be 'local' or 'azure', got 'moon'"


def test_a_long_offending_value_is_shortened(tmp_path: Path) -> None:
    with pytest.raises(UserInputError) as caught:
        load_config(write(tmp_path, MINIMAL + f"backend: {'x' * 500}\n"))
    assert caught.value.message.endswith(", got '" + "x" * 35 + "...'")


def test_missing_config_file_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="mlops init"):
        load_config(tmp_path / "nope.yaml")


def test_unknown_stage_lists_the_known_ones(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL + "stages: {staging: {endpoint: ep-one}}\n"))
    with pytest.raises(UserInputError, match=r"unknown stage 'qa' \(stages in mlops.yaml: staging\)"):
        config.stage("qa")


def test_azure_coordinates_from_section_config_json_then_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("AZURE_SUBSCRIPTION_ID", "AZURE_RESOURCE_GROUP", "AZUREML_WORKSPACE_NAME"):
        monkeypatch.delenv(var, raising=False)
    config = load_config(write(tmp_path, MINIMAL + "azure: {subscription_id: s1}\n"))
    (tmp_path / "config.json").write_text(
        json.dumps({"subscription_id": "ignored", "resource_group": "rg1"}), encoding="utf-8")
    monkeypatch.setenv("AZUREML_WORKSPACE_NAME", "ws1")
    assert config.azure.coordinates(config.root) == ("s1", "rg1", "ws1")
    monkeypatch.delenv("AZUREML_WORKSPACE_NAME")
    with pytest.raises(UserInputError, match=r"azure\.workspace_name is not set"):
        config.azure.coordinates(config.root)


def test_aci_targets_are_read_as_managed_with_a_note(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL + "stages:\n  prod: {endpoint: steel-prod, target: aci}\n"))
    assert config.stage("prod").kind == "managed"
    notes = config.notes()
    assert any("ACI web services exist only in the v1 SDK" in n for n in notes)
    assert any("served as a local endpoint" in n for n in notes)
    assert not [n for n in config.notes("azure") if "local endpoint" in n]


@pytest.mark.parametrize(("steps", "problem"), [
    ("[10, 50]", "must end at 100"),
    ("[50, 10, 100]", "must rise strictly"),
    ("[0, 100]", "must rise strictly"),
])
def test_rollout_steps_must_rise_to_100(tmp_path: Path, steps: str, problem: str) -> None:
    with pytest.raises(UserInputError, match=rf"rollout\.steps: {problem}"):
        load_config(write(tmp_path, MINIMAL + f"rollout:\n  steps: {steps}\n"))


def test_release_settings_have_safe_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL + "stages:\n  staging: {endpoint: steel-staging}\n"))
    stage = config.stage("staging")
    assert (stage.code, stage.scoring_script, stage.request_timeout_ms) == (
        Path("components"), "score/score.py", 5000)
    assert config.rollout.steps == [10, 50, 100] and config.rollout.keep_previous
    assert config.qa.max_error_rate == 0.0
