"""The canary mechanics of a promotion: how traffic is split at each step and how the new
deployment is probed before and after it. :func:`mlops_azure.lifecycle.release.promote` runs the
steps. Its client marks the probes (:data:`mlops_azure.probes.ROLLOUT_PROBE`), so monitoring never
counts them as production data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mlops_azure.config import RolloutPolicy
from mlops_azure.lifecycle.scoring import ScoringClient, percentile


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
