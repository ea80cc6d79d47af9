"""The model card's sections as renderer-neutral blocks (paragraphs, lists, tables, plots), read
defensively from the responsible-ML report: a missing or null part becomes "not computed"."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mlops_azure.responsible import _plots
from mlops_azure.responsible._card import ModelCard
from mlops_azure.responsible._card_limits import cohort_label, limitations, number, report_part
from mlops_azure.responsible._plots_svg import fmt

#: Features on the importance and SHAP summary plots (the tables list every feature).
TOP_FEATURES = 20
#: Contributions listed per individual explanation.
TOP_CONTRIBUTIONS = 6


@dataclass(frozen=True)
class Paragraph:
    text: str


@dataclass(frozen=True)
class Items:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]  # right-aligned columns
    caption: str = ""


@dataclass(frozen=True)
class Plot:
    svg: str
    caption: str


Block = Paragraph | Items | Table | Plot


@dataclass(frozen=True)
class Section:
    ident: str
    title: str
    blocks: tuple[Block, ...]


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[bool],
           caption: str = "") -> Table:
    return Table(tuple(headers), tuple(tuple(r) for r in rows), tuple(numeric), caption)


def _not_computed(what: str) -> Paragraph:
    return Paragraph(f"{what}: not computed.")


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
        Section("explanations", "Explanations", _explanations(report)),
        Section("mitigation", "Mitigation", _mitigation(report)),
    ]


def _summary(card: ModelCard, report: Mapping[str, Any]) -> tuple[Block, ...]:
    verdict = report_part(report, "verdict")
    status = f"{verdict.get('status', '?')} (checked at {verdict.get('at', '?')})" if verdict \
        else "not computed"
    overall = report_part(report, "overall")
    rows = [("Model", f"{card.name}:{card.version}"), ("Created", card.created_text),
            ("Creator", card.creator or "unknown"),
            ("Task", str(report.get("task") or "not stated")),
            ("Evaluation rows", str(overall.get("rows", "not computed")) if overall else "not computed"),
            ("Responsible-ML verdict", status)]
    blocks: list[Block] = [_table(("", ""), rows, (False, False))]
    findings = verdict.get("findings") if verdict else None
    if findings:
        blocks.append(_table(("Finding", "Feature", "Group", "Metric", "Value", "Limit"), [
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
    blocks: list[Block] = [_table(("", ""), [(k, v or "unknown") for k, v in rows], (False, False))]
    if lineage.params:
        blocks.append(_table(("Parameter", "Value"), [
            (str(k), json.dumps(v, sort_keys=True, default=str) if not isinstance(v, str) else v)
            for k, v in sorted(lineage.params.items(), key=lambda kv: str(kv[0]))],
            (False, False), "Training parameters"))
    return tuple(blocks)


def _metrics(card: ModelCard) -> tuple[Block, ...]:
    if not card.metrics:
        return (_not_computed("Overall metrics"),)
    champion = card.champion
    if champion is None:
        return (_table(("Metric", "Value"), [(k, fmt(v)) for k, v in card.metrics.items()],
                       (False, True)), Paragraph("No champion to compare with."))
    rows = []
    for name, value in card.metrics.items():
        other = number(champion.metrics.get(name))
        change = "n/a" if other is None else f"{value - other:+.4g}" + (
            f" ({(value - other) / abs(other):+.1%})" if other else "")
        rows.append((name, fmt(value), fmt(other), change))
    return (_table(("Metric", "This model", f"Champion {champion.name}:{champion.version}",
                    "Change"), rows, (False, True, True, True)),)


def _gates(card: ModelCard) -> tuple[Block, ...]:
    if not card.gates:
        return (Paragraph("No gate results recorded."),)
    return (_table(("Gate", "Verdict", "Detail", "At"),
                   [(g.gate, g.verdict, g.detail, g.at) for g in card.gates],
                   (False, False, False, False)),)


def _fairness(card: ModelCard, report: Mapping[str, Any]) -> tuple[Block, ...]:
    groups = report_part(report, "groups")
    if not groups:
        return (_not_computed("Per-group metrics"),)
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
            blocks.append(_not_computed(f"Groups of {feature}"))
            continue
        rows = [r for r in part.get("by_group") or [] if isinstance(r, Mapping)]
        keys = [k for k in (rows[0] if rows else {}) if k not in ("group", "rows", "share", "trusted")]
        bars = [_plots.Bar(str(r.get("group")), number(r.get(metric)), _int(r.get("rows")),
                           r.get("trusted") is not False) for r in rows]
        if bars:
            svg = _plots.group_plot(f"plot-groups-{index}", str(feature), metric, bars, overall,
                                    _group_limit(card, report, str(feature), metric, bars),
                                    _int(min_rows))
            blocks.append(Plot(svg, f"{metric} by {feature}"))
        blocks.append(_table(("Group", "Rows", "Share", "Trusted", *keys), [
            (str(r.get("group")), str(r.get("rows", "?")), _pct(number(r.get("share"))),
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
        return (_not_computed("Error cohorts"),)
    metric = str(report.get("metric") or "metric")
    overall_part = report_part(report, "overall")
    overall = number(overall_part.get(metric)) if overall_part else None
    minimum = _int(report.get("min_group_size")) or 0
    labels = [cohort_label(c) for c in cohorts]
    bars = [_plots.Bar(label, number(c.get(metric)), _int(c.get("rows")),
                       (_int(c.get("rows")) or 0) >= minimum) for label, c in zip(labels, cohorts,
                                                                                  strict=True)]
    return (Plot(_plots.cohort_plot("plot-cohorts", metric, bars, overall), "worst cohorts"),
            _table(("Cohort", "Rows", metric, "Times overall"), [
                (label, str(c.get("rows", "?")), fmt(number(c.get(metric))),
                 fmt(number(c.get("ratio_to_overall")))) for label, c in zip(labels, cohorts,
                                                                            strict=True)],
                (False, True, True, True)))


def _explanations(report: Mapping[str, Any]) -> tuple[Block, ...]:
    explained = report_part(report, "explanations")
    if not explained:
        return (_not_computed("Explanations"),)
    gain = explained.get("gain") or {}
    shap = explained.get("mean_abs_shap") or {}
    total = sum(v for v in (number(x) for x in gain.values()) if v is not None) or None
    features = sorted(dict.fromkeys([*shap, *gain]), key=lambda f: (
        -(number(shap.get(f)) or 0.0), -(number(gain.get(f)) or 0.0), str(f)))
    blocks: list[Block] = []
    if features:
        rows = [_plots.Importance(str(f), None if total is None or number(gain.get(f)) is None
                                  else (number(gain.get(f)) or 0.0) / total,
                                  number(shap.get(f))) for f in features]
        blocks.append(Plot(_plots.importance_plot("plot-importance", rows[:TOP_FEATURES]),
                           "feature importance"))
        blocks.append(_table(("Feature", "Mean |SHAP|", "Share of gain"), [
            (r.feature, fmt(r.mean_abs_shap), _pct(r.gain_share)) for r in rows],
            (False, True, True), "Aggregate importance"))
    else:
        blocks.append(_not_computed("Aggregate importance"))
    summary = explained.get("summary") or {}
    ordered = [f for f in features if f in summary] + [f for f in summary if f not in features]
    dots = [(str(f), list(summary[f].get("values") or []), list(summary[f].get("shap") or []))
            for f in ordered[:TOP_FEATURES] if isinstance(summary[f], Mapping)]
    if dots:
        blocks.append(Plot(_plots.shap_summary_plot("plot-shap-summary", dots), "SHAP summary"))
    else:
        blocks.append(_not_computed("SHAP summary"))
    blocks.extend(_examples(explained))
    return tuple(blocks)


def _examples(explained: Mapping[str, Any]) -> list[Block]:
    examples = [e for e in explained.get("examples") or [] if isinstance(e, Mapping)]
    base = number(explained.get("base_value"))
    if not examples:
        return [_not_computed("Individual explanations")]
    blocks: list[Block] = [Paragraph(f"Individual explanations: the prediction is the base value "
                                     f"{fmt(base)} plus the contributions (largest shown).")]
    for i, example in enumerate(examples, 1):
        row = example.get("row") or {}
        contributions = example.get("contributions") or {}
        top = sorted(contributions, key=lambda f: (-abs(number(contributions[f]) or 0.0), str(f)))
        blocks.append(_table(("Feature", "Value", "Contribution"), [
            (str(f), str(row.get(f, "")), f"{number(contributions[f]) or 0.0:+.4g}")
            for f in top[:TOP_CONTRIBUTIONS]], (False, True, True),
            f"Example {i}: prediction {fmt(number(example.get('prediction')))}"))
    return blocks


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
            Plot(_plots.before_after_plot("plot-mitigation", metric, rows), "mitigation"),
            _table(("Group", "Before", "After", "Change"), [
                (g, fmt(b), fmt(a), "n/a" if a is None or b is None else f"{a - b:+.4g}")
                for g, b, a in rows], (False, True, True, True)))


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"
