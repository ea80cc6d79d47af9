"""The simulator's schedules are as strict as Azure ML's: disable before delete, no DAYS or
MONTHS cron fields, monitors only of existing deployments, stored bodies fired as stored, default
outputs under the step job's name, and deterministic steps reused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from mlops_azure.azure import AzureWorkspace
from mlops_azure.testing import SimulatedAzureML
from tests.support.pipelines import one_step_pipeline


def _url(sim: SimulatedAzureML, name: str) -> str:
    return f"https://management.azure.com{sim.ws_path}/schedules/{name}?api-version=2023-06-01-preview"


def _cron(expression: str, enabled: bool = True) -> dict[str, Any]:
    return {"properties": {"isEnabled": enabled, "trigger": {
        "triggerType": "Cron", "expression": expression, "timeZone": "UTC"},
        "action": {"actionType": "CreateJob", "jobDefinition": {"jobType": "Pipeline"}}}}


def test_an_enabled_schedule_cannot_be_deleted(azure_sim: SimulatedAzureML) -> None:
    assert requests.put(_url(azure_sim, "s"), json=_cron("0 3 * * *"), timeout=5).ok
    refused = requests.delete(_url(azure_sim, "s"), timeout=5)
    assert refused.status_code == 400 and "disable" in refused.json()["error"]["message"]
    assert requests.put(_url(azure_sim, "s"), json=_cron("0 3 * * *", enabled=False),
                        timeout=5).ok
    assert requests.delete(_url(azure_sim, "s"), timeout=5).ok
    assert requests.get(_url(azure_sim, "s"), timeout=5).status_code == 404


def test_cron_days_and_months_are_refused(azure_sim: SimulatedAzureML) -> None:
    for expression, field in (("0 3 1 * *", "DAYS"), ("0 3 * 6 *", "MONTHS")):
        refused = requests.put(_url(azure_sim, "s"), json=_cron(expression), timeout=5)
        assert refused.status_code == 400 and field in refused.json()["error"]["message"]
    assert requests.put(_url(azure_sim, "s"), json=_cron("15 16 * * 1"), timeout=5).ok


def test_a_monitor_of_a_missing_deployment_is_refused(azure_sim: SimulatedAzureML) -> None:
    body = _cron("0 6 * * *")
    body["properties"]["action"] = {"actionType": "CreateMonitor", "monitorDefinition": {
        "monitoringTarget": {"deploymentId": f"azureml:{azure_sim.ws_path}/onlineEndpoints/"
                                             "gone/deployments/blue", "taskType": "Regression"},
        "signals": {}}}
    refused = requests.put(_url(azure_sim, "m"), json=body, timeout=5)
    assert refused.status_code == 400 and "does not exist" in refused.json()["error"]["message"]




def test_a_fired_job_writes_default_outputs_under_the_step_job_and_reuses_steps(
    azure_sim: SimulatedAzureML, azure_workspace: AzureWorkspace, tmp_path: Path
) -> None:
    from azure.ai.ml import load_job
    from azure.ai.ml.entities import CronTrigger, JobSchedule

    job = load_job(one_step_pipeline(tmp_path))
    job.settings.default_compute = azure_workspace.jobs.compute
    schedule = JobSchedule(name="raw", trigger=CronTrigger(expression="0 2 * * *"),
                           create_job=job)
    azure_workspace.ml.schedules.begin_create_or_update(schedule).result()
    first = azure_sim.trigger_schedule("raw")
    azure_sim.wait_for_jobs()
    container = azure_sim.container("workspaceblobstore")
    [written] = [b.name for b in container.list_blobs(name_starts_with=f"{first}_only/out/")]
    assert written.endswith("done.txt")  # ${{name}} is the step job's name, not the pipeline's
    second = azure_sim.trigger_schedule("raw")  # the same stored body: every step is reused
    azure_sim.wait_for_jobs()
    [run] = azure_sim.jobs.children[second]
    assert run["properties"]["azureml.reusedrunid"] == f"{first}_only"
    copied = container.download_blob(f"{second}_only/out/done.txt").readall()
    assert copied == container.download_blob(written).readall()


def _monitor(sim: SimulatedAzureML, signal: dict[str, Any]) -> dict[str, Any]:
    body = _cron("0 6 * * *")
    body["properties"]["action"] = {"actionType": "CreateMonitor", "monitorDefinition": {
        "monitoringTarget": {"deploymentId": f"azureml:{sim.ws_path}/onlineEndpoints/"
                                             "gone/deployments/blue", "taskType": "Regression"},
        "signals": {"drift": signal}}}
    return body


def test_a_lookback_window_must_be_an_iso_duration(azure_sim: SimulatedAzureML) -> None:
    signal = {"signalType": "DataDrift", "productionData": {
        "inputDataType": "Trailing", "windowSize": "7d", "windowOffset": "P0D",
        "dataContext": "model_inputs", "uri": "azureml:x:1", "jobInputType": "uri_folder"}}
    refused = requests.put(_url(azure_sim, "m"), json=_monitor(azure_sim, signal), timeout=5)
    assert refused.status_code == 400 and "ISO 8601" in refused.json()["error"]["message"]
    signal["productionData"]["windowSize"] = "P7D"  # then only the missing deployment is wrong
    refused = requests.put(_url(azure_sim, "m"), json=_monitor(azure_sim, signal), timeout=5)
    assert "does not exist" in refused.json()["error"]["message"]


def test_a_training_reference_must_name_its_target(azure_sim: SimulatedAzureML) -> None:
    reference = {"inputDataType": "Fixed", "dataContext": "training", "uri": "azureml:t:1",
                 "jobInputType": "mltable"}
    signal = {"signalType": "DataDrift", "referenceData": reference}
    refused = requests.put(_url(azure_sim, "m"), json=_monitor(azure_sim, signal), timeout=5)
    assert refused.status_code == 400 and "target_column" in refused.json()["error"]["message"]
    reference["columns"] = {"target_column": "tonnes"}
    refused = requests.put(_url(azure_sim, "m"), json=_monitor(azure_sim, signal), timeout=5)
    assert "does not exist" in refused.json()["error"]["message"]
