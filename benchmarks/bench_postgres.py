"""Loading forecasts into PostgreSQL: the sink's COPY against psycopg's executemany (the peer).

    .venv/bin/python benchmarks/bench_postgres.py [ROWS]     # ROWS: 1,000,000 by default

Starts a throwaway cluster (tests.support.postgres: 127.0.0.1, fsync off) and loads the
same ROWS forecast rows, one method per fresh staging table, each in one transaction, timed from
the DataFrame to the commit, one run each:

- ``PostgresSink.write_chunk``: binary COPY with typed rows (what the sink ships);
- COPY variants, for the record: text COPY with ``write_row``, and pandas ``to_csv`` streamed as
  CSV COPY;
- ``cursor.executemany`` of a parameterised INSERT (psycopg 3 pipelines it: no round trip per row).

Then ``publish`` (staging → forecasts table, one statement) for the sink's run. Prints a markdown
table and writes it to ``benchmarks/results/postgres.md``. Not a test: nothing is asserted about
time, only that every method loaded the same rows.
"""

from __future__ import annotations

import argparse
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg
from psycopg import sql

from mlops_azure.sinks import PostgresSink

# The test suite's throwaway cluster: this checkout's tests/, whatever is installed.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.postgres import PostgresNotFound, start_postgres

RESULTS = Path(__file__).parent / "results" / "postgres.md"
MODEL = "steel-purchase-forecast:7"
#: The steel example's forecast series.
KEYS = ("organisation_id", "customer_id", "material_id")
COLUMNS = ("run_id", "chunk", "model", *KEYS, "period", "prediction")


def forecasts(rows: int) -> pd.DataFrame:
    """ROWS monthly forecasts: 12 months x (40 organisations, ~2,000 customers, 300 materials)."""
    rng = np.random.default_rng(7)
    series, month = np.divmod(np.arange(rows), 12)
    periods = pd.date_range("2025-01-01", periods=12, freq="MS").strftime("%Y-%m-%d").to_numpy()
    return pd.DataFrame({
        "organisation_id": pd.Series(series % 40).map("org-{:03d}".format),
        "customer_id": pd.Series(series // 40).map("cust-{:05d}".format),
        "material_id": pd.Series(rng.integers(0, 300, rows)).map("mat-{:04d}".format),
        "period": periods[month],
        "prediction": rng.gamma(2.0, 500.0, rows),
    })


def _rows(frame: pd.DataFrame, run_id: str) -> list[tuple[Any, ...]]:
    n = len(frame)
    return list(zip([run_id] * n, [0] * n, [MODEL] * n,
                    *(frame[k].tolist() for k in KEYS), frame["period"].tolist(),
                    frame["prediction"].tolist(), strict=True))


def _staging(sink: PostgresSink) -> sql.Composable:
    return sql.Identifier(f"{sink.table}_staging")


def sink_copy(sink: PostgresSink, conn: psycopg.Connection[Any], frame: pd.DataFrame) -> None:
    sink.write_chunk("bench", 0, frame, model=MODEL)


def copy_text_rows(sink: PostgresSink, conn: psycopg.Connection[Any], frame: pd.DataFrame) -> None:
    query = sql.SQL("COPY {} ({}) FROM STDIN").format(
        _staging(sink), sql.SQL(", ").join(map(sql.Identifier, COLUMNS)))
    with conn.transaction(), conn.cursor() as cursor, cursor.copy(query) as copier:
        for row in _rows(frame, "bench"):
            copier.write_row(row)


def copy_csv(sink: PostgresSink, conn: psycopg.Connection[Any], frame: pd.DataFrame) -> None:
    full = frame.assign(run_id="bench", chunk=0, model=MODEL)[list(COLUMNS)]
    data = full.to_csv(index=False, header=False).encode()
    query = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT CSV)").format(
        _staging(sink), sql.SQL(", ").join(map(sql.Identifier, COLUMNS)))
    view = memoryview(data)
    with conn.transaction(), conn.cursor() as cursor, cursor.copy(query) as copier:
        for start in range(0, len(data), 1 << 20):
            copier.write(view[start:start + (1 << 20)])


def executemany(sink: PostgresSink, conn: psycopg.Connection[Any], frame: pd.DataFrame) -> None:
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        _staging(sink), sql.SQL(", ").join(map(sql.Identifier, COLUMNS)),
        sql.SQL(", ").join(sql.Placeholder() * len(COLUMNS)))
    with conn.transaction(), conn.cursor() as cursor:
        cursor.executemany(query, _rows(frame, "bench"))


METHODS: dict[str, Callable[[PostgresSink, psycopg.Connection[Any], pd.DataFrame], None]] = {
    "PostgresSink.write_chunk (binary COPY, write_row)": sink_copy,
    "COPY text, write_row": copy_text_rows,
    "COPY CSV from pandas to_csv": copy_csv,
    "executemany INSERT (psycopg 3, pipelined)": executemany,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("rows", nargs="?", type=int, default=1_000_000)
    args = parser.parse_args()
    frame = forecasts(args.rows)
    warmup = frame.head(1_000)
    timings: dict[str, float] = {}
    publish_s = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        try:
            cluster = start_postgres(Path(tmp))
        except PostgresNotFound as exc:
            print(f"bench_postgres skipped: {exc}", file=sys.stderr)
            return
        try:
            with psycopg.connect(cluster.dsn, autocommit=True) as conn:
                version = conn.execute("SHOW server_version").fetchone()
                for index, (name, method) in enumerate(METHODS.items()):
                    with PostgresSink(cluster.dsn, table=f"bench_{index}", keys=KEYS,
                                      time_column="period") as sink:
                        sink.ensure_schema()
                        method(sink, conn, warmup)  # first connection, lazy imports, plan cache
                        conn.execute(sql.SQL("TRUNCATE {}").format(_staging(sink)))
                        start = time.perf_counter()
                        method(sink, conn, frame)
                        timings[name] = time.perf_counter() - start
                        staged = conn.execute(sql.SQL("SELECT count(*), sum(prediction) FROM {}")
                                              .format(_staging(sink))).fetchone()
                        assert staged is not None and staged[0] == len(frame), (name, staged)
                        assert abs(staged[1] - frame["prediction"].sum()) < 1e-6 * staged[1], name
                        if index == 0:
                            start = time.perf_counter()
                            assert sink.publish("bench") == len(frame)
                            publish_s = time.perf_counter() - start
        finally:
            cluster.stop()
    report = render(args.rows, timings, publish_s, version[0] if version else "?")
    print(report)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(report, encoding="utf-8")


def render(rows: int, timings: dict[str, float], publish_s: float, server: str) -> str:
    peer = timings["executemany INSERT (psycopg 3, pipelined)"]
    ours = timings["PostgresSink.write_chunk (binary COPY, write_row)"]
    lines = [
        "# bench_postgres",
        "",
        f"{rows:,} forecast rows (3 text keys, date, double) into an unlogged staging table, one "
        f"transaction per method, one run each; PostgreSQL {server} (throwaway cluster, fsync off), "
        f"psycopg {psycopg.__version__} ({psycopg.pq.__impl__}), Python {platform.python_version()}, "
        f"{platform.machine()}.",
        "",
        "| method | seconds | rows/s | vs executemany |",
        "|---|---:|---:|---:|",
    ]
    for name, seconds in timings.items():
        lines.append(f"| {name} | {seconds:.2f} | {rows / seconds:,.0f} | {peer / seconds:.1f}x |")
    lines += [
        "",
        f"COPY (the sink) / executemany: **{peer / ours:.1f}x** faster.",
        f"publish (staging → forecasts, one transaction, primary key and two indexes): {publish_s:.2f} s, "
        f"{rows / publish_s:,.0f} rows/s.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
