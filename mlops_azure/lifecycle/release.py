"""Putting a registered version behind a stage's endpoint: deploy, promote, roll back, and what
they share.

Deployments are named after the version they serve (``v007``), so the endpoint's traffic table
reads as "which version takes how much". ``deploy`` is the simple form for stages without
approval (all traffic at once, after the new deployment answers); production goes through
``promote``, a canary rollout (its traffic steps and probes are in
:mod:`mlops_azure.lifecycle.rollout`). Every action is an audit event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from mlops_azure.audit_events import (
    TRAFFIC_EVENTS,
    DeployEvent,
    PromoteEvent,
    RollbackEvent,
    read_all,
    record,
    resolve_actor,
)
from mlops_azure.config import ProjectConfig, StageConfig
from mlops_azure.errors import DeploymentFailed, GateFailed, MlopsError, UserInputError
from mlops_azure.lifecycle import rollout
from mlops_azure.lifecycle.approval import find_approval
from mlops_azure.lifecycle.qa import load_sample
from mlops_azure.lifecycle.refs import busiest_deployment, resolve_model
from mlops_azure.lifecycle.responsible import check_promotion
from mlops_azure.lifecycle.scoring import ScoringClient
from mlops_azure.probes import ROLLOUT_PROBE
from mlops_azure.workspace import (
    Deployment,
    DeploymentSpec,
    DeploymentState,
    Endpoint,
    ModelVersion,
    Workspace,
)

#: Audit actions that move a stage's traffic; each records ``deployment`` and ``previous``.
TRAFFIC_ACTIONS = tuple(kind.ACTION for kind in TRAFFIC_EVENTS)

Say = Callable[[str], None]


def quiet(_: str) -> None:
    pass


def deployment_name(model: ModelVersion) -> str:
    """``v001``: a valid Azure deployment name (3-32 characters, from a letter) per version."""
    return f"v{model.version:03d}"


def deployment_spec(config: ProjectConfig, stage: StageConfig, model: ModelVersion) -> DeploymentSpec:
    """What the stage runs for ``model``: its scoring code, environment and instances."""
    return DeploymentSpec(
        model_name=model.name, model_version=model.version, code_dir=config.resolve(stage.code),
        scoring_script=stage.scoring_script, environment=config.resolve(stage.environment),
        instance_type=stage.instance_type, instance_count=stage.instance_count,
        request_timeout_ms=stage.request_timeout_ms, collect=config.monitoring.collect,
    )


@dataclass(frozen=True)
class ReleaseOutcome:
    """Where a deploy, promotion or rollback left a stage."""

    action: str
    stage: str
    endpoint: str
    model: str
    deployment: str
    scoring_uri: str
    traffic: Mapping[str, int]
    previous: str | None = None
    steps: list[dict[str, Any]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "stage": self.stage, "endpoint": self.endpoint,
                "model": self.model, "deployment": self.deployment, "scoring_uri": self.scoring_uri,
                "traffic": dict(self.traffic), "previous": self.previous, "steps": self.steps,
                "removed": self.removed}


def start_deployment(ws: Workspace, config: ProjectConfig, stage_name: str, model: ModelVersion,
                     actor: str, say: Say) -> tuple[StageConfig, Endpoint, Deployment]:
    """Ensure the stage's endpoint and a healthy deployment of ``model`` at whatever traffic it
    had (0 % when new). A deployment that cannot start is an audit event and ``GateFailed``."""
    stage = config.stage(stage_name)
    endpoint = ws.create_endpoint(stage.endpoint, kind=stage.kind, compute=stage.compute)
    name = deployment_name(model)
    existing = {d.name: d for d in ws.list_deployments(stage.endpoint)}
    current = existing.get(name)
    if (current is not None and current.state is DeploymentState.SUCCEEDED
            and current.model_ref == model.ref):
        say(f"deployment {name} of {stage.endpoint} already serves {model.ref}")
        return stage, endpoint, current
    say(f"starting deployment {name} ({model.ref}) on endpoint {stage.endpoint}")
    try:
        deployment = ws.create_deployment(stage.endpoint, name, deployment_spec(config, stage, model),
                                          timeout_s=max(60.0, stage.request_timeout_ms / 1000 * 4))
    except DeploymentFailed as exc:
        record(ws, DeployEvent(subject=model.ref, stage=stage_name, endpoint=stage.endpoint,
                               deployment=name, outcome="failed", error=exc.message,
                               logs=exc.logs[-2000:]), actor=actor)
        tail = f"; last log lines:\n{exc.logs}" if exc.logs else ""
        raise GateFailed(f"deployment {name} of {model.ref} failed: {exc.message} (traffic of "
                         f"{stage.endpoint} unchanged){tail}") from None
    return stage, ws.get_endpoint(stage.endpoint), deployment


def prune(ws: Workspace, endpoint: str, keep: set[str]) -> list[str]:
    """Delete the deployments of ``endpoint`` that take no traffic and are not in ``keep``."""
    removed = []
    found = ws.get_endpoint(endpoint)
    for dep in ws.list_deployments(endpoint):
        if dep.name not in keep and found.traffic.get(dep.name, 0) == 0 \
                and found.mirror_traffic.get(dep.name, 0) == 0:
            ws.delete_deployment(endpoint, dep.name)
            removed.append(dep.name)
    return removed


def deploy(ws: Workspace, config: ProjectConfig, ref: str, stage_name: str, *,
           actor: str | None = None, say: Say = quiet) -> ReleaseOutcome:
    """Deploy ``ref`` to a stage that needs no approval and give it all traffic once it answers.

    The deployment that served before is kept at 0 % so ``mlops rollback`` can return to it.
    """
    actor = resolve_actor(actor)
    stage = config.stage(stage_name)
    if stage.requires_approval:
        raise UserInputError(f"stage '{stage_name}' requires approval: release to it with "
                             f"'mlops promote {ref} --stage {stage_name}'")
    model = resolve_model(ws, ref)
    stage, endpoint, deployment = start_deployment(ws, config, stage_name, model, actor, say)
    previous = busiest_deployment(endpoint)
    endpoint = ws.set_traffic(stage.endpoint, {deployment.name: 100})
    removed = prune(ws, stage.endpoint, {deployment.name, *([previous] if previous else [])})
    record(ws, DeployEvent(
        subject=model.ref, stage=stage_name, endpoint=stage.endpoint, deployment=deployment.name,
        previous=previous if previous != deployment.name else None, outcome="succeeded",
        traffic=dict(endpoint.traffic)), actor=actor)
    return ReleaseOutcome("deploy", stage_name, stage.endpoint, model.ref, deployment.name,
                          endpoint.scoring_uri, endpoint.traffic,
                          previous if previous != deployment.name else None, removed=removed)


def promote(ws: Workspace, config: ProjectConfig, ref: str, stage_name: str, *,
            actor: str | None = None, say: Say = quiet) -> ReleaseOutcome:
    """Roll ``ref`` out to ``stage_name`` step by step, rolling back automatically on failure.

    The new version is deployed beside the serving one at 0 %, warmed up, then given the
    configured traffic steps (e.g. 10 → 50 → 100 %). Before the first step and after each one it
    must answer every probe request, under the error-rate and p95 limits of ``rollout`` in
    ``mlops.yaml``. On any failure the previous traffic table is restored exactly, the failed
    deployment removed, both recorded in the audit trail, and ``GateFailed`` raised with the
    reason. Probes target the new deployment by name, so a broken version is caught at 0 %
    before any client reaches it.
    """
    actor = resolve_actor(actor)
    stage = config.stage(stage_name)
    model = resolve_model(ws, ref)
    approval = find_approval(ws, model, stage_name) if stage.requires_approval else None
    if stage.requires_approval and approval is None:
        record(ws, PromoteEvent(subject=model.ref, stage=stage_name, endpoint=stage.endpoint,
                                outcome="refused", reason="no approval"), actor=actor)
        raise GateFailed(f"{model.ref} has no approval for stage '{stage_name}': run 'mlops approve "
                         f"{model.ref} --stage {stage_name} --reason TEXT' first")
    if stage.requires_approval:
        # Judged again: the policy may have tightened since the approval.
        try:
            check_promotion(ws, config, model)
        except GateFailed as exc:
            record(ws, PromoteEvent(subject=model.ref, stage=stage_name, endpoint=stage.endpoint,
                                    outcome="refused", reason=exc.message), actor=actor)
            raise
    policy = config.rollout
    stage, endpoint, new = start_deployment(ws, config, stage_name, model, actor, say)
    previous = busiest_deployment(endpoint)
    if endpoint.traffic.get(new.name, 0) == 100:
        say(f"{model.ref} already takes all traffic of {stage.endpoint}")
        return ReleaseOutcome("promote", stage_name, stage.endpoint, model.ref, new.name,
                              endpoint.scoring_uri, endpoint.traffic, None)
    before = {name: share for name, share in endpoint.traffic.items() if share > 0}
    old = {name: share for name, share in before.items() if name != new.name}
    sample = load_sample(ws, config, new)
    if sample.offline is None:  # probing needs the model's own requests, as the QA gate does
        raise MlopsError(f"cannot probe {model.ref}: {sample.problem}")
    request = {"data": sample.rows[:5]}
    steps: list[rollout.ProbeResult] = []
    # Marked as the tool's own requests: the warm-up and canary probes are not production data.
    with ScoringClient.for_endpoint(ws, stage.endpoint, probe=ROLLOUT_PROBE,
                                    timeout_s=stage.request_timeout_ms / 1000 + 5) as client:
        result = rollout.probe(client, request, new.name, policy.warmup_requests, policy, 0)
        steps.append(result)
        say(f"warm-up of {new.name}: {result.requests} requests, {result.errors} errors, "
            f"p95 {result.p95_ms:.1f} ms")
        for share in (policy.steps if old else [100]):
            if not result.ok:
                break
            ws.set_traffic(stage.endpoint, rollout.split_traffic(old, new.name, share))
            state = ws.get_deployment(stage.endpoint, new.name)
            if state.state is not DeploymentState.SUCCEEDED:
                result = rollout.ProbeResult(share, 0, 0, 0.0, f"deployment {new.name} became "
                                     f"{state.state.value}: {state.error}")
            else:
                result = rollout.probe(client, request, new.name, policy.requests_per_step, policy, share)
            steps.append(result)
            say(f"{new.name} at {share} %: {result.requests} requests, {result.errors} errors, "
                f"p95 {result.p95_ms:.1f} ms" + (f" — {result.problem}" if result.problem else ""))
    steps_record = [asdict(s) for s in steps]
    if not result.ok:
        endpoint = ws.set_traffic(stage.endpoint, before)
        removed = prune(ws, stage.endpoint, set(before))
        say(f"rolled back: traffic of {stage.endpoint} restored to {before or 'none'}")
        record(ws, RollbackEvent(
            subject=model.ref, stage=stage_name, endpoint=stage.endpoint, deployment=previous,
            previous=None, outcome="succeeded", trigger="automatic",
            reason=result.problem, traffic=dict(endpoint.traffic), removed=tuple(removed)),
            actor=actor)
        record(ws, PromoteEvent(
            subject=model.ref, stage=stage_name, endpoint=stage.endpoint, deployment=new.name,
            outcome="rolled back", reason=result.problem, steps=tuple(steps_record)), actor=actor)
        raise GateFailed(f"promotion of {model.ref} to '{stage_name}' rolled back: {result.problem}")
    keep = {new.name} | ({previous} if previous and policy.keep_previous else set())
    removed = prune(ws, stage.endpoint, keep)
    endpoint = ws.get_endpoint(stage.endpoint)
    record(ws, PromoteEvent(
        subject=model.ref, stage=stage_name, endpoint=stage.endpoint, deployment=new.name,
        previous=previous, outcome="succeeded", steps=tuple(steps_record),
        approval=approval.event_id if approval else None, traffic=dict(endpoint.traffic)),
        actor=actor)
    return ReleaseOutcome("promote", stage_name, stage.endpoint, model.ref, new.name,
                          endpoint.scoring_uri, endpoint.traffic, previous, steps_record, removed)


def rollback(ws: Workspace, config: ProjectConfig, stage_name: str, *, actor: str | None = None,
             say: Say = quiet) -> ReleaseOutcome:
    """Send all traffic back to the deployment that served before the last deploy, promotion or
    rollback of this stage (kept at 0 % for exactly this). Instant: nothing is started."""
    actor = resolve_actor(actor)
    stage = config.stage(stage_name)
    endpoint = ws.get_endpoint(stage.endpoint)
    current = busiest_deployment(endpoint)
    target: str | None = None
    # Only the traffic events are read (on Azure each event is a blob to download).
    for found in read_all(ws, TRAFFIC_EVENTS, 500):
        event = found.event
        # An automatic rollback only undid a failed promotion: look past it.
        if event.endpoint == stage.endpoint and event.moved_traffic_on_purpose:
            target = event.previous
            break
    if not target:
        raise UserInputError(f"stage '{stage_name}' has no earlier deployment to roll back to")
    deployments = {d.name: d for d in ws.list_deployments(stage.endpoint)}
    chosen = deployments.get(target)
    if chosen is None or chosen.state is not DeploymentState.SUCCEEDED:
        state = "gone" if chosen is None else f"{chosen.state.value}: {chosen.error}"
        raise GateFailed(f"cannot roll back stage '{stage_name}' to deployment {target}: it is {state}")
    say(f"moving all traffic of {stage.endpoint} from {current} to {target} ({chosen.model_ref})")
    endpoint = ws.set_traffic(stage.endpoint, {target: 100})
    record(ws, RollbackEvent(
        subject=chosen.model_ref, stage=stage_name, endpoint=stage.endpoint, deployment=target,
        previous=current, outcome="succeeded", trigger="manual", traffic=dict(endpoint.traffic)),
        actor=actor)
    return ReleaseOutcome("rollback", stage_name, stage.endpoint, chosen.model_ref, target,
                          endpoint.scoring_uri, endpoint.traffic, current)
