"""What users can put in a URL or a header never gets a 500: each bad value is a page with one
sentence and a 4xx, even when the project itself has become unreadable."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest

from mlops_azure.errors import UserInputError
from mlops_azure.lifecycle.refs import parse_ref
from tests.unit.webapp.conftest import make_app


@pytest.mark.parametrize(("path", "status"), [
    ("/models?page=²", 200),  # a bad page number is page 1
    ("/models?page=99999999999999999999999", 200),
    ("/audit?page=²", 400),
    ("/audit?subject=²", 200),  # a subject, not a version number: nothing matches
    ("/drift?model=x:²", 400),
    ("/models/x/99999999999999999999999", 404),
    ("/predict?row=²", 200),  # nothing deployed: the row is not read
    ("/drift/99999999999999999999999", 404),
])
def test_odd_numbers_in_urls_get_a_page(fresh_project: Path, tmp_path: Path, path: str,
                                        status: int) -> None:
    answer = make_app(fresh_project, tmp_path).test_client().get(path)
    assert answer.status_code == status, answer.get_data(as_text=True)[-800:]


def test_a_model_reference_takes_ascii_digits_only() -> None:
    with pytest.raises(UserInputError, match="whole number"):
        parse_ref("model:²")
    assert parse_ref("model:12") == ("model", 12)


def test_an_unreadable_config_is_said_without_the_layout(fresh_project: Path,
                                                         tmp_path: Path) -> None:
    root = tmp_path / "proj"
    shutil.copytree(fresh_project.parent, root, symlinks=True)
    client = make_app(root / "mlops.yaml", tmp_path).test_client()
    (root / "mlops.yaml").write_text("project: [unclosed\n", encoding="utf-8")
    answer = client.get("/audit")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 400
    assert "mlops.yaml" in html and 'role=alert' in html


def test_anonymous_visitors_behind_easy_auth_learn_nothing(
        fresh_project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_ACTOR", "server-owner@corp.example")
    client = make_app(fresh_project, tmp_path, easy_auth=True).test_client()
    answer = client.get("/")
    html = answer.get_data(as_text=True)
    assert answer.status_code == 401
    assert "server-owner" not in html and "steel-forecast" not in html
    signed_in = client.get("/", headers={"X-MS-CLIENT-PRINCIPAL-NAME": "ana@contoso.com"})
    assert "Secure" in signed_in.headers["Set-Cookie"]


def test_a_malformed_principal_is_no_user(fresh_project: Path, tmp_path: Path) -> None:
    claims = {"claims": [{"typ": ["name"], "val": "x"}, {"typ": "name", "val": "Ana"}]}
    header = base64.b64encode(json.dumps(claims).encode()).decode()
    answer = make_app(fresh_project, tmp_path, easy_auth=True).test_client().get(
        "/", headers={"X-MS-CLIENT-PRINCIPAL": header})
    assert answer.status_code == 200 and "Ana" in answer.get_data(as_text=True)


def test_a_missing_version_says_which(fresh_project: Path, tmp_path: Path) -> None:
    answer = make_app(fresh_project, tmp_path).test_client().get(
        "/models/steel-purchase-forecast/7")
    assert answer.status_code == 404
    assert "has no version 7" in answer.get_data(as_text=True) or "does not exist" in \
        answer.get_data(as_text=True)


def test_an_edit_to_mlops_yaml_shows_on_the_next_page(fresh_project: Path,
                                                      tmp_path: Path) -> None:
    root = tmp_path / "proj"
    shutil.copytree(fresh_project.parent, root, symlinks=True)
    client = make_app(root / "mlops.yaml", tmp_path).test_client()
    assert "steel-forecast" in client.get("/").get_data(as_text=True)
    config = root / "mlops.yaml"
    config.write_text(config.read_text(encoding="utf-8").replace(
        "project: steel-forecast", "project: steel-renamed"), encoding="utf-8")
    assert "steel-renamed" in client.get("/").get_data(as_text=True)
