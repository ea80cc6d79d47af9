"""The model card's explanations section: aggregate importance (gain share and mean |SHAP|), the
SHAP summary and individual explanations."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any

from mlops_azure.responsible import _plots
from mlops_azure.responsible._card_blocks import Block, Paragraph, Plot, not_computed, pct, table
from mlops_azure.responsible._card_limits import number, report_part
from mlops_azure.responsible._plots_svg import fmt

#: Features on the importance and SHAP summary plots (the tables list every feature).
TOP_FEATURES = 20
#: Contributions listed per individual explanation.
TOP_CONTRIBUTIONS = 6


def explanations(report: Mapping[str, Any]) -> tuple[Block, ...]:
    explained = report_part(report, "explanations")
    if not explained:
        return (not_computed("Explanations"),)
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
        blocks.append(Plot(partial(_plots.importance_plot, "plot-importance", rows[:TOP_FEATURES]),
                           "feature importance"))
        blocks.append(table(("Feature", "Mean |SHAP|", "Share of gain"), [
            (r.feature, fmt(r.mean_abs_shap), pct(r.gain_share)) for r in rows],
            (False, True, True), "Aggregate importance"))
    else:
        blocks.append(not_computed("Aggregate importance"))
    summary = explained.get("summary") or {}
    ordered = [f for f in features if f in summary] + [f for f in summary if f not in features]
    dots = [(str(f), list(summary[f].get("values") or []), list(summary[f].get("shap") or []))
            for f in ordered[:TOP_FEATURES] if isinstance(summary[f], Mapping)]
    if dots:
        blocks.append(Plot(partial(_plots.shap_summary_plot, "plot-shap-summary", dots),
                           "SHAP summary"))
    else:
        blocks.append(not_computed("SHAP summary"))
    blocks.extend(_examples(explained))
    return tuple(blocks)


def _examples(explained: Mapping[str, Any]) -> list[Block]:
    examples = [e for e in explained.get("examples") or [] if isinstance(e, Mapping)]
    base = number(explained.get("base_value"))
    if not examples:
        return [not_computed("Individual explanations")]
    space = str(explained.get("space") or "")
    # A classifier's contributions add up in log-odds; its prediction is their logistic.
    odds = space.startswith("log-odds")
    text = (f"Individual explanations, in {space}: the base value {fmt(base)} plus the contributions "
            "(largest shown) are the log-odds; the prediction is the probability they give."
            if odds else f"Individual explanations: the prediction is the base value {fmt(base)} "
            "plus the contributions (largest shown).")
    blocks: list[Block] = [Paragraph(text)]
    for i, example in enumerate(examples, 1):
        row = example.get("row") or {}
        contributions = example.get("contributions") or {}
        top = sorted(contributions, key=lambda f: (-abs(number(contributions[f]) or 0.0), str(f)))
        blocks.append(table(("Feature", "Value", "Contribution"), [
            (str(f), str(row.get(f, "")), f"{number(contributions[f]) or 0.0:+.4g}")
            for f in top[:TOP_CONTRIBUTIONS]], (False, True, True),
            f"Example {i}: prediction {fmt(number(example.get('prediction')))}"
            + (f" (log-odds {fmt(number(example.get('raw_prediction')))})" if odds else "")))
    return blocks
