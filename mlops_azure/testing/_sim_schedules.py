"""Schedules in the simulator: ``JobSchedule`` and ``MonitorSchedule`` as Azure ML stores them.

Strict where Azure ML is, each rule from its docs:

- a schedule must be disabled before it can be deleted ("Schedule machine learning pipeline
  jobs", Delete a schedule);
- a cron trigger's DAYS and MONTHS fields are not supported: Azure ML treats them as ``*``
  (same page, cron expression). Azure accepts and ignores them; the simulator refuses them, so
  a client that relies on them is caught instead of firing daily where it meant monthly;
- a monitor's target must be an existing online deployment ("Monitor performance of models
  deployed to production": the monitoring target is a deployment). Deleting the deployment
  later leaves the monitor as it is, pointing at nothing, as on Azure;
- a trailing (lookback) window is an ISO 8601 duration such as ``P7D`` (same page, the
  ``lookback_window_size`` of ``BaselineDataRange``; REST ``windowSize`` is a duration);
- a training-data reference names its target column (``data_column_names.target_column``, same
  page, Configure feature importance): without it Azure ML takes the target for one more
  feature. Azure accepts that; the simulator refuses it, like the ignored cron fields.

A schedule fires with the job definition it stores (:meth:`ScheduleHandlers.fire`), so whatever
the client pinned at creation is what every run gets.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlops_azure.testing.simulator import Request, Response, arm_error, not_found, reply

if TYPE_CHECKING:
    from mlops_azure.testing.simulator import SimulatedAzureML

#: Cron fields Azure ML schedules do not support (0-based positions in MIN HOUR DAY MONTH DOW).
IGNORED_CRON_FIELDS = {2: "DAYS", 3: "MONTHS"}
ISO_DURATION = re.compile(r"P(?!$)(\d+W|(\d+D)?(T(?=\d)(\d+H)?(\d+M)?(\d+S)?)?)")
DEPLOYMENT_ID = re.compile(r"/onlineEndpoints/([^/]+)/deployments/([^/]+)$", re.IGNORECASE)


class ScheduleHandlers:
    """``/schedules`` on ARM."""

    def __init__(self, sim: SimulatedAzureML) -> None:
        self.sim = sim

    def handle(self, req: Request) -> Response | None:
        rel = req.rel or ""
        if req.host != "management.azure.com" or not (
                rel == "/schedules" or rel.startswith("/schedules/")):
            return None
        parts = rel.strip("/").split("/")
        if len(parts) == 1 and req.method == "GET":
            prefix = self.sim.arm_id("/schedules/")
            return reply({"value": [d for k, d in self.sim.resources.items()
                                    if k.startswith(prefix)]})
        if len(parts) != 2:
            return None
        key = self.sim.arm_id(f"/schedules/{parts[1]}")
        if req.method == "GET":
            found = self.sim.resources.get(key)
            return reply(found) if found else not_found(f"schedule {parts[1]}")
        if req.method == "PUT":
            return self._put(parts[1], key, req.body if isinstance(req.body, dict) else {})
        if req.method == "DELETE":
            found = self.sim.resources.get(key)
            if found is None:
                return not_found(f"schedule {parts[1]}")
            if found["properties"].get("isEnabled", True):
                return arm_error(400, "UserError", f"schedule {parts[1]} is enabled: disable "
                                 "it before deleting it")
            del self.sim.resources[key]
            return reply({})
        return None

    def _put(self, name: str, key: str, body: dict[str, Any]) -> Response:
        props = dict(body.get("properties") or {})
        trigger = props.get("trigger") or {}
        if str(trigger.get("triggerType", "")).lower() == "cron":
            fields = str(trigger.get("expression", "")).split()
            for index, field in IGNORED_CRON_FIELDS.items():
                if len(fields) == 5 and fields[index] != "*":
                    return arm_error(400, "UserError", f"cron field {field} ('{fields[index]}') "
                                     "is not supported by Azure ML schedules and would be "
                                     "treated as '*'")
        action = props.get("action") or {}
        if action.get("actionType") == "CreateMonitor":
            problem = self._monitor_problem(action.get("monitorDefinition") or {})
            if problem:
                return arm_error(400, "UserError", problem)
        props["provisioningState"] = "Succeeded"
        props.setdefault("isEnabled", True)
        doc = {"id": key, "name": name, "properties": props,
               "systemData": self.sim.system_data()}
        self.sim.resources[key] = doc
        return reply(doc)

    def _monitor_problem(self, definition: dict[str, Any]) -> str | None:
        for name, signal in (definition.get("signals") or {}).items():
            problem = _signal_problem(name, signal if isinstance(signal, dict) else {})
            if problem:
                return problem
        target = str((definition.get("monitoringTarget") or {}).get("deploymentId") or "")
        found = DEPLOYMENT_ID.search(target)
        if found is None:
            return f"monitoring target '{target}' is not an online deployment"
        endpoints = self.sim._endpoints
        endpoint = None if endpoints is None else endpoints.endpoints.get(found[1])
        if endpoint is None or found[2] not in endpoint.deployments:
            return f"monitoring target deployment {found[1]}/{found[2]} does not exist"
        return None

    def fire(self, name: str) -> str:
        """Submit the stored job definition as a new job (display name
        ``<schedule>-YYYYMMDDThhmmssZ``, as Azure ML names triggered jobs); its name."""
        doc = self.sim.resources.get(self.sim.arm_id(f"/schedules/{name}"))
        if doc is None:
            raise KeyError(f"no schedule {name}")
        action = doc["properties"].get("action") or {}
        if action.get("actionType") != "CreateJob":
            raise KeyError(f"schedule {name} does not create jobs")
        definition = dict(action["jobDefinition"])
        definition["displayName"] = f"{name}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
        job = f"{name}-{self.sim.new_id()[:10]}"
        return self.sim.jobs.submit_definition(job, definition)


def _signal_problem(name: str, signal: dict[str, Any]) -> str | None:
    production = signal.get("productionData")
    inputs = [*(production if isinstance(production, list) else [production]),
              signal.get("referenceData")]
    for data in (d for d in inputs if isinstance(d, dict)):
        if str(data.get("inputDataType", "")).lower() == "trailing":
            window = str(data.get("windowSize") or "")
            if not ISO_DURATION.fullmatch(window):
                return (f"signal {name}: windowSize '{window}' is not an ISO 8601 duration "
                        "(e.g. P7D)")
    reference = signal.get("referenceData")
    if isinstance(reference, dict) and str(reference.get("dataContext", "")).lower() == \
            "training" and not (reference.get("columns") or {}).get("target_column"):
        return (f"signal {name}: the training reference data names no target_column, so its "
                "target would be taken for a feature")
    return None
