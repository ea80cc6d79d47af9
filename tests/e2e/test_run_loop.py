"""`mlops run`: the whole loop, as the README's first command runs it, in a real subprocess."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.postgres import Postgres

MLOPS = str(Path(sys.executable).with_name("mlops"))


@pytest.fixture
def demo(local_folder: Path) -> Path:
    return local_folder


def test_the_loop_runs_to_a_production_endpoint_and_a_prediction(demo: Path) -> None:
    done = subprocess.run([MLOPS, "--json", "run", str(demo)], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    summary = json.loads(done.stdout)
    first, challenger = summary["trainings"]
    assert first["registered"] == "steel-purchase-forecast:1"
    assert first["decision"]["verdict"] == "first"
    assert challenger["champion"] == "steel-purchase-forecast:1"
    assert challenger["decision"]["verdict"] in ("better", "not_better")
    assert summary["latest_registered"] == (challenger["registered"] or first["registered"])
    release = summary["release"]
    assert release["qa_passed"] and release["approval"]["evidence"]["qa_event"]
    # The responsible-ML gate ran at registration and again at the approval for production.
    assert first["responsible"]["status"] in ("pass", "warn")
    assert release["approval"]["evidence"]["responsible"]["status"] in ("pass", "warn")
    card = Path(summary["model_card"]).read_text(encoding="utf-8")
    assert card.count('data-plot="') >= 5 and "Intended use" in card
    version = int(summary["latest_registered"].split(":")[1])
    assert release["promotion"]["traffic"] == {f"v{version:03d}": 100}
    assert len(release["predictions"]) == 3 and all(p >= 0 for p in release["predictions"])

    # The closed loop: the regime change's traffic was recorded, drifted, and retrained on.
    regime, drift, retraining = summary["regime"], summary["monitoring"], summary["retraining"]
    assert regime["rows"] == regime["new_data_rows"] > 0
    assert drift["drifted"] and drift["model"] == summary["latest_registered"]
    assert "price_eur_per_tonne" in drift["drifted_features"]
    assert drift["rows_current"] >= regime["rows"] and drift["prediction"] is not None
    assert (demo / "drift-report.html").read_text().count("<svg") >= len(drift["drifted_features"])
    assert retraining["champion"] == summary["latest_registered"]
    assert retraining["champion_source"] == "production"
    assert retraining["data"] == "steel-purchases:2"  # the grown data, a new version
    assert retraining["decision"]["verdict"] in ("better", "not_better")
    # A retrained model is released the same way, its canary beside the serving one.
    serving = release
    if retraining["registered"]:
        serving = summary["second_release"]
        assert serving["qa_passed"] and serving["promotion"]["previous"]
        shares = [step["share"] for step in serving["promotion"]["steps"]]
        assert any(0 < share < 100 for share in shares) and shares[-1] == 100

    # Many models, gated per partition, then the batch forecast.
    partitioned, batch = summary["partitioned"], summary["batch"]
    counts = partitioned["decision"]["partitions"]
    assert sum(counts.values()) > 100 and set(counts) <= {"improved", "stayed", "regressed",
                                                          "failed", "fallback"}
    assert batch["rows"] > 0 and batch["chunks"] > 1 and batch["published_rows"] is None
    assert len(list((demo / "forecasts").glob("part-*.csv"))) == batch["chunks"]

    invoked = subprocess.run([MLOPS, "--json", "invoke", "--stage", "production", "--file",
                              "sample-request.json"], cwd=demo, capture_output=True, text=True,
                             timeout=60)
    assert invoked.returncode == 0, invoked.stderr
    assert json.loads(invoked.stdout)["response"]["predictions"] == serving["predictions"]
    actions = [e["action"] for e in json.loads(subprocess.run(
        [MLOPS, "--json", "history"], cwd=demo, capture_output=True, text=True, timeout=60).stdout)]
    for action in ("register", "gate.champion", "deploy", "gate.qa", "approve", "promote",
                   "monitor.drift"):
        assert action in actions

    shown = subprocess.run([MLOPS, "--json", "models", "show", summary["latest_registered"]],
                           cwd=demo, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    lineage = json.loads(shown.stdout)["lineage"]
    assert lineage["data_asset"] == "steel-purchases"
    if retraining["registered"]:
        shown = subprocess.run([MLOPS, "--json", "models", "show", retraining["registered"]],
                               cwd=demo, capture_output=True, text=True, timeout=60)
        extra = json.loads(shown.stdout)["lineage"]["extra"]
        assert extra["trigger"] == "drift" and extra["drift_report"] == str(drift["report_id"])

    _the_ui_command_it_prints_serves_the_project(summary, demo)

    # The loop alone is evidence of every criterion of Microsoft's MLOps maturity model.
    judged = subprocess.run([MLOPS, "--json", "maturity", "--require-level", "4"], cwd=demo,
                            capture_output=True, text=True, timeout=120)
    assert judged.returncode == 0, judged.stderr[-2000:]
    assert json.loads(judged.stdout)["level"] == 4

    again = subprocess.run([MLOPS, "run", str(demo)], capture_output=True, text=True, timeout=60)
    assert again.returncode == 2  # an existing project is not overwritten without --force
    assert "--force" in again.stderr


def _the_ui_command_it_prints_serves_the_project(summary: dict[str, Any], demo: Path) -> None:
    assert summary["ui_command"] == f"cd {demo} && mlops ui"
    log = demo / "ui.log"
    with log.open("w") as out:
        ui = subprocess.Popen([MLOPS, "ui", "--port", "0"], cwd=demo, stdout=out,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not (found := re.search(r"http://127\.0\.0\.1:\d+/", log.read_text())):
            assert ui.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        page = requests.get(found.group(0), timeout=30)
        assert page.status_code == 200
        production = page.text[page.text.index('data-stage="production"'):]
        assert "steel-purchase-forecast:" in production[:production.index("</tr>")]
    finally:
        os.killpg(ui.pid, signal.SIGTERM)
        ui.wait(10)


def test_forced_rerun_starts_from_an_empty_workspace(demo: Path) -> None:
    for _ in range(2):
        done = subprocess.run([MLOPS, "--json", "run", str(demo), "--force"], capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        first = json.loads(done.stdout)["trainings"][0]
        assert first["registered"] == "steel-purchase-forecast:1"


def test_the_loop_lands_its_forecasts_in_postgres(demo: Path, postgres: Postgres) -> None:
    env = {**os.environ, "MLOPS_POSTGRES_DSN": postgres.dsn}
    done = subprocess.run([MLOPS, "--json", "run", str(demo)], capture_output=True, text=True,
                          timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    batch = json.loads(done.stdout)["batch"]
    assert batch["published_rows"] == batch["rows"] > 0
    import psycopg

    with psycopg.connect(postgres.dsn) as conn:
        [(rows,)] = conn.execute("SELECT count(*) FROM forecasts WHERE run_id = %s",
                                 (batch["run_id"],)).fetchall()
    assert rows == batch["rows"]
