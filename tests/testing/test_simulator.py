"""The simulated Azure ML service itself: what it records, refuses and runs."""

from __future__ import annotations

from pathlib import Path

import requests

from mlops_azure.azure import AzureWorkspace
from mlops_azure.testing import SimulatedAzureML


def test_an_unmodelled_request_is_answered_404_and_recorded(azure_sim: SimulatedAzureML) -> None:
    answer = requests.get("https://example.invalid/anything?x=1", timeout=5)
    assert answer.status_code == 404 and "no route" in answer.json()["error"]["message"]
    assert azure_sim.calls[-1].host == "example.invalid"
    assert azure_sim.calls[-1].query == {"x": "1"}


def test_injected_faults_are_used_up_in_order(azure_sim: SimulatedAzureML) -> None:
    azure_sim.inject("GET", r"/datastores$", 503, times=2)
    url = f"https://management.azure.com{azure_sim.ws_path}/datastores"
    assert [requests.get(url, timeout=5).status_code for _ in range(3)] == [503, 503, 200]


def test_a_fired_schedule_runs_its_pipeline(
    azure_sim: SimulatedAzureML, azure_workspace: AzureWorkspace, tmp_path: Path
) -> None:
    from mlops_azure.workspace import PipelineSubmission, ScheduleTrigger

    project = tmp_path
    (project / "step.py").write_text(
        "import sys, pathlib\n"
        "out = pathlib.Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True)\n"
        "(out / 'done.txt').write_text('ok')\n")
    (project / "step.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json\n"
        "name: step\nversion: '1'\ntype: command\ncode: .\n"
        "environment: azureml://registries/azureml/environments/sklearn-1.5/labels/latest\n"
        "outputs: {out: {type: uri_folder}}\ncommand: python step.py ${{outputs.out}}\n")
    (project / "pipeline.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json\n"
        "type: pipeline\nexperiment_name: nightly\noutputs: {result: {type: uri_folder}}\n"
        "jobs:\n  only:\n    type: command\n    component: ./step.yml\n"
        "    outputs: {out: '${{parent.outputs.result}}'}\n")
    azure_workspace.schedules.create("nightly", PipelineSubmission(
        project / "pipeline.yml", {}, "nightly"), ScheduleTrigger(cron="0 2 * * *"))
    job = azure_sim.trigger_schedule("nightly")
    finished = azure_workspace.jobs.wait(job)
    assert finished.status.value == "Completed", finished.error
    assert (azure_workspace.jobs.output_path(job, "result") / "done.txt").read_text() == "ok"
