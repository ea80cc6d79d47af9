"""Batch scoring: chunked, parallel, resumable without duplicates, memory bounded, into a real
PostgreSQL."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from mlops_azure.backends import open_workspace
from mlops_azure.config import ProjectConfig
from mlops_azure.example.regime import later_years
from mlops_azure.lifecycle.batch import score_batch
from mlops_azure.sinks import PostgresSink
from tests.support.postgres import Postgres

MLOPS = str(Path(sys.executable).with_name("mlops"))
MODEL = "steel-purchase-forecast:2"
KEYS = ["period", "organisation_id", "customer_id", "material_id"]


def feature_rows(config: ProjectConfig, copies: int = 1) -> Path:
    """v2's holdout rows (features and keys); ``copies`` > 1 repeats them with later periods,
    so every (series, period) stays unique."""
    ws = open_workspace(config)
    job = ws.get_model("steel-purchase-forecast", 2).lineage.job_id
    holdout = pd.read_csv(ws.job_output_path(job, "prepared") / "holdout.csv", dtype=str)
    path = Path(config.root) / f"rows-{copies}.csv"
    later_years(holdout, copies).to_csv(path, index=False)
    return path


def parts(folder: Path) -> pd.DataFrame:
    return pd.concat([pd.read_csv(p, dtype=str) for p in sorted(folder.glob("part-*.csv"))])


def test_chunks_in_parallel_equal_one_in_process_pass(released_project: ProjectConfig) -> None:
    ws = open_workspace(released_project)
    rows = feature_rows(released_project)
    done = score_batch(ws, released_project, str(rows), released_project.root / "out",
                       model=MODEL, chunk_rows=97, workers=2)
    total = len(pd.read_csv(rows))
    assert done.rows == total and done.chunks == -(-total // 97) and done.resumed_chunks == 0
    scored = parts(released_project.root / "out")
    assert not scored.duplicated(KEYS).any() and len(scored) == total
    alone = score_batch(ws, released_project, str(rows), released_project.root / "one",
                        model=MODEL, chunk_rows=10_000, workers=1)
    assert alone.run_id != done.run_id  # another chunk size is another run
    together = parts(released_project.root / "one")
    assert together["prediction"].astype(float).round(9).tolist() == \
        scored["prediction"].astype(float).round(9).tolist()

    again = score_batch(ws, released_project, str(rows), released_project.root / "out",
                        model=MODEL, chunk_rows=97, workers=2)
    assert again.run_id == done.run_id and again.resumed_chunks == again.chunks  # all done


@pytest.mark.timeout(300)
def test_workers_start_clean_after_the_caller_ran_lightgbm_threads(
        released_project: ProjectConfig) -> None:
    """Forking this process now would hang the workers in LightGBM's OpenMP (libgomp): the pool
    must come from a fresh interpreter."""
    import lightgbm as lgb
    import numpy as np

    x = np.random.default_rng(0).random((5_000, 4))
    booster = lgb.train({"num_threads": 2, "verbose": -1}, lgb.Dataset(x, label=x.sum(axis=1)),
                        num_boost_round=5)
    booster.predict(x, num_threads=2)
    rows = feature_rows(released_project)
    done = score_batch(open_workspace(released_project), released_project, str(rows),
                       released_project.root / "out", model=MODEL, chunk_rows=500, workers=2)
    assert done.rows == len(pd.read_csv(rows)) == len(parts(released_project.root / "out"))


def test_a_killed_run_resumes_without_duplicates(released_project: ProjectConfig) -> None:
    rows = feature_rows(released_project, copies=60)
    out = released_project.root / "out"
    command = [MLOPS, "--json", "score", "batch", "--input", str(rows), "--output", str(out),
               "--model", MODEL, "--chunk-rows", "500", "--workers", "1"]
    first = subprocess.Popen(command, cwd=released_project.root, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 120
    while len(list(out.glob("part-*.csv"))) < 5 and time.monotonic() < deadline:
        time.sleep(0.005)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    written = len(list(out.glob("part-*.csv")))
    assert not (out / "_SUCCESS").exists() and written >= 5
    resumed = subprocess.run(command, cwd=released_project.root, capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    result = json.loads(resumed.stdout)
    assert result["resumed_chunks"] >= written - 1  # a part half-written at the kill is redone
    scored = parts(out)
    assert len(scored) == len(pd.read_csv(rows)) == result["rows"]
    assert not scored.duplicated(KEYS).any()


def test_memory_does_not_grow_with_the_file(released_project: ProjectConfig) -> None:
    small, large = feature_rows(released_project, 1), feature_rows(released_project, 150)
    peaks = {}
    for path in (small, large):
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        done = subprocess.run([MLOPS, "score", "batch", "--input", str(path), "--output",
                               str(path.with_suffix(".out")), "--model", MODEL, "--chunk-rows",
                               "2000", "--workers", "1"], cwd=released_project.root,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        peaks[path] = max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    grown_kib = peaks[large] - peaks[small]
    assert large.stat().st_size > 40 * small.stat().st_size
    assert grown_kib * 1024 < large.stat().st_size / 4, (grown_kib, large.stat().st_size)


def test_forecasts_land_in_postgres_once_per_run(released_project: ProjectConfig,
                                                 postgres: Postgres) -> None:
    ws = open_workspace(released_project)
    rows = feature_rows(released_project, copies=3)
    table = f"forecasts_{os.getpid()}"
    with PostgresSink(postgres.dsn, table=table, keys=released_project.batch.keys,
                      time_column=released_project.data.time_column) as sink:
        done = score_batch(ws, released_project, str(rows), released_project.root / "out",
                           model=MODEL, chunk_rows=300, workers=2, sink=sink)
        assert done.published_rows == done.rows == sink.count(done.run_id) == sink.count()
        again = score_batch(ws, released_project, str(rows), released_project.root / "out2",
                            model=MODEL, chunk_rows=300, workers=2, sink=sink)
        assert again.run_id == done.run_id and sink.count() == done.rows  # replaced, not added
        assert set(sink.level_views()) == {f"{table}_by_organisation_id",
                                           f"{table}_by_customer_id"}

    # Coherent across levels: each organisation's forecast is the sum of its customers'.
    import psycopg

    scored = parts(released_project.root / "out")
    scored["prediction"] = scored["prediction"].astype(float)
    expected = scored.groupby(["organisation_id", "period"])["prediction"].sum()
    with psycopg.connect(postgres.dsn) as conn:
        by_org = {(o, str(p)): v for o, p, v in conn.execute(
            f"SELECT organisation_id, period, prediction FROM {table}_by_organisation_id")}
        by_customer = conn.execute(
            f"SELECT organisation_id, period, sum(prediction) FROM {table}_by_customer_id "
            "GROUP BY organisation_id, period").fetchall()
    assert len(by_org) == len(expected)
    for (org, period), value in expected.items():
        assert by_org[(org, period)] == pytest.approx(value, rel=1e-9)
    for org, period, value in by_customer:
        assert by_org[(org, str(period))] == pytest.approx(value, rel=1e-9)


def test_bad_input_is_one_sentence(released_project: ProjectConfig,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from mlops_azure.cli.main import app

    monkeypatch.chdir(released_project.root)
    Path("bad.csv").write_text("a,b\n1,2\n")
    for args, words in (
            (["--input", "bad.csv", "--output", "o1"], "lack column"),
            (["--input", "nope.csv", "--output", "o2"], "does not exist"),
            (["--input", "bad.csv", "--output", "o3", "--chunk-rows", "0"], "chunk-rows"),
            (["--input", "bad.csv", "--output", "o4", "--to-postgres"], "MLOPS_POSTGRES_DSN"),
            (["--input", "bad.csv", "--output", "o5", "--model", "steel-purchase-forecast:99"],
             "has no version 99")):
        monkeypatch.delenv("MLOPS_POSTGRES_DSN", raising=False)
        result = CliRunner().invoke(app, ["score", "batch", *args])
        assert result.exit_code == 2 and words in result.stderr, (args, result.stderr)
        assert len(result.stderr.strip().splitlines()) == 1
        assert not Path(args[3]).exists()  # nothing half-written left behind
