"""`mlops explain`, `mlops explain what-if` and `mlops models card` as a user runs them: real
`mlops` subprocesses over a trained project."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_azure.config import ProjectConfig

MLOPS = str(Path(sys.executable).with_name("mlops"))
V2 = "steel-purchase-forecast:2"


def mlops(project: ProjectConfig, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([MLOPS, *args], cwd=project.root, capture_output=True, text=True,
                          timeout=300, env={**os.environ, "COLUMNS": "200"})


def _row(project: ProjectConfig, tmp_path: Path) -> Path:
    request = json.loads((project.root / "sample-request.json").read_text(encoding="utf-8"))
    row = tmp_path / "row.json"
    row.write_text(json.dumps(request["data"][0]), encoding="utf-8")
    return row


def test_explain_lists_the_top_contributors_that_add_up_to_the_prediction(
        released_project: ProjectConfig) -> None:
    done = mlops(released_project, "--json", "explain", V2, "--rows", "sample-request.json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert len(rows) == 3
    for row in rows:
        raw = row["base_value"] + sum(row["contributions"].values())
        assert row["prediction"] == pytest.approx(max(raw, 0.0), abs=1e-6)
        sizes = [abs(v) for v in row["contributions"].values()]
        assert sizes == sorted(sizes, reverse=True)
    shown = mlops(released_project, "explain", V2, "--top", "3")  # the parity sample
    assert shown.returncode == 0, shown.stderr
    assert "base value" in shown.stdout and "prediction" in shown.stdout


def test_what_if_shows_how_the_prediction_moves(released_project: ProjectConfig,
                                                tmp_path: Path) -> None:
    row = _row(released_project, tmp_path)
    done = mlops(released_project, "--json", "explain", "what-if", V2, "--row", str(row),
                 "--set", "promotion=1", "--set", "lag_1=900")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["changes"] == {"promotion": 1.0, "lag_1": 900.0}
    assert answer["after"]["row"]["lag_1"] == 900.0
    assert answer["after"]["prediction"] != answer["before"]["prediction"]
    said = mlops(released_project, "explain", "what-if", V2, "--row", str(row), "--set",
                 "promotion=1")
    assert said.returncode == 0 and "prediction moves by" in said.stdout


@pytest.mark.parametrize(("args", "says"), [
    (["--set", "colour=blue"], "the row has no feature 'colour'"),
    (["--set", "promotion=lots"], "'promotion' takes a number"),
    (["--set", "promotion"], "write it as FEATURE=VALUE"),
    ([], "at least one --set"),
])
def test_what_if_refuses_bad_settings_in_one_sentence(
        released_project: ProjectConfig, tmp_path: Path, args: list[str], says: str) -> None:
    done = mlops(released_project, "explain", "what-if", V2, "--row",
                 str(_row(released_project, tmp_path)), *args)
    assert done.returncode == 2
    assert says in done.stderr and "Traceback" not in done.stderr


def test_explain_refuses_rows_the_model_cannot_score(released_project: ProjectConfig,
                                                     tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"data": [{"customer_id": "CUST-0001"}]}), encoding="utf-8")
    done = mlops(released_project, "explain", V2, "--rows", str(bad))
    assert done.returncode == 2 and "lacks feature(s)" in done.stderr


def test_models_card_prints_markdown_and_writes_the_html(released_project: ProjectConfig,
                                                         tmp_path: Path) -> None:
    target = tmp_path / "card.html"
    done = mlops(released_project, "models", "card", V2, "--html", str(target))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("# Model card: steel-purchase-forecast version 2")
    for section in ("## Intended use", "## Training data lineage", "## Fairness by sensitive",
                    "## Gates passed"):
        assert section in done.stdout
    html = target.read_text(encoding="utf-8")
    assert html.count("<svg") >= 5 and "steel-purchases:1" in html
    unknown = mlops(released_project, "models", "card", "steel-purchase-forecast:9")
    assert unknown.returncode == 2 and "no version 9" in unknown.stderr
