"""Known limitations: the author's, then those the responsible-ML report shows (groups too small
to trust, imbalance, the worst groups and cohorts, the gate's findings, missing analyses)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from mlops_azure.responsible._plots_svg import fmt

if TYPE_CHECKING:
    from mlops_azure.responsible._card import ModelCard

#: A cohort this many times worse than overall is called out as a limitation.
COHORT_RATIO = 1.5
#: Largest / smallest group above this is called imbalanced.
IMBALANCE = 10.0


def number(value: Any) -> float | None:
    """A finite float, or None (for null, strings, NaN and infinities)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def report_part(report: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """``report[key]`` when it is a mapping, else an empty one (missing, null or malformed)."""
    part = report.get(key)
    return part if isinstance(part, Mapping) else {}


def limitations(card: ModelCard) -> list[str]:
    """The author's limitations followed by derived ones, without repeats."""
    report = card.responsible or {}
    found = [*card.limitations]
    if card.responsible is None:
        found.append("No responsible-ML report: fairness, cohorts and explanations were not "
                     "computed for this version.")
    else:
        found += _from_groups(report) + _from_cohorts(report) + _from_verdict(report)
        found += [f"{what} were not computed." for key, what in (
            ("groups", "Per-group metrics"), ("cohorts", "Error cohorts"),
            ("explanations", "Explanations")) if not report.get(key)]
    return list(dict.fromkeys(found))


def _from_groups(report: Mapping[str, Any]) -> list[str]:
    metric = str(report.get("metric") or "metric")
    minimum = report.get("min_group_size")
    found = []
    for feature, part in report_part(report, "groups").items():
        if not isinstance(part, Mapping):
            continue
        for row in part.get("by_group") or []:
            if isinstance(row, Mapping) and row.get("trusted") is False:
                found.append(
                    f"{feature}={row.get('group')} has {row.get('rows', '?')} evaluation rows "
                    f"(fewer than {minimum}): its {metric} ({fmt(number(row.get(metric)))}) is not "
                    "trusted and predictions for it extrapolate from the larger groups.")
        worst = part.get("worst_group")
        ratio = number((part.get("ratio") or {}).get(metric))
        if worst is not None and ratio is not None and ratio >= COHORT_RATIO:
            found.append(f"By {feature}, the model is weakest on {worst}: its {metric} is "
                         f"{fmt(ratio)} times the best trusted group's.")
    for feature, explored in report_part(report, "exploration").items():
        imbalance = number(explored.get("imbalance_ratio")) if isinstance(explored, Mapping) \
            else None
        if imbalance is not None and imbalance >= IMBALANCE:
            found.append(f"The groups of {feature} are imbalanced: the largest has {fmt(imbalance)} "
                         "times the rows of the smallest.")
    return found


def _from_cohorts(report: Mapping[str, Any]) -> list[str]:
    metric = str(report.get("metric") or "metric")
    found = []
    for cohort in report.get("cohorts") or []:
        ratio = number(cohort.get("ratio_to_overall")) if isinstance(cohort, Mapping) else None
        if ratio is not None and ratio >= COHORT_RATIO:
            found.append(f"Cohort {cohort_label(cohort)} ({cohort.get('rows', '?')} rows): "
                         f"{metric} {fmt(number(cohort.get(metric)))}, {fmt(ratio)} times overall.")
    return found


def _from_verdict(report: Mapping[str, Any]) -> list[str]:
    verdict = report_part(report, "verdict")
    if verdict.get("status") not in ("warn", "block"):
        return []
    return [f"Responsible-ML gate ({verdict.get('status')}): {f.get('message') or f.get('kind')}"
            for f in verdict.get("findings") or [] if isinstance(f, Mapping)]


def cohort_label(cohort: Mapping[str, Any]) -> str:
    """``segment=energy & region=north``."""
    features = cohort.get("features") or {}
    return " & ".join(f"{k}={v}" for k, v in features.items()) if isinstance(features, Mapping) \
        else str(features)
