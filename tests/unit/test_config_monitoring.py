"""``monitoring:``: default features leave out the target, ids and time; critical levels."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlops_azure.config import load_config
from mlops_azure.errors import UserInputError

PROJECT = """
project: p
model: {name: m}
data:
  target: label
  id_columns: [customer]
  time_column: day
  schema:
    columns:
      day: {type: date}
      month: {type: integer}
      customer: {type: string, allowed: [c1, c2]}
      price: {type: float}
      colour: {type: string, allowed: [red, blue]}
      label: {type: string, allowed: [good, bad]}
      score: {type: float}
"""


def config_with(tmp_path: Path, monitoring: str = "", **replace: str) -> Path:
    text = PROJECT
    for old, new in replace.items():
        text = text.replace(old, new)
    file = tmp_path / "mlops.yaml"
    file.write_text(text + (f"monitoring:\n{monitoring}" if monitoring else ""), encoding="utf-8")
    return file


def test_default_features_leave_out_target_ids_and_time(tmp_path: Path) -> None:
    config = load_config(config_with(tmp_path))
    assert config.monitoring.features(config.data) == (["month", "price", "score"], ["colour"])
    numeric_target = load_config(config_with(tmp_path, **{"target: label": "target: score"}))
    assert numeric_target.monitoring.features(numeric_target.data) == (
        ["month", "price"], ["colour", "label"])
    time_as_number = load_config(config_with(tmp_path, **{"time_column: day": "time_column: month"}))
    assert "month" not in time_as_number.monitoring.features(time_as_number.data)[0]


def test_declared_features_are_kept_as_they_are(tmp_path: Path) -> None:
    config = load_config(config_with(tmp_path, "  numeric: [price]\n  categorical: [customer]\n"))
    assert config.monitoring.features(config.data) == (["price"], ["customer"])


@pytest.mark.parametrize(("section", "expected"), [
    ("  categorical: [colour, label]\n",
     "monitoring.categorical names 'label', the target (data.target), which inference requests "
     "do not carry"),
    ("  critical: {customer: 1.0}\n",
     "monitoring.critical names 'customer', which is not a monitored feature"),
    ("  critical: {price: 0}\n", "the PSI level of 'price' must be greater than 0"),
])
def test_monitoring_mistakes_are_one_sentence(tmp_path: Path, section: str, expected: str) -> None:
    with pytest.raises(UserInputError, match=re.escape(expected)):
        load_config(config_with(tmp_path, section))


def test_critical_levels_are_read(tmp_path: Path) -> None:
    config = load_config(config_with(tmp_path, "  critical: {price: 1.0, colour: 0.5}\n"))
    assert config.monitoring.critical == {"price": 1.0, "colour": 0.5}
