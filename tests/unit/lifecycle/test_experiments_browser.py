"""``experiments compare --html`` in headless Chromium: no console or page errors, no request
leaving the file, every plot of every study present and drawn."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from mlops_azure.lifecycle.experiments import Comparison, Run, write_html
from mlops_azure.workspace import JobStatus
from tests.support.chromium import Chromium
from tests.support.studies import optuna_study


def test_the_comparison_page_renders_clean_with_every_plot_drawn(chromium: Chromium,
                                                                  tmp_path: Path) -> None:
    studies = (optuna_study(16, seed=7, name="study-a"), optuna_study(10, seed=11, name="study-b"))
    run = Run(job_id="steel-forecast-1", experiment="steel-forecast", status=JobStatus.COMPLETED,
              created_at=datetime(2025, 1, 1, tzinfo=UTC), data="steel-purchases:1",
              params={"n_estimators": 300}, metrics={"wape": 0.25}, registered="m:1",
              studies=(studies[0],))
    page = tmp_path / "compare.html"
    write_html(page, Comparison((run,), studies))

    report = chromium.load(page)
    assert report.errors == []
    assert report.requests == (report.url,)  # the page itself, nothing else
    plots = {p["id"]: p for p in report.facts}
    assert sorted(plots) == sorted(f"plot-s{i}-{kind}" for i in (0, 1)
                                   for kind in ("history", "parallel", "importance"))
    for index, study in enumerate(studies):
        with_value = sum(1 for t in study.trials if t.value is not None)
        complete = sum(1 for t in study.trials if t.state.value == "COMPLETE")
        history = plots[f"plot-s{index}-history"]
        assert history["drawn"] == with_value + 1  # every dot and the best-so-far line
        assert plots[f"plot-s{index}-parallel"]["drawn"] == complete  # a line per trial
        assert plots[f"plot-s{index}-importance"]["drawn"] == 4  # a bar per parameter
    for plot in plots.values():
        assert plot["title"] and plot["width"] > 300 and plot["height"] > 100, plot
