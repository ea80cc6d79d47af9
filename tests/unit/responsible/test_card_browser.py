"""The model card in headless Chromium: no console errors, no page errors, no request leaving the
file, and every plot present with drawn marks."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from mlops_azure.responsible._card import ModelCard, render_html
from tests.support.card_sample import sample_card, sample_report
from tests.support.chromium import Chromium

EXPECTED = {"plot-groups-0": "groups", "plot-groups-1": "groups", "plot-groups-2": "groups",
            "plot-cohorts": "cohorts", "plot-importance": "importance",
            "plot-shap-summary": "shap-summary", "plot-mitigation": "mitigation"}


def _open(chromium: Chromium, card: ModelCard, tmp_path: Path, query: str | None = None) -> object:
    page = tmp_path / "card.html"
    page.write_text(render_html(card), encoding="utf-8")
    report = chromium.load(page) if query is None else chromium.load(page, query=query)
    assert report.errors == []
    assert report.requests == (report.url,)  # the page itself, nothing else
    return report.facts


def test_the_sample_card_renders_clean_with_every_plot_drawn(chromium: Chromium,
                                                             tmp_path: Path) -> None:
    facts = _open(chromium, sample_card(), tmp_path)
    assert isinstance(facts, list)
    assert {plot["id"]: plot["plot"] for plot in facts} == EXPECTED
    for plot in facts:
        assert plot["title"], plot
        assert plot["drawn"] > 0 and plot["width"] > 300 and plot["height"] > 100, plot
    summary = next(p for p in facts if p["plot"] == "shap-summary")
    assert summary["drawn"] == 20 * 300  # every dot of every feature
    groups = next(p for p in facts if p["id"] == "plot-groups-0")
    assert groups["drawn"] == 4  # the small segment's bar is drawn too (hatched)


def test_hostile_strings_stay_text_in_the_browser(chromium: Chromium, tmp_path: Path) -> None:
    report = sample_report()
    report["groups"]["segment"]["by_group"][0]["group"] = "<script>console.error('pwned')</script>"
    card = dataclasses.replace(sample_card(), description="<img src=x onerror=console.error(1)>",
                               responsible=report)
    facts = _open(chromium, card, tmp_path, query="""({
        scripts: document.querySelectorAll('script').length,
        images: document.querySelectorAll('img').length,
        text: document.body.textContent.includes("<script>console.error('pwned')</script>")})""")
    assert facts == {"scripts": 0, "images": 0, "text": True}


def test_a_card_without_a_report_renders_clean(chromium: Chromium, tmp_path: Path) -> None:
    facts = _open(chromium, ModelCard(name="m", version="1"), tmp_path)
    assert facts == []
