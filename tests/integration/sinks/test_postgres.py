"""PostgresSink against a real throwaway PostgreSQL: staging, resuming, publishing, failures."""

from __future__ import annotations

import datetime as dt
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import pytest

from mlops_azure.errors import BackendError, UserInputError
from mlops_azure.sinks import DSN_VARIABLE, PostgresSink
from tests.support.postgres import Postgres

psycopg = pytest.importorskip("psycopg")
KEYS = ("organisation_id", "customer_id", "material_id")
MODEL = "steel-purchase-forecast:3"


def forecasts(rows: int, *, seed: int = 0, scale: float = 1.0) -> pd.DataFrame:
    """``rows`` distinct (organisation, customer, material, month) forecasts."""
    periods = pd.date_range("2024-01-01", periods=12, freq="MS").strftime("%Y-%m-%d")
    index = pd.RangeIndex(rows)
    series = index // len(periods)
    return pd.DataFrame({
        "organisation_id": "org-" + (series % 7).astype(str),
        "customer_id": "cust-" + (series // 7).astype(str),
        "material_id": "mat-" + (series % 5).astype(str),
        "period": periods[index % len(periods)],
        "prediction": (index.to_numpy() * 1.25 + seed + 0.1) * scale,
    })


@pytest.fixture
def sink(postgres: Postgres) -> Iterator[PostgresSink]:
    """A sink on a fresh table of its own (the cluster is shared by the session)."""
    with PostgresSink(postgres.dsn, table=f"fc_{secrets.token_hex(4)}", keys=KEYS,
                      time_column="period") as made:
        made.ensure_schema()
        yield made


@pytest.fixture
def admin(postgres: Postgres) -> Iterator[Any]:
    with psycopg.connect(postgres.dsn, autocommit=True) as conn:
        yield conn


def table_rows(admin: Any, sink: PostgresSink, run_id: str) -> list[tuple[Any, ...]]:
    return list(admin.execute(
        f"SELECT model, {', '.join(KEYS)}, period, prediction FROM {sink.table} WHERE run_id = %s "
        f"ORDER BY {', '.join(KEYS)}, period", (run_id,)).fetchall())


def expected_rows(frame: pd.DataFrame) -> list[tuple[Any, ...]]:
    return sorted((MODEL, *row[:3], dt.date.fromisoformat(row[3]), row[4])
                  for row in frame.itertuples(index=False))


def test_a_few_thousand_rows_round_trip_exactly(sink: PostgresSink, admin: Any) -> None:
    frame = forecasts(3_000)
    written = [sink.write_chunk("run-1", i, part, model=MODEL)
               for i, part in enumerate((frame[:1_000], frame[1_000:2_500], frame[2_500:]))]
    assert written == [1_000, 1_500, 500]
    assert sink.publish("run-1") == 3_000
    assert sink.count("run-1") == sink.count() == 3_000
    assert table_rows(admin, sink, "run-1") == expected_rows(frame)  # floats bit for bit
    assert sink.chunks_done("run-1") == set()  # staging emptied by the publication


def test_nothing_is_visible_before_publish(sink: PostgresSink, admin: Any) -> None:
    sink.write_chunk("run-1", 0, forecasts(500), model=MODEL)
    assert sink.count("run-1") == 0
    assert admin.execute(f"SELECT count(*) FROM {sink.table}").fetchone() == (0,)


def test_a_rerun_of_the_same_run_replaces_its_rows(sink: PostgresSink, admin: Any) -> None:
    sink.write_chunk("other", 0, forecasts(100), model=MODEL)
    sink.publish("other")
    sink.write_chunk("run-1", 0, forecasts(2_000), model=MODEL)
    assert sink.publish("run-1") == 2_000
    again = forecasts(2_000, scale=2.0)
    sink.write_chunk("run-1", 0, again, model=MODEL)
    assert sink.publish("run-1") == 2_000
    assert sink.count("run-1") == 2_000 and sink.count() == 2_100
    assert table_rows(admin, sink, "run-1") == expected_rows(again)
    # A repeated publish with nothing staged changes nothing (it never empties the run).
    assert sink.publish("run-1") == 0
    assert sink.count("run-1") == 2_000


def test_a_crashed_batch_resumes_without_duplicates(postgres: Postgres, sink: PostgresSink,
                                                    admin: Any) -> None:
    frame = forecasts(3_000)
    parts = [frame[:1_000], frame[1_000:2_000], frame[2_000:]]
    for i, part in enumerate(parts):
        sink.write_chunk("run-1", i, part, model=MODEL)
    sink.close()  # the "crash": nothing published
    with PostgresSink(postgres.dsn, table=sink.table, keys=KEYS, time_column="period") as resumed:
        assert resumed.chunks_done("run-1") == {0, 1, 2}
        assert resumed.write_chunk("run-1", 1, parts[1], model=MODEL) == 1_000
        assert resumed.chunks_done("run-1") == {0, 1, 2}
        staged = admin.execute(f"SELECT count(*) FROM {sink.table}_staging WHERE run_id = 'run-1'")
        assert staged.fetchone() == (3_000,)
        assert resumed.publish("run-1") == 3_000
    assert table_rows(admin, sink, "run-1") == expected_rows(frame)


def test_the_schema_has_the_indexes_bi_needs_and_is_idempotent(sink: PostgresSink, admin: Any) -> None:
    sink.ensure_schema()  # a second time: nothing to do, no error
    indexes = dict(admin.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s",
                                 (sink.table,)).fetchall())
    assert f"(run_id, {', '.join(KEYS)}, period)" in indexes[f"{sink.table}_pkey"]
    assert f"({', '.join(KEYS)}, period)" in indexes[f"{sink.table}_keys_period_idx"]
    assert indexes[f"{sink.table}_period_idx"].endswith("(period)")
    columns = dict(admin.execute("SELECT column_name, data_type FROM information_schema.columns "
                                 "WHERE table_name = %s", (sink.table,)).fetchall())
    assert columns == {"run_id": "text", "model": "text", **dict.fromkeys(KEYS, "text"),
                       "period": "date", "prediction": "double precision",
                       "created_at": "timestamp with time zone"}
    # The staging table skips the WAL: its rows live minutes and a crash only means re-writing.
    persistence = admin.execute("SELECT relpersistence FROM pg_class WHERE relname = %s",
                                (f"{sink.table}_staging",)).fetchone()
    assert persistence == ("u",)


def test_periods_may_be_dates_or_timestamps_and_keys_numbers(sink: PostgresSink, admin: Any) -> None:
    frame = forecasts(24)
    as_dates = frame.assign(period=[dt.date.fromisoformat(p) for p in frame["period"]])
    as_stamps = frame.assign(period=pd.to_datetime(frame["period"]))
    sink.write_chunk("dates", 0, as_dates, model=MODEL)
    sink.write_chunk("stamps", 0, as_stamps, model=MODEL)
    sink.write_chunk("ints", 0, frame.assign(customer_id=range(24), period=frame["period"]),
                     model=MODEL)
    assert [sink.publish(run) for run in ("dates", "stamps", "ints")] == [24, 24, 24]
    assert table_rows(admin, sink, "dates") == table_rows(admin, sink, "stamps") == expected_rows(frame)
    assert table_rows(admin, sink, "ints")[0][2] == "0"


def test_a_schema_qualified_table(postgres: Postgres, admin: Any) -> None:
    admin.execute("CREATE SCHEMA IF NOT EXISTS analytics")
    with PostgresSink(postgres.dsn, table="analytics.forecasts", keys=["site"],
                      time_column="period") as sink:
        sink.ensure_schema()
        sink.write_chunk("r", 0, pd.DataFrame({"site": ["a", "b"], "period": "2024-05-01",
                                               "prediction": [1.0, 2.0]}), model=MODEL)
        assert sink.publish("r") == 2
    assert admin.execute("SELECT count(*) FROM analytics.forecasts").fetchone() == (2,)


def test_the_time_column_is_the_projects_or_none(postgres: Postgres, admin: Any) -> None:
    frame = pd.DataFrame({"store": ["s1", "s1", "s2"], "day": ["2024-05-01", "2024-05-02", "2024-05-01"],
                          "prediction": [1.0, 2.0, 3.0]})
    with PostgresSink(postgres.dsn, table=f"fc_{secrets.token_hex(4)}", keys=["store"],
                      time_column="day") as sink:
        sink.ensure_schema()
        sink.write_chunk("r", 0, frame, model=MODEL)
        assert sink.publish("r") == 3
        assert admin.execute(f"SELECT day, prediction FROM {sink.table} WHERE store = 's1' "
                             "ORDER BY day").fetchall() == [(dt.date(2024, 5, 1), 1.0),
                                                            (dt.date(2024, 5, 2), 2.0)]
    # Without one (a classifier scoring customers once), the keys alone identify a row.
    with PostgresSink(postgres.dsn, table=f"fc_{secrets.token_hex(4)}", keys=["store"]) as sink:
        sink.ensure_schema()
        sink.write_chunk("r", 0, frame.drop(columns=["day"]).iloc[1:], model=MODEL)
        assert sink.publish("r") == 2
        columns = {row[0] for row in admin.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s",
            (sink.table,)).fetchall()}
        assert columns == {"run_id", "model", "store", "prediction", "created_at"}
        sink.write_chunk("dup", 0, frame.drop(columns=["day"]), model=MODEL)
        with pytest.raises(UserInputError, match=r"two staged rows have the same keys \("):
            sink.publish("dup")


@pytest.mark.parametrize(("change", "message"), [
    (lambda f: f.drop(columns=["period"]), "lacks the column"),
    (lambda f: f.assign(customer_id=None), "'customer_id' has missing values"),
    (lambda f: f.assign(period="2024-13-01"), "not a date"),
    (lambda f: f.assign(period="May 2024"), "not a date"),
    (lambda f: f.assign(prediction=float("nan")), "'prediction' has missing"),
])
def test_a_bad_frame_is_refused_before_anything_is_written(
        sink: PostgresSink, change: Callable[[pd.DataFrame], pd.DataFrame], message: str) -> None:
    with pytest.raises(UserInputError, match=message):
        sink.write_chunk("run-1", 0, change(forecasts(10)), model=MODEL)
    assert sink.chunks_done("run-1") == set()


def test_the_same_row_in_two_chunks_is_refused_at_publish(sink: PostgresSink) -> None:
    sink.write_chunk("run-1", 0, forecasts(10), model=MODEL)
    sink.write_chunk("run-1", 1, forecasts(10), model=MODEL)
    with pytest.raises(UserInputError, match=r"same keys and period \(Key \(run_id, organisation_id"):
        sink.publish("run-1")
    assert sink.count() == 0
    assert sink.chunks_done("run-1") == {0, 1}  # the failed publication rolled back entirely


def test_a_wrong_password_is_a_backend_error_without_the_password(postgres: Postgres) -> None:
    wrong = "Sup3r-s3cret-" + secrets.token_hex(4)
    with PostgresSink(postgres.dsn.replace(postgres.password, wrong), table="fc_nope", keys=KEYS) as sink, \
            pytest.raises(BackendError) as caught:
        sink.count()
    text = caught.value.message
    assert "password authentication failed" in text and f"127.0.0.1:{postgres.port}" in text
    assert wrong not in text and postgres.password not in text
    assert text.count(". ") == 0 and "\n" not in text  # one sentence
    assert caught.value.exit_code == 3


def test_an_unreachable_server_is_a_backend_error(postgres: Postgres) -> None:
    closed = postgres.dsn.replace(f":{postgres.port}/", ":1/")
    with PostgresSink(closed, keys=KEYS, connect_timeout_s=2) as sink, pytest.raises(BackendError) as caught:
        sink.count()
    assert postgres.password not in caught.value.message and "\n" not in caught.value.message


@pytest.mark.parametrize("dsn", [
    "host=db password=sec ret",                # libpq would quote "ret"
    "postgresql://u:p%zzsecret@db/forecasts",  # and here "p%zzsecret"
    "postgresql://u:secret@db:notaport/forecasts",
    "host=db bogus=secret",
    "db.example.com:5432",
    "   ",
])
def test_a_malformed_dsn_is_a_user_error_that_shows_no_secret(dsn: str) -> None:
    with pytest.raises(UserInputError) as caught:
        PostgresSink(dsn, keys=KEYS)
    assert "secret" not in caught.value.message and "sec ret" not in caught.value.message
    assert "ret" not in caught.value.message.replace("string", "")
    assert caught.value.exit_code == 2


def test_from_env_names_the_variable_when_it_is_unset(monkeypatch: pytest.MonkeyPatch,
                                                      postgres: Postgres) -> None:
    monkeypatch.delenv(DSN_VARIABLE, raising=False)
    with pytest.raises(UserInputError, match=DSN_VARIABLE):
        PostgresSink.from_env(keys=KEYS)
    monkeypatch.setenv(DSN_VARIABLE, postgres.dsn)
    with PostgresSink.from_env(table="fc_env", keys=KEYS) as sink:
        assert sink.table == "fc_env" and postgres.password not in repr(sink)


@pytest.mark.parametrize(("table", "keys"), [
    ("forecasts; DROP TABLE x", KEYS), ("a.b.c", KEYS), ("x" * 60, KEYS),
    ("forecasts", ("customer_id", "period")), ("forecasts", ("a", "a")), ("forecasts", ()),
    ("forecasts", "customer_id"),
])
def test_table_and_key_names_are_validated(postgres: Postgres, table: str, keys: Any) -> None:
    with pytest.raises(UserInputError):
        PostgresSink(postgres.dsn, table=table, keys=keys, time_column="period")


def _terminate_when_blocked(admin: Any, locked: str) -> threading.Thread:
    """Lock ``locked`` from another connection, wait until the sink's statement queues behind the
    lock, terminate the sink's backend: the connection drops in the middle of its transaction."""

    def run() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            waiting = admin.execute("SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                    "AND pid <> pg_backend_pid()").fetchall()
            if waiting:
                admin.execute("SELECT pg_terminate_backend(%s)", (waiting[0][0],))
                return
            time.sleep(0.02)

    return threading.Thread(target=run, daemon=True)


@pytest.mark.parametrize("step", ["write_chunk", "publish"])
def test_a_connection_dropped_midway_leaves_the_table_unchanged(
        postgres: Postgres, sink: PostgresSink, step: str) -> None:
    before = forecasts(1_000)
    sink.write_chunk("run-1", 0, before, model=MODEL)
    sink.publish("run-1")
    sink.write_chunk("run-1", 0, forecasts(1_000, scale=3.0), model=MODEL)  # a re-run, staged
    locked = f"{sink.table}_staging" if step == "write_chunk" else sink.table
    with psycopg.connect(postgres.dsn, autocommit=True) as holder, \
            psycopg.connect(postgres.dsn, autocommit=True) as killer:
        killer_thread = _terminate_when_blocked(killer, locked)
        with holder.transaction():
            holder.execute(f"LOCK TABLE {locked} IN ACCESS EXCLUSIVE MODE")
            killer_thread.start()
            with pytest.raises(BackendError) as caught:
                if step == "write_chunk":
                    sink.write_chunk("run-1", 1, forecasts(1_000, seed=5), model=MODEL)
                else:
                    sink.publish("run-1")
            killer_thread.join()
    assert "terminating connection" in caught.value.message or "closed" in caught.value.message
    assert postgres.password not in caught.value.message
    # The sink reconnects; the published run is the old one, intact.
    assert sink.count("run-1") == 1_000
    with psycopg.connect(postgres.dsn) as conn:
        total = conn.execute(f"SELECT sum(prediction) FROM {sink.table}").fetchone()
    assert total == (pytest.approx(before["prediction"].sum()),)
    assert sink.chunks_done("run-1") == {0}  # the interrupted chunk 1 left nothing behind


def test_a_connection_dropped_in_the_middle_of_copy_leaves_nothing_staged(
        postgres: Postgres, sink: PostgresSink) -> None:
    big = forecasts(1_000_000)  # about a second of COPY: time to cut it off halfway

    def terminate_the_copy(admin: Any) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            copying = admin.execute("SELECT pid FROM pg_stat_activity WHERE state = 'active' "
                                    "AND query LIKE 'COPY %%' AND pid <> pg_backend_pid()").fetchall()
            if copying:
                admin.execute("SELECT pg_terminate_backend(%s)", (copying[0][0],))
                return
            time.sleep(0.005)

    with psycopg.connect(postgres.dsn, autocommit=True) as killer:
        thread = threading.Thread(target=terminate_the_copy, args=(killer,), daemon=True)
        thread.start()
        with pytest.raises(BackendError, match=r"closed the connection|terminating connection"):
            sink.write_chunk("run-1", 0, big, model=MODEL)
        thread.join()
    assert sink.chunks_done("run-1") == set() and sink.count() == 0


def test_the_sinks_package_does_not_import_psycopg_until_used() -> None:
    code = ("import sys, mlops_azure.sinks, mlops_azure.cli.main\n"
            "assert 'psycopg' not in sys.modules, 'psycopg imported eagerly'\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stderr


def test_without_psycopg_one_sentence_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg now raises ImportError
    with pytest.raises(UserInputError, match=r"install mlops-azure\[postgres\]"):
        PostgresSink("host=127.0.0.1 dbname=x", keys=KEYS)
