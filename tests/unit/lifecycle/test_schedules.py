"""Schedule triggers from CLI words, and the crontab / Azure DevOps lines a local user gets."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml

from mlops_azure.config import load_config
from mlops_azure.errors import UserInputError
from mlops_azure.lifecycle.schedules import (
    as_cron,
    build_trigger,
    crontab_line,
    devops_schedule_entry,
    training_submission,
)
from mlops_azure.workspace import Schedule, ScheduleTrigger

REPO = Path(__file__).resolve().parents[3]


def test_cron_and_recurrence_triggers() -> None:
    assert build_trigger(cron=" 30  2 * * 1-5 ", time_zone="Europe/Berlin") == ScheduleTrigger(
        cron="30 2 * * 1-5", time_zone="Europe/Berlin")
    assert build_trigger(every=2, unit="Weeks") == ScheduleTrigger(frequency="week", interval=2)


@pytest.mark.parametrize(("kwargs", "words"), [
    ({}, "needs --cron"),
    ({"every": 2}, "needs --cron"),
    ({"unit": "day"}, "needs --cron"),
    ({"cron": "* * * * *", "every": 1}, "not both"),
    ({"every": 1, "unit": "fortnight"}, "--unit 'fortnight'"),
])
def test_bad_trigger_words_are_one_sentence(kwargs: dict[str, object], words: str) -> None:
    with pytest.raises(UserInputError, match=words):
        build_trigger(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("trigger", "cron"), [
    (ScheduleTrigger(cron="5 4 * * *"), "5 4 * * *"),
    (ScheduleTrigger(frequency="minute", interval=15), "*/15 * * * *"),
    (ScheduleTrigger(frequency="hour"), "0 * * * *"),
    (ScheduleTrigger(frequency="day", interval=2), "0 0 1-31/2 * *"),
    (ScheduleTrigger(frequency="week"), "0 0 * * 0"),
    (ScheduleTrigger(frequency="week", interval=2), None),
    (ScheduleTrigger(frequency="month", interval=3), "0 0 1 1-12/3 *"),
])
def test_recurrences_as_cron(trigger: ScheduleTrigger, cron: str | None) -> None:
    assert as_cron(trigger) == cron


def _schedule(trigger: ScheduleTrigger) -> Schedule:
    return Schedule("nightly", trigger, "pipelines/training.yml", "steel-forecast", True,
                    datetime(2025, 1, 1, tzinfo=UTC))


def test_crontab_line_and_devops_entry() -> None:
    config = load_config(REPO / "examples" / "steel" / "mlops.yaml")
    berlin = _schedule(ScheduleTrigger(cron="30 2 * * 1-5", time_zone="Europe/Berlin"))
    line = crontab_line(berlin, config, "steel-purchases")
    assert line is not None
    assert line.splitlines()[0] == "CRON_TZ=Europe/Berlin"
    assert line.splitlines()[1].startswith("30 2 * * 1-5 cd ")
    assert line.endswith("&& mlops train --data steel-purchases")
    entry = devops_schedule_entry(berlin)
    assert entry is not None and "UTC" in entry
    parsed = yaml.safe_load(entry)
    assert parsed["schedules"][0] == {"cron": "30 2 * * 1-5", "displayName": "nightly",
                                      "branches": {"include": ["main"]}, "always": True}
    utc = _schedule(ScheduleTrigger(frequency="day"))
    assert crontab_line(utc, config, "d") is not None and "CRON_TZ" not in str(crontab_line(utc, config, "d"))
    assert devops_schedule_entry(_schedule(ScheduleTrigger(frequency="week", interval=2))) is None


def test_the_submission_trains_on_the_newest_data_without_a_champion(tmp_path: Path) -> None:
    config = load_config(REPO / "examples" / "steel" / "mlops.yaml")
    submission = training_submission(config, "steel-purchases", tmp_path)
    assert submission.inputs["raw_data"] == "azureml:steel-purchases@latest"
    assert "champion_model" not in submission.inputs
    assert submission.inputs["n_estimators"] == config.training.params["n_estimators"]
    assert Path(str(submission.inputs["schema"])).read_text(encoding="utf-8") == (
        config.data.data_schema.to_json())
    assert submission.experiment == config.training.experiment
    assert submission.pipeline_file == config.resolve(config.training.pipeline)
