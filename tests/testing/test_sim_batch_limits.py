"""The simulated batch endpoints refuse what Azure refuses: a 21st deployment on one endpoint
("Manage and increase quotas and limits for resources with Azure Machine Learning"), a data
input declared with another type than its asset's, and a ``score`` output that is not the
documented ``uri_file`` ("Create jobs and input data for batch endpoints")."""

from __future__ import annotations

import jwt

from mlops_azure.testing import SimulatedAzureML
from mlops_azure.testing.simulator import Request


def _request(sim: SimulatedAzureML, method: str, rel: str, body: object,
             host: str = "management.azure.com", headers: dict[str, str] | None = None) -> Request:
    return Request(method=method, url=f"https://{host}{sim.ws_path}{rel}", host=host,
                   path=sim.ws_path + rel, rel=rel, query={}, body=body, headers=headers or {})


def test_deployment_limit_input_type_and_output_form(azure_sim: SimulatedAzureML) -> None:
    endpoint = azure_sim.arm_id("/batchEndpoints/ep-limit")
    azure_sim.resources[endpoint] = {"id": endpoint, "name": "ep-limit", "properties": {
        "defaults": {"deploymentName": "d00"}}}
    for n in range(20):
        key = f"{endpoint}/deployments/d{n:02d}"
        azure_sim.resources[key] = {"id": key, "name": f"d{n:02d}", "properties": {}}
    status, _, text = azure_sim.batch.handle(_request(
        azure_sim, "PUT", "/batchEndpoints/ep-limit/deployments/d20", {"properties": {}}))
    assert status == 400 and "20 deployments" in text

    data = azure_sim.arm_id("/data/rows/versions/1")
    azure_sim.resources[data] = {"id": data, "name": "1", "properties": {"dataType": "uri_folder"}}
    token = jwt.encode({"aud": "https://ml.azure.com"}, "k" * 32, algorithm="HS256")
    host = f"ep-limit.{azure_sim.location}.inference.ml.azure.com"

    def invoke(kind: str, output: str) -> tuple[int, str]:
        body = {"properties": {"inputData": {"data": {"jobInputType": kind, "uri": f"azureml:{data}"}},
                               "outputData": {"score": {"jobOutputType": output, "uri":
                                   "azureml://datastores/workspaceblobstore/paths/out/p.csv"}}}}
        found = azure_sim.batch.handle(_request(azure_sim, "POST", "/jobs", body, host=host,
                                                headers={"authorization": f"Bearer {token}"}))
        assert found is not None
        return found[0], found[2]

    status, text = invoke("UriFile", "UriFile")
    assert status == 400 and "is uri_folder" in text
    status, text = invoke("UriFolder", "UriFolder")
    assert status == 400 and "uri_file" in text
