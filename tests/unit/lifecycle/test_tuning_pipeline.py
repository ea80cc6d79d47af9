"""``tuning:`` in mlops.yaml becomes a sweep step of a copy of the training pipeline, that both the
local loader and azure-ai-ml's ``load_job`` read; docs/tuning.md's example is one such section."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from mlops_azure.config import load_config
from mlops_azure.errors import UserInputError
from mlops_azure.example.scaffold import init_project
from mlops_azure.execution.definition import load_pipeline
from mlops_azure.lifecycle.tuning_pipeline import tuned_pipeline

DOC = Path(__file__).parents[3] / "docs" / "tuning.md"


def doc_tuning() -> dict[str, object]:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"<!-- docs-example: tuning -->\n```yaml\n(.*?)```", text, re.DOTALL)
    assert block is not None
    return yaml.safe_load(block.group(1))["tuning"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tuning") / "steel"
    init_project(root)
    return root


def with_tuning(project: Path, tmp_path: Path, tuning: dict[str, object]) -> tuple[Path, Path]:
    config = yaml.safe_load((project / "mlops.yaml").read_text())
    config["tuning"] = tuning
    (project / "tuned.yaml").write_text(yaml.safe_dump(config))
    loaded = load_config(project / "tuned.yaml")
    return tuned_pipeline(loaded, loaded.resolve(loaded.training.pipeline), tmp_path), project


def test_the_documented_section_sweeps_the_train_step(project: Path, tmp_path: Path) -> None:
    tuned, _ = with_tuning(project, tmp_path, doc_tuning())
    assert tuned.parent == tmp_path
    definition = load_pipeline(tuned)
    step = definition.steps["train"]
    assert step.sweep is not None and step.sweep.metric == "wape" and step.sweep.goal == "minimize"
    assert step.sweep.max_total_trials == 20 and step.sweep.early_termination is not None
    assert step.inputs["validation_metric"].literal == "wape"
    assert "n_estimators" not in step.inputs
    assert definition.steps["prep"].sweep is None
    from azure.ai.ml import load_job

    job = load_job(tuned)  # Azure ML's own reader takes the copy as it is
    assert type(job.jobs["train"]).__name__ == "Sweep"


def test_the_user_pipeline_is_left_as_it_was(project: Path, tmp_path: Path) -> None:
    before = (project / "pipelines" / "training.yml").read_bytes()
    with_tuning(project, tmp_path, doc_tuning())
    assert (project / "pipelines" / "training.yml").read_bytes() == before


@pytest.mark.parametrize(("change", "words"), [
    ({"step": "evaluat"},
     "has no command step 'evaluat' (its command steps: data_check, prep, train, evaluate)"),
    ({"sampling_algorithm": "bayesian"}, "tuning: Azure ML's bayesian sampling takes no early_termination"),
    ({"search_space": {"depth": {"type": "choice", "values": [1]}}},
     "tuning.search_space.depth is not an input"),
])
def test_bad_settings_name_mlops_yaml(project: Path, tmp_path: Path, change: dict[str, object],
                                      words: str) -> None:
    with pytest.raises(UserInputError) as caught:
        with_tuning(project, tmp_path, {**doc_tuning(), **change})
    assert words in str(caught.value) and "mlops.yaml" in str(caught.value)
