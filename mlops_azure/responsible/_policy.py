"""The responsible-ML gate: a report checked against ``responsible.policy`` gives a ``Verdict``.

A violated limit warns or blocks at registration (``on_registration``) and always blocks at
promotion. What cannot be checked (a group too small to trust, a feature with fewer than two
trusted groups) is a warning finding: the gate never passes silently over missing evidence.
"""

from __future__ import annotations

import math
from typing import Literal

from mlops_azure.config._responsible import ResponsiblePolicy
from mlops_azure.metrics import higher_is_better
from mlops_azure.responsible._groups import known
from mlops_azure.responsible._metrics import finite, spread
from mlops_azure.responsible._report import Finding, ResponsibleReport, Stage, Verdict

# Limits are written with two decimals; a computed 0.15000000000000002 is not above 0.15.
_SLACK = 1e-9


def _num(value: float) -> str:
    """A number for a sentence: two decimals in the usual range, three significant digits outside."""
    return f"{value:.2f}" if value == 0 or 0.01 <= abs(value) < 10_000 else f"{value:.3g}"


def _disparity(report: ResponsibleReport, feature: str, difference: float | None, ratio: float | None,
               severity: Literal["warn", "block"]) -> list[Finding]:
    metric = report.metric
    fair = report.groups.get(feature)
    if fair is None:
        return [Finding("untrusted", feature, None, metric, None, None,
                        f"{feature}: the report has no per-group results, so its {metric} disparity "
                        "was not checked")]
    trusted = [row for row in fair.by_group if row.trusted]
    values = known(trusted, metric)
    found = spread(values, metric)
    if found is None:
        counted = sum(not math.isnan(v) for v in values.values())
        return [Finding("untrusted", feature, None, "trusted_groups", float(counted), 2.0,
                        f"{feature}: only {counted} group(s) have at least {report.min_group_size} rows "
                        f"and a {metric}, so its {metric} disparity is not checked")]
    worst, best = values[found.worst], values[found.best]
    high, low = values[found.high], values[found.low]
    out = []
    if difference is not None and found.difference > difference + _SLACK:
        out.append(Finding(
            "disparity", feature, found.worst, metric, finite(found.difference), difference,
            f"{feature}: {metric} differs by {_num(found.difference)} between {found.worst} "
            f"({_num(worst)}) and {found.best} ({_num(best)}), above the limit {difference:g}",
            severity))
    if ratio is not None and found.ratio > ratio + _SLACK:
        if math.isinf(found.ratio):
            said = (f"{feature}: {metric} of {found.low} is 0 while {found.high}'s is {_num(high)}, "
                    f"an unbounded ratio above the limit {ratio:g}")
        else:
            said = (f"{feature}: {metric} of {found.high} ({_num(high)}) is {_num(found.ratio)} times "
                    f"that of {found.low} ({_num(low)}), above the limit {ratio:g}")
        out.append(Finding("disparity", feature, found.worst, metric, finite(found.ratio), ratio, said,
                           severity))
    return out


def _untrusted_groups(report: ResponsibleReport) -> list[Finding]:
    out = []
    for feature, fair in report.groups.items():
        for row in fair.by_group:
            if row.trusted:
                continue
            if row.rows == 0:
                said = (f"{feature}: group {row.group} is declared but has no rows, so its "
                        f"{report.metric} is unknown")
            else:
                said = (f"{feature}: group {row.group} has {row.rows} rows, fewer than min_group_size "
                        f"{report.min_group_size}, so its {report.metric} is not trusted")
            out.append(Finding("untrusted", feature, row.group, "rows", float(row.rows),
                               float(report.min_group_size), said))
    return out


def _cohorts(report: ResponsibleReport, limit: float, severity: Literal["warn", "block"]) -> list[Finding]:
    metric = report.metric
    if not report.cohorts:
        return [Finding("untrusted", "cohorts", None, metric, None, limit,
                        f"cohorts: no cohort has at least {report.min_group_size} rows and a {metric}, "
                        "so worst_cohort_metric is not checked")]
    higher = higher_is_better(metric)
    out = []
    # The report keeps the worst cohorts, so any cohort beyond the limit outside them implies
    # every kept one is beyond it too: checking the kept ones finds a violation whenever one exists.
    for cohort in report.cohorts:
        value = cohort.metrics.get(metric)
        if value is None:
            continue
        if (value < limit - _SLACK) if higher else (value > limit + _SLACK):
            side = "below" if higher else "above"
            out.append(Finding(
                "cohort", " & ".join(cohort.features), " & ".join(cohort.features.values()), metric,
                value, limit,
                f"{cohort.label}: {metric} {_num(value)} on {cohort.rows} rows, {side} the limit {limit:g}",
                severity))
    return out


def evaluate_policy(report: ResponsibleReport, policy: ResponsiblePolicy, *, at: Stage) -> Verdict:
    """Check ``report`` against ``policy`` at registration or at promotion to production."""
    severity: Literal["warn", "block"] = (
        "block" if at == "promotion" or policy.on_registration == "block" else "warn"
    )
    findings: list[Finding] = []
    for feature, limit in policy.max_disparity.items():
        findings += _disparity(report, feature, limit.difference, limit.ratio, severity)
    if policy.worst_cohort_metric is not None:
        findings += _cohorts(report, policy.worst_cohort_metric, severity)
    findings += _untrusted_groups(report)
    status: Literal["pass", "warn", "block"] = "pass"
    if any(f.severity == "block" for f in findings):
        status = "block"
    elif findings:
        status = "warn"
    return Verdict(status=status, at=at, findings=tuple(findings),
                   policy=policy.model_dump(mode="json"))
