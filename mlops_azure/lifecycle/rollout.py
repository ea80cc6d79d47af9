"""Promotion to a stage: approval check, canary rollout, automatic rollback.

The new version is deployed beside the serving one at 0 %, warmed up, then given the configured
traffic steps (e.g. 10 → 50 → 100 %). Before the first step and after each one it must answer
every probe request, under the error-rate and p95 limits of ``rollout`` in ``mlops.yaml``. On any
failure the previous traffic table is restored exactly, the failed deployment removed, both
recorded in the audit trail, and ``GateFailed`` raised with the reason. Probes target the new
deployment by name, so a broken version is caught at 0 % before any client reaches it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

from mlops_azure.config import ProjectConfig, RolloutPolicy
from mlops_azure.errors import GateFailed, MlopsError
from mlops_azure.lifecycle.approval import find_approval, resolve_model
from mlops_azure.lifecycle.provenance import current_actor
from mlops_azure.lifecycle.qa import load_sample
from mlops_azure.lifecycle.release import (
    ReleaseOutcome,
    Say,
    live_deployment,
    prune,
    quiet,
    start_deployment,
)
from mlops_azure.lifecycle.responsible import check_promotion
from mlops_azure.lifecycle.scoring import ScoringClient, percentile
from mlops_azure.workspace import DeploymentState, Workspace


@dataclass(frozen=True)
class ProbeResult:
    """What the probe requests to the new deployment saw at one traffic share."""

    share: int
    requests: int
    errors: int
    p95_ms: float
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem


def split_traffic(old: Mapping[str, int], new: str, share: int) -> dict[str, int]:
    """``share`` % to ``new``, the rest over the old deployments in proportion to what they had
    (largest remainder, so the shares are whole numbers summing to 100)."""
    rest = 100 - share
    total = sum(old.values())
    if not total:
        return {new: 100}
    exact = {name: value * rest / total for name, value in old.items()}
    result = {name: int(v) for name, v in exact.items()}
    by_remainder = sorted(exact, key=lambda n: (result[n] - exact[n], n))
    for name in by_remainder[: rest - sum(result.values())]:
        result[name] += 1
    result[new] = share
    return result


def probe(client: ScoringClient, request: Mapping[str, object], deployment: str, count: int,
          policy: RolloutPolicy, share: int) -> ProbeResult:
    """Send ``count`` requests to ``deployment``; a problem when errors or p95 exceed the policy."""
    seconds: list[float] = []
    errors = 0
    first_error = ""
    for _ in range(count):
        answer = client.score(request, deployment=deployment)
        seconds.append(answer.seconds)
        if not answer.ok:
            errors += 1
            first_error = first_error or answer.message()
    p95 = percentile(seconds, 95) * 1000 if seconds else 0.0
    problem = ""
    if count and errors / count > policy.max_error_rate:
        problem = (f"{errors} of {count} requests failed at {share} % (limit "
                   f"{policy.max_error_rate:.1%}); first: {first_error}")
    elif count and p95 > policy.p95_ms:
        problem = f"p95 latency {p95:.1f} ms at {share} % exceeds {policy.p95_ms:g} ms"
    return ProbeResult(share, count, errors, round(p95, 3), problem)


def promote(ws: Workspace, config: ProjectConfig, ref: str, stage_name: str, *,
            actor: str | None = None, say: Say = quiet) -> ReleaseOutcome:
    """Roll ``ref`` out to ``stage_name`` step by step, rolling back automatically on failure."""
    actor = actor or current_actor()
    stage = config.stage(stage_name)
    model = resolve_model(ws, ref)
    approval = find_approval(ws, model, stage_name) if stage.requires_approval else None
    if stage.requires_approval and approval is None:
        ws.record_event("promote", model.ref, {"stage": stage_name, "endpoint": stage.endpoint,
                                               "outcome": "refused", "reason": "no approval"},
                        actor=actor)
        raise GateFailed(f"{model.ref} has no approval for stage '{stage_name}': run 'mlops approve "
                         f"{model.ref} --stage {stage_name} --reason TEXT' first")
    if stage.requires_approval:
        # Judged again: the policy may have tightened since the approval.
        try:
            check_promotion(ws, config, model)
        except GateFailed as exc:
            ws.record_event("promote", model.ref, {"stage": stage_name, "endpoint": stage.endpoint,
                                                   "outcome": "refused", "reason": exc.message},
                            actor=actor)
            raise
    policy = config.rollout
    stage, endpoint, new = start_deployment(ws, config, stage_name, model, actor, say)
    previous = live_deployment(endpoint)
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
    steps: list[ProbeResult] = []
    with ScoringClient.for_endpoint(ws, stage.endpoint,
                                    timeout_s=stage.request_timeout_ms / 1000 + 5) as client:
        result = probe(client, request, new.name, policy.warmup_requests, policy, 0)
        steps.append(result)
        say(f"warm-up of {new.name}: {result.requests} requests, {result.errors} errors, "
            f"p95 {result.p95_ms:.1f} ms")
        for share in (policy.steps if old else [100]):
            if not result.ok:
                break
            ws.set_traffic(stage.endpoint, split_traffic(old, new.name, share))
            state = ws.get_deployment(stage.endpoint, new.name)
            if state.state is not DeploymentState.SUCCEEDED:
                result = ProbeResult(share, 0, 0, 0.0, f"deployment {new.name} became "
                                     f"{state.state.value}: {state.error}")
            else:
                result = probe(client, request, new.name, policy.requests_per_step, policy, share)
            steps.append(result)
            say(f"{new.name} at {share} %: {result.requests} requests, {result.errors} errors, "
                f"p95 {result.p95_ms:.1f} ms" + (f" — {result.problem}" if result.problem else ""))
    record = [asdict(s) for s in steps]
    if not result.ok:
        endpoint = ws.set_traffic(stage.endpoint, before)
        removed = prune(ws, stage.endpoint, set(before))
        say(f"rolled back: traffic of {stage.endpoint} restored to {before or 'none'}")
        ws.record_event("rollback", model.ref, {
            "stage": stage_name, "endpoint": stage.endpoint, "deployment": previous,
            "previous": None, "outcome": "succeeded", "trigger": "automatic",
            "reason": result.problem, "traffic": dict(endpoint.traffic), "removed": removed},
            actor=actor)
        ws.record_event("promote", model.ref, {
            "stage": stage_name, "endpoint": stage.endpoint, "deployment": new.name,
            "outcome": "rolled back", "reason": result.problem, "steps": record}, actor=actor)
        raise GateFailed(f"promotion of {model.ref} to '{stage_name}' rolled back: {result.problem}")
    keep = {new.name} | ({previous} if previous and policy.keep_previous else set())
    removed = prune(ws, stage.endpoint, keep)
    endpoint = ws.get_endpoint(stage.endpoint)
    ws.record_event("promote", model.ref, {
        "stage": stage_name, "endpoint": stage.endpoint, "deployment": new.name,
        "previous": previous, "outcome": "succeeded", "steps": record,
        "approval": approval.event_id if approval else None, "traffic": dict(endpoint.traffic)},
        actor=actor)
    return ReleaseOutcome("promote", stage_name, stage.endpoint, model.ref, new.name,
                          endpoint.scoring_uri, endpoint.traffic, previous, record, removed)
