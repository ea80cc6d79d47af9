"""Every page answers for a project with nothing trained, registered or deployed: it says what is
missing and what to run, never an error."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.webapp.conftest import make_app


@pytest.mark.parametrize(("path", "said"), [
    ("/", "none yet: run mlops train"),
    ("/models", "No version registered yet"),
    ("/predict", "No stage has a deployment yet"),
    ("/predict/csv", "No stage serves a model yet"),
    ("/drift", "No drift check"),
    ("/audit", "No event recorded yet"),
])
def test_a_page_before_training_says_what_is_missing(fresh_project: Path, tmp_path: Path,
                                                     path: str, said: str) -> None:
    answer = make_app(fresh_project, tmp_path).test_client().get(path)
    html = answer.get_data(as_text=True)
    assert answer.status_code == 200, html[-1500:]
    assert said in html
    assert 'role="alert"' not in html
