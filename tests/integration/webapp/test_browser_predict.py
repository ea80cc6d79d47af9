"""The prediction form in headless Chromium against a real ``mlops ui`` server: the prediction
for a real row equals what ``mlops invoke`` answers for the same row, with JavaScript on and off;
a value outside the declared range is refused next to its field."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_azure.backends import open_workspace
from mlops_azure.config import ProjectConfig
from mlops_azure.lifecycle.refs import live_deployment
from tests.integration.webapp.test_browser_status import _clean
from tests.support.chromium import Chromium

MLOPS = str(Path(sys.executable).with_name("mlops"))


def _invoked(config: ProjectConfig, row: dict[str, object], tmp_path: Path) -> float:
    """``mlops invoke --stage production`` for ``row``: its prediction."""
    request = tmp_path / "row.json"
    request.write_text(json.dumps({"data": [row]}), encoding="utf-8")
    done = subprocess.run([MLOPS, "--json", "--config", str(config.root / "mlops.yaml"), "invoke",
                           "--stage", "production", "--file", str(request)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return float(json.loads(done.stdout)["response"]["predictions"][0])


def _third_parity_row(config: ProjectConfig) -> dict[str, object]:
    ws = open_workspace(config)
    live = live_deployment(ws, config.stage("production").endpoint)
    assert live is not None
    parity = json.loads((ws.models.local_path(live.model_name, live.model_version)
                         / "parity.json").read_text(encoding="utf-8"))
    return dict(parity["request"]["data"][2])


@pytest.mark.parametrize(("project", "javascript"), [("steel_served", True),
                                                     ("own_served", False)])
def test_the_forms_prediction_is_what_mlops_invoke_answers(
        project: str, javascript: bool, request: pytest.FixtureRequest,
        ui_server: Callable[..., str], chromium: Chromium, tmp_path: Path,
        artifacts: Path) -> None:
    config: ProjectConfig = request.getfixturevalue(project)
    origin = ui_server(config).rstrip("/")
    with chromium.open(origin + "/predict", javascript=javascript,
                       allow_origins=(origin,)) as page:
        # Start from the third real row, as a planner would pick one.
        page.fill("#row-choice", "3")
        assert page.submit("form.filters")
        assert page.submit("#predict-form")
        assert page.status == 200
        shown = float(page.evaluate("document.querySelector('#prediction').dataset.value"))
        drawn = page.evaluate("""[...document.querySelectorAll('svg[data-plot] .mark')]
            .filter(m => { const b = m.getBBox(); return b.width > 0 || b.height > 0; }).length""")
        kinds = page.evaluate("[...document.querySelectorAll('svg[data-plot]')]"
                              ".map(s => s.dataset.plot)")
        page.screenshot(artifacts / f"predict-{project}.png", down_to="main")
        _clean(page.report())
    assert shown == _invoked(config, _third_parity_row(config), tmp_path)
    assert "contributions" in kinds and drawn > 0
    if project == "steel_served":
        assert "series" in kinds  # a forecast: the series' history and the forecast


def test_a_value_outside_the_declared_range_is_refused_next_to_its_field(
        steel_served: ProjectConfig, ui_server: Callable[..., str], chromium: Chromium,
        artifacts: Path) -> None:
    origin = ui_server(steel_served).rstrip("/")
    with chromium.open(origin + "/predict", allow_origins=(origin,)) as page:
        field = page.evaluate("document.querySelector(\"label[for]\") && [...document.querySelectorAll"
                              "('input[type=number]')].find(i => i.name.endsWith('price_eur_per_tonne')).id")
        page.fill(f"#{field}", "99999")
        assert page.submit("#predict-form")
        assert page.status == 400
        error = page.evaluate(f"document.querySelector('#{field}-error').textContent")
        assert "at most 5000" in error
        assert page.evaluate(f"document.querySelector('#{field}').value") == "99999"
        assert page.evaluate("document.querySelector('#prediction')") is None
        page.screenshot(artifacts / "predict-refused.png", down_to="main")
