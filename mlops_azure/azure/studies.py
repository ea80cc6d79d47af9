"""The studies of a pipeline job's sweep steps on Azure ML, read back as ``Study`` records.

A sweep step runs as a child job of the pipeline (a HyperDrive run) whose own children are the
trials. What a study needs comes from four places, in a handful of requests plus one per trial:

1. the pipeline job as submitted (one ARM GET): each sweep node's search space, objective,
   sampling algorithm and early-termination policy, in the service's REST words;
2. the pipeline's child runs (one run-history request): the sweep job's run id and its
   ``best_child_run_id`` property ("Train PyTorch models at scale", find the best model);
3. each sweep job's child runs (one request per sweep step): the trials, their status, times and
   sampled values (the ``hyperparameters`` tag HyperDrive puts on each trial);
4. each trial's primary-metric history through the workspace's MLflow tracking server (one
   request per trial, plus one workspace GET for its ``mlflowTrackingUri``), with plain
   ``requests`` and a bearer token from the workspace credential — mlops itself does not
   depend on mlflow.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from mlops_azure.azure.connection import AzurePart, utc
from mlops_azure.execution.sweep_rest import policy_of, sampling_of
from mlops_azure.records_tuning import Study, Trial, TrialState, search_space_sha256

#: A trial run's Azure ML status → its state; the early-termination policy cancels a trial.
_TRIAL_STATES = {"Completed": TrialState.COMPLETE, "Canceled": TrialState.PRUNED,
                 "CancelRequested": TrialState.PRUNED, "Failed": TrialState.FAIL,
                 "NotResponding": TrialState.FAIL}
#: The ARM scope the workspace's services (MLflow included) take tokens for.
_SCOPE = "https://management.azure.com/.default"


class AzureStudies:
    """Reads the studies of pipeline jobs (``AzureJobs.studies`` delegates here)."""

    def __init__(self, part: AzurePart) -> None:
        self.part = part
        #: Requests sent by the last ``studies`` call (the figure the docstring promises).
        self.requests = 0

    def studies(self, job_id: str) -> list[Study]:
        self.requests = 0
        nodes = self._sweep_nodes(job_id)
        if not nodes:
            return []
        children = {str(run.display_name or run.run_id): run for run in self._children(job_id)}
        base = self._mlflow_base() if children else ""
        found = []
        for step, node in nodes.items():
            run = children.get(step)
            if run is not None:
                found.append(self._study(job_id, step, node, run, base))
        return found

    # -- what Azure ML holds -------------------------------------------------------------------
    def _sweep_nodes(self, job_id: str) -> dict[str, dict[str, Any]]:
        ml = self.part.ml
        with self.part.call(f"reading job {job_id}"):
            self.requests += 1
            rest = ml.jobs._get_job(job_id)
        jobs = getattr(getattr(rest, "properties", None), "jobs", None) or {}
        return {str(step): dict(node) for step, node in jobs.items()
                if isinstance(node, Mapping) and node.get("type") == "sweep"}

    def _children(self, run_id: str) -> list[Any]:
        ml = self.part.ml
        coords = self.part.coords
        with self.part.call(f"listing the child runs of {run_id}"):
            self.requests += 1
            return list(ml.jobs._runs_operations._operation.get_child(
                coords.subscription_id, coords.resource_group, coords.workspace_name, run_id))

    def _mlflow_base(self) -> str:
        ml = self.part.ml
        with self.part.call("reading the workspace's MLflow tracking URI"):
            self.requests += 1
            uri = str(ml.workspaces.get(self.part.coords.workspace_name).mlflow_tracking_uri)
        # the azureml-mlflow plugin's translation: azureml://<region host>/... → https://...
        return "https://" + uri.removeprefix("azureml://").rstrip("/")

    def _history(self, base: str, run_id: str, metric: str) -> dict[int, float]:
        import requests

        token = self.part.credential.get_token(_SCOPE).token
        with self.part.call(f"reading metric {metric} of trial run {run_id}"):
            self.requests += 1
            answer = requests.get(f"{base}/api/2.0/mlflow/metrics/get-history",
                                  params={"run_id": run_id, "metric_key": metric},
                                  headers={"Authorization": f"Bearer {token}"}, timeout=60)
            answer.raise_for_status()
        return {int(m.get("step") or 0): float(m["value"])
                for m in answer.json().get("metrics") or []}

    # -- records -------------------------------------------------------------------------------
    def _study(self, job_id: str, step: str, node: Mapping[str, Any], run: Any,
               base: str) -> Study:
        objective = dict(node.get("objective") or {})
        metric = str(objective.get("primary_metric") or "")
        sweep_id = str(run.run_id)
        best_run = str((run.properties or {}).get("best_child_run_id") or "")
        trials = []
        best = None
        for child in self._children(sweep_id):
            trial = self._trial(child, base, metric)
            trials.append(trial)
            if trial.run_id == best_run:
                best = trial.number
        space = dict(node.get("search_space") or {})
        policy = policy_of(node)
        return Study(job_id=job_id, step=step, name=sweep_id, metric=metric,
                     goal=str(objective.get("goal") or "").lower(),
                     sampling=sampling_of(node)["type"],
                     early_termination=policy["type"] if policy else None,
                     search_space=space, search_space_sha256=search_space_sha256(space),
                     trials=tuple(sorted(trials, key=lambda t: t.number)), best_trial=best,
                     sweep_job_id=sweep_id)

    def _trial(self, run: Any, base: str, metric: str) -> Trial:
        run_id = str(run.run_id)
        status = str(run.status or "")
        try:
            params = json.loads((run.tags or {}).get("hyperparameters") or "{}")
        except ValueError:
            params = {}
        history = self._history(base, run_id, metric) if metric else {}
        last = history[max(history)] if history else None
        return Trial(number=int(run_id.rsplit("_", 1)[-1]),
                     state=_TRIAL_STATES.get(status, TrialState.RUNNING),
                     params=params, value=last, intermediate=history,
                     started_at=_time(run.start_time_utc), ended_at=_time(run.end_time_utc),
                     run_id=run_id)


def _time(value: datetime | str | None) -> datetime | None:
    return utc(value) if value else None
