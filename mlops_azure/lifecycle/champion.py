"""The champion/challenger decision: does the candidate beat the champion under the policy?

Pure logic, no I/O: the metrics come from the evaluate step, which scores both models on the
same holdout, so the comparison is fair by construction.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

from mlops_azure.config import ChampionPolicy
from mlops_azure.errors import UserInputError

Verdict = Literal["first", "better", "not_better"]


@dataclass(frozen=True)
class GateDecision:
    """The gate's verdict with the numbers behind it."""

    verdict: Verdict
    metric: str
    direction: str
    candidate: float
    champion: float | None
    abs_improvement: float | None
    rel_improvement: float | None
    reason: str
    #: Partitioned models: how many partitions improved, stayed, regressed, failed, were new.
    partitions: Mapping[str, int] | None = None

    @property
    def register(self) -> bool:
        return self.verdict in ("first", "better")

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "register": self.register}


def _metric(metrics: Mapping[str, Any], name: str, whose: str) -> float:
    if name not in metrics:
        known = ", ".join(sorted(metrics)) or "none"
        raise UserInputError(
            f"champion.metric '{name}' is not among the {whose} metrics (have: {known})"
        )
    value = float(metrics[name])
    if math.isnan(value):
        raise UserInputError(f"the {whose} metric '{name}' is NaN: the model cannot be judged")
    return value


def decide(
    policy: ChampionPolicy,
    candidate: Mapping[str, Any],
    champion: Mapping[str, Any] | None,
    *,
    champion_ref: str | None = None,
) -> GateDecision:
    """Compare candidate with champion metrics (``None``: there is no champion yet).

    The candidate must be strictly better, by at least ``min_abs_improvement`` in the metric's
    units and ``min_rel_improvement`` as a fraction of the champion's value.
    """
    name = policy.metric
    cand = _metric(candidate, name, "candidate")
    if champion is None:
        return GateDecision(
            "first", name, policy.direction, cand, None, None, None,
            f"no model is registered yet: the candidate ({name}={cand:.4g}) becomes the first",
        )
    champ = _metric(champion, name, "champion")
    gain = champ - cand if policy.direction == "minimize" else cand - champ
    rel = gain / abs(champ) if champ != 0 else (math.inf if gain > 0 else 0.0)
    against = f"champion {champion_ref}" if champion_ref else "the champion"
    if gain <= 0:
        verdict: Verdict = "not_better"
        reason = f"{name} {cand:.4g} is not better than {against}'s {champ:.4g}"
    elif gain < policy.min_abs_improvement:
        verdict = "not_better"
        reason = (
            f"{name} improves by {gain:.4g} over {against}, less than the required "
            f"{policy.min_abs_improvement:.4g}"
        )
    elif rel < policy.min_rel_improvement:
        verdict = "not_better"
        reason = (
            f"{name} improves by {rel:.2%} over {against}, less than the required "
            f"{policy.min_rel_improvement:.2%}"
        )
    else:
        verdict = "better"
        reason = f"{name} {cand:.4g} beats {against}'s {champ:.4g} ({rel:.2%} better)"
    return GateDecision(verdict, name, policy.direction, cand, champ, gain, rel, reason)


def decide_partitions(
    policy: ChampionPolicy,
    metrics: Mapping[str, Any],
    *,
    champion_ref: str | None = None,
) -> GateDecision:
    """The gate for a partitioned candidate, whose evaluate step already judged each partition
    (keeping the champion's model wherever the candidate was not better) and assembled the model
    to register: it is better when at least one partition (or the global model) improved.
    ``candidate`` is the assembled model's routed metric on the whole holdout."""
    found = metrics["partitions"]
    counts = {str(k): int(v) for k, v in dict(found.get("summary") or {}).items()}
    name = policy.metric
    cand = _metric(metrics["candidate"], name, "candidate")
    told = ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) or "no partitions"
    if metrics.get("champion") is None:
        return GateDecision("first", name, policy.direction, cand, None, None, None,
                            f"no model is registered yet: the first partitioned model ({told}; "
                            f"{name}={cand:.4g}) becomes the first", counts)
    champ = _metric(metrics["champion"], name, "champion")
    gain = champ - cand if policy.direction == "minimize" else cand - champ
    rel = gain / abs(champ) if champ != 0 else 0.0
    gained = counts.get("improved", 0) + counts.get("new", 0) + (
        1 if found.get("global") == "improved" else 0)
    against = f"champion {champion_ref}" if champion_ref else "the champion"
    verdict: Verdict = "better" if gained else "not_better"
    reason = (f"per partition against {against}: {told}; global model {found.get('global')}; "
              f"the assembled model's {name} {cand:.4g} vs {champ:.4g}"
              + ("" if gained else " (nothing improved: nothing to register)"))
    return GateDecision(verdict, name, policy.direction, cand, champ, gain, rel, reason, counts)
