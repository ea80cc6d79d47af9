"""The model card's Markdown and HTML: content, self-containment, escaping, missing parts."""

from __future__ import annotations

import copy
import dataclasses
import re
from typing import Any

import pytest

from mlops_azure.responsible._card import ModelCard, render_html, render_markdown
from tests.support.card_sample import sample_card, sample_report

HOSTILE = "<script>alert('x')</script>"


def _plots(page: str) -> list[tuple[str, str]]:
    return re.findall(r'<svg data-plot="([^"]+)" id="([^"]+)"', page)


def test_markdown_has_every_section_and_the_numbers() -> None:
    text = render_markdown(sample_card())
    for title in ("Summary", "Intended use", "Known limitations", "Training data lineage", "Metrics",
                  "Gates passed", "Fairness by sensitive feature", "Error cohorts", "Explanations",
                  "Mitigation"):
        assert f"\n## {title}\n" in text
    assert text.startswith("# Model card: steel-demand version 12\n")
    assert "| Data asset | steel-orders:37 |" in text
    assert "| wape | 0.166 | 0.174 | -0.008 (-4.6%) |" in text
    assert "| data-quality | pass | 0 of 38 checks failed | 2025-11-28T13:58Z |" in text
    assert "| energy | 22 | 0.9% | no (too small) |" in text
    assert "| segment=machinery &amp; region=north | 152 | 0.349 | 2.1 |" in text
    assert "| machinery | 0.329 | 0.262 | -0.067 |" in text
    # Tables are GitHub-flavoured: a delimiter row under every header row, numbers right-aligned.
    assert "| --- | --- | --- | --- | ---: | ---: |" in text
    assert text == render_markdown(sample_card())


def test_limitations_add_what_the_report_shows() -> None:
    text = render_markdown(sample_card())
    limits = text.split("## Known limitations\n", 1)[1].split("\n## ", 1)[0]
    assert "- Trained on 2021-2025 orders" in limits  # the author's first
    assert "segment=energy has 22 evaluation rows (fewer than 30)" in limits
    assert "weakest on machinery" in limits
    assert "imbalanced" in limits
    assert "Cohort segment=machinery &amp; region=north (152 rows)" in limits
    assert "Cohort region=east" not in limits  # 1.13 times overall is not a limitation
    assert "Responsible-ML gate (warn)" in limits


def test_html_is_self_contained_and_deterministic() -> None:
    page = render_html(sample_card())
    assert page == render_html(sample_card())
    assert page.startswith("<!doctype html>")
    lowered = page.lower()
    for forbidden in ("http:", "https:", "<script", "@import", "<link", "<img", "<iframe",
                      "@font-face", "src="):
        assert forbidden not in lowered, forbidden
    assert re.findall(r"url\((?!#)", page) == []
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    plots = _plots(page)
    assert [kind for kind, _ in plots] == ["groups", "groups", "groups", "cohorts", "importance",
                                           "shap-summary", "mitigation"]
    assert len({ident for _, ident in plots}) == len(plots)
    assert page.count('class="mark"') > 20 * 300
    assert "<title" in page.split("<svg", 1)[1].split(">", 2)[1]


def test_the_policy_line_comes_from_the_finding_or_the_card() -> None:
    card = sample_card()
    report = card.responsible
    assert report is not None
    bars = report["groups"]["segment"]["by_group"]
    best = min(r["wape"] for r in bars if r["trusted"])
    page = render_html(card)
    segment = page.split('id="plot-groups-0"', 1)[1].split("</svg>", 1)[0]
    assert f"limit {best * 1.5:.3g}" in segment
    region = page.split('id="plot-groups-1"', 1)[1].split("</svg>", 1)[0]
    assert "limit" not in region.replace("policy-limit", "")
    given = render_html(dataclasses.replace(card, group_limits={"region": 0.25}))
    assert "limit 0.25" in given.split('id="plot-groups-1"', 1)[1].split("</svg>", 1)[0]


def _hostile_card() -> ModelCard:
    report = sample_report()
    report["groups"]["segment"]["by_group"][0]["group"] = HOSTILE
    report["groups"][HOSTILE] = report["groups"].pop("region")
    report["cohorts"][0]["features"] = {HOSTILE: '"><img src=x onerror=alert(1)>'}
    report["explanations"]["mean_abs_shap"][HOSTILE] = 1.0
    report["verdict"]["findings"][0]["message"] = HOSTILE
    return dataclasses.replace(sample_card(), name=f"m{HOSTILE}", description=HOSTILE,
                               intended_use="a | b & <b>c</b>", limitations=(HOSTILE,),
                               responsible=report)


def test_hostile_strings_are_escaped() -> None:
    card = _hostile_card()
    page = render_html(card)
    assert "<script" not in page.lower()
    assert "<img" not in page.lower()
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page
    text = render_markdown(card)
    assert "<script" not in text.lower() and "<img" not in text.lower() and "<b>" not in text
    assert "a \\| b &amp; &lt;b&gt;c&lt;/b&gt;" in text  # a pipe cannot split a table cell


def _without(part: str, value: Any) -> dict[str, Any]:
    report = copy.deepcopy(sample_report())
    if value is _DROP:
        del report[part]
    else:
        report[part] = value
    return report


_DROP = object()


@pytest.mark.parametrize("part", ["groups", "exploration", "cohorts", "explanations", "mitigation",
                                  "verdict", "overall", "metric", "min_group_size"])
@pytest.mark.parametrize("value", [None, _DROP, {}])
def test_a_missing_part_still_renders(part: str, value: Any) -> None:
    card = dataclasses.replace(sample_card(), responsible=_without(part, value))
    page, text = render_html(card), render_markdown(card)
    assert page.endswith("</html>\n") and text.endswith("\n")
    if part in ("groups", "cohorts", "explanations"):
        assert "not computed" in page and "not computed" in text


def test_an_empty_card_renders() -> None:
    card = ModelCard(name="m", version="1")
    page, text = render_html(card), render_markdown(card)
    assert _plots(page) == []
    assert "No responsible-ML report" in text
    assert "Overall metrics: not computed." in text
    assert "responsible ML: not computed" in page


def test_partial_pieces_inside_the_report() -> None:
    report = sample_report()
    report["groups"]["segment"]["by_group"][1]["wape"] = None
    report["groups"]["region"] = None
    report["explanations"]["summary"] = None
    report["explanations"]["gain"] = {}
    report["cohorts"][0]["wape"] = float("nan")
    card = dataclasses.replace(sample_card(), responsible=report)
    page = render_html(card)
    assert "SHAP summary: not computed." in page
    assert "Groups of region: not computed." in page
    assert [kind for kind, _ in _plots(page)] == ["groups", "groups", "cohorts", "importance",
                                                  "mitigation"]
    assert "n/a" in render_markdown(card)


def test_a_classifiers_explanations_name_their_space() -> None:
    # Contributions of a binary classifier add up in log-odds, its prediction is a probability:
    # the card must not read one as the other (the prediction is not base value + contributions).
    report = copy.deepcopy(sample_report())
    report["explanations"]["space"] = "log-odds of churned=yes"
    for example in report["explanations"]["examples"]:
        example["raw_prediction"], example["prediction"] = 1.5, 0.8176
    text = render_markdown(dataclasses.replace(sample_card(), responsible=report))
    assert "Individual explanations, in log-odds of churned=yes" in text
    assert "prediction 0.818 (log-odds 1.5)" in text
    plain = render_markdown(sample_card())
    assert "the prediction is the base value" in plain and "log-odds" not in plain


def test_the_task_comes_from_the_config_when_no_report_states_it() -> None:
    card = dataclasses.replace(sample_card(), responsible=None, task="classification")
    assert "| Task | classification |" in render_markdown(card)
    assert "| Task | not stated |" in render_markdown(dataclasses.replace(card, task=""))
