"""The headless Chromium harness catches what a broken page does, so "no errors" can fail."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.chromium import Chromium, ChromiumNotFound, find_chromium

BROKEN = """<!doctype html><html><head><meta charset="utf-8"><title>broken</title></head><body>
<svg data-plot="bars" id="plot-a" width="200" height="100"><title>A plot</title>
  <rect class="mark" x="10" y="10" width="30" height="50"/><rect class="mark" width="0" height="0"/>
</svg>
<svg data-plot="empty" id="plot-b" width="200" height="100"><title>Nothing drawn</title></svg>
<img src="http://example.com/tracker.png" alt="">
<script>
console.log("just saying");
console.error("deliberate console error", 42);
setTimeout(() => { throw new Error("thrown after load"); }, 20);
</script>
<script>notAFunction();</script>
</body></html>"""

CLEAN = """<!doctype html><html><head><meta charset="utf-8"><title>clean</title></head><body>
<svg data-plot="dots" id="plot-c" width="100" height="100"><title>Dots</title>
  <circle class="mark" cx="50" cy="50" r="4"/></svg></body></html>"""


def _page(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_console_errors_exceptions_and_outside_requests_are_reported(chromium: Chromium,
                                                                     tmp_path: Path) -> None:
    report = chromium.load(_page(tmp_path, "broken.html", BROKEN))
    levels = {(m.level, m.text) for m in report.console if m.source == "console"}
    assert ("error", "deliberate console error 42") in levels
    assert ("info", "just saying") in levels
    assert any("notAFunction is not defined" in e for e in report.page_errors)
    # Thrown from a timer after the load event: the settle time catches it too.
    assert any("thrown after load" in e for e in report.page_errors)
    assert report.blocked == ("http://example.com/tracker.png",)
    assert len(report.errors) >= 4
    facts = {plot["id"]: plot for plot in report.facts}
    assert facts["plot-a"]["plot"] == "bars" and facts["plot-a"]["title"] == "A plot"
    assert (facts["plot-a"]["marks"], facts["plot-a"]["drawn"]) == (2, 1)
    assert facts["plot-b"]["marks"] == 0


def test_a_clean_page_has_no_errors_and_the_browser_survives_a_bad_one(chromium: Chromium,
                                                                       tmp_path: Path) -> None:
    chromium.load(_page(tmp_path, "broken.html", BROKEN))
    report = chromium.load(_page(tmp_path, "clean.html", CLEAN))
    assert report.errors == []
    assert report.requests == (report.url,)
    assert report.facts == [{"id": "plot-c", "plot": "dots", "title": "Dots", "marks": 1, "drawn": 1,
                             "width": 100, "height": 100}]


def test_a_custom_query(chromium: Chromium, tmp_path: Path) -> None:
    report = chromium.load(_page(tmp_path, "clean.html", CLEAN), query="document.title")
    assert report.facts == "clean"


def test_missing_chromium_names_the_debian_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tests.support.chromium._CANDIDATES", ("/nonexistent/chromium",))
    with pytest.raises(ChromiumNotFound, match="Debian package chromium"):
        find_chromium()


def test_close_ends_the_browser_and_removes_its_profile(chromium: Chromium) -> None:
    browser = Chromium(chromium.executable)
    profile, pid = browser._profile, browser._pid
    browser.close()
    assert not profile.exists()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
