"""The prediction form over real endpoints: the steel example and a project made by
``mlops init --data``. Fields and defaults come from the served model's real rows; a submission
gets the endpoint's own prediction; bad values get a sentence and a 400, never a 500."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import pytest
from flask.testing import FlaskClient

from mlops_azure.backends import open_workspace
from mlops_azure.config import ProjectConfig
from mlops_azure.lifecycle.scoring import ScoreResponse
from mlops_azure.project import Project
from tests.integration.webapp.conftest import csrf_of

PROJECTS = ["steel_served", "own_served"]


class _Form(HTMLParser):
    """The named fields of a page (inputs and selects, with the value a browser would send) and
    the ``for`` of every label."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}
        self.ids: dict[str, str] = {}
        self.labels: set[str] = set()
        self._select: str | None = None
        self._first: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "label" and "for" in found:
            self.labels.add(found["for"])
        elif tag == "input" and "name" in found and found.get("type") != "hidden":
            self.fields[found["name"]] = found.get("value", "")
            self.ids[found["name"]] = found.get("id", "")
        elif tag == "select" and found.get("name", "").startswith("f."):
            self._select, self._first = found["name"], None
            self.ids[found["name"]] = found.get("id", "")
        elif tag == "option" and self._select is not None:
            self._option = found
            self._selected = "selected" in found

    def handle_data(self, data: str) -> None:
        if self._select is not None and getattr(self, "_option", None) is not None:
            option = self._option
            value = option.get("value", data.strip()) if "value" in option else data.strip()
            if self._first is None:
                self._first = value
            if self._selected:
                self.fields[self._select] = value
            self._option = None

    def handle_endtag(self, tag: str) -> None:
        if tag == "select" and self._select is not None:
            self.fields.setdefault(self._select, self._first or "")
            self._select = None


def _form(html: str) -> _Form:
    parser = _Form()
    parser.feed(html)
    return parser


def _features(html: str) -> dict[str, str]:
    return {k[2:]: v for k, v in _form(html).fields.items() if k.startswith("f.")}


def _parity_rows(config: ProjectConfig, stage: str = "production") -> list[dict[str, Any]]:
    ws = open_workspace(config)
    served = ws.endpoints.traffic(config.stage(stage).endpoint)[0]
    folder = ws.models.local_path(served.model_name, served.model_version)
    rows: list[dict[str, Any]] = json.loads((folder / "parity.json").read_text())["request"]["data"]
    return rows


def _prediction_of(html: str) -> float:
    found = re.search(r'<output id="prediction" data-value="([^"]+)"', html)
    assert found, html[:3000]
    return float(found.group(1))


def _same(shown: str, real: Any) -> bool:
    if isinstance(real, str):
        return shown == real
    return float(shown) == float(real)


def _key(config: ProjectConfig) -> str:
    return open_workspace(config).endpoints.keys(config.stage("production").endpoint).primary


def _post(client: FlaskClient, html: str, changes: dict[str, str] | None = None,
          **extra: str) -> Any:
    fields = {f"f.{k}": v for k, v in _features(html).items()}
    fields.update({f"f.{k}": v for k, v in (changes or {}).items()})
    return client.post("/predict", data={"csrf_token": csrf_of(html), "stage": "production",
                                         **fields, **extra})


@pytest.mark.parametrize("served", PROJECTS)
def test_the_default_row_gets_the_endpoints_own_prediction(
        served: str, request: pytest.FixtureRequest,
        make_client: Callable[..., FlaskClient]) -> None:
    config: ProjectConfig = request.getfixturevalue(served)
    client = make_client(config)
    page = client.get("/predict")
    html = page.get_data(as_text=True)
    assert page.status_code == 200, html
    rows = _parity_rows(config)
    form = _form(html)
    shown = _features(html)
    assert set(shown) == set(rows[0])
    for name, real in rows[0].items():
        assert form.ids[f"f.{name}"] in form.labels, f"{name} has no label"
        assert _same(shown[name], real), (name, shown[name], real)
    assert '<select name="stage"' in html

    third = _features(client.get("/predict?row=3").get_data(as_text=True))
    assert all(_same(third[name], real) for name, real in rows[2].items())

    answer = _post(client, html)
    result = answer.get_data(as_text=True)
    assert answer.status_code == 200, result
    direct = Project.load(config.root / "mlops.yaml").invoke("production", {"data": [rows[0]]})
    assert direct.ok, direct.message()
    assert _prediction_of(result) == float(direct.json()["predictions"][0])
    assert 'data-plot="contributions"' in result
    bars = result.split('data-plot="contributions"')[1].split("</svg>")[0].count('class="mark"')
    assert 1 <= bars <= 10
    assert re.search(r'id="answered-by">production endpoint, deployment v\d+', result)
    key = _key(config)
    assert key not in html and key not in result


def test_the_steel_forecast_is_drawn_on_its_series_history(
        steel_served: ProjectConfig, make_client: Callable[..., FlaskClient]) -> None:
    client = make_client(steel_served)
    html = client.get("/predict").get_data(as_text=True)
    result = _post(client, html).get_data(as_text=True)
    chart = result.split('data-plot="series"')[1].split("</svg>")[0]
    history = chart.count('data-kind="history"')
    assert history >= 24  # the series' months in the training data
    assert chart.count('data-kind="forecast"') == 1
    row = _parity_rows(steel_served)[0]
    caption = re.search(r'id="series-caption">([^<]+)<', result)
    assert caption and "monthly data: the next month" in caption.group(1)
    for key in ("organisation_id", "customer_id", "material_id"):
        assert f"{key}={row[key]}" in caption.group(1)


@pytest.mark.parametrize(("served", "changes", "sentence"), [
    ("own_served", {"rooms": "abc"}, "rooms must be a whole number, not &#34;abc&#34;"),
    ("own_served", {"rooms": "2.5"}, "rooms must be a whole number"),
    ("own_served", {"area_m2": "1e6"}, "area_m2 must be at most 217"),
    ("own_served", {"district": "castle"}, "district must be one of centre, harbour, hills"),
    ("own_served", {"garden": ""}, "garden is required"),
    ("steel_served", {"price_eur_per_tonne": "inf"}, "price_eur_per_tonne must be a number"),
    ("steel_served", {"segment": "mining"}, "segment must be one of"),
    ("steel_served", {"promotion": "3"}, "promotion must be at most 1"),
])
def test_a_bad_value_gets_its_sentence_next_to_the_field(
        served: str, changes: dict[str, str], sentence: str, request: pytest.FixtureRequest,
        make_client: Callable[..., FlaskClient]) -> None:
    config: ProjectConfig = request.getfixturevalue(served)
    client = make_client(config)
    html = client.get("/predict").get_data(as_text=True)
    answer = _post(client, html, changes)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400, page
    assert '<p class="error" role="alert"' in page
    name = next(iter(changes))
    field_id = _form(page).ids[f"f.{name}"]
    error = re.search(rf'<span class="field-error" id="{field_id}-error">([^<]+)</span>', page)
    assert error and sentence in error.group(1), page
    assert f'aria-describedby="{field_id}-hint {field_id}-error"' in page
    if changes[name]:  # what was typed is kept
        assert _features(page)[name] == changes[name]
    assert 'id="prediction"' not in page


def test_a_post_without_the_csrf_token_is_refused(
        own_served: ProjectConfig, make_client: Callable[..., FlaskClient]) -> None:
    client = make_client(own_served)
    html = client.get("/predict").get_data(as_text=True)
    fields = {f"f.{k}": v for k, v in _features(html).items()}
    answer = client.post("/predict", data={"stage": "production", **fields})
    assert answer.status_code == 400
    assert "security token is missing" in answer.get_data(as_text=True)
    assert client.post("/predict", data={"stage": "production", "csrf_token": "forged",
                                         **fields}).status_code == 400


def test_bad_query_values_are_a_400(own_served: ProjectConfig,
                                    make_client: Callable[..., FlaskClient]) -> None:
    client = make_client(own_served)
    for query, words in (("row=0", "row must be a number from 1 to"),
                         ("row=x", "row must be a number"),
                         ("stage=nowhere", "has no deployment to predict with")):
        page = client.get(f"/predict?{query}")
        assert page.status_code == 400 and words in page.get_data(as_text=True), query


def test_the_endpoints_refusal_and_silence_are_shown(
        own_served: ProjectConfig, make_client: Callable[..., FlaskClient],
        monkeypatch: pytest.MonkeyPatch) -> None:
    client = make_client(own_served)
    html = client.get("/predict").get_data(as_text=True)
    answers = [ScoreResponse(400, b'{"error": "data[0].rooms must be a number or null"}', 0.01),
               ScoreResponse(0, b"", 0.0, error="connection refused by 127.0.0.1:9"),
               ScoreResponse(502, b"Bad Gateway", 0.01)]
    monkeypatch.setattr(Project, "invoke", lambda *_a, **_k: answers.pop(0))
    refused = _post(client, html)
    assert refused.status_code == 400
    assert "data[0].rooms must be a number or null" in refused.get_data(as_text=True)
    silent = _post(client, html)
    assert silent.status_code == 503
    assert "connection refused by 127.0.0.1:9" in silent.get_data(as_text=True)
    failing = _post(client, html)
    assert failing.status_code == 503 and "HTTP 502" in failing.get_data(as_text=True)
    assert _features(failing.get_data(as_text=True)) == _features(html)  # values kept


def test_an_answer_without_explanations_still_shows_the_prediction(
        own_served: ProjectConfig, make_client: Callable[..., FlaskClient],
        monkeypatch: pytest.MonkeyPatch) -> None:
    real = Project.invoke

    def unexplained(self: Project, stage: str, body: dict[str, Any], **kw: Any) -> ScoreResponse:
        return real(self, stage, {**body, "explain": False}, **kw)

    monkeypatch.setattr(Project, "invoke", unexplained)
    client = make_client(own_served)
    html = client.get("/predict").get_data(as_text=True)
    answer = _post(client, html)
    page = answer.get_data(as_text=True)
    assert answer.status_code == 200, page
    assert _prediction_of(page) > 0
    assert 'data-plot="contributions"' not in page
    assert "gave no explanation" in page


def test_mlops_ui_serves_the_form_and_its_prediction(
        own_served: ProjectConfig, ui_server: Callable[..., str]) -> None:
    import requests

    url = ui_server(own_served)
    with requests.Session() as browser:
        html = browser.get(f"{url}predict", timeout=30).text
        fields = {f"f.{k}": v for k, v in _features(html).items()}
        answer = browser.post(f"{url}predict", timeout=30, data={
            "csrf_token": csrf_of(html), "stage": "production", **fields})
    assert answer.status_code == 200, answer.text
    direct = Project.load(own_served.root / "mlops.yaml").invoke(
        "production", {"data": [_parity_rows(own_served)[0]]})
    assert _prediction_of(answer.text) == float(direct.json()["predictions"][0])
    assert _key(own_served) not in html + answer.text


def test_without_a_deployment_the_page_says_what_to_do(
        own_served: ProjectConfig, make_client: Callable[..., FlaskClient],
        monkeypatch: pytest.MonkeyPatch) -> None:
    from mlops_azure.webapp import _predict

    monkeypatch.setattr(_predict, "serving_stages", lambda *_: [])
    page = make_client(own_served).get("/predict")
    assert page.status_code == 200
    assert "No stage has a deployment yet" in page.get_data(as_text=True)
