"""``mlops monitor setup``: drift checks that run by themselves.

On Azure ML the workspace's own model monitoring does it: a ``MonitorSchedule`` on the stage's
live deployment, with the thresholds of mlops.yaml, against the serving model's training data
(found through its lineage). The embedded workspace has no monitoring service: what to put in
cron or Azure DevOps instead is ``mlops monitor drift --stage S --window W --retrain``.

A monitor watches one deployment. When production traffic moves to another (promote, rollback,
recovery) the old one may be pruned, and Azure ML does not follow: :func:`retarget_monitor`
re-creates the monitor, same settings, on the deployment now serving.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from mlops_azure.audit_events import MonitorRetargetEvent, MonitorSetupEvent, record
from mlops_azure.config import ProjectConfig
from mlops_azure.errors import UserInputError
from mlops_azure.lifecycle.refs import live_deployment
from mlops_azure.lifecycle.schedules import as_cron, in_project
from mlops_azure.monitoring.collected import window_seconds
from mlops_azure.records import DriftMonitor, ScheduleTrigger
from mlops_azure.rules import check_trigger
from mlops_azure.workspace import Workspace

SETUP_EVENT = MonitorSetupEvent.ACTION


@dataclass(frozen=True)
class MonitorSetup:
    """A monitor the workspace runs (``monitor``), or the lines to run one locally."""

    stage: str
    monitor: DriftMonitor | None
    command: str
    crontab: str | None

    def to_dict(self) -> dict[str, Any]:
        found = self.monitor
        return {"stage": self.stage, "command": self.command, "crontab": self.crontab,
                "monitor": None if found is None else {
                    "name": found.name, "endpoint": found.endpoint,
                    "deployment": found.deployment, "when": found.trigger.describe(),
                    "reference_data": found.reference_data, "features": [*found.numeric,
                                                                         *found.categorical],
                    "thresholds": {"psi": found.psi, "js": found.js,
                                   "wasserstein": found.wasserstein, "ks_p": found.ks_p,
                                   "chi2_p": found.chi2_p}}}


def drift_command(config: ProjectConfig, stage: str, window: str) -> str:
    """The command a scheduler runs where the workspace cannot monitor by itself."""
    return in_project(config, "monitor", "drift", "--stage", stage, "--window", window,
                      "--retrain")


def setup_monitor(ws: Workspace, config: ProjectConfig, stage: str, trigger: ScheduleTrigger, *,
                  window: str = "7d", actor: str | None = None) -> MonitorSetup:
    """Have drift at ``stage`` checked on ``trigger`` (see the module docstring)."""
    check_trigger(trigger)
    window_seconds(window)  # refuse a bad window before anything is created
    endpoint = config.stage(stage).endpoint
    command = drift_command(config, stage, window)
    cron = as_cron(trigger)
    crontab = None if cron is None else f"{cron} {command}"
    monitors = ws.monitors
    if monitors is None:  # no monitoring service: cron runs the drift check
        return MonitorSetup(stage, None, command, crontab)
    serving = live_deployment(ws, endpoint)
    if serving is None:
        raise UserInputError(f"stage '{stage}' serves no model yet: promote one before "
                             "monitoring it")
    model = ws.models.get(serving.model_name, serving.model_version)
    numeric, categorical = config.monitoring.features(config.data)
    monitor = DriftMonitor(
        name=monitor_name(endpoint), endpoint=endpoint, deployment=serving.deployment,
        trigger=trigger,
        reference_data=f"{model.lineage.data_asset}:{model.lineage.data_version}",
        numeric=tuple(numeric), categorical=tuple(categorical),
        psi=config.monitoring.psi_major, js=config.monitoring.js,
        wasserstein=config.monitoring.wasserstein, ks_p=config.monitoring.ks_p,
        chi2_p=config.monitoring.chi2_p,
        emails=tuple(config.monitoring.alert_emails), window=window, task=config.model.task,
        target=config.data.target)
    monitors.create(monitor)
    record(ws, MonitorSetupEvent(subject=monitor.name, stage=stage, deployment=monitor.deployment,
                                 model=model.ref, reference_data=monitor.reference_data,
                                 when=trigger.describe()), actor=actor)
    return MonitorSetup(stage, monitor, command, crontab)


def monitor_name(endpoint: str) -> str:
    """The name of the drift monitor of ``endpoint``."""
    return f"{endpoint}-drift"


def retarget_monitor(ws: Workspace, endpoint: str, *,
                     actor: str | None = None) -> DriftMonitor | None:
    """Point the drift monitor of ``endpoint`` (when there is one) at the deployment now taking
    the most traffic, against that model's training data; the re-created monitor, or None when
    nothing had to move."""
    monitors = ws.monitors
    if monitors is None:  # no monitoring service: cron checks whatever serves
        return None
    monitor = monitors.get(monitor_name(endpoint))
    if monitor is None:  # most endpoints have none: no need to read what serves
        return None
    serving = live_deployment(ws, endpoint)
    if serving is None or serving.deployment == monitor.deployment:
        return None
    model = ws.models.get(serving.model_name, serving.model_version)
    moved = replace(monitor, deployment=serving.deployment,
                    reference_data=f"{model.lineage.data_asset}:{model.lineage.data_version}")
    monitors.create(moved)
    record(ws, MonitorRetargetEvent(subject=moved.name, endpoint=endpoint,
                                    previous=monitor.deployment, deployment=moved.deployment,
                                    model=model.ref, reference_data=moved.reference_data),
           actor=actor)
    return moved
