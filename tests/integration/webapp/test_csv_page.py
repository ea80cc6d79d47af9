"""CSV scoring in the web app against real local endpoints: a 10,000-row file comes back with
the predictions the endpoint gives for the same rows, a bad file gets one sentence (400), the run
is audited with the user as actor, and the endpoint key never reaches the browser."""

from __future__ import annotations

import html
import io
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from mlops_azure.audit_events import UiScoredEvent, read
from mlops_azure.backends import open_workspace
from mlops_azure.config import ProjectConfig
from mlops_azure.lifecycle.refs import live_deployment
from mlops_azure.lifecycle.scoring import ScoringClient
from mlops_azure.project import Project
from tests.integration.webapp.conftest import csrf_of, sample_rows

PROJECTS = ["steel_served", "own_served"]
USER = "planner@contoso.example"


class Session:
    """The app's test client signed in through Easy Auth's header, keeping every answer so the
    test can look for the endpoint key in all of them."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.seen: list[TestResponse] = []

    def get(self, url: str) -> TestResponse:
        return self._keep(self.client.get(url, headers={"X-MS-CLIENT-PRINCIPAL-NAME": USER}))

    def upload(self, content: bytes | None, *, name: str = "rows.csv", csrf: bool = True,
               stage: str = "production") -> TestResponse:
        token = csrf_of(self.get("/predict/csv").get_data(as_text=True))
        form: dict[str, Any] = {"stage": stage}
        if csrf:
            form["csrf_token"] = token
        if content is not None:
            form["file"] = (io.BytesIO(content), name)
        return self._keep(self.client.post("/predict/csv", data=form,
                                           content_type="multipart/form-data",
                                           headers={"X-MS-CLIENT-PRINCIPAL-NAME": USER}))

    def finished(self, job: str) -> str:
        """The job page once the run has ended (polled as the page itself would)."""
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            page = self.get(job).get_data(as_text=True)
            if 'data-state="running"' not in page:
                return page
            assert '<meta http-equiv="refresh" content="1">' in page and ">Refresh</a>" in page
            time.sleep(0.2)
        raise AssertionError(f"{job} still running")

    def _keep(self, response: TestResponse) -> TestResponse:
        self.seen.append(response)
        return response


def _session(config: ProjectConfig, make_client: Callable[..., FlaskClient], **changes: object
             ) -> Session:
    return Session(make_client(config, easy_auth=True, **changes))


def _alert(response: TestResponse) -> str:
    found = re.search(r'<p class="error" role="alert">(.*?)</p>', response.get_data(as_text=True),
                      re.S)
    assert found, response.get_data(as_text=True)[:2000]
    return html.unescape(found.group(1))




@pytest.mark.parametrize("served", PROJECTS)
def test_a_csv_of_10000_rows_comes_back_with_the_endpoints_predictions(
        served: str, request: pytest.FixtureRequest,
        make_client: Callable[..., FlaskClient]) -> None:
    config: ProjectConfig = request.getfixturevalue(served)
    features, rows = sample_rows(config, 10_000)
    frame = pd.DataFrame(rows)
    frame.insert(0, "my_ref", [f"r{i:05d}" for i in range(len(frame))])  # a column of the user's
    session = _session(config, make_client)

    form = session.get("/predict/csv").get_data(as_text=True)
    assert '<label for="csv-file">' in form and '<label for="csv-stage">' in form
    assert re.search(r'<option value="production" selected>', form)
    answer = session.upload(frame.to_csv(index=False).encode(), name="march orders.csv")
    assert answer.status_code == 303, answer.get_data(as_text=True)[:2000]
    job = answer.headers["Location"]
    assert re.fullmatch(r"/predict/csv/[0-9a-f]{32}", job)
    page = session.finished(job)
    assert 'data-state="done"' in page, page
    assert "10,000 of 10,000 rows" in page
    assert 'hx-get=' not in page.split('id="csv-job"')[1].split(">")[0]  # polling stopped
    download = session.get(f"{job}/download")
    assert download.status_code == 200
    assert download.mimetype == "text/csv"
    assert 'filename=predictions-march_orders.csv' in download.headers["Content-Disposition"]
    scored = pd.read_csv(io.BytesIO(download.data), dtype={"my_ref": str})
    assert len(scored) == 10_000
    assert scored["my_ref"].tolist() == frame["my_ref"].tolist()
    assert list(scored.columns[:len(frame.columns)]) == list(frame.columns)

    ws = open_workspace(config)
    expected: list[float] = []
    with ScoringClient.for_endpoint(ws, config.stage("production").endpoint) as client:
        for first in range(0, len(rows), 1000):
            chunk = [{f: r[f] for f in features} for r in rows[first:first + 1000]]
            expected += client.predictions({"data": chunk})
    assert scored["prediction"].tolist() == expected

    # Another signed-in user cannot see the run nor download its rows.
    other = {"X-MS-CLIENT-PRINCIPAL-NAME": "someone.else@contoso.example"}
    for url in (job, f"{job}/fragment", f"{job}/download"):
        assert session.client.get(url, headers=other).status_code == 404

    event = read(ws, UiScoredEvent, 1)[0]
    live = live_deployment(ws, config.stage("production").endpoint)
    assert live is not None
    assert event.audit.actor == USER
    assert event.event.subject == f"{live.model_name}:{live.model_version}"
    assert (event.event.stage, event.event.rows, event.event.outcome) == ("production", 10_000,
                                                                          "scored")
    assert event.event.file_name == "march orders.csv" and len(event.event.sha256) == 64
    key = ws.endpoints.keys(config.stage("production").endpoint).primary
    for response in session.seen:
        assert key not in response.get_data(as_text=True)
        assert key not in str(response.headers)


@pytest.mark.parametrize("served", PROJECTS)
def test_a_row_the_endpoint_refuses_stops_the_run_at_its_line(
        served: str, request: pytest.FixtureRequest,
        make_client: Callable[..., FlaskClient]) -> None:
    config: ProjectConfig = request.getfixturevalue(served)
    features, rows = sample_rows(config, 2500)
    inputs_text = {f for f in features if isinstance(rows[0][f], str)}
    number = next(f for f in features if f not in inputs_text)
    rows[1216][number] = "lots"
    session = _session(config, make_client)
    answer = session.upload(pd.DataFrame(rows).to_csv(index=False).encode())
    page = session.finished(answer.headers["Location"])
    assert 'data-state="failed"' in page
    message = re.search(r'<p class="error" role="alert">(.*?)</p>', page, re.S)
    assert message is not None
    said = html.unescape(message.group(1))
    assert said.startswith(f'line 1,218 (row 1,217): column "{number}" must be a number'), said
    assert session.get(f"{answer.headers['Location']}/download").status_code == 404
    event = read(open_workspace(config), UiScoredEvent, 1)[0]
    assert event.event.outcome == "failed" and "line 1,218" in event.event.reason


@pytest.mark.parametrize("served", PROJECTS)
def test_a_bad_upload_gets_one_sentence_on_the_form(
        served: str, request: pytest.FixtureRequest,
        make_client: Callable[..., FlaskClient]) -> None:
    config: ProjectConfig = request.getfixturevalue(served)
    features, rows = sample_rows(config, 5)
    good = pd.DataFrame(rows).to_csv(index=False)
    header = good.split("\n", 1)[0]
    cases: dict[str, tuple[bytes | None, str]] = {
        "no file": (None, "choose a CSV file to upload"),
        "empty": (b"", "rows.csv is empty"),
        "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "not a CSV file"),
        "encoding": (good.encode("utf-16"), "not a CSV file"),  # UTF-16 holds NUL bytes
        "latin-1": ((header + "\n" + "é" * 3 + "\n").encode("latin-1"), "not UTF-8 text"),
        "header only": ((header + "\n").encode(), "has a header but no rows"),
        "missing": (pd.DataFrame(rows).drop(columns=features[-1]).to_csv(index=False).encode(),
                    f"lacks the column(s) {features[-1]} that"),
        "ragged": ((good.rstrip("\n") + ",1,2\n").encode(), "line 6 has"),
    }
    session = _session(config, make_client)
    for case, (content, words) in cases.items():
        answer = session.upload(content)
        assert answer.status_code == 400, case
        assert words in _alert(answer), (case, _alert(answer))
        assert '<form method="post"' in answer.get_data(as_text=True), case

    refused = session.upload(good.encode(), csrf=False)
    assert refused.status_code == 400 and "security token" in _alert(refused)
    unknown = session.upload(good.encode(), stage="nowhere")
    assert unknown.status_code == 400 and "stage 'nowhere' serves no model" in _alert(unknown)
    for run in ("0" * 31, "..", "%2e%2e%2fetc", "0" * 32):
        assert session.get(f"/predict/csv/{run}").status_code == 404
        assert session.get(f"/predict/csv/{run}/download").status_code == 404

    small = _session(config, make_client, max_upload_bytes=200)
    too_big = small.upload(good.encode() * 3)
    assert too_big.status_code == 413 and "larger than" in _alert(too_big)


def test_a_scored_forecast_file_is_charted_series_by_series(
        steel_served: ProjectConfig, make_client: Callable[..., FlaskClient]) -> None:
    _, rows = sample_rows(steel_served, 300)
    frame = pd.DataFrame(rows)
    frame["period"] = "2025-01-01"
    session = _session(steel_served, make_client)
    job = session.upload(frame.to_csv(index=False).encode()).headers["Location"]
    page = session.finished(job)
    assert f'href="{job}/series"' in page
    first = session.get(f"{job}/series").get_data(as_text=True)
    keys = ("organisation_id", "customer_id", "material_id")
    assert first.count('<option value="') == len({tuple(r[k] for k in keys) for r in rows})
    assert 'data-kind="forecast"' in first and first.count('data-kind="history"') >= 24
    chosen = session.get(f"{job}/series?series=1").get_data(as_text=True)
    assert '<option value="1" selected>' in chosen
    for bad in ("x", "-1", "99999"):
        answer = session.get(f"{job}/series?series={bad}")
        assert answer.status_code == 400 and "is not one of the file's" in _alert(answer)


def test_a_file_of_a_project_without_time_has_no_series_charts(
        own_served: ProjectConfig, make_client: Callable[..., FlaskClient]) -> None:
    _, rows = sample_rows(own_served, 20)
    session = _session(own_served, make_client)
    job = session.upload(pd.DataFrame(rows).to_csv(index=False).encode()).headers["Location"]
    page = session.finished(job)
    assert "/series" not in page
    assert "holds no series to chart" in session.get(f"{job}/series").get_data(as_text=True)


@pytest.mark.parametrize("served", PROJECTS)
def test_a_large_file_is_batch_scored_like_mlops_score_batch(
        served: str, request: pytest.FixtureRequest, make_client: Callable[..., FlaskClient],
        tmp_path: Path) -> None:
    config: ProjectConfig = request.getfixturevalue(served)
    _, rows = sample_rows(config, 1500)
    frame = pd.DataFrame(rows)
    if served == "steel_served":  # the batch script copies the forecast keys to its output
        frame["period"] = "2025-01-01"
    session = _session(config, make_client, batch_rows=1000)
    job = session.upload(frame.to_csv(index=False, sep=";").encode()).headers["Location"]
    page = session.finished(job)
    assert 'data-state="done"' in page, page
    scored = pd.read_csv(io.BytesIO(session.get(f"{job}/download").data))
    assert len(scored) == 1500 and scored["prediction"].notna().all()

    # The same rows through `mlops score batch` with the same model give the same predictions.
    ws = open_workspace(config)
    live = live_deployment(ws, config.stage("production").endpoint)
    assert live is not None
    frame.to_csv(tmp_path / "rows.csv", index=False)
    direct = Project.load(config.root).score_batch(
        str(tmp_path / "rows.csv"), tmp_path / "out", model=f"{live.model_name}:{live.model_version}",
        here=True)
    parts = pd.concat(pd.read_csv(p) for p in sorted(direct.output.glob("part-*.csv")))
    assert scored["prediction"].tolist() == parts["prediction"].tolist()
    event = read(ws, UiScoredEvent, 1)[0].event
    assert (event.method, event.rows, event.outcome) == ("batch", 1500, "scored")


def test_a_large_file_the_batch_script_refuses_fails_with_its_sentence(
        steel_served: ProjectConfig, make_client: Callable[..., FlaskClient]) -> None:
    _, rows = sample_rows(steel_served, 1200)  # no "period": the steel batch script needs it
    session = _session(steel_served, make_client, batch_rows=1000)
    job = session.upload(pd.DataFrame(rows).to_csv(index=False).encode()).headers["Location"]
    page = session.finished(job)
    assert 'data-state="failed"' in page
    assert "period" in html.unescape(page.split('role="alert">')[1].split("</p>")[0])


def test_a_busy_server_refuses_one_more_file_and_keeps_nothing_of_it(
        own_served: ProjectConfig, make_client: Callable[..., FlaskClient],
        tmp_path: Path) -> None:
    from mlops_azure.webapp._csv import MAX_RUNNING
    from mlops_azure.webapp._csv_scoring import Progress

    session = _session(own_served, make_client)
    scratch = tmp_path / "scratch"
    for number in range(MAX_RUNNING):
        (scratch / f"{number:032x}").mkdir(parents=True)
        Progress("running", 10).save(scratch / f"{number:032x}")
    _, rows = sample_rows(own_served, 5)
    answer = session.upload(pd.DataFrame(rows).to_csv(index=False).encode())
    assert answer.status_code == 503
    assert f"scoring {MAX_RUNNING} files already" in _alert(answer)
    assert len(list(scratch.iterdir())) == MAX_RUNNING
