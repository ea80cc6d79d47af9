"""The status page over a released project: what serves where, the latest version, the last
release events, refreshed as a fragment."""

from __future__ import annotations

from collections.abc import Callable

import requests
from flask.testing import FlaskClient

from mlops_azure.config import ProjectConfig


def test_status_page_shows_what_serves_each_stage(
        steel_served: ProjectConfig, make_client: Callable[..., FlaskClient]) -> None:
    client = make_client(steel_served)
    page = client.get("/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    ref = f"{steel_served.model.name}:2"
    for stage in ("staging", "production"):
        row = html[html.index(f'data-stage="{stage}"'):]
        assert ref in row[:row.index("</tr>")]
    assert 'hx-get="/status/fragment"' in html
    fragment = client.get("/status/fragment").get_data(as_text=True)
    assert "<html" not in fragment and 'id="latest-registered"' in fragment
    for action in ("gate.qa", "approve", "promote"):
        assert f"<td>{action}</td>" in html


def test_status_page_of_an_own_project_is_served_by_mlops_ui(
        own_served: ProjectConfig, ui_server: Callable[..., str]) -> None:
    url = ui_server(own_served)
    page = requests.get(url, timeout=30)
    assert page.status_code == 200
    assert own_served.project in page.text
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    key = None
    from mlops_azure.backends import open_workspace

    ws = open_workspace(own_served)
    key = ws.endpoints.keys(own_served.stage("production").endpoint).primary
    assert key not in page.text
