"""The drift and audit pages in headless Chromium against a real ``mlops ui`` server: every chart
is drawn, nothing is requested from elsewhere, and the filters work as plain forms."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mlops_azure.config import ProjectConfig
from mlops_azure.project import Project
from tests.integration.webapp.test_browser_status import _clean
from tests.support.chromium import Chromium


def _shocked_check(config: ProjectConfig, tmp_path: Path) -> int:
    """One drift check of production against a window whose prices jumped (adds events only)."""
    found = Project.load(config.root)
    model = found.model(f"{config.model.name}:2")
    data = found.workspace.data.get(model.lineage.data_asset, model.lineage.data_version)
    import pandas as pd

    window = pd.read_csv(found.workspace.data.local_path(data))
    window["price_eur_per_tonne"] *= 1.6
    window.drop(columns=[config.data.target or ""]).to_csv(tmp_path / "window.csv", index=False)
    return int(found.drift(current=tmp_path / "window.csv", stage="production").event_id)


def test_drift_pages_draw_a_chart_per_feature(
        steel_served: ProjectConfig, ui_server: Callable[..., str], chromium: Chromium,
        tmp_path: Path, artifacts: Path) -> None:
    event = _shocked_check(steel_served, tmp_path)
    origin = ui_server(steel_served).rstrip("/")
    with chromium.open(origin + "/drift", allow_origins=(origin,)) as page:
        drawn = page.evaluate("""[...document.querySelectorAll('svg[data-plot=drift]')].map(svg =>
            [...svg.querySelectorAll('.mark')].filter(m => { const b = m.getBBox();
             return b.width > 0 && b.height > 0; }).length)""")
        assert len(drawn) == len(steel_served.monitoring.numeric) + len(
            steel_served.monitoring.categorical) and all(n >= 2 for n in drawn), drawn
        page.screenshot(artifacts / "drift.png", down_to="main")
        _clean(page.report())
        assert page.click(f"a[href='/drift/{event}']")
        assert page.url.endswith(f"/drift/{event}") and page.status == 200
        page.screenshot(artifacts / "drift-report.png", down_to="main")
        _clean(page.report())


def test_the_audit_trail_filters_with_javascript_off(
        steel_served: ProjectConfig, ui_server: Callable[..., str], chromium: Chromium,
        artifacts: Path) -> None:
    origin = ui_server(steel_served).rstrip("/")
    with chromium.open(origin + "/audit", javascript=False, allow_origins=(origin,)) as page:
        page.screenshot(artifacts / "audit.png", down_to="main")
        page.fill("select[name=action]", "promote")
        assert page.submit("form.filters")
        assert "action=promote" in page.url
        actions = page.evaluate(
            "[...document.querySelectorAll('tbody tr[data-event] td:nth-child(4)')]"
            ".map(td => td.textContent.trim())")
        assert actions and set(actions) == {"promote"}, actions
        _clean(page.report())
