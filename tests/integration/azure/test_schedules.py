"""Training schedules on Azure ML, over the strict simulator: delete disables first, cron fields
Azure ignores are refused, and a fired run reruns its steps and finds its outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_azure.azure import AzureWorkspace
from mlops_azure.errors import UserInputError
from mlops_azure.testing import SimulatedAzureML
from mlops_azure.workspace import PipelineSubmission, ScheduleTrigger


def _pipeline(folder: Path) -> Path:
    (folder / "step.py").write_text(
        "import sys, pathlib, time\n"
        "out = pathlib.Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True)\n"
        "(out / 'done.txt').write_text(str(time.time_ns()))\n")
    (folder / "step.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json\n"
        "name: step\nversion: '1'\ntype: command\ncode: .\n"
        "environment: azureml://registries/azureml/environments/sklearn-1.5/labels/latest\n"
        "outputs: {out: {type: uri_folder}}\ncommand: python step.py ${{outputs.out}}\n")
    (folder / "pipeline.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json\n"
        "type: pipeline\nexperiment_name: nightly\noutputs: {result: {type: uri_folder}}\n"
        "jobs:\n  only:\n    type: command\n    component: ./step.yml\n"
        "    outputs: {out: '${{parent.outputs.result}}'}\n")
    return folder / "pipeline.yml"


def test_an_enabled_schedule_is_deleted(azure_workspace: AzureWorkspace, tmp_path: Path) -> None:
    submission = PipelineSubmission(_pipeline(tmp_path), {}, "nightly")
    assert azure_workspace.create_schedule("nightly", submission,
                                           ScheduleTrigger(cron="0 2 * * *")).enabled
    azure_workspace.delete_schedule("nightly")
    assert azure_workspace.list_schedules() == []


@pytest.mark.parametrize(("cron", "field"), [("0 3 1 * *", "day of month"),
                                              ("0 3 * 1-6 *", "month")])
def test_cron_fields_azure_ignores_are_refused(
    azure_workspace: AzureWorkspace, tmp_path: Path, cron: str, field: str
) -> None:
    submission = PipelineSubmission(_pipeline(tmp_path), {}, "nightly")
    with pytest.raises(UserInputError, match=f"cron field {field} .* ignored by Azure ML"):
        azure_workspace.create_schedule("monthly", submission, ScheduleTrigger(cron=cron))
    assert azure_workspace.list_schedules() == []


def test_a_field_covering_every_value_is_sent_as_a_star(
    azure_sim: SimulatedAzureML, azure_workspace: AzureWorkspace, tmp_path: Path
) -> None:
    submission = PipelineSubmission(_pipeline(tmp_path), {}, "nightly")
    azure_workspace.create_schedule("daily", submission, ScheduleTrigger(cron="0 3 1-31 * 1-5"))
    sent = azure_sim.calls_to("PUT", r"/schedules/daily$")[-1].body["properties"]["trigger"]
    assert sent["expression"] == "0 3 * * 1-5"


def test_each_firing_reruns_its_steps_and_finds_its_outputs(
    azure_sim: SimulatedAzureML, azure_workspace: AzureWorkspace, tmp_path: Path
) -> None:
    submission = PipelineSubmission(_pipeline(tmp_path), {}, "nightly")
    azure_workspace.create_schedule("nightly", submission, ScheduleTrigger(cron="0 2 * * *"))
    done = []
    for _ in range(2):
        job = azure_sim.trigger_schedule("nightly")
        assert azure_workspace.wait_for_job(job).status.value == "Completed"
        done.append((azure_workspace.job_output_path(job, "result") / "done.txt").read_text())
    assert done[0] != done[1]  # the second firing ran its step again, it did not reuse the first
