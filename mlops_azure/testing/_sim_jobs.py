"""Pipeline jobs in the simulator: stored like Azure ML stores them, and run for real.

A submitted pipeline job is rebuilt from what the SDK sent — each step's component spec and code
asset, the job's bindings and inputs — into component and pipeline YAML, then executed by
``mlops_azure.execution`` (the embedded workspace's runner) in a background thread, with the
current interpreter: the environment is recorded, not built. Inputs come from blob storage,
outputs and step logs go back there where Azure ML puts them (``azureml/<job>/<output>/`` and
``ExperimentRun/dcid.<child run>/user_logs/std_log.txt``), and child runs are served through
the run-history API the SDK reads steps from.
"""

from __future__ import annotations

import json
import re
import shutil
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from mlops_azure.errors import UserInputError
from mlops_azure.execution.parallel import as_command
from mlops_azure.execution.sweep_rest import yaml_node
from mlops_azure.testing import _sim_sweep as sweeps
from mlops_azure.testing.simulator import Request, Response, arm_error, not_found, now_iso, reply

if TYPE_CHECKING:
    from mlops_azure.testing.simulator import SimulatedAzureML

PIPELINE_SCHEMA = "https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json"
PATH_TYPES = ("uri_file", "uri_folder", "mltable", "custom_model", "mlflow_model")
TERMINAL = ("Completed", "Failed", "Canceled")


class JobHandlers:
    """``/jobs`` on ARM and ``/history/v1.0/.../runs`` on the regional API host."""

    def __init__(self, sim: SimulatedAzureML) -> None:
        self.sim = sim
        self.failing_steps: set[str] = set()
        self.children: dict[str, list[dict[str, Any]]] = {}
        #: The run-history record of each pipeline job (its times and status).
        self.runs: dict[str, dict[str, Any]] = {}
        self._threads: list[threading.Thread] = []
        #: Completed jobs by the signature of what they ran, for deterministic-step reuse.
        self.completed: dict[str, str] = {}
        #: Sweep steps' trial runs and their MLflow metrics.
        self.sweeps = sweeps.SweepRuns(self)

    # -- used by other handlers and tests ------------------------------------------------------
    def status_of(self, job: str) -> str | None:
        doc = self.sim.resources.get(self.sim.arm_id(f"/jobs/{job}"))
        return None if doc is None else str(doc["properties"]["status"])

    def output_uri(self, job: str, output: str) -> str:
        """Where a pipeline output is written: its own path when the job sets one, otherwise
        Azure ML's default ``${{default_datastore}}/paths/${{name}}/${{output_name}}`` of the
        step job that produces it ("Manage inputs and outputs of pipelines")."""
        doc = self.sim.resources.get(self.sim.arm_id(f"/jobs/{job}"))
        props = (doc or {}).get("properties", {})
        declared = (props.get("outputs") or {}).get(output) or {}
        uri = str(declared.get("uri") or "")
        if not uri:
            step, step_output = producing_step(props, output)
            uri = (f"azureml://datastores/workspaceblobstore/paths/{job}_{step}/{step_output}/"
                   if step else f"azureml://datastores/workspaceblobstore/paths/{job}/{output}/")
        found = re.search(r"datastores/([^/]+)/paths/(.*)$", uri)
        assert found is not None  # both forms above name a datastore path
        return self.sim.assets.long_uri(found[1], found[2])

    def submit_definition(self, name: str, definition: dict[str, Any]) -> str:
        """Submit a stored job definition (a schedule firing) as job ``name``; its name."""
        status, _, body = self._submit(name, self.sim.arm_id(f"/jobs/{name}"),
                                       {"properties": definition})
        if status >= 400:
            raise RuntimeError(f"job {name} could not be submitted: {body}")
        return name

    def track(self, thread: threading.Thread) -> None:
        """A background job of another handler (a batch endpoint's), waited for like ours."""
        self._threads.append(thread)

    def wait(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        for thread in list(self._threads):
            thread.join(max(0.0, deadline - time.monotonic()))

    def close(self) -> None:
        self.wait(600)

    # -- routing -------------------------------------------------------------------------------
    def handle(self, req: Request) -> Response | None:
        if req.host == self.sim.api_host and "/history/v1.0/" in req.path:
            return self._history(req)
        if req.host == self.sim.api_host and "/mlflow/v1.0/" in req.path:
            return self.sweeps.handle(req)
        rel = req.rel or ""
        if req.host != "management.azure.com" or not (rel == "/jobs" or rel.startswith("/jobs/")):
            return None
        parts = rel.strip("/").split("/")
        if len(parts) == 1 and req.method == "GET":
            prefix = self.sim.arm_id("/jobs/")
            docs = [d for k, d in self.sim.resources.items() if k.startswith(prefix)]
            docs.sort(key=lambda d: d["systemData"]["createdAt"], reverse=True)
            return reply({"value": docs})
        key = self.sim.arm_id(f"/jobs/{parts[1]}")
        if len(parts) == 2 and req.method == "GET":
            found = self.sim.resources.get(key)
            return reply(found) if found else sweeps.child_job(self.sim, parts[1], self.children)
        if len(parts) == 2 and req.method == "PUT":
            return self._submit(parts[1], key, req.body)
        if len(parts) == 3 and parts[2] == "cancel" and req.method == "POST":
            found = self.sim.resources.get(key)
            if not found:
                return not_found(f"job {parts[1]}")
            if found["properties"]["status"] not in TERMINAL:
                found["properties"]["status"] = "CancelRequested"
            return 202, {}, ""
        return None

    def _history(self, req: Request) -> Response | None:
        found = re.search(r"/runs/([^/]+)(/children)?$", req.path)
        if not found or req.method != "GET":
            return None
        if found[2]:
            return reply({"value": list(self.children.get(found[1], [])), "nextLink": None})
        if found[1] in self.runs:
            return reply(self.runs[found[1]])
        for runs in self.children.values():
            for run in runs:
                if run["runId"] == found[1]:
                    return reply(run)
        return not_found(f"run {found[1]}")

    # -- submission ------------------------------------------------------------------------------
    def _submit(self, name: str, key: str, body: Any) -> Response:
        if key in self.sim.resources:
            return arm_error(409, "Conflict", f"job {name} already exists")
        props = dict((body or {}).get("properties") or {})
        if props.get("jobType") != "Pipeline":
            return arm_error(400, "UserError", "the simulator runs pipeline jobs only")
        for step, node in (props.get("jobs") or {}).items():
            component = self.sim.resources.get(sweeps.component_id(node))
            if component is None:
                return arm_error(400, "UserError", f"step {step}: component "
                                 f"{sweeps.component_id(node)} does not exist")
            refused = sweeps.refusal(step, node) if sweeps.is_sweep(node) else None
            if refused is not None:
                return refused
            spec = component["properties"]["componentSpec"]
            if spec.get("type") == "parallel":
                try:  # what Azure ML refuses in a parallel step, refused at submission
                    as_command(step, spec, node, Path("."))
                except UserInputError as exc:
                    return arm_error(400, "UserError", exc.message)
        props["status"] = "NotStarted"
        props["services"] = {"Studio": {"endpoint": f"https://ml.azure.com/runs/{name}",
                                        "jobServiceType": "Studio"}}
        created = self.sim.system_data()
        doc: dict[str, Any] = {"id": key, "name": name, "properties": props, "systemData": created,
                               "type": "Microsoft.MachineLearningServices/workspaces/jobs"}
        self.sim.resources[key] = doc
        self.children[name] = []
        self.runs[name] = {"runId": name, "displayName": props.get("displayName") or name,
                           "experimentId": props.get("experimentName") or name,
                           "createdUtc": created["createdAt"], "status": "NotStarted",
                           "properties": {}, "tags": {}}
        thread = threading.Thread(target=self._run, args=(name, doc), daemon=True,
                                  name=f"sim-job-{name}")
        self._threads.append(thread)
        thread.start()
        return reply(doc, 201)

    def _set(self, doc: dict[str, Any], status: str) -> None:
        with self.sim.lock:
            doc["properties"]["status"] = status
            run = self.runs[doc["name"]]
            run["status"] = status
            if status == "Running":
                run["startTimeUtc"] = now_iso()
            if status in TERMINAL:
                run.setdefault("startTimeUtc", now_iso())
                run["endTimeUtc"] = now_iso()

    def _run(self, name: str, doc: dict[str, Any]) -> None:
        work = self.sim.root / "jobs" / name
        signature = self._signature(doc["properties"])
        earlier = self.completed.get(signature) if signature else None
        if earlier is not None:
            self._reuse(name, doc, earlier)
            return
        try:
            self._set(doc, "Queued")
            pipeline_file, inputs = self._materialise(name, doc["properties"], work)
            self._set(doc, "Running")
            from mlops_azure.execution.runner import run_pipeline

            has_sweeps = any(sweeps.is_sweep(n) for n in (doc["properties"].get("jobs") or {})
                             .values())
            result = run_pipeline(pipeline_file, inputs, work / "run",
                                  on_step=lambda step, status, message:
                                  self._on_step(name, step, str(status), message),
                                  env={"AZUREML_RUN_ID": name},
                                  **({"studies_dir": work / "studies"} if has_sweeps else {}))
            self.sweeps.record(name, doc["properties"], work / "run", work / "studies")
            for step in result.steps:
                self._upload_log(name, step.name, step.log_path)
            if str(result.status) == "Completed":
                for output, folder in result.outputs.items():
                    self._upload_output(name, output, folder)
            final = "Completed" if str(result.status) == "Completed" else "Failed"
            if doc["properties"]["status"] == "CancelRequested":
                final = "Canceled"
            if final == "Completed" and signature:
                self.completed.setdefault(signature, name)
            self._set(doc, final)
        except Exception as exc:  # a broken submission fails the job, as on Azure
            self._set(doc, "Failed")
            with self.sim.lock:
                self.runs[name]["error"] = {"error": {"code": "UserError", "message": str(exc)}}

    # -- deterministic-step reuse ----------------------------------------------------------------
    def _signature(self, props: dict[str, Any]) -> str | None:
        """What decides reuse: each step's component and bindings, the job's inputs and output
        settings. None when the job may not reuse: ``settings.force_rerun``, or a component
        with ``is_deterministic: false`` ("CLI (v2) pipeline job YAML schema", settings)."""
        if (props.get("settings") or {}).get("force_rerun") in (True, "true", "True"):
            return None
        for node in (props.get("jobs") or {}).values():
            spec = (self.sim.resources.get(sweeps.component_id(node)) or {}).get(
                "properties", {}).get("componentSpec", {})
            if spec.get("is_deterministic", spec.get("isDeterministic", True)) in (False, "false"):
                return None
        return json.dumps({"jobs": {k: {"component": sweeps.component_id(v),
                                        "sweep": v if sweeps.is_sweep(v) else None,
                                        "inputs": v.get("inputs"), "outputs": v.get("outputs")}
                                    for k, v in (props.get("jobs") or {}).items()},
                           "inputs": props.get("inputs"), "outputs": props.get("outputs")},
                          sort_keys=True, default=str)

    def _reuse(self, name: str, doc: dict[str, Any], earlier: str) -> None:
        """Every step reused: nothing runs; each step's outputs are the earlier run's (copied to
        where this job's outputs are read) and its run says which run it reused."""
        with self.sim.lock:
            self.children[name] = [
                {**run, "runId": f"{name}_{run['displayName']}", "parentRunId": name,
                 "rootRunId": name, "experimentId": name,
                 "properties": {**run.get("properties", {}), "azureml.isreused": "true",
                                "azureml.reusedrunid": run["runId"]}}
                for run in self.children.get(earlier, [])]
        self._set(doc, "Running")
        for output in (doc["properties"].get("outputs") or {}):
            self._copy_output(earlier, name, output)
        self._set(doc, "Completed")

    def _copy_output(self, source_job: str, job: str, output: str) -> None:
        src = re.search(r"datastores/([^/]+)/paths/(.*)$", self.output_uri(source_job, output))
        dst = re.search(r"datastores/([^/]+)/paths/(.*)$", self.output_uri(job, output))
        assert src is not None and dst is not None
        source, target = self.sim.container(src[1]), self.sim.container(dst[1])
        prefix = src[2].rstrip("/") + "/"
        for blob in source.list_blobs(name_starts_with=prefix):
            data = source.download_blob(blob.name).readall()
            target.upload_blob(dst[2].rstrip("/") + "/" + blob.name[len(prefix):], data,
                               overwrite=True)

    def _on_step(self, job: str, step: str, status: str, message: str) -> None:
        with self.sim.lock:
            runs = self.children[job]
            run = next((r for r in runs if r["displayName"] == step), None)
            if run is None:
                run = {"runId": f"{job}_{step}", "displayName": step, "parentRunId": job,
                       "rootRunId": job, "experimentId": job, "createdUtc": now_iso(),
                       "status": "NotStarted", "properties": {}, "tags": {}}
                runs.append(run)
            run["status"] = status
            if status == "Running":
                run["startTimeUtc"] = now_iso()
            if status in TERMINAL:
                run["endTimeUtc"] = now_iso()
            if status == "Failed":
                # Azure ML's own wording, which clients parse for the exit status
                code = re.search(r"exit code (-?\d+)", message)
                tail = message.split(": ", 1)[-1][-1500:]
                run["error"] = {"error": {"code": "UserError", "message": (
                    f"Execution failed. User process 'python' exited with status code "
                    f"{code[1] if code else 1}. Please check log file 'user_logs/std_log.txt' "
                    f"for error details. Error: {tail}")}}

    # -- rebuilding the job as YAML ------------------------------------------------------------
    def _materialise(self, name: str, props: dict[str, Any],
                     work: Path) -> tuple[Path, dict[str, Any]]:
        shutil.rmtree(work, ignore_errors=True)
        (work / "components").mkdir(parents=True)
        jobs: dict[str, Any] = {}
        for step, node in (props.get("jobs") or {}).items():
            spec = dict(self.sim.resources[sweeps.component_id(node)]["properties"]
                        ["componentSpec"])
            if spec.get("type") == "parallel":
                # Azure's parallel runtime, played by the local one (execution.parallel_run).
                code = str((spec.get("task") or {}).get("code") or "")
                spec = as_command(step, spec, node, self.sim.resolve_code_dir(
                    code.removeprefix("azureml:")) if code else work)
            else:
                code = str(spec.get("code") or "")
                spec["code"] = str(self.sim.resolve_code_dir(code.removeprefix("azureml:"))) \
                    if code else str(work)
            if step in self.failing_steps:
                self.failing_steps.discard(step)
                spec["command"] = "python -c \"import sys; print('injected failure'); sys.exit(1)\""
            spec.pop("_source", None)
            spec["name"] = step
            spec["inputs"] = {k: _typed(v) for k, v in (spec.get("inputs") or {}).items()}
            component_file = work / "components" / f"{step}.yml"
            component_file.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
            if sweeps.is_sweep(node):
                jobs[step] = yaml_node(node, f"./components/{step}.yml", _binding)
                continue
            jobs[step] = {
                "type": "command", "component": f"./components/{step}.yml",
                "inputs": {k: _binding(v) for k, v in (node.get("inputs") or {}).items()
                           if v is not None},
                "outputs": {k: _binding(v) for k, v in (node.get("outputs") or {}).items()
                            if v is not None},
            }
        declared: dict[str, Any] = {}
        values: dict[str, Any] = {}
        for key, given in (props.get("inputs") or {}).items():
            kind = str(given.get("jobInputType") or "literal")
            if kind == "literal":
                declared[key] = given.get("value")
                continue
            declared[key] = {"type": kind}
            uri = self.sim.assets.resolve_input(str(given.get("uri")))
            values[key] = self.sim.assets.download_uri(uri, work / "inputs" / key)
        outputs = {k: {"type": str(v.get("jobOutputType") or "uri_folder")}
                   for k, v in (props.get("outputs") or {}).items()}
        pipeline = {"$schema": PIPELINE_SCHEMA, "type": "pipeline",
                    "experiment_name": props.get("experimentName") or name,
                    "inputs": declared, "outputs": outputs, "jobs": jobs}
        pipeline_file = work / "pipeline.yml"
        pipeline_file.write_text(yaml.safe_dump(pipeline, sort_keys=False), encoding="utf-8")
        return pipeline_file, values

    # -- results into storage ------------------------------------------------------------------
    def _upload_output(self, job: str, output: str, folder: Path) -> None:
        found = re.search(r"datastores/([^/]+)/paths/(.*)$", self.output_uri(job, output))
        assert found is not None
        container = self.sim.container(found[1])
        prefix = found[2].rstrip("/")
        files = [folder] if folder.is_file() else sorted(p for p in folder.rglob("*") if p.is_file())
        for file in files:
            name = f"{prefix}/{file.name if file == folder else file.relative_to(folder).as_posix()}"
            with file.open("rb") as handle:
                container.upload_blob(name, handle, overwrite=True)

    def _upload_log(self, job: str, step: str, log_path: Path) -> None:
        if log_path.is_file():
            container = self.sim.container("workspaceartifactstore")
            container.upload_blob(f"ExperimentRun/dcid.{job}_{step}/user_logs/std_log.txt",
                                  log_path.read_bytes(), overwrite=True)


def producing_step(props: dict[str, Any], output: str) -> tuple[str | None, str]:
    """The step (and its output) bound to pipeline output ``output``, or (None, output)."""
    wanted = "${{parent.outputs." + output + "}}"
    for step, node in (props.get("jobs") or {}).items():
        for name, value in (node.get("outputs") or {}).items():
            bound = value.get("value") if isinstance(value, dict) else value
            if bound == wanted:
                return step, str(name)
    return None, output


def _typed(declared: Any) -> Any:
    """The SDK sends a component's numeric defaults and bounds as strings; YAML has numbers."""
    if not isinstance(declared, dict):
        return declared
    kind = declared.get("type")
    convert: Any = {"integer": int, "number": float,
                    "boolean": lambda v: str(v).lower() == "true"}.get(str(kind))
    if convert is None:
        return declared
    fixed = dict(declared)
    for key in ("default", "min", "max"):
        if isinstance(fixed.get(key), str):
            fixed[key] = convert(fixed[key])
    return fixed


def _binding(value: Any) -> Any:
    """A node input/output as the SDK sent it → the YAML value the pipeline file holds."""
    if isinstance(value, dict):
        if "value" in value:
            return value["value"]
        if "uri" in value:
            return {"type": value.get("job_input_type") or value.get("jobInputType"),
                    "path": value["uri"]}
    return value
