"""The drift pages over real drift checks: a chart per monitored feature, the checks table and
its filters, each report with the retraining it caused, and 404 / 400 pages."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from flask.testing import FlaskClient
from markupsafe import escape

from mlops_azure.config import ProjectConfig
from mlops_azure.init_from_data import init_from_data
from mlops_azure.project import Project
from tests.integration.webapp.conftest import write_own_table


def _copy(config: ProjectConfig, into: Path) -> Project:
    """A copy of a served project, to record events that only this test sees."""
    shutil.copytree(config.root, into, symlinks=True)
    return Project.load(into / "mlops.yaml")


def _training_rows(found: Project) -> pd.DataFrame:
    ws = found.workspace
    lineage = ws.models.get(found.config.model.name).lineage
    return pd.read_csv(ws.data.local_path(ws.data.get(lineage.data_asset, lineage.data_version)))


def _own_windows(found: Project, into: Path) -> tuple[Path, Path]:
    """The training rows as they were, and shifted: bigger homes, all in the centre."""
    rows = _training_rows(found).drop(columns=["price_k"])
    same, shifted = into / "same.csv", into / "shifted.csv"
    rows.to_csv(same, index=False)
    rows.assign(area_m2=rows["area_m2"] * 1.9, district="centre").to_csv(shifted, index=False)
    return same, shifted


def _charts(html: str) -> dict[str, str]:
    """Each chart's SVG by the feature its figure names."""
    return {m.group(1): m.group(2) for m in re.finditer(
        r'<figure class="chart" data-feature="([^"]+)">.*?(<svg data-plot="drift".*?</svg>)',
        html, re.S)}


def _rows(html: str) -> list[int]:
    table = html[html.index('class="drift-checks"'):] if 'class="drift-checks"' in html else ""
    return [int(i) for i in re.findall(r'<tr data-event="(\d+)"', table)]


def test_drift_checks_of_an_own_project_chart_each_feature_and_filter(
        own_served: ProjectConfig, make_client: Callable[..., FlaskClient], tmp_path: Path) -> None:
    found = _copy(own_served, tmp_path / "homes")
    same_csv, shifted_csv = _own_windows(found, tmp_path)
    same = found.drift(current=same_csv, stage="production", actor="tester")
    shifted = found.drift(current=shifted_csv, stage="production", actor="tester")
    assert not same.report.drifted and shifted.report.drifted
    drifted = set(shifted.report.drifted_features)
    assert {"area_m2", "district"} <= drifted
    client = make_client(found.config)

    page = client.get("/drift")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    charts = _charts(html)
    monitored = {f.feature for f in shifted.report.compared}
    assert set(charts) == monitored == {"area_m2", "rooms", "district", "garden"}
    for feature, svg in charts.items():
        assert "<title id=" in svg and f"Drift of {feature} over the last 2 checks" in svg
        assert svg.count('data-series="psi"') == 2 and svg.count('data-series="js"') == 2
        assert svg.count('class="threshold"') == 2
        # Only the shifted check's points of a drifted feature are drawn as alarms.
        assert svg.count('data-alarm="1"') == (2 if feature in drifted else 0), feature
        assert f"check #{shifted.event_id}" in svg and f"check #{same.event_id}" in svg
    psi = shifted.report.compared[0]
    assert f"PSI {psi.psi:.4g}" in charts[psi.feature]
    assert _rows(html) == [shifted.event_id, same.event_id]  # newest first
    assert f'href="/drift/{shifted.event_id}"' in html
    assert '<label for="drift-stage">' in html and '<label for="drift-model">' in html

    model = shifted.model.ref
    assert f'<option value="{model}">' in html
    assert _rows(client.get("/drift?stage=production").get_data(as_text=True)) == [
        shifted.event_id, same.event_id]
    assert _rows(client.get(f"/drift?model={model}&stage=production").get_data(as_text=True)) \
        == [shifted.event_id, same.event_id]
    filtered = client.get("/drift?stage=staging").get_data(as_text=True)
    assert _rows(filtered) == [] and _charts(filtered) == {} and "matches these filters" in filtered
    assert _rows(client.get(f"/drift?model={model[:-1]}999").get_data(as_text=True)) == []

    for query, sentence in (("stage=nowhere", "stage 'nowhere' is not one of mlops.yaml's"),
                            ("model=latest", "model 'latest' is not a model version")):
        refused = client.get(f"/drift?{query}")
        assert refused.status_code == 400
        assert re.search(r'<p class="error" role="alert">[^<]*' + re.escape(sentence),
                         refused.get_data(as_text=True).replace("&#39;", "'"))

    report = client.get(f"/drift/{shifted.event_id}").get_data(as_text=True)
    assert f'Drift check #{shifted.event_id}: <span class="bad">drift</span>' in report
    assert str(escape(shifted.report.verdict.reason)) in report
    for rule in shifted.report.verdict.rules:
        assert f"<li>{rule}</li>" in report
    assert f'<a href="/models/{model.replace(":", "/")}">{model}</a>' in report
    assert shifted.reference in report and str(shifted_csv) in report
    for feature in monitored:
        row = report[report.index(f'<tr data-feature="{feature}">'):]
        cells = re.findall(r"<td[^>]*>([^<]*)</td>", row[:row.index("</tr>")])
        assert cells[2] == ("yes" if feature in drifted else "no"), (feature, cells)
    assert "no registered version was trained because of this report" in report
    calm = client.get(f"/drift/{same.event_id}").get_data(as_text=True)
    assert '<span class="ok">no drift</span>' in calm and "No rule fired." in calm

    other = found.workspace.events.recent(1, action="promote")[0].id
    for missing in (other, 10**9):
        gone = client.get(f"/drift/{missing}")
        assert gone.status_code == 404 and 'role="alert"' in gone.get_data(as_text=True)
    assert client.get("/drift/abc").status_code == 404

    status = client.get("/").get_data(as_text=True)
    assert f'href="/drift/{shifted.event_id}"' in status


def test_a_report_links_the_version_it_retrained(
        make_client: Callable[..., FlaskClient], tmp_path: Path) -> None:
    table = tmp_path / "homes.csv"
    init_from_data(tmp_path / "homes", table, column=write_own_table(table))
    found = Project.load(tmp_path / "homes")
    weak = found.train(params={"n_estimators": 5}, actor="tester").model
    assert weak is not None
    _, shifted_csv = _own_windows(found, tmp_path)
    checked = found.drift(current=shifted_csv, model=weak.ref, actor="tester")
    outcome = found.retrain_on_drift(checked, actor="tester")
    assert outcome is not None and outcome.model is not None, outcome
    client = make_client(found.config)
    report = client.get(f"/drift/{checked.event_id}").get_data(as_text=True)
    retrained = report[report.index('id="retraining"'):]
    assert retrained.startswith(f'id="retraining"><a href="/models/{found.config.model.name}/2">')
    assert f"trigger=drift, drift_report={checked.event_id}" in retrained
    checks = client.get("/drift").get_data(as_text=True)
    assert _rows(checks) == [checked.event_id] and len(_charts(checks)) == 4


def test_the_steel_example_drifts_under_a_price_shock(
        steel_served: ProjectConfig, make_client: Callable[..., FlaskClient], tmp_path: Path) -> None:
    found = Project.load(steel_served.root)  # adds drift events only: serving is untouched
    shocked = _training_rows(found)
    shocked["price_eur_per_tonne"] *= 1.6
    shocked["promotion"] = 1
    shocked.loc[shocked.index % 2 == 0, "segment"] = "energy"  # 3 of 5 features: drift
    shocked.drop(columns=["quantity_tonnes"]).to_csv(tmp_path / "window.csv", index=False)
    checked = found.drift(current=tmp_path / "window.csv", stage="production", actor="tester")
    assert checked.report.drifted and checked.model.ref == f"{steel_served.model.name}:2"
    client = make_client(steel_served)
    html = client.get(f"/drift?stage=production&model={checked.model.ref}").get_data(as_text=True)
    assert checked.event_id in _rows(html)
    charts = _charts(html)
    assert set(charts) == {f.feature for f in checked.report.compared}
    assert 'data-alarm="1"' in charts["price_eur_per_tonne"]
    report = client.get(f"/drift/{checked.event_id}").get_data(as_text=True)
    assert '<tr data-feature="price_eur_per_tonne">' in report
    assert "requests to stage" not in report and "window.csv" in report
