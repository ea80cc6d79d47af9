"""CSV scoring in headless Chromium against a real ``mlops ui`` server: a 10,000-row file is
chosen, scored and downloaded as the user would, with JavaScript on (htmx progress) and off (the
page reloads itself); a bad file is answered with a message on the form."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from mlops_azure.config import ProjectConfig
from tests.integration.webapp.conftest import sample_rows
from tests.support.chromium import Chromium


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_a_10000_row_csv_is_scored_and_downloaded_in_the_browser(
        steel_served: ProjectConfig, ui_server: Callable[..., str], chromium: Chromium,
        tmp_path: Path, artifacts: Path, javascript: bool) -> None:
    origin = ui_server(steel_served).rstrip("/")
    _, rows = sample_rows(steel_served, 10_000)
    upload = tmp_path / "next-month.csv"
    pd.DataFrame(rows).to_csv(upload, index=False)
    with chromium.open(origin + "/predict/csv", javascript=javascript,
                       allow_origins=(origin,)) as page:
        page.set_files("#csv-file", [upload])
        assert page.submit("form")
        assert "/predict/csv/" in page.url
        # With JavaScript htmx swaps the progress in; without it the page reloads itself.
        assert page.wait_for("document.querySelector('#csv-job') && "
                             "document.querySelector('#csv-job').dataset.state !== 'running'",
                             timeout_s=120)
        assert page.evaluate("document.querySelector('#csv-job').dataset.state") == "done"
        shot = f"csv-done-{'js' if javascript else 'no-js'}.png"
        page.screenshot(artifacts / shot, down_to="main")
        scored = pd.read_csv(page.download("#csv-download", into=tmp_path / "out"))
        # A forecast: each series' forecasts beside its history, one series at a time.
        assert page.click("#csv-series")
        page.fill("#series-choice", "2")
        assert page.submit("form.filters")
        assert "series=2" in page.url
        assert page.evaluate("document.querySelectorAll('svg[data-plot=series] "
                             ".mark[data-kind=forecast]').length") >= 1
        page.screenshot(artifacts / f"csv-series-{'js' if javascript else 'no-js'}.png",
                        down_to="main")
        report = page.report()
    assert len(scored) == 10_000 and scored["prediction"].notna().all()
    assert list(scored.columns[:len(rows[0])]) == list(rows[0])
    assert not report.errors, report.errors


def test_a_bad_csv_shows_a_message_on_the_form(
        own_served: ProjectConfig, ui_server: Callable[..., str], chromium: Chromium,
        tmp_path: Path, artifacts: Path) -> None:
    origin = ui_server(own_served).rstrip("/")
    features, rows = sample_rows(own_served, 20)
    broken = tmp_path / "broken.csv"
    pd.DataFrame(rows).drop(columns=features[0]).to_csv(broken, index=False)
    with chromium.open(origin + "/predict/csv", allow_origins=(origin,)) as page:
        page.set_files("#csv-file", [broken])
        page.submit("form")
        assert page.status == 400
        alert = page.evaluate("document.querySelector('[role=alert]').textContent")
        assert features[0] in alert and "broken.csv" in alert
        page.screenshot(artifacts / "csv-bad-file.png", down_to="main")
        # The form is there again, ready for a corrected file.
        assert page.evaluate("!!document.querySelector('#csv-file')")
