"""Keyboard and labels: every field of every page has a label, the skip link comes first, and a
prediction can be made with the keyboard alone."""

from __future__ import annotations

from collections.abc import Callable

from mlops_azure.config import ProjectConfig
from tests.support.chromium import Chromium

#: Every form control a user fills, without a label that names it.
UNLABELLED = """[...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
  .filter(el => !el.labels || el.labels.length === 0
          || ![...el.labels].some(l => l.textContent.trim()))
  .map(el => el.name || el.id)"""


def test_every_field_of_every_page_has_a_label(
        steel_served: ProjectConfig, ui_server: Callable[..., str], chromium: Chromium) -> None:
    origin = ui_server(steel_served).rstrip("/")
    for path in ("/", "/models", "/predict", "/predict/csv", "/drift", "/audit"):
        with chromium.open(origin + path, allow_origins=(origin,)) as page:
            assert page.evaluate(UNLABELLED) == [], path


def test_a_prediction_made_with_the_keyboard_alone(
        own_served: ProjectConfig, ui_server: Callable[..., str], chromium: Chromium) -> None:
    origin = ui_server(own_served).rstrip("/")
    with chromium.open(origin + "/predict", allow_origins=(origin,)) as page:
        page.press("Tab")
        assert page.focused().startswith("a Skip to content")
        page.press("Enter")
        assert page.evaluate("location.hash") == "#main"
        seen = []
        for _ in range(80):
            page.press("Tab")
            seen.append(page.focused())
            if seen[-1].startswith("button Predict"):
                break
        else:
            raise AssertionError(f"Tab never reached the Predict button: {seen}")
        # The form's own fields were on the way, in order.
        assert any(s.startswith("select#stage-choice") for s in seen), seen
        assert page.press("Enter", navigate=True)
        assert page.status == 200
        assert page.evaluate("document.querySelector('#prediction') !== null")
