"""Batch endpoints of the simulated workspace: ``/batchEndpoints/<ep>[/deployments/<dep>]`` on
ARM, and the invoke call the SDK posts to the endpoint's scoring URI with an Azure ML token.

An invoke creates a job (``/jobs/<name>``, with a run-history record) that runs in a background
thread as Azure's batch runtime would: the deployment's scoring script, from its code asset, with
``AZUREML_MODEL_DIR`` set to the model version's files, through the local parallel runtime
(``init()`` once, ``run(mini_batch)`` per ``mini_batch_size`` files, retries, error threshold),
every returned row appended to ``output_file_name``, uploaded where the job's ``score`` output
points. Azure's refusals are modelled where mlops could trip on them: an unknown model, code,
compute or script, a bad output action, an invoke without a token for ``https://ml.azure.com``,
a 21st deployment on one endpoint ("Manage and increase quotas and limits for resources with
Azure Machine Learning": 20 deployments per endpoint), a data input declared with another type
than its data asset's (``uri_file`` / ``uri_folder``), and a ``score`` output that is not the
documented ``uri_file`` the appended rows are written to ("Create jobs and input data for batch
endpoints").
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any

import jwt

from mlops_azure.testing.simulator import Request, Response, arm_error, not_found, now_iso, reply

if TYPE_CHECKING:
    from mlops_azure.testing.simulator import SimulatedAzureML

INVOKE_HOST = re.compile(r"^(?P<ep>[a-z0-9-]+)\.(?P<region>[a-z0-9]+)\.inference\.ml\.azure\.com$")
OUTPUT_ACTIONS = ("AppendRow", "SummaryOnly")
#: Azure ML's limit of deployments per endpoint (all endpoint kinds).
MAX_DEPLOYMENTS = 20


def _kind(value: Any) -> str:
    """``UriFile`` / ``uri_file`` → ``urifile``."""
    return str(value or "").replace("_", "").lower()


def _duration_s(value: Any, default: int) -> int:
    """``PT300S`` / ``PT5M`` (how the SDK sends a timeout) in seconds."""
    found = re.fullmatch(r"PT(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?", str(value or ""))
    if not found:
        return default
    hours, minutes, seconds = (int(part or 0) for part in found.groups())
    return hours * 3600 + minutes * 60 + seconds or default


class BatchHandlers:
    """Batch endpoints, deployments and the jobs their invokes start."""

    def __init__(self, sim: SimulatedAzureML) -> None:
        self.sim = sim

    def handle(self, req: Request) -> Response | None:
        found = INVOKE_HOST.match(req.host)
        if found and req.method == "POST":
            return self._invoke(found["ep"], req)
        rel = req.rel or ""
        if req.host != "management.azure.com" or not rel.startswith("/batchEndpoints"):
            return None
        parts = rel.strip("/").split("/")
        if len(parts) == 1 and req.method == "GET":
            prefix = self.sim.arm_id("/batchEndpoints/")
            return reply({"value": [d for k, d in self.sim.resources.items()
                                    if k.startswith(prefix) and "/deployments/" not in k]})
        endpoint_key = self.sim.arm_id(f"/batchEndpoints/{parts[1]}")
        if len(parts) == 2:
            return self._endpoint(req, parts[1], endpoint_key)
        if parts[2] != "deployments" or endpoint_key not in self.sim.resources:
            return not_found(f"batch endpoint {parts[1]}")
        if len(parts) == 3 and req.method == "GET":
            prefix = endpoint_key + "/deployments/"
            return reply({"value": [d for k, d in self.sim.resources.items() if k.startswith(prefix)]})
        if len(parts) == 4:
            return self._deployment(req, parts[1], parts[3], f"{endpoint_key}/deployments/{parts[3]}")
        return None

    # -- ARM resources ---------------------------------------------------------------------------
    def _endpoint(self, req: Request, name: str, key: str) -> Response:
        found = self.sim.resources.get(key)
        if req.method == "GET":
            return reply(found) if found else not_found(f"batch endpoint {name}")
        if req.method == "DELETE":
            for other in [k for k in self.sim.resources if k == key or k.startswith(key + "/")]:
                del self.sim.resources[other]
            return 200, {}, ""
        if req.method != "PUT":
            return arm_error(405, "MethodNotAllowed", f"{req.method} on a batch endpoint")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]{2,31}", name):
            return arm_error(400, "UserError", f"batch endpoint name '{name}' is invalid")
        props = dict((req.body or {}).get("properties") or {})
        if str(props.get("authMode") or "AADToken").lower() != "aadtoken":  # the SDK: aadToken
            return arm_error(400, "UserError", "batch endpoints support AADToken auth only")
        props.update(authMode="AADToken", provisioningState="Succeeded",
                     scoringUri=f"https://{name}.{self.sim.location}.inference.ml.azure.com/jobs",
                     swaggerUri=None, defaults=props.get("defaults") or
                     (found or {}).get("properties", {}).get("defaults") or {})
        doc = {"id": key, "name": name, "type": "Microsoft.MachineLearningServices/workspaces/"
               "batchEndpoints", "location": self.sim.location, "properties": props,
               "identity": {"type": "SystemAssigned"}, "tags": (req.body or {}).get("tags") or {},
               "systemData": self.sim.system_data()}
        self.sim.resources[key] = doc
        return reply(doc, 200 if found else 201)

    def _deployment(self, req: Request, endpoint: str, name: str, key: str) -> Response:
        found = self.sim.resources.get(key)
        if req.method == "GET":
            return reply(found) if found else not_found(f"batch deployment {endpoint}/{name}")
        if req.method == "DELETE":
            self.sim.resources.pop(key, None)
            return 200, {}, ""
        if req.method != "PUT":
            return arm_error(405, "MethodNotAllowed", f"{req.method} on a batch deployment")
        props = dict((req.body or {}).get("properties") or {})
        siblings = [k for k in self.sim.resources if k.startswith(
            self.sim.arm_id(f"/batchEndpoints/{endpoint}/deployments/"))]
        if found is None and len(siblings) >= MAX_DEPLOYMENTS:
            return arm_error(400, "UserError", f"batch endpoint {endpoint} already has "
                             f"{MAX_DEPLOYMENTS} deployments, the limit per endpoint: delete one")
        problem = self._refusal(props)
        if problem:
            return arm_error(400, "UserError", f"batch deployment {endpoint}/{name}: {problem}")
        props["provisioningState"] = "Succeeded"
        doc = {"id": key, "name": name, "type": "Microsoft.MachineLearningServices/workspaces/"
               "batchEndpoints/deployments", "location": self.sim.location, "properties": props,
               "tags": (req.body or {}).get("tags") or {}, "systemData": self.sim.system_data()}
        self.sim.resources[key] = doc
        owner = self.sim.resources[self.sim.arm_id(f"/batchEndpoints/{endpoint}")]["properties"]
        owner.setdefault("defaults", {}).setdefault("deploymentName", name)  # the first one
        return reply(doc, 200 if found else 201)

    def _refusal(self, props: dict[str, Any]) -> str | None:
        model = str((props.get("model") or {}).get("assetId") or "")
        code = props.get("codeConfiguration") or {}
        try:
            self.sim.resolve_model_dir(model)
            folder = self.sim.resolve_code_dir(str(code.get("codeId") or ""))
        except (FileNotFoundError, ValueError) as exc:
            return str(exc)
        if not (folder / str(code.get("scoringScript") or "")).is_file():
            return f"scoring script {code.get('scoringScript')} is not in the code asset"
        compute = str(props.get("compute") or "").rsplit("/", 1)[-1]
        if self.sim.get_compute(compute) is None:
            return f"compute {compute or '(none)'} does not exist"
        if props.get("outputAction", "AppendRow") not in OUTPUT_ACTIONS:
            return f"outputAction {props.get('outputAction')} is not AppendRow or SummaryOnly"
        if props.get("outputAction", "AppendRow") == "AppendRow" and not props.get("outputFileName"):
            return "outputFileName is required with AppendRow"
        if int(props.get("miniBatchSize") or 10) < 1 or int(props.get("errorThreshold", -1)) < -1:
            return "miniBatchSize must be at least 1 and errorThreshold -1 or more"
        return None

    # -- invoke and the job ------------------------------------------------------------------------
    def _invoke(self, endpoint: str, req: Request) -> Response:
        token = req.headers.get("authorization", "").removeprefix("Bearer ")
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            claims = {}
        if claims.get("aud") != "https://ml.azure.com":
            return arm_error(401, "Unauthorized", "an Azure ML token (https://ml.azure.com) is required")
        owner = self.sim.resources.get(self.sim.arm_id(f"/batchEndpoints/{endpoint}"))
        if owner is None:
            return not_found(f"batch endpoint {endpoint}")
        deployment = req.headers.get("azureml-model-deployment") or \
            owner["properties"].get("defaults", {}).get("deploymentName")
        spec = self.sim.resources.get(self.sim.arm_id(
            f"/batchEndpoints/{endpoint}/deployments/{deployment}"))
        if spec is None:
            return arm_error(400, "UserError", f"batch endpoint {endpoint} has no deployment "
                             f"'{deployment}'")
        props = dict((req.body or {}).get("properties") or {})
        inputs = dict(props.get("inputData") or {})
        if len(inputs) != 1:
            return arm_error(400, "UserError", "a model deployment takes exactly one input")
        problem = self._input_problem(next(iter(inputs.values())))
        if problem:
            return arm_error(400, "UserError", problem)
        name = str(props.get("name") or f"batchjob-{self.sim.new_id()[:12]}")
        key = self.sim.arm_id(f"/jobs/{name}")
        if key in self.sim.resources:
            return arm_error(409, "Conflict", f"job {name} already exists")
        outputs = {k: {"jobOutputType": "uri_file", "uri": v.get("uri")}
                   for k, v in dict(props.get("outputData") or {}).items()}
        wrong = [k for k, v in dict(props.get("outputData") or {}).items()
                 if _kind(v.get("jobOutputType")) != "urifile"]
        if wrong or (outputs and set(outputs) != {"score"}):
            return arm_error(400, "UserError", "a model deployment has one output, 'score', of "
                             "type uri_file: the path of the file the rows are appended to")
        given = props.get("outputDataset") or {}
        file_name = str(spec["properties"].get("outputFileName") or "predictions.csv")
        if not outputs and given.get("path"):
            outputs = {"score": {"jobOutputType": "uri_file",
                                 "uri": f"{str(given['path']).rstrip('/')}/{file_name}"}}
        outputs.setdefault("score", {"jobOutputType": "uri_file", "uri":
                                     "azureml://datastores/workspaceblobstore/paths/azureml/"
                                     f"{name}/score/{file_name}"})
        job = {"jobType": "Pipeline", "status": "NotStarted", "displayName": name,
               "experimentName": str((props.get("properties") or {}).get("experimentName") or endpoint),
               "inputs": {}, "outputs": outputs, "jobs": {}, "settings": {},
               "tags": {"mlops.batch_endpoint": endpoint, "mlops.batch_deployment": str(deployment)},
               "properties": {"azureml.batchrun": "true"}}
        with self.sim.lock:
            created = self.sim.system_data()
            self.sim.resources[key] = {"id": key, "name": name, "properties": job,
                                       "systemData": created,
                                       "type": "Microsoft.MachineLearningServices/workspaces/jobs"}
            self.sim.jobs.children[name] = []
            self.sim.jobs.runs[name] = {"runId": name, "displayName": name,
                                        "experimentId": job["experimentName"],
                                        "createdUtc": created["createdAt"], "status": "NotStarted",
                                        "properties": {}, "tags": {}}
        thread = threading.Thread(target=self._run, daemon=True, name=f"sim-batch-{name}",
                                  args=(name, spec["properties"], next(iter(inputs.values())),
                                        str(outputs["score"]["uri"])))
        self.sim.jobs.track(thread)
        thread.start()
        return reply({"id": key, "name": name, "properties": {
            "status": "NotStarted", "inputData": inputs, "outputDataset": given or None,
            "outputFileName": spec["properties"].get("outputFileName")}}, 200)

    def _input_problem(self, given: dict[str, Any]) -> str | None:
        """Why a data input's declared type does not fit the data asset it names, if it does not."""
        uri = str(given.get("uri") or "")
        text = uri.removeprefix("azureml:")
        found = re.search(r"/data/([^/]+)/versions/([^/]+)$", text)
        name, version = (found[1], found[2]) if found else (text.partition(":")[0],
                                                            text.partition(":")[2])
        if uri.startswith("azureml://") or not name:
            return None  # a datastore path: its type is what the caller says
        doc = self.sim.resources.get(self.sim.arm_id(f"/data/{name}/versions/{version}"))
        if doc is None:
            return None  # resolved (or refused) when the job runs
        declared = _kind(given.get("jobInputType"))
        actual = _kind(doc["properties"].get("dataType"))
        if actual in ("urifile", "urifolder") and declared != actual:
            return (f"input {uri} is declared {given.get('jobInputType')} but data asset "
                    f"{name}:{version} is {doc['properties'].get('dataType')}")
        return None

    def _set(self, name: str, status: str, error: str | None = None) -> None:
        with self.sim.lock:
            self.sim.resources[self.sim.arm_id(f"/jobs/{name}")]["properties"]["status"] = status
            run = self.sim.jobs.runs[name]
            run["status"] = status
            stamp = now_iso()
            run.setdefault("startTimeUtc", stamp)
            if status in ("Completed", "Failed"):
                run["endTimeUtc"] = stamp
            if error:
                run["error"] = {"error": {"code": "UserError", "message": error[-1500:]}}

    def _run(self, name: str, props: dict[str, Any], data: dict[str, Any], output: str) -> None:
        work = self.sim.root / "batch" / name
        try:
            self._set(name, "Running")
            uri = self.sim.assets.resolve_input(str(data.get("uri") or ""))
            source = self.sim.assets.download_uri(uri, work / "input")
            code = self.sim.resolve_code_dir(str(props["codeConfiguration"]["codeId"]))
            model = self.sim.resolve_model_dir(str(props["model"]["assetId"]))
            retry = props.get("retrySettings") or {}
            out = work / "output"
            command = [sys.executable, "-m", "mlops_azure.execution.parallel_run",
                       "--entry_script", str(code / props["codeConfiguration"]["scoringScript"]),
                       "--input_data", str(source),
                       "--mini_batch_size", str(props.get("miniBatchSize") or 10),
                       "--error_threshold", str(props.get("errorThreshold", -1)),
                       "--max_retries", str(retry.get("maxRetries", 3)),
                       "--timeout", str(_duration_s(retry.get("timeout"), 30)),
                       "--workers", str(int(props.get("maxConcurrencyPerInstance") or 1) *
                                        int((props.get("resources") or {}).get("instanceCount") or 1)),
                       "--append_row_to", str(out),
                       "--append_row_file_name", str(props.get("outputFileName") or "predictions.csv")]
            env = {**os.environ, "AZUREML_MODEL_DIR": str(model)}
            done = subprocess.run(command, cwd=code, env=env, capture_output=True, text=True,
                                  check=False, timeout=3600)
            log = (done.stdout or "") + (done.stderr or "")
            self.sim.container("workspaceartifactstore").upload_blob(
                f"ExperimentRun/dcid.{name}/logs/job_progress_overview.txt", log, overwrite=True)
            if done.returncode != 0:
                self._set(name, "Failed", log)
                return
            found = re.search(r"datastores/([^/]+)/paths/(.*)$", output)
            assert found is not None
            container = self.sim.container(found[1])
            appended = out / str(props.get("outputFileName") or "predictions.csv")
            if appended.is_file():  # the score output is that file, at the path given
                with appended.open("rb") as handle:
                    container.upload_blob(found[2], handle, overwrite=True)
            self._set(name, "Completed")
        except Exception as exc:  # a broken job fails, as on Azure
            self._set(name, "Failed", f"{type(exc).__name__}: {exc}")
