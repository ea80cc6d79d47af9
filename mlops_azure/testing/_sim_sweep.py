"""Sweep steps of pipeline jobs in the simulator: refused or run as Azure ML runs them.

A pipeline's ``type: sweep`` step arrives as a node whose trial is a component
(``trial.componentId``). At submission it is checked against Azure's rules
(``mlops_azure.execution.sweep_rest.check``); to run, it is written back as the YAML sweep node
the embedded runner executes with Optuna, each trial a real process whose metrics go to
``MLOPS_METRICS_FILE``. Afterwards the step's child run becomes the sweep job Azure would show —
``runTemplate: HyperDrive``, ``primary_metric_config``, ``best_child_run_id``, ``score`` — with one
child run per trial, named ``<sweep run>_<n>`` like HyperDrive's, carrying its sampled values in
the ``hyperparameters`` tag. Each trial's metrics are served through the MLflow REST API at the
workspace's tracking URI (``/mlflow/v1.0/<workspace>/api/2.0/mlflow/runs/get`` and
``.../metrics/get-history``), the run id being the trial's run id.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_azure.errors import UserInputError
from mlops_azure.execution.sweep_rest import check, policy_of, sampling_of
from mlops_azure.testing.simulator import Request, Response, arm_error, not_found, reply

if TYPE_CHECKING:
    from mlops_azure.testing._sim_jobs import JobHandlers

#: Optuna's trial states (``Study.to_dict``) → the trial run's status on Azure ML. A trial
#: stopped by the early-termination policy is canceled ("A trial job is canceled when the
#: criteria of the specified policy are met", sweep job YAML schema).
TRIAL_STATUS = {"COMPLETE": "Completed", "PRUNED": "Canceled", "FAIL": "Failed",
                "RUNNING": "Running"}
#: Azure ML run states → MLflow's run status.
MLFLOW_STATUS = {"Completed": "FINISHED", "Failed": "FAILED", "Canceled": "KILLED",
                 "Running": "RUNNING"}


def is_sweep(node: dict[str, Any]) -> bool:
    return str(node.get("type") or "") == "sweep"


def component_id(node: dict[str, Any]) -> str:
    """The component a node runs: its own, or a sweep's trial."""
    if is_sweep(node):
        trial = node.get("trial")
        return str(trial.get("componentId") if isinstance(trial, dict) else trial)
    return str(node.get("componentId"))


def refusal(step: str, node: dict[str, Any]) -> Response | None:
    """What Azure ML refuses in sweep step ``step`` at submission (400), or None."""
    try:
        check(f"sweep step {step}", node)
    except UserInputError as exc:
        return arm_error(400, "UserError", exc.message)
    return None


class SweepRuns:
    """The sweep jobs of finished pipeline jobs, their trial runs and the trials' metrics."""

    def __init__(self, jobs: JobHandlers) -> None:
        self.jobs = jobs
        self.sim = jobs.sim
        #: MLflow metrics by run id: name → [(step, value, timestamp ms)].
        self.metrics: dict[str, dict[str, list[tuple[int, float, int]]]] = {}

    # -- after the pipeline ran ----------------------------------------------------------------
    def record(self, job: str, props: dict[str, Any], run_folder: Path, studies: Path) -> None:
        """Turn each sweep step's study (``steps/<step>/study.json``) into Azure's runs."""
        for step, node in (props.get("jobs") or {}).items():
            study_file = run_folder / "steps" / step / "study.json"
            if is_sweep(node) and study_file.is_file():
                self._record_step(job, step, node, json.loads(study_file.read_text("utf-8")),
                                  studies)

    def _record_step(self, job: str, step: str, node: dict[str, Any], study: dict[str, Any],
                     studies: Path) -> None:
        sweep_run = f"{job}_{step}"
        objective = dict(node.get("objective") or {})
        trials = []
        best_run = None
        for trial in study.get("trials") or []:
            run_id = f"{sweep_run}_{trial['number']}"
            status = TRIAL_STATUS.get(str(trial.get("state")), "Failed")
            trials.append({"runId": run_id, "displayName": run_id, "parentRunId": sweep_run,
                           "rootRunId": job, "experimentId": job, "status": status,
                           "properties": {"azureml.runsource": "azureml.sweep.trial"},
                           "tags": {"hyperparameters": json.dumps(trial.get("params") or {})}})
            self.metrics[run_id] = self._trial_metrics(trial, study, studies)
            if trial["number"] == study.get("best_trial"):
                best_run = run_id
        with self.sim.lock:
            self.jobs.children[sweep_run] = trials
            run = next((r for r in self.jobs.children.get(job, []) if r["runId"] == sweep_run),
                       None)
            if run is None:
                return
            run["properties"].update({
                "runTemplate": "HyperDrive", "azureml.runsource": "hyperdrive",
                "primary_metric_config": json.dumps({"name": objective.get("primary_metric"),
                                                     "goal": objective.get("goal")}),
                "generator_config": json.dumps({"name": sampling_of(node)["type"].upper(),
                                                "parameter_space": node.get("search_space")}),
                "policy_config": json.dumps(policy_of(node) or {"type": "default"}),
                "space_size": str(len(trials))})
            if best_run is not None:
                run["properties"].update({"best_child_run_id": best_run,
                                          "score": str(study.get("best_value")),
                                          "best_metric_status": "Succeeded"})

    def _trial_metrics(self, trial: dict[str, Any], study: dict[str, Any],
                       studies: Path) -> dict[str, list[tuple[int, float, int]]]:
        """What the trial process logged (its MLOPS_METRICS_FILE lines), or, without that file,
        the primary metric's values Optuna recorded."""
        found: dict[str, list[tuple[int, float, int]]] = {}
        lines = trial_metrics_file(studies, study, int(trial["number"]))
        stamp = int(datetime.now().timestamp() * 1000)
        if lines is not None:
            for number, line in enumerate(lines.read_text("utf-8").splitlines()):
                if not line.strip():
                    continue
                entry = json.loads(line)
                step = entry.get("step")
                found.setdefault(str(entry["name"]), []).append(
                    (int(step) if step is not None else number, float(entry["value"]), stamp))
            return found
        intermediate = dict(trial.get("intermediate") or {})
        found[str(study.get("metric"))] = [(int(k), float(v), stamp)
                                           for k, v in sorted(intermediate.items(),
                                                              key=lambda kv: int(kv[0]))]
        return found

    # -- the MLflow REST API -------------------------------------------------------------------
    def handle(self, req: Request) -> Response | None:
        if req.host != self.sim.api_host or "/mlflow/v1.0/" not in req.path:
            return None
        if self.sim.ws_path.lower() not in req.path.lower() or req.method != "GET":
            return None
        run_id = req.query.get("run_id") or req.query.get("run_uuid") or ""
        if req.path.endswith("/api/2.0/mlflow/metrics/get-history"):
            history = self.metrics.get(run_id)
            if history is None:
                return _mlflow_missing(run_id)
            key = req.query.get("metric_key", "")
            return reply({"metrics": [{"key": key, "value": value, "timestamp": stamp,
                                       "step": step}
                                      for step, value, stamp in history.get(key, [])]})
        if req.path.endswith("/api/2.0/mlflow/runs/get"):
            return self._run(run_id)
        return None

    def _run(self, run_id: str) -> Response:
        run = next((r for runs in self.jobs.children.values() for r in runs
                    if r["runId"] == run_id), None)
        if run is None:
            return _mlflow_missing(run_id)
        latest = [{"key": key, "value": values[-1][1], "timestamp": values[-1][2],
                   "step": values[-1][0]}
                  for key, values in self.metrics.get(run_id, {}).items() if values]
        tags = [{"key": "mlflow.runName", "value": run.get("displayName") or run_id}]
        if run.get("parentRunId"):
            tags.append({"key": "mlflow.parentRunId", "value": run["parentRunId"]})
        tags += [{"key": k, "value": str(v)} for k, v in (run.get("tags") or {}).items()]
        return reply({"run": {"info": {"run_id": run_id, "run_uuid": run_id,
                                       "experiment_id": run.get("experimentId"),
                                       "run_name": run.get("displayName") or run_id,
                                       "status": MLFLOW_STATUS.get(str(run.get("status")),
                                                                   "RUNNING"),
                                       "lifecycle_stage": "active"},
                              "data": {"metrics": latest, "params": [], "tags": tags}}})


def trial_metrics_file(studies: Path, study: dict[str, Any], number: int) -> Path | None:
    """The metrics file of trial ``number`` of ``study`` below ``studies`` (execution.sweep's
    layout: ``<studies>/<name>/trials/<n>/metrics.jsonl``), or None."""
    if not studies.is_dir():
        return None
    name = str(study.get("name") or "")
    for folder in sorted(studies.rglob(f"trials/{number}")):
        if folder.is_dir() and (not name or name in folder.as_posix()) and \
                (folder / "metrics.jsonl").is_file():
            return folder / "metrics.jsonl"
    return None


def child_job(sim: Any, name: str, children: dict[str, list[dict[str, Any]]]) -> Response | None:
    """``GET /jobs/<child>`` for a pipeline's child run: Azure ML answers with no properties
    ("Child jobs are no longer available through MFE", azure-ai-ml's JobOperations.get), and the
    SDK reads the run from run history instead."""
    for runs in children.values():
        if any(r["runId"] == name for r in runs):
            return reply({"id": sim.arm_id(f"/jobs/{name}"), "name": name, "properties": None,
                          "type": "Microsoft.MachineLearningServices/workspaces/jobs"})
    return not_found(f"job {name}")


def _mlflow_missing(run_id: str) -> Response:
    return reply({"error_code": "RESOURCE_DOES_NOT_EXIST",
                  "message": f"Run '{run_id}' not found"}, 404)


__all__ = ["SweepRuns", "child_job", "component_id", "is_sweep", "refusal"]
