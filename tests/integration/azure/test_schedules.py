"""Training schedules on Azure ML, over the strict simulator: delete disables first, cron fields
Azure ignores are refused, and a fired run reruns its steps and finds its outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_azure.azure import AzureWorkspace
from mlops_azure.errors import UserInputError
from mlops_azure.testing import SimulatedAzureML
from mlops_azure.workspace import PipelineSubmission, ScheduleTrigger
from tests.support.pipelines import one_step_pipeline


def test_an_enabled_schedule_is_deleted(azure_workspace: AzureWorkspace, tmp_path: Path) -> None:
    submission = PipelineSubmission(one_step_pipeline(tmp_path), {}, "nightly")
    assert azure_workspace.schedules.create("nightly", submission,
                                           ScheduleTrigger(cron="0 2 * * *")).enabled
    azure_workspace.schedules.delete("nightly")
    assert azure_workspace.schedules.all() == []


@pytest.mark.parametrize(("cron", "field"), [("0 3 1 * *", "day of month"),
                                              ("0 3 * 1-6 *", "month")])
def test_cron_fields_azure_ignores_are_refused(
    azure_workspace: AzureWorkspace, tmp_path: Path, cron: str, field: str
) -> None:
    submission = PipelineSubmission(one_step_pipeline(tmp_path), {}, "nightly")
    with pytest.raises(UserInputError, match=f"cron field {field} .* ignored by Azure ML"):
        azure_workspace.schedules.create("monthly", submission, ScheduleTrigger(cron=cron))
    assert azure_workspace.schedules.all() == []


def test_a_field_covering_every_value_is_sent_as_a_star(
    azure_sim: SimulatedAzureML, azure_workspace: AzureWorkspace, tmp_path: Path
) -> None:
    submission = PipelineSubmission(one_step_pipeline(tmp_path), {}, "nightly")
    azure_workspace.schedules.create("daily", submission, ScheduleTrigger(cron="0 3 1-31 * 1-5"))
    sent = azure_sim.calls_to("PUT", r"/schedules/daily$")[-1].body["properties"]["trigger"]
    assert sent["expression"] == "0 3 * * 1-5"


def test_each_firing_reruns_its_steps_and_finds_its_outputs(
    azure_sim: SimulatedAzureML, azure_workspace: AzureWorkspace, tmp_path: Path
) -> None:
    submission = PipelineSubmission(one_step_pipeline(tmp_path), {}, "nightly")
    azure_workspace.schedules.create("nightly", submission, ScheduleTrigger(cron="0 2 * * *"))
    done = []
    for _ in range(2):
        job = azure_sim.trigger_schedule("nightly")
        assert azure_workspace.jobs.wait(job).status.value == "Completed"
        done.append((azure_workspace.jobs.output_path(job, "result") / "done.txt").read_text())
    assert done[0] != done[1]  # the second firing ran its step again, it did not reuse the first
