"""Putting a registered version behind a stage's endpoint: deploy, promote, roll back, and what
they share.

Deployments are named after the version they serve (``v007``), so the endpoint's traffic table
reads as "which version takes how much". ``deploy`` is the simple form for stages without
approval (all traffic at once, after the new deployment answers); production goes through
``promote``, a canary rollout (its traffic steps and probes are in
:mod:`mlops_azure.lifecycle.rollout`).

Each command holds the endpoint's writer lock (:mod:`.endpoint_lock`), first undoes what a
killed command left (:func:`.traffic_journal.recover`), and journals its traffic changes
(:class:`.traffic_journal.Operation`), so a ``kill -9`` at any point leaves nothing the next
command cannot put right. Every action is also an audit event of its own type.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
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
from mlops_azure.errors import DeploymentFailed, GateFailed, UserInputError
from mlops_azure.lifecycle import rollout
from mlops_azure.lifecycle.approval import find_approval
from mlops_azure.lifecycle.endpoint_lock import describe, endpoint_writer
from mlops_azure.lifecycle.follow import follow_traffic
from mlops_azure.lifecycle.refs import busiest_deployment, resolve_model
from mlops_azure.lifecycle.responsible import check_promotion
from mlops_azure.lifecycle.traffic_journal import (
    Operation,
    Recovery,
    checkpoint,
    last_completed,
    live,
    recover,
)
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
#: Journaled commands a manual rollback can undo.
UNDOABLE = ("deploy", "promote", "rollback")

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
        app_insights_enabled=stage.app_insights_enabled,
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
    recovered: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "stage": self.stage, "endpoint": self.endpoint,
                "model": self.model, "deployment": self.deployment, "scoring_uri": self.scoring_uri,
                "traffic": dict(self.traffic), "previous": self.previous, "steps": self.steps,
                "removed": self.removed, "recovered": self.recovered}


@contextmanager
def writing(ws: Workspace, config: ProjectConfig, stage: StageConfig, command: str, actor: str,
            say: Say, *, create: bool = False) -> Iterator[Recovery | None]:
    """Hold ``stage``'s endpoint lock and undo first what a killed command left there; yields
    what was recovered. ``create`` makes sure the endpoint (and its router) exists."""
    holder = describe(command, actor)
    with endpoint_writer(ws, stage.endpoint, command=command, actor=actor,
                         wait_s=config.rollout.lock_wait_s, say=say):
        if create:
            ws.endpoints.create(stage.endpoint, kind=stage.kind, compute=stage.compute)
        yield recover(ws, stage.endpoint, actor=actor, holder=holder, say=say)
        # The command succeeded: its monitor (and pinned schedules) follow the traffic.
        follow_traffic(ws, config, stage.endpoint, actor=actor, say=say)


def serving_already(ws: Workspace, endpoint: Endpoint, name: str, model: ModelVersion) -> bool:
    """Whether deployment ``name`` is healthy, serves ``model`` and takes all traffic."""
    if endpoint.traffic.get(name, 0) != 100:
        return False
    found = {d.name: d for d in ws.endpoints.list_deployments(endpoint.name)}.get(name)
    return (found is not None and found.state is DeploymentState.SUCCEEDED
            and found.model_ref == model.ref)


def start_deployment(ws: Workspace, config: ProjectConfig, stage: StageConfig, stage_name: str,
                     model: ModelVersion, actor: str, say: Say) -> Deployment:
    """A healthy deployment of ``model`` at whatever traffic it had (0 % when new). One that
    cannot start is an audit event and ``GateFailed``."""
    name = deployment_name(model)
    current = {d.name: d for d in ws.endpoints.list_deployments(stage.endpoint)}.get(name)
    if (current is not None and current.state is DeploymentState.SUCCEEDED
            and current.model_ref == model.ref):
        say(f"deployment {name} of {stage.endpoint} already serves {model.ref}")
        return current
    say(f"starting deployment {name} ({model.ref}) on endpoint {stage.endpoint}")
    try:
        deployment = ws.endpoints.create_deployment(
            stage.endpoint, name, deployment_spec(config, stage, model),
            timeout_s=stage.deployment_wait_s)
    except DeploymentFailed as exc:
        record(ws, DeployEvent(subject=model.ref, stage=stage_name, endpoint=stage.endpoint,
                               deployment=name, outcome="failed", error=exc.message,
                               logs=exc.logs[-2000:]), actor=actor)
        tail = f"; last log lines:\n{exc.logs}" if exc.logs else ""
        raise GateFailed(f"deployment {name} of {model.ref} failed: {exc.message} (traffic of "
                         f"{stage.endpoint} unchanged){tail}") from None
    checkpoint(f"deployment {name} started")
    return deployment


def prune(ws: Workspace, endpoint: str, keep: set[str]) -> list[str]:
    """Delete the deployments of ``endpoint`` that take no traffic and are not in ``keep``."""
    removed = []
    found = ws.endpoints.get(endpoint)
    for dep in ws.endpoints.list_deployments(endpoint):
        if dep.name not in keep and found.traffic.get(dep.name, 0) == 0 \
                and found.mirror_traffic.get(dep.name, 0) == 0:
            ws.endpoints.delete_deployment(endpoint, dep.name)
            removed.append(dep.name)
            checkpoint(f"{dep.name} removed")
    return removed


def deploy(ws: Workspace, config: ProjectConfig, ref: str, stage_name: str, *,
           actor: str | None = None, say: Say = quiet) -> ReleaseOutcome:
    """Deploy ``ref`` to a stage that needs no approval and give it all traffic once it answers.

    The deployment that served before is kept at 0 % so ``mlops rollback`` can return to it;
    deploying the version that already takes all traffic changes nothing.
    """
    actor = resolve_actor(actor)
    stage = config.stage(stage_name)
    if stage.requires_approval:
        raise UserInputError(f"stage '{stage_name}' requires approval: release to it with "
                             f"'mlops promote {ref} --stage {stage_name}'")
    model = resolve_model(ws, ref)
    name = deployment_name(model)
    with writing(ws, config, stage, f"deploy {model.ref}", actor, say, create=True) as recovered:
        endpoint = ws.endpoints.get(stage.endpoint)
        note = recovered.describe() if recovered else None
        if serving_already(ws, endpoint, name, model):
            say(f"{model.ref} already takes all traffic of {stage.endpoint}: nothing to do")
            return ReleaseOutcome("deploy", stage_name, stage.endpoint, model.ref, name,
                                  endpoint.scoring_uri, endpoint.traffic, recovered=note)
        previous = busiest_deployment(endpoint.traffic, besides=name)
        known = {d.name for d in ws.endpoints.list_deployments(stage.endpoint)}
        op = Operation.begin(ws, stage.endpoint, command="deploy", stage=stage_name, actor=actor,
                             holder=describe(f"deploy {model.ref}", actor), model=model.ref,
                             new_deployment=None if name in known else name, plan=[{name: 100}],
                             seen=(endpoint, known))
        try:
            start_deployment(ws, config, stage, stage_name, model, actor, say)
        except GateFailed as exc:
            op.end("failed", reason=exc.message)
            raise
        endpoint = op.change({name: 100}, "deploy")
        op.end("succeeded")
        record(ws, DeployEvent(subject=model.ref, stage=stage_name, endpoint=stage.endpoint,
                               deployment=name, previous=previous, outcome="succeeded",
                               traffic=dict(endpoint.traffic)), actor=actor)
        removed = prune(ws, stage.endpoint, {name, *([previous] if previous else [])})
        endpoint = ws.endpoints.get(stage.endpoint)
    return ReleaseOutcome("deploy", stage_name, stage.endpoint, model.ref, name,
                          endpoint.scoring_uri, endpoint.traffic, previous, removed=removed,
                          recovered=note)


def _check_approval(ws: Workspace, config: ProjectConfig, stage: StageConfig, stage_name: str,
                    model: ModelVersion, actor: str) -> int | None:
    """The id of the approval ``model`` goes out on (None when the stage needs none);
    ``GateFailed``, recorded, when there is none or the policy now says no."""
    if not stage.requires_approval:
        return None
    approval = find_approval(ws, model, stage_name)
    reason = "no approval" if approval is None else ""
    if approval is not None:
        try:  # judged again: the policy may have tightened since the approval
            check_promotion(ws, config, model)
        except GateFailed as exc:
            reason = exc.message
    if reason:
        record(ws, PromoteEvent(subject=model.ref, stage=stage_name, endpoint=stage.endpoint,
                                outcome="refused", reason=reason), actor=actor)
        if approval is None:
            raise GateFailed(f"{model.ref} has no approval for stage '{stage_name}': run 'mlops "
                             f"approve {model.ref} --stage {stage_name} --reason TEXT' first")
        raise GateFailed(reason)
    assert approval is not None
    return approval.event_id


def promote(ws: Workspace, config: ProjectConfig, ref: str, stage_name: str, *,
            actor: str | None = None, say: Say = quiet) -> ReleaseOutcome:
    """Roll ``ref`` out to ``stage_name`` step by step, rolling back automatically on failure.

    The new version is deployed beside the serving one at 0 %, warmed up, then given the
    configured traffic steps (e.g. 10 → 50 → 100 %; steps at or below a share it already holds
    are skipped, so no other deployment's share ever grows). Before the first step and after
    each one it must answer every probe request under the error-rate and p95 limits of
    ``rollout`` in ``mlops.yaml``, and the clients' own requests it answered (counted by the
    endpoint, where the backend can) must fail no more than the same rate. On any failure the
    exact traffic table it started from is restored, the new deployment removed (never one that
    was there before), both recorded, and ``GateFailed`` raised with the reason. Probes target
    the new deployment by name, so a broken version is caught at 0 % before any client reaches it.
    """
    actor = resolve_actor(actor)
    stage = config.stage(stage_name)
    model = resolve_model(ws, ref)
    approval = _check_approval(ws, config, stage, stage_name, model, actor)
    name = deployment_name(model)
    policy = config.rollout
    command = f"promote {model.ref}"
    with writing(ws, config, stage, command, actor, say, create=True) as recovered:
        note = recovered.describe() if recovered else None
        endpoint = ws.endpoints.get(stage.endpoint)
        if serving_already(ws, endpoint, name, model):
            say(f"{model.ref} already takes all traffic of {stage.endpoint}")
            return ReleaseOutcome("promote", stage_name, stage.endpoint, model.ref, name,
                                  endpoint.scoring_uri, endpoint.traffic, recovered=note)
        old = {n: s for n, s in live(endpoint.traffic).items() if n != name}
        held = endpoint.traffic.get(name, 0)
        shares = [s for s in policy.steps if s > held] if old else [100]
        previous = busiest_deployment(old)
        known = {d.name for d in ws.endpoints.list_deployments(stage.endpoint)}
        op = Operation.begin(ws, stage.endpoint, command="promote", stage=stage_name, actor=actor,
                             holder=describe(command, actor), model=model.ref,
                             new_deployment=None if name in known else name,
                             plan=[rollout.split_traffic(old, name, s) for s in shares],
                             seen=(endpoint, known))
        try:
            new = start_deployment(ws, config, stage, stage_name, model, actor, say)
        except GateFailed as exc:
            op.end("failed", reason=exc.message)
            raise
        steps, result = rollout.run_canary(ws, config, stage, op, new, old, held, shares, say)
        record_steps = [asdict(s) for s in steps]
        if not result.ok:
            _undo(ws, stage, stage_name, op, model, previous, result.problem, known, actor, say)
            record(ws, PromoteEvent(
                subject=model.ref, stage=stage_name, endpoint=stage.endpoint, deployment=name,
                outcome="rolled back", reason=result.problem, steps=tuple(record_steps)),
                actor=actor)
            raise GateFailed(f"promotion of {model.ref} to '{stage_name}' rolled back: "
                             f"{result.problem}")
        op.end("succeeded")
        endpoint = ws.endpoints.get(stage.endpoint)
        record(ws, PromoteEvent(
            subject=model.ref, stage=stage_name, endpoint=stage.endpoint, deployment=name,
            previous=previous, outcome="succeeded", steps=tuple(record_steps), approval=approval,
            traffic=dict(endpoint.traffic)), actor=actor)
        keep = {name} | ({previous} if previous and policy.keep_previous else set())
        removed = prune(ws, stage.endpoint, keep)
        endpoint = ws.endpoints.get(stage.endpoint)
    return ReleaseOutcome("promote", stage_name, stage.endpoint, model.ref, name,
                          endpoint.scoring_uri, endpoint.traffic, previous, record_steps, removed,
                          recovered=note)


def _undo(ws: Workspace, stage: StageConfig, stage_name: str, op: Operation, model: ModelVersion,
          previous: str | None, problem: str, known: set[str], actor: str, say: Say) -> None:
    """The automatic rollback: the exact starting tables back, and the new deployment removed
    unless it was there before (the one kept for rollback never is)."""
    baseline = dict(op.begun.baseline)
    op.change(baseline, f"automatic rollback: {problem}", op.begun.baseline_mirror)
    removed = []
    if op.begun.new_deployment and op.begun.new_deployment not in known:
        ws.endpoints.delete_deployment(stage.endpoint, op.begun.new_deployment)
        removed.append(op.begun.new_deployment)
        checkpoint(f"{op.begun.new_deployment} removed")
    op.end("rolled back", removed=removed, reason=problem)
    say(f"rolled back: traffic of {stage.endpoint} restored to {live(baseline) or 'none'}")
    record(ws, RollbackEvent(
        subject=model.ref, stage=stage_name, endpoint=stage.endpoint, deployment=previous,
        previous=None, outcome="succeeded", trigger="automatic", reason=problem,
        traffic=dict(ws.endpoints.get(stage.endpoint).traffic), removed=tuple(removed)),
        actor=actor)


def rollback(ws: Workspace, config: ProjectConfig, stage_name: str, *, actor: str | None = None,
             say: Say = quiet) -> ReleaseOutcome:
    """Put back the exact traffic table the stage's endpoint had before its last deploy,
    promotion or rollback (the deployments it needs are kept at 0 % for this). Instant:
    nothing is started. When a killed deploy or promotion left an operation unfinished, undoing
    that is the rollback."""
    actor = resolve_actor(actor)
    stage = config.stage(stage_name)
    with writing(ws, config, stage, "rollback", actor, say) as recovered:
        endpoint = ws.endpoints.get(stage.endpoint)
        # Undoing a killed deploy or promotion is the rollback; a killed rollback is done again.
        if recovered is not None and recovered.command != "rollback":
            serving = busiest_deployment(endpoint.traffic) or ""
            return ReleaseOutcome("rollback", stage_name, stage.endpoint,
                                  _model_of(ws, stage.endpoint, serving), serving,
                                  endpoint.scoring_uri, endpoint.traffic,
                                  recovered=recovered.describe())
        target, mirror = _rollback_target(ws, stage.endpoint, stage_name)
        deployments = {d.name: d for d in ws.endpoints.list_deployments(stage.endpoint)}
        for name in live(target):
            chosen = deployments.get(name)
            if chosen is None or chosen.state is not DeploymentState.SUCCEEDED:
                state = "gone" if chosen is None else f"{chosen.state.value}: {chosen.error}"
                raise GateFailed(f"cannot roll back stage '{stage_name}' to deployment {name}: "
                                 f"it is {state}")
        current = busiest_deployment(endpoint.traffic)
        main = busiest_deployment(target) or ""
        say(f"moving the traffic of {stage.endpoint} from {live(endpoint.traffic) or 'none'} back "
            f"to {live(target)}")
        op = Operation.begin(ws, stage.endpoint, command="rollback", stage=stage_name, actor=actor,
                             holder=describe("rollback", actor), plan=[dict(target)])
        endpoint = op.change(target, "manual rollback", mirror)
        op.end("succeeded")
        model_ref = deployments[main].model_ref
        record(ws, RollbackEvent(
            subject=model_ref, stage=stage_name, endpoint=stage.endpoint, deployment=main,
            previous=current, outcome="succeeded", trigger="manual",
            traffic=dict(endpoint.traffic)), actor=actor)
    return ReleaseOutcome("rollback", stage_name, stage.endpoint, model_ref, main,
                          endpoint.scoring_uri, endpoint.traffic, current)


def _rollback_target(ws: Workspace, endpoint: str,
                     stage_name: str) -> tuple[dict[str, int], dict[str, int]]:
    """The traffic and mirror tables the last undoable operation started from; for a trail
    written before operations were journaled, all traffic to the ``previous`` of the last
    traffic event."""
    found = last_completed(ws, endpoint, lambda e: e.outcome == "succeeded"
                           and e.command in UNDOABLE)
    if found is not None:
        if live(found.event.baseline):
            return dict(found.event.baseline), dict(found.event.baseline_mirror)
        raise UserInputError(f"stage '{stage_name}' has no earlier deployment to roll back to")
    for entry in read_all(ws, TRAFFIC_EVENTS, 500):
        event = entry.event
        if event.endpoint == endpoint and event.moved_traffic_on_purpose and event.previous:
            return {event.previous: 100}, {}
    raise UserInputError(f"stage '{stage_name}' has no earlier deployment to roll back to")


def _model_of(ws: Workspace, endpoint: str, deployment: str) -> str:
    found = {d.name: d for d in ws.endpoints.list_deployments(endpoint)}.get(deployment)
    return found.model_ref if found is not None else ""



