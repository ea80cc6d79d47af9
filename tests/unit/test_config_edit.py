"""set_settings: a change to mlops.yaml keeps every comment, the key order and untouched lines."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mlops_azure.config import load_config, set_settings
from mlops_azure.errors import UserInputError

REPO = Path(__file__).resolve().parents[2]

SMALL = """\
# My project: the header stays.
project: p   # a comment at the end of a line
model: {name: m, task: classification}

data:
  schema:
    columns:
      a: {type: float}   # the only column
      b: {type: string}

# The gate: higher AUC wins.
champion: {metric: auc}
training:
  params:
    seed: 7          # pinned for reproducibility
    note: "quoted"

# Trailing words about nothing in particular.
"""


def write(tmp_path: Path, text: str) -> Path:
    file = tmp_path / "mlops.yaml"
    file.write_text(text, encoding="utf-8")
    return file


def comments(text: str) -> list[str]:
    return [line[line.index("#"):] for line in text.splitlines() if "#" in line]


def test_the_example_config_keeps_every_comment_and_untouched_line(tmp_path: Path) -> None:
    file = tmp_path / "mlops.yaml"
    shutil.copy(REPO / "examples" / "steel" / "mlops.yaml", file)
    before = file.read_text(encoding="utf-8")
    partitions = {"levels": ["organisation_id", "customer_id"], "model_levels": ["customer_id"],
                  "min_rows": 24}
    set_settings(file, {"training.pipeline": "pipelines/training-partitioned.yml",
                        "partitions": partitions})
    after = file.read_text(encoding="utf-8")
    assert comments(after) == comments(before)
    changed = [line for line in after.splitlines() if line not in before.splitlines()]
    assert changed == ["  pipeline: pipelines/training-partitioned.yml", "partitions:",
                       "  levels: [organisation_id, customer_id]", "  model_levels: [customer_id]",
                       "  min_rows: 24"]
    config = load_config(file)
    assert config.partitions is not None and config.partitions.levels == partitions["levels"]
    assert config.training.pipeline == Path("pipelines/training-partitioned.yml")
    # Key order: the new section comes last, the others where they were.
    order = [line.split(":")[0] for line in after.splitlines() if line[:1].isalpha()]
    assert order == [*(line.split(":")[0] for line in before.splitlines() if line[:1].isalpha()),
                     "partitions"]


def test_end_of_line_comments_flow_sections_and_quotes_survive(tmp_path: Path) -> None:
    file = write(tmp_path, SMALL)
    set_settings(file, {"project": "q", "champion.min_rel_improvement": 0.01,
                        "training": {"params": {"seed": 8, "depth": 4}},
                        "data.schema.columns.a.max": 5})
    after = file.read_text(encoding="utf-8")
    assert comments(after) == comments(SMALL)
    assert "project: q   # a comment at the end of a line\n" in after
    assert "champion: {metric: auc, min_rel_improvement: 0.01}\n" in after
    assert "    seed: 8          # pinned for reproducibility\n" in after
    assert 'note: "quoted"' in after
    config = load_config(file)
    assert (config.project, config.champion.direction, config.training.params) == (
        "q", "maximize", {"seed": 8, "note": "quoted", "depth": 4})
    assert config.data.data_schema.columns["a"].max == 5


def test_a_change_that_breaks_the_config_leaves_the_file_alone(tmp_path: Path) -> None:
    file = write(tmp_path, SMALL)
    with pytest.raises(UserInputError, match=r"champion.direction: 'minimize' contradicts metric "
                                             r"'auc'.*left as it was"):
        set_settings(file, {"champion.direction": "minimize"})
    with pytest.raises(UserInputError, match=r"cannot set project\.name: project is not a section"):
        set_settings(file, {"project.name": "x"})
    assert file.read_text(encoding="utf-8") == SMALL
    assert not [p for p in tmp_path.iterdir() if p.name != "mlops.yaml"]  # no temporary left
