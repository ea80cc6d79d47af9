"""The audit page over a released project's trail: newest first, filtered by version, stage and
action, fifty a page, each event's details shown escaped; bad query values get a 400 page."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Callable
from html import unescape
from pathlib import Path

from flask.testing import FlaskClient

from mlops_azure.audit_events import DriftCheckEvent, record, summary_of
from mlops_azure.backends import open_workspace
from mlops_azure.config import ProjectConfig, load_config


def _ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-event="(\d+)"', html)]


def _page(client: FlaskClient, query: str = "") -> str:
    answer = client.get(f"/audit{query}")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return answer.get_data(as_text=True)


def test_the_trail_of_the_steel_example_filtered_by_version_stage_and_action(
        steel_served: ProjectConfig, make_client: Callable[..., FlaskClient]) -> None:
    ws = open_workspace(steel_served)
    client = make_client(steel_served)
    ref = f"{steel_served.model.name}:2"

    html = _page(client)
    newest = ws.events.recent(50)
    assert _ids(html) == [e.id for e in newest]
    for label in ("audit-subject", "audit-stage", "audit-action"):
        assert f'<label for="{label}">' in html and f'id="{label}"' in html
    assert '<option value="promote">' in html and '<option value="production">' in html
    # Each row: who, what, on what (a link for a model version) and the details as JSON.
    row = html[html.index(f'<tr data-event="{newest[0].id}">'):]
    row = row[:row.index("</tr>")]
    assert f"<td>{newest[0].actor}</td>" in row and f"<td>{newest[0].action}</td>" in row
    shown = re.search(r'<pre class="json">(.*?)</pre>', row, re.S)
    assert shown and json.loads(unescape(shown.group(1))) == json.loads(
        json.dumps(newest[0].details, default=str))
    assert f'<a href="/models/{steel_served.model.name}/2">{ref}</a>' in html

    promotions = _page(client, "?action=promote")
    assert _ids(promotions) == [e.id for e in ws.events.recent(50, action="promote")] != []
    of_version = _ids(_page(client, f"?subject={ref}"))
    assert of_version == [e.id for e in ws.events.recent(50, subject=ref)] != []
    assert _ids(_page(client, "?subject=2")) == of_version  # a bare version number
    in_production = _ids(_page(client, "?stage=production"))
    assert in_production == [e.id for e in ws.events.recent(5000)
                             if summary_of(e).stage == "production"][:50] != []
    both = _ids(_page(client, f"?stage=staging&action=deploy&subject={ref}"))
    assert both == [e.id for e in ws.events.recent(50, action="deploy", subject=ref)
                    if summary_of(e).stage == "staging"] != []
    assert _ids(_page(client, "?subject=nothing:1")) == []


def test_pages_of_fifty_keep_the_filters_and_show_details_escaped(
        steel_served: ProjectConfig, make_client: Callable[..., FlaskClient], tmp_path: Path) -> None:
    root = tmp_path / "proj"
    shutil.copytree(steel_served.root, root, symlinks=True)  # events only this test sees
    config = load_config(root / "mlops.yaml")
    ws = open_workspace(config)
    ref = f"{config.model.name}:2"
    for i in range(120):
        record(ws, DriftCheckEvent(subject=ref, drifted=False, stage=("staging", "production")[i % 2],
                                   verdict=f"check {i} <script>alert(1)</script>"), actor="tester")
    client = make_client(config)
    query = "?action=monitor.drift&stage=production"
    expected = [e.id for e in ws.events.recent(500, action="monitor.drift")
                if summary_of(e).stage == "production"]
    assert len(expected) >= 60

    first = _page(client, query)
    assert _ids(first) == expected[:50]
    older = re.search(r'<a rel="next" href="([^"]+)">Older</a>', first)
    assert older and "Newer" not in first
    link = unescape(older.group(1))
    assert "action=monitor.drift" in link and "stage=production" in link and "page=2" in link
    second = _page(client, link.removeprefix("/audit"))
    assert _ids(second) == expected[50:100]
    newer = re.search(r'<a rel="prev" href="([^"]+)">Newer</a>', second)
    assert newer and "stage=production" in unescape(newer.group(1))
    last_page = -(-len(expected) // 50)
    last = _page(client, f"{query}&page={last_page}")
    assert _ids(last) == expected[(last_page - 1) * 50:] and 'rel="next"' not in last

    assert "<script>alert(1)</script>" not in first
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in first
    assert _ids(_page(client, "?page=2")) == [e.id for e in ws.events.recent(100)][50:]


def test_bad_query_values_get_a_sentence_not_an_error(
        steel_served: ProjectConfig, make_client: Callable[..., FlaskClient]) -> None:
    client = make_client(steel_served)
    for query, sentence in (("page=abc", "page 'abc' is not a page number"),
                            ("page=0", "page '0' is not a page number"),
                            ("page=1000", "page 1000 is older than the newest 5000 events"),
                            ("action=launch.rocket", "'launch.rocket' is not an action the trail"),
                            ("stage=moon", "stage 'moon' is not one of mlops.yaml's stages"),
                            ("subject=" + "x" * 301, "the version filter is longer than 300")):
        answer = client.get(f"/audit?{query}")
        assert answer.status_code == 400, query
        html = unescape(answer.get_data(as_text=True))
        found = re.search(r'<p class="error" role="alert">([^<]*)</p>', html)
        assert found and found.group(1).startswith(sentence), (query, found)
        assert '<form class="filters"' in html and _ids(html) == []
