"""The canary of a promotion: how traffic is split at each step, how the new deployment is
probed before and after it, and the run of the steps (:func:`run_canary`, called by
:func:`mlops_azure.lifecycle.release.promote`). Its client marks the probes
(:data:`mlops_azure.probes.ROLLOUT_PROBE`), so monitoring never counts them as production data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mlops_azure.config import ProjectConfig, RolloutPolicy, StageConfig
from mlops_azure.errors import MlopsError
from mlops_azure.lifecycle.qa import load_sample
from mlops_azure.lifecycle.scoring import ScoringClient, percentile
from mlops_azure.lifecycle.traffic_journal import Operation
from mlops_azure.probes import ROLLOUT_PROBE
from mlops_azure.workspace import Deployment, DeploymentState, TrafficCounts, Workspace


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


#: Probes sent between two readings of the live traffic counts.
LIVE_EVERY = 5


def probe(client: ScoringClient, request: Mapping[str, object], deployment: str, count: int,
          policy: RolloutPolicy, share: int,
          live: Callable[[], TrafficCounts | None] | None = None) -> ProbeResult:
    """Send up to ``count`` requests to ``deployment``; a problem when errors or p95 exceed the
    policy. It stops at the first failure past the error budget (``count`` times
    ``max_error_rate``), and every few probes reads ``live()`` (the clients' answers from the
    deployment since the step began): clients failing past the same rate stop it too."""
    seconds: list[float] = []
    errors = 0
    first_error = ""
    budget = int(count * policy.max_error_rate)
    for sent in range(1, count + 1):
        answer = client.score(request, deployment=deployment)
        seconds.append(answer.seconds)
        if not answer.ok:
            errors += 1
            first_error = first_error or answer.message()
            if errors > budget:
                return ProbeResult(share, sent, errors, _p95(seconds),
                                   f"{errors} of {sent} requests failed at {share} % (limit "
                                   f"{policy.max_error_rate:.1%}); first: {first_error}")
        if live is not None and (sent % LIVE_EVERY == 0 or sent == count):
            problem = judge_live(live(), policy, share)
            if problem:
                return ProbeResult(share, sent, errors, _p95(seconds), problem)
    p95 = _p95(seconds)
    problem = ""
    if count and p95 > policy.p95_ms:
        problem = f"p95 latency {p95:.1f} ms at {share} % exceeds {policy.p95_ms:g} ms"
    return ProbeResult(share, count, errors, p95, problem)


def judge_live(counts: TrafficCounts | None, policy: RolloutPolicy, share: int) -> str:
    """A problem when the clients' requests answered by the new deployment failed (5xx) past
    the policy's error rate; '' when they did not or the backend cannot tell."""
    if counts is None or not counts.requests:
        return ""
    if counts.failed / counts.requests > policy.max_error_rate:
        return (f"{counts.failed} of {counts.requests} client requests failed at {share} % "
                f"(limit {policy.max_error_rate:.1%})")
    return ""


def _p95(seconds: list[float]) -> float:
    return round(percentile(seconds, 95) * 1000, 3) if seconds else 0.0


def run_canary(ws: Workspace, config: ProjectConfig, stage: StageConfig, op: Operation,
            new: Deployment, old: Mapping[str, int], held: int, shares: list[int],
            say: Callable[[str], None]) -> tuple[list[ProbeResult], ProbeResult]:
    """Warm ``new`` up, then give it each share in turn (a journaled change of ``op``) while
    its probes and the clients' answers it gave stay within the policy; the results per step
    and the last one."""
    policy = config.rollout
    sample = load_sample(ws, config, new)
    if sample.offline is None:  # probing needs the model's own requests, as the QA gate does
        raise MlopsError(f"cannot probe {new.model_ref}: {sample.problem}")
    request = {"data": sample.rows[:5]}
    steps: list[ProbeResult] = []
    # Marked as the tool's own requests: the warm-up and canary probes are not production data.
    with ScoringClient.for_endpoint(ws, stage.endpoint, probe=ROLLOUT_PROBE,
                                    timeout_s=stage.request_timeout_ms / 1000 + 5) as client:
        result = probe(client, request, new.name, policy.warmup_requests, policy, held,
                               live_counts(ws, stage.endpoint, new.name))
        steps.append(result)
        say(f"warm-up of {new.name}: {result.requests} requests, {result.errors} errors, "
            f"p95 {result.p95_ms:.1f} ms" + (f" — {result.problem}" if result.problem else ""))
        for share in shares:
            if not result.ok:
                break
            clients = live_counts(ws, stage.endpoint, new.name)
            op.change(split_traffic(old, new.name, share), f"canary {share} %")
            state = ws.endpoints.get_deployment(stage.endpoint, new.name)
            if state.state is not DeploymentState.SUCCEEDED:
                result = ProbeResult(share, 0, 0, 0.0, f"deployment {new.name} became "
                                             f"{state.state.value}: {state.error}")
            else:
                result = probe(client, request, new.name, policy.requests_per_step, policy,
                                       share, clients)
            steps.append(result)
            say(f"{new.name} at {share} %: {result.requests} requests, {result.errors} errors, "
                f"p95 {result.p95_ms:.1f} ms" + (f" — {result.problem}" if result.problem else ""))
    return steps, result


def live_counts(ws: Workspace, endpoint: str,
                 deployment: str) -> Callable[[], TrafficCounts | None] | None:
    """Reads the clients' answers from ``deployment`` since now; None when the backend cannot
    count them."""
    counter = ws.live_traffic
    start = None if counter is None else counter.counts(endpoint)
    if counter is None or start is None:
        return None
    before = start.get(deployment)

    def since() -> TrafficCounts | None:
        now = (counter.counts(endpoint) or {}).get(deployment)
        if now is None:
            return None
        return now if before is None else now.since(before)

    return since
