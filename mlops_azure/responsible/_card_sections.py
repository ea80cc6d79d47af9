"""The model card's sections as renderer-neutral blocks (paragraphs, lists, tables, plots), read
defensively from the responsible-ML report: a missing or null part becomes "not computed"."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

from mlops_azure.responsible import _plots
from mlops_azure.responsible._card import ModelCard
from mlops_azure.responsible._card_blocks import (
    Block,
    Items,
    Paragraph,
    Plot,
    Section,
    Table,
    as_int,
    not_computed,
    pct,
    table,
)
from mlops_azure.responsible._card_explain import explanations
from mlops_azure.responsible._card_limits import cohort_label, limitations, number, report_part
from mlops_azure.responsible._plots_svg import fmt

__all__ = ["Items", "Paragraph", "Plot", "Section", "Table", "sections"]

def sections(card: ModelCard) -> list[Section]:
    """The card's sections in reading order."""
    report = card.responsible or {}
    known = limitations(card)
    return [
        Section("summary", "Summary", _summary(card, report)),
        Section("intended-use", "Intended use",
                (Paragraph(card.intended_use or "Not stated."),)),
        Section("limitations", "Known limitations",
                (Items(tuple(known)),) if known else
                (Paragraph("None stated or found."),)),
        Section("lineage", "Training data lineage", _lineage(card)),
        Section("metrics", "Metrics", _metrics(card)),
        Section("gates", "Gates passed", _gates(card)),
        Section("fairness", "Fairness by sensitive feature", _fairness(card, report)),
        Section("cohorts", "Error cohorts", _cohorts(report)),
        Section("explanations", "Explanations", explanations(report)),
        Section("mitigation", "Mitigation", _mitigation(report)),
    ]


def _summary(card: ModelCard, report: Mapping[str, Any]) -> tuple[Block, ...]:
    verdict = report_part(report, "verdict")
    status = f"{verdict.get('status', '?')} (checked at {verdict.get('at', '?')})" if verdict \
        else "not computed"
    overall = report_part(report, "overall")
    rows = [("Model", f"{card.name}:{card.version}"), ("Created", card.created_text),
            ("Creator", card.creator or "unknown"),
            ("Task", str(report.get("task") or card.task or "not stated")),
            ("Evaluation rows", str(overall.get("rows", "not computed")) if overall else "not computed"),
            ("Responsible-ML verdict", status)]
    blocks: list[Block] = [table(("", ""), rows, (False, False))]
    findings = verdict.get("findings") if verdict else None
    if findings:
        blocks.append(table(("Finding", "Feature", "Group", "Metric", "Value", "Limit"), [
            (str(f.get("message") or f.get("kind", "")), str(f.get("feature") or ""),
             str(f.get("group") or ""), str(f.get("metric") or ""), fmt(number(f.get("value"))),
             fmt(number(f.get("limit")))) for f in findings if isinstance(f, Mapping)],
            (False, False, False, False, True, True), "Findings of the responsible-ML gate"))
    return tuple(blocks)


def _lineage(card: ModelCard) -> tuple[Block, ...]:
    lineage = card.lineage
    rows = [("Data asset", lineage.data_asset), ("Data SHA-256", lineage.data_sha256),
            ("Code commit", lineage.code_commit), ("Job", lineage.job_id),
            ("Pipeline", lineage.pipeline), ("Environment hash", lineage.environment_hash)]
    blocks: list[Block] = [table(("", ""), [(k, v or "unknown") for k, v in rows], (False, False))]
    if lineage.params:
        blocks.append(table(("Parameter", "Value"), [
            (str(k), json.dumps(v, sort_keys=True, default=str) if not isinstance(v, str) else v)
            for k, v in sorted(lineage.params.items(), key=lambda kv: str(kv[0]))],
            (False, False), "Training parameters"))
    return tuple(blocks)


def _metrics(card: ModelCard) -> tuple[Block, ...]:
    if not card.metrics:
        return (not_computed("Overall metrics"),)
    champion = card.champion
    if champion is None:
        return (table(("Metric", "Value"), [(k, fmt(v)) for k, v in card.metrics.items()],
                       (False, True)), Paragraph("No champion to compare with."))
    rows = []
    for name, value in card.metrics.items():
        other = number(champion.metrics.get(name))
        change = "n/a" if other is None else f"{value - other:+.4g}" + (
            f" ({(value - other) / abs(other):+.1%})" if other else "")
        rows.append((name, fmt(value), fmt(other), change))
    return (table(("Metric", "This model", f"Champion {champion.name}:{champion.version}",
                    "Change"), rows, (False, True, True, True)),)


def _gates(card: ModelCard) -> tuple[Block, ...]:
    if not card.gates:
        return (Paragraph("No gate results recorded."),)
    return (table(("Gate", "Verdict", "Detail", "At"),
                   [(g.gate, g.verdict, g.detail, g.at) for g in card.gates],
                   (False, False, False, False)),)


def _fairness(card: ModelCard, report: Mapping[str, Any]) -> tuple[Block, ...]:
    groups = report_part(report, "groups")
    if not groups:
        return (not_computed("Per-group metrics"),)
    metric = str(report.get("metric") or "metric")
    overall = number(report_part(report, "overall").get(metric)) if report_part(report, "overall") \
        else None
    exploration = report_part(report, "exploration")
    min_rows = report.get("min_group_size")
    blocks: list[Block] = [Paragraph(
        f"Quality per group of each sensitive feature ({metric}). Groups with fewer than "
        f"{min_rows if min_rows is not None else '?'} rows are shown but not trusted: their "
        "metric does not count in the disparity.")]
    for index, (feature, part) in enumerate(groups.items()):
        if not isinstance(part, Mapping):
            blocks.append(not_computed(f"Groups of {feature}"))
            continue
        rows = [r for r in part.get("by_group") or [] if isinstance(r, Mapping)]
        keys = [k for k in (rows[0] if rows else {}) if k not in ("group", "rows", "share", "trusted")]
        bars = [_plots.Bar(str(r.get("group")), number(r.get(metric)), as_int(r.get("rows")),
                           r.get("trusted") is not False) for r in rows]
        if bars:
            draw = partial(_plots.group_plot, f"plot-groups-{index}", str(feature), metric, bars,
                           overall, _group_limit(card, report, str(feature), metric, bars),
                           as_int(min_rows))
            blocks.append(Plot(draw, f"{metric} by {feature}"))
        blocks.append(table(("Group", "Rows", "Share", "Trusted", *keys), [
            (str(r.get("group")), str(r.get("rows", "?")), pct(number(r.get("share"))),
             "yes" if r.get("trusted") is not False else "no (too small)",
             *(fmt(number(r.get(k))) for k in keys)) for r in rows],
            (False, True, True, False, *(True for _ in keys)), f"{feature}"))
        blocks.append(Paragraph(_disparity_text(str(feature), part, exploration.get(feature)
                                                if exploration else None)))
    return tuple(blocks)


def _disparity_text(feature: str, part: Mapping[str, Any], explored: Any) -> str:
    difference, ratio = part.get("difference") or {}, part.get("ratio") or {}
    spread = "; ".join(f"{m}: difference {fmt(number(difference.get(m)))}, ratio "
                       f"{fmt(number(ratio.get(m)))}" for m in dict.fromkeys([*difference, *ratio]))
    text = (f"{feature}: worst trusted group {part.get('worst_group') or 'none'}, "
            f"{part.get('trusted_groups', '?')} trusted groups. Disparity between trusted groups: "
            f"{spread or 'not computed'}.")
    if isinstance(explored, Mapping):
        small = ", ".join(str(g) for g in explored.get("small_groups") or []) or "none"
        text += (f" Imbalance (largest / smallest group): "
                 f"{fmt(number(explored.get('imbalance_ratio')))}; small groups: {small}.")
    return text


def _group_limit(card: ModelCard, report: Mapping[str, Any], feature: str, metric: str,
                 bars: Sequence[_plots.Bar]) -> float | None:
    """The policy line: given in metric units, or the value at which a finding's ratio or
    difference limit would be reached, from the best trusted group."""
    if feature in card.group_limits:
        return number(card.group_limits[feature])
    verdict = report_part(report, "verdict")
    best = min((b.value for b in bars if b.trusted and b.value is not None), default=None)
    for finding in (verdict.get("findings") or []) if verdict else []:
        if not isinstance(finding, Mapping) or finding.get("feature") != feature or \
                finding.get("metric") not in (metric, None):
            continue
        limit, kind = number(finding.get("limit")), str(finding.get("kind") or "")
        if limit is None:
            continue
        if "ratio" in kind:
            return None if best is None else best * limit
        if "difference" in kind:
            return None if best is None else best + limit
        return limit
    return None


def _cohorts(report: Mapping[str, Any]) -> tuple[Block, ...]:
    cohorts = [c for c in report.get("cohorts") or [] if isinstance(c, Mapping)]
    if not cohorts:
        return (not_computed("Error cohorts"),)
    metric = str(report.get("metric") or "metric")
    overall_part = report_part(report, "overall")
    overall = number(overall_part.get(metric)) if overall_part else None
    minimum = as_int(report.get("min_group_size")) or 0
    labels = [cohort_label(c) for c in cohorts]
    bars = [_plots.Bar(label, number(c.get(metric)), as_int(c.get("rows")),
                       (as_int(c.get("rows")) or 0) >= minimum) for label, c in zip(labels, cohorts,
                                                                                  strict=True)]
    return (Plot(partial(_plots.cohort_plot, "plot-cohorts", metric, bars, overall),
                 "worst cohorts"),
            table(("Cohort", "Rows", metric, "Times overall"), [
                (label, str(c.get("rows", "?")), fmt(number(c.get(metric))),
                 fmt(number(c.get("ratio_to_overall")))) for label, c in zip(labels, cohorts,
                                                                            strict=True)],
                (False, True, True, True)))


def _mitigation(report: Mapping[str, Any]) -> tuple[Block, ...]:
    mitigation = report_part(report, "mitigation")
    if not mitigation:
        return (Paragraph("No mitigation was applied."),)
    metric = str(mitigation.get("metric") or report.get("metric") or "metric")
    before, after = mitigation.get("before") or {}, mitigation.get("after") or {}
    groups = list(dict.fromkeys([*(before.get("groups") or {}), *(after.get("groups") or {})]))
    rows = [("overall", number(before.get("overall")), number(after.get("overall")))] + [
        (str(g), number((before.get("groups") or {}).get(g)),
         number((after.get("groups") or {}).get(g))) for g in groups]
    return (Paragraph(f"Method: {mitigation.get('method', '?')} by {mitigation.get('by', '?')}, "
                      f"judged on {metric}."),
            Plot(partial(_plots.before_after_plot, "plot-mitigation", metric, rows), "mitigation"),
            table(("Group", "Before", "After", "Change"), [
                (g, fmt(b), fmt(a), "n/a" if a is None or b is None else f"{a - b:+.4g}")
                for g, b, a in rows], (False, True, True, True)))
