"""The status and model pages in headless Chromium against a real ``mlops ui`` server: they load
with no console error and no request leaving 127.0.0.1, and the status page follows a promotion
made by another process without a reload."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_azure.config import ProjectConfig
from tests.support.chromium import Chromium

MLOPS = str(Path(sys.executable).with_name("mlops"))


def _origin(url: str) -> str:
    return url.rstrip("/")


def _clean(report: object) -> None:
    errors = report.errors  # type: ignore[attr-defined]
    assert not errors, errors
    assert all(u.startswith(("http://127.0.0.1:", "data:", "about:")) for u in
               report.requests), report.requests  # type: ignore[attr-defined]


def test_status_and_model_pages_load_clean_and_are_screenshotted(
        steel_served: ProjectConfig, ui_server: Callable[..., str], chromium: Chromium,
        artifacts: Path) -> None:
    origin = _origin(ui_server(steel_served))
    name = steel_served.model.name
    pages = {"status": "/", "models": "/models", "model": f"/models/{name}/2",
             "model-card": f"/models/{name}/2/card"}
    for label, path in pages.items():
        with chromium.open(origin + path, allow_origins=(origin,)) as page:
            assert page.status == 200, (path, page.status)
            page.settle(0.3)
            shot = page.screenshot(artifacts / f"{label}.png", down_to="main")
            assert shot.stat().st_size > 10_000
            _clean(page.report())
    with chromium.open(origin + f"/models/{name}/2", allow_origins=(origin,)) as page:
        # The card is embedded, and it has drawn its plots inside the frame.
        assert page.wait_for("document.querySelector('iframe.card').contentDocument"
                             ".querySelectorAll('svg[data-plot]').length >= 3")


def test_keyboard_reaches_every_link_of_the_navigation(
        steel_served: ProjectConfig, ui_server: Callable[..., str], chromium: Chromium) -> None:
    origin = _origin(ui_server(steel_served))
    with chromium.open(origin + "/", allow_origins=(origin,)) as page:
        labelled = page.evaluate("[...document.querySelectorAll('nav a')].map(a => a.textContent)")
        assert {"Status", "Models"} <= set(labelled)
        # The skip link is the first stop of the tab order and leads to the content.
        assert page.evaluate("document.querySelector('a.skip').getAttribute('href')") == "#main"


def test_the_status_page_follows_a_promotion_made_elsewhere(
        released_v1: ProjectConfig, ui_server: Callable[..., str], chromium: Chromium,
        artifacts: Path) -> None:
    origin = _origin(ui_server(released_v1, "--refresh", "0.5"))
    config = ["--config", str(released_v1.root / "mlops.yaml")]
    v2 = f"{released_v1.model.name}:2"
    serving = ("document.querySelector('tr[data-stage=production] .serving').textContent.trim()")
    with chromium.open(origin + "/", allow_origins=(origin,)) as page:
        assert page.evaluate(serving).endswith(":1")
        for command in (["deploy", v2, "--stage", "staging"], ["gate", "qa", "--stage", "staging"],
                        ["approve", v2, "--stage", "production", "--reason", "browser test"],
                        ["promote", v2, "--stage", "production"]):
            done = subprocess.run([MLOPS, *config, *command], capture_output=True, text=True,
                                  timeout=300)
            assert done.returncode == 0, (command, done.stderr[-2000:])
        assert page.wait_for(f"{serving}.endsWith(':2')", timeout_s=30)
        assert page.evaluate("location.pathname") == "/"  # updated in place, not reloaded
        page.screenshot(artifacts / "status-after-promotion.png", down_to="main")
        assert "promote" in page.evaluate("document.querySelector('table.events').textContent")
        _clean(page.report())


@pytest.mark.parametrize("path", ["/", "/models"])
def test_pages_work_with_javascript_off(
        steel_served: ProjectConfig, ui_server: Callable[..., str], chromium: Chromium,
        path: str) -> None:
    origin = _origin(ui_server(steel_served))
    with chromium.open(origin + path, javascript=False, allow_origins=(origin,)) as page:
        assert page.status == 200
        assert page.click("nav a[href='/models']")
        assert page.url.endswith("/models")
