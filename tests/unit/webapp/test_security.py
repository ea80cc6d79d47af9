"""CSRF tokens and the Easy Auth user, on the app over a fresh project (nothing trained)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from mlops_azure.webapp._security import easy_auth_user
from tests.unit.webapp.conftest import make_app as _app


def _principal(claims: list[dict[str, str]]) -> str:
    return base64.b64encode(json.dumps({"auth_typ": "aad", "claims": claims}).encode()).decode()


@pytest.mark.parametrize(("headers", "expected"), [
    ({"X-MS-CLIENT-PRINCIPAL-NAME": "ana@contoso.com"}, "ana@contoso.com"),
    ({"X-MS-CLIENT-PRINCIPAL": _principal([{"typ": "name", "val": "Ana Silva"}])}, "Ana Silva"),
    ({"X-MS-CLIENT-PRINCIPAL": _principal([{"typ": "name", "val": "Ana"},
                                           {"typ": "preferred_username", "val": "ana@c.com"}])},
     "ana@c.com"),
    ({"X-MS-CLIENT-PRINCIPAL": "not base64 json!"}, None),
    ({"X-MS-CLIENT-PRINCIPAL": base64.b64encode(b"[1, 2]").decode()}, None),
    ({"X-MS-CLIENT-PRINCIPAL-NAME": "   "}, None),
    ({}, None),
])
def test_easy_auth_user_reads_the_platform_headers(headers: dict[str, str],
                                                   expected: str | None) -> None:
    assert easy_auth_user(headers) == expected


def test_a_fresh_project_has_a_status_page(fresh_project: Path, tmp_path: Path) -> None:
    page = _app(fresh_project, tmp_path).test_client().get("/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "none yet: run mlops train" in html
    assert 'name="csrf_token"' not in html  # no form on it, but the header carries the token
    assert "X-CSRF-Token" in html
    assert page.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie


def test_behind_easy_auth_the_user_is_shown_and_anonymous_requests_are_refused(
        fresh_project: Path, tmp_path: Path) -> None:
    client = _app(fresh_project, tmp_path, easy_auth=True).test_client()
    assert client.get("/").status_code == 401
    page = client.get("/", headers={"X-MS-CLIENT-PRINCIPAL-NAME": "ana@contoso.com"})
    assert page.status_code == 200
    assert "ana@contoso.com" in page.get_data(as_text=True)


def test_easy_auth_headers_are_ignored_when_the_app_is_not_behind_it(
        fresh_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_ACTOR", "the-os-user")
    page = _app(fresh_project, tmp_path).test_client().get(
        "/", headers={"X-MS-CLIENT-PRINCIPAL-NAME": "mallory@evil.example"})
    html = page.get_data(as_text=True)
    assert "mallory" not in html and "the-os-user" in html


def test_unknown_pages_and_versions_are_404_pages_not_errors(fresh_project: Path,
                                                              tmp_path: Path) -> None:
    client = _app(fresh_project, tmp_path).test_client()
    for url in ("/nowhere", "/models/steel-purchase-forecast/7", "/models/x/y"):
        answer = client.get(url)
        assert answer.status_code == 404, url
        assert 'role="alert"' in answer.get_data(as_text=True)
    assert client.post("/").status_code == 405
