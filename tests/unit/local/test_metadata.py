"""The embedded workspace's SQLite store: migrations, transactions, crash safety, concurrency.

Jobs here are inserted as rows (a Completed job with an output folder) so these tests exercise the
store without the pipeline runner; the contract suite covers jobs that really run.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import textwrap
from contextlib import closing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from mlops_azure.errors import BackendError
from mlops_azure.local import LocalWorkspace
from mlops_azure.local import metadata as db
from mlops_azure.workspace import JobStatus, Lineage

TABLES = {"data_assets", "jobs", "job_steps", "models", "deployments", "endpoints", "events",
          "schedules"}


def tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {r[0] for r in rows} - {"sqlite_sequence"}


def test_a_fresh_database_gets_the_latest_schema(tmp_path: Path) -> None:
    conn = db.open_database(tmp_path / "w.db")
    assert db.schema_version(conn) == db.SCHEMA_VERSION == len(db.MIGRATIONS)
    assert tables(conn) == TABLES
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000
    conn.close()
    again = db.open_database(tmp_path / "w.db")  # reopening migrates nothing
    assert db.schema_version(again) == db.SCHEMA_VERSION
    again.close()


def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "workspace.db"
    db.open_database(path).close()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {db.SCHEMA_VERSION + 1}")
    raw.close()
    with pytest.raises(BackendError, match=r"schema version \d+ but this mlops only knows up to"):
        db.open_database(path)
    with pytest.raises(BackendError, match="upgrade mlops-azure"):
        LocalWorkspace(tmp_path).models.versions()


def test_a_later_migration_is_applied_on_top(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    db.open_database(path).close()
    conn = db.connect(path)
    extra = (*db.MIGRATIONS, "CREATE TABLE watches (name TEXT PRIMARY KEY, cursor TEXT NOT NULL);")
    assert db.migrate(conn, path, extra) == db.SCHEMA_VERSION + 1
    assert tables(conn) == TABLES | {"watches"}
    assert db.schema_version(conn) == db.SCHEMA_VERSION + 1


def test_a_failing_migration_changes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    conn = db.connect(path)
    broken = (*db.MIGRATIONS, "CREATE TABLE half (x INTEGER);\nINSERT INTO missing VALUES (1);")
    with pytest.raises(sqlite3.OperationalError):
        db.migrate(conn, path, broken)
    assert db.schema_version(conn) == 0
    assert tables(conn) == set()
    assert not conn.in_transaction


def test_a_corrupt_file_is_a_backend_error(tmp_path: Path) -> None:
    (tmp_path / "workspace.db").write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(BackendError, match="workspace database"):
        LocalWorkspace(tmp_path).events.recent()


def test_write_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    conn = db.open_database(tmp_path / "w.db")
    with pytest.raises(RuntimeError), db.write_transaction(conn):
        db.insert_event(conn, "x", "y", {}, "me")
        raise RuntimeError("boom")
    assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0


def test_timestamps_are_utc_iso8601() -> None:
    naive = datetime(2025, 3, 1, 12, 30)
    assert db.to_iso(naive) == "2025-03-01T12:30:00.000000+00:00"
    paris = datetime(2025, 3, 1, 13, 30, tzinfo=timezone(timedelta(hours=1)))
    assert db.to_iso(paris) == "2025-03-01T12:30:00.000000+00:00"
    assert db.from_iso(db.to_iso(paris)) == paris.astimezone(UTC)


# -- LocalWorkspace over rows ---------------------------------------------------------------------
def add_job(ws: LocalWorkspace, job_id: str, *, status: JobStatus = JobStatus.COMPLETED,
            pid: int | None = None) -> Path:
    """A job row as the runner would leave it, with a model output folder."""
    out = ws.root / "jobs" / job_id / "outputs" / "model"
    out.mkdir(parents=True)
    (out / "model.txt").write_text("trees\n", encoding="utf-8")
    ws.events.recent()  # creates the workspace
    with closing(db.connect(ws.db_path)) as conn, db.write_transaction(conn):
        conn.execute(
            "INSERT INTO jobs (id, experiment, pipeline, status, outputs, pid, hostname, created_at) "
            "VALUES (?, 'exp', 'p.yml', ?, ?, ?, ?, ?)",
            (job_id, status.value, db.to_json({"model": out}), pid, socket.gethostname(),
             db.to_iso(db.utc_now())),
        )
    return out


def lineage(job_id: str) -> Lineage:
    return Lineage("raw", 1, "0" * 64, "abc123", job_id, {"n": 3}, "e" * 64, "tester")


def test_a_running_job_whose_process_died_is_reported_failed(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    add_job(ws, "exp-dead", status=JobStatus.RUNNING, pid=gone.pid)
    add_job(ws, "exp-alive", status=JobStatus.RUNNING, pid=os.getpid())
    job = ws.jobs.get("exp-dead")
    assert job.status is JobStatus.FAILED
    assert job.error == f"interrupted: the process that ran it (pid {gone.pid}) is gone"
    assert job.ended_at is not None
    with closing(db.connect(ws.db_path)) as conn:  # the verdict is persisted, not only reported
        stored = conn.execute("SELECT status FROM jobs WHERE id = 'exp-dead'").fetchone()[0]
    assert stored == "Failed"
    assert {j.id: j.status for j in ws.jobs.recent()}["exp-alive"] is JobStatus.RUNNING


REGISTER_CHILD = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from mlops_azure.local import LocalWorkspace
    from mlops_azure.workspace import Lineage

    root, job_id, go, count = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
    ws = LocalWorkspace(root)
    lineage = Lineage("raw", 1, "0" * 64, "abc", job_id, {}, "e" * 64, "child")
    while not go.exists():
        time.sleep(0.005)
    for i in range(count):
        m = ws.models.register("clf", job_id=job_id, output="model", metrics={"auc": i / 100},
                              lineage=lineage)
        print(m.version)
    """
)


def test_two_processes_registering_at_once_get_distinct_versions(tmp_path: Path) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    add_job(ws, "exp-1")
    go = tmp_path / "go"
    children = [
        subprocess.Popen([sys.executable, "-c", REGISTER_CHILD, str(ws.root), "exp-1", str(go), "20"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    go.touch()
    outputs = [child.communicate(timeout=120) for child in children]
    for child, (_, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err
    seen = [int(v) for out, _ in outputs for v in out.split()]
    assert sorted(seen) == list(range(1, 41))
    assert [m.version for m in ws.models.versions("clf")] == list(range(40, 0, -1))
    assert len([e for e in ws.events.recent(100) if e.action == "register"]) == 40
    with closing(db.connect(ws.db_path)) as conn:
        assert db.integrity_check(conn) == "ok"


KILLED_CHILD = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from mlops_azure.local import LocalWorkspace, metadata
    from mlops_azure.local.artifacts import ArtifactStore
    from mlops_azure.workspace import Lineage

    root, job_id, where = Path(sys.argv[1]), sys.argv[2], sys.argv[3]

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    if where == "after-copy":  # the files are in the store, no row yet
        real_put = ArtifactStore.put
        ArtifactStore.put = lambda self, src: (real_put(self, src), die())[0]
    else:  # inside the transaction: the model row is inserted, its audit event not yet
        metadata.insert_event = die
    lineage = Lineage("raw", 1, "0" * 64, "abc", job_id, {}, "e" * 64, "child")
    LocalWorkspace(root).models.register("clf", job_id=job_id, output="model", metrics={},
                                        lineage=lineage)
    """
)


@pytest.mark.parametrize("where", ["after-copy", "before-commit"])
def test_a_registration_killed_midway_leaves_no_version(tmp_path: Path, where: str) -> None:
    ws = LocalWorkspace(tmp_path / "ws")
    add_job(ws, "exp-1")
    first = ws.models.register("clf", job_id="exp-1", output="model", metrics={}, lineage=lineage("exp-1"))
    killed = subprocess.run([sys.executable, "-c", KILLED_CHILD, str(ws.root), "exp-1", where],
                            capture_output=True, text=True, timeout=60)
    assert killed.returncode == -9, killed.stderr
    assert [m.version for m in ws.models.versions("clf")] == [first.version]
    assert [e.subject for e in ws.events.recent() if e.action == "register"] == ["clf:1"]
    after = ws.models.register("clf", job_id="exp-1", output="model", metrics={}, lineage=lineage("exp-1"))
    assert after.version == 2
    assert ws.models.local_path("clf", 2).is_dir()
    with closing(db.connect(ws.db_path)) as conn:
        assert db.integrity_check(conn) == "ok"


def test_a_version_2_workspace_gains_the_schedules_table(tmp_path: Path) -> None:
    path = tmp_path / "w.db"
    conn = db.connect(path)
    db.migrate(conn, path, db.MIGRATIONS[:2])
    assert "schedules" not in tables(conn)
    assert db.migrate(conn, path) == db.SCHEMA_VERSION
    assert tables(conn) == TABLES
