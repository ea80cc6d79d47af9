"""Metric directions: known ones inferred, contradictions and unknown metrics refused in mlops.yaml."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_azure.config import load_config
from mlops_azure.config._responsible import TASK_METRICS
from mlops_azure.errors import UserInputError
from mlops_azure.metrics import MAXIMIZE, MINIMIZE, higher_is_better, known_direction

BASE = """
project: p
model: {name: m, task: TASK}
data:
  schema:
    columns:
      a: {type: float}
"""


def write(tmp_path: Path, text: str, task: str = "regression") -> Path:
    file = tmp_path / "mlops.yaml"
    file.write_text(BASE.replace("TASK", task) + text, encoding="utf-8")
    return file


@pytest.mark.parametrize(("metric", "direction"), [
    ("auc", "maximize"), ("accuracy", "maximize"), ("f1", "maximize"), ("precision", "maximize"),
    ("recall", "maximize"), ("r2", "maximize"), ("rmse", "minimize"), ("mae", "minimize"),
    ("mape", "minimize"), ("wape", "minimize"), ("log_loss", "minimize"), ("brier", "minimize"),
])
def test_a_known_metric_without_direction_gets_its_own(tmp_path: Path, metric: str,
                                                       direction: str) -> None:
    config = load_config(write(tmp_path, f"champion: {{metric: {metric}}}\n"))
    assert (config.champion.metric, config.champion.direction) == (metric, direction)


def test_auc_without_direction_is_maximised(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, "champion: {metric: auc, min_rel_improvement: 0.01}\n",
                               task="classification"))
    assert config.champion.direction == "maximize"
    assert config.champion.min_rel_improvement == 0.01


def test_a_contradicting_direction_is_one_sentence_naming_the_key_and_the_right_one(
        tmp_path: Path) -> None:
    with pytest.raises(UserInputError) as caught:
        load_config(write(tmp_path, "champion: {metric: auc, direction: minimize}\n"))
    assert str(caught.value) == (
        f"{tmp_path / 'mlops.yaml'}: champion.direction: 'minimize' contradicts metric 'auc', "
        "which is better when higher: write direction: maximize, or leave direction out")


def test_an_unknown_metric_needs_a_direction(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=r"champion.direction: metric 'profit_uplift' has no "
                                             r"known direction: write direction: minimize"):
        load_config(write(tmp_path, "champion: {metric: profit_uplift}\n"))
    config = load_config(write(tmp_path, "champion: {metric: profit_uplift, direction: maximize}\n"))
    assert config.champion.direction == "maximize"


@pytest.mark.parametrize(("task", "metric", "direction"), [
    ("regression", "rmse", "minimize"), ("classification", "auc", "maximize")])
def test_the_champion_metric_defaults_by_task(tmp_path: Path, task: str, metric: str,
                                              direction: str) -> None:
    for section in ("", "champion: {min_abs_improvement: 0.01}\n", "champion:\n"):
        champion = load_config(write(tmp_path, section, task=task)).champion
        assert (champion.metric, champion.direction) == (metric, direction)


def test_one_table_knows_every_metric_the_responsible_checks_use() -> None:
    assert not MAXIMIZE & MINIMIZE
    for names in TASK_METRICS.values():
        assert all(known_direction(name) for name in names)
    assert higher_is_better("selection_rate") and higher_is_better("AUC")
    assert not higher_is_better("fpr") and not higher_is_better("something_else")
