"""The canary mechanics of a promotion: how traffic is split at each step and how the new
deployment is probed before and after it. :func:`mlops_azure.lifecycle.release.promote` runs the
steps. Its client marks the probes (:data:`mlops_azure.probes.ROLLOUT_PROBE`), so monitoring never
counts them as production data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from mlops_azure.config import RolloutPolicy
from mlops_azure.lifecycle.scoring import ScoringClient, percentile
from mlops_azure.workspace import TrafficCounts


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
