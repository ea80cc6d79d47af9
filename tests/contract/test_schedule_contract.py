"""The schedule part of the Workspace contract: create, replace, list and delete, and the trigger
rules (cron fields, recurrence units, time zones) that every backend checks the same way.

Through the interface only; fixtures come from conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_azure.errors import NotFoundError, UserInputError
from mlops_azure.workspace import PipelineSubmission, ScheduleTrigger, Workspace

SubmitFn = Callable[..., PipelineSubmission]
NIGHTLY = ScheduleTrigger(cron="30 2 * * 1-5", time_zone="Europe/Berlin")


def test_a_cron_schedule_is_stored_with_its_submission(
    workspace: Workspace, submission: SubmitFn, raw_file: Path
) -> None:
    created = workspace.create_schedule("nightly", submission(factor=3), NIGHTLY)
    assert (created.name, created.trigger, created.experiment) == ("nightly", NIGHTLY, "contract")
    assert created.enabled
    assert Path(created.pipeline).name == "pipeline.yml"
    assert created.inputs["factor"] == 3
    # A file input is kept where later runs can read it (stored as its text, like a job's inputs).
    assert isinstance(created.inputs["raw"], str) and created.inputs["raw"].endswith(raw_file.name)
    assert workspace.list_schedules() == [created]
    assert created.trigger.describe() == "cron '30 2 * * 1-5' (Europe/Berlin)"


def test_a_recurrence_schedule_and_list_by_name(workspace: Workspace, submission: SubmitFn) -> None:
    weekly = ScheduleTrigger(frequency="week", interval=2)
    workspace.create_schedule("weekly", submission(), weekly)
    workspace.create_schedule("daily", submission(), ScheduleTrigger(frequency="day"))
    found = workspace.list_schedules()
    assert [s.name for s in found] == ["daily", "weekly"]
    assert found[1].trigger == weekly
    assert found[1].trigger.describe() == "every 2 weeks (UTC)"


def test_an_asset_reference_input_is_kept_as_given(
    workspace: Workspace, submission: SubmitFn, raw_file: Path
) -> None:
    workspace.upload_data("numbers", raw_file)  # Azure ML checks the reference at creation
    created = workspace.create_schedule("fresh", submission(raw="azureml:numbers@latest"), NIGHTLY)
    # The embedded workspace resolves the label when the schedule fires; on Azure ML the SDK
    # resolves labels when the job definition is sent, so the schedule names the version it pins.
    expected = "azureml:numbers@latest" if workspace.backend == "local" else "azureml:numbers:1"
    assert created.inputs["raw"] == expected


def test_the_same_name_replaces_the_schedule(workspace: Workspace, submission: SubmitFn) -> None:
    workspace.create_schedule("nightly", submission(), NIGHTLY)
    hourly = ScheduleTrigger(frequency="hour", interval=6)
    replaced = workspace.create_schedule("nightly", submission(factor=5), hourly)
    assert [s.name for s in workspace.list_schedules()] == ["nightly"]
    assert replaced.trigger == hourly
    assert replaced.inputs["factor"] == 5


def test_delete_removes_it_and_an_unknown_name_is_not_found(
    workspace: Workspace, submission: SubmitFn
) -> None:
    workspace.create_schedule("nightly", submission(), NIGHTLY)
    workspace.delete_schedule("nightly")
    assert workspace.list_schedules() == []
    with pytest.raises(NotFoundError, match="nightly"):
        workspace.delete_schedule("nightly")


@pytest.mark.parametrize("name", ["", "-dash", "has space", "semi;colon", "x" * 256])
def test_bad_schedule_names_are_refused(workspace: Workspace, submission: SubmitFn, name: str) -> None:
    with pytest.raises(UserInputError, match="name"):
        workspace.create_schedule(name, submission(), NIGHTLY)
    assert workspace.list_schedules() == []


@pytest.mark.parametrize(("cron", "field"), [
    ("0 2 * *", "5"),
    ("0 2 * * * *", "5"),
    ("60 2 * * *", "minute"),
    ("0 24 * * *", "hour"),
    ("0 2 0 * *", "day of month"),
    ("0 2 32 * *", "day of month"),
    ("0 2 * 13 *", "month"),
    ("0 2 * * 7", "day of week"),
    ("0 2 * * MON", "day of week"),
    ("x 2 * * *", "minute"),
    ("*/0 2 * * *", "minute"),
    ("0 5-1 * * *", "hour"),
    ("0 2,,3 * * *", "hour"),
    ("0 2 * * 1-", "day of week"),
])
def test_bad_cron_expressions_name_the_field(
    workspace: Workspace, submission: SubmitFn, cron: str, field: str
) -> None:
    with pytest.raises(UserInputError, match=field):
        workspace.create_schedule("bad", submission(), ScheduleTrigger(cron=cron))
    assert workspace.list_schedules() == []


@pytest.mark.parametrize("cron", ["* * * * *", "*/15 8-18 * * 1-5", "0 0 1,15 1-12/3 0",
                                  "59 23 31 12 6"])
def test_valid_cron_expressions_are_accepted(
    workspace: Workspace, submission: SubmitFn, cron: str
) -> None:
    fields = cron.split()
    if workspace.backend == "azure" and (fields[2] != "*" or fields[3] != "*"):
        # Azure ML schedules treat DAYS and MONTHS as '*': refused there rather than misread.
        with pytest.raises(UserInputError, match="ignored by Azure ML schedules"):
            workspace.create_schedule("ok", submission(), ScheduleTrigger(cron=cron))
        return
    assert workspace.create_schedule("ok", submission(), ScheduleTrigger(cron=cron)).trigger.cron == cron


@pytest.mark.parametrize(("trigger", "words"), [
    (ScheduleTrigger(frequency="fortnight"), "frequency"),
    (ScheduleTrigger(frequency="day", interval=0), "interval"),
    (ScheduleTrigger(cron="0 2 * * *", time_zone="Mars/Olympus_Mons"), "time zone"),
    (ScheduleTrigger(frequency="day", time_zone="Not A Zone"), "time zone"),
    (ScheduleTrigger(), "cron expression or a frequency"),
    (ScheduleTrigger(cron="0 2 * * *", frequency="day"), "not both"),
])
def test_bad_triggers_are_refused(
    workspace: Workspace, submission: SubmitFn, trigger: ScheduleTrigger, words: str
) -> None:
    with pytest.raises(UserInputError, match=words):
        workspace.create_schedule("bad", submission(), trigger)
    assert workspace.list_schedules() == []


def test_an_input_the_pipeline_does_not_declare_is_refused(
    workspace: Workspace, submission: SubmitFn
) -> None:
    with pytest.raises(UserInputError, match="no input 'depth'"):
        workspace.create_schedule("bad", submission(depth=3), NIGHTLY)
    assert workspace.list_schedules() == []


def test_a_missing_input_file_is_refused(
    workspace: Workspace, submission: SubmitFn, tmp_path: Path
) -> None:
    with pytest.raises(UserInputError, match="does not exist"):
        workspace.create_schedule("bad", submission(raw=tmp_path / "gone.txt"), NIGHTLY)
    assert workspace.list_schedules() == []


def test_a_named_time_zone_round_trips(
    workspace: Workspace, submission: SubmitFn, request: pytest.FixtureRequest
) -> None:
    berlin = ScheduleTrigger(cron="0 6 * * 1", time_zone="Europe/Berlin")
    assert workspace.create_schedule("monday", submission(), berlin).trigger == berlin
    assert workspace.list_schedules()[0].trigger == berlin
    if workspace.backend == "azure":  # Azure ML takes Windows time-zone names on the wire
        sim = request.getfixturevalue("azure_sim")
        sent = sim.calls_to("PUT", r"/schedules/monday$")[-1].body["properties"]["trigger"]
        assert sent["timeZone"] == "W. Europe Standard Time"
