"""SQLite metadata of the embedded workspace: schema, migrations, connections and transactions.

One file, ``workspace.db``, in WAL mode so readers never block the one writer, with a long busy
timeout so two ``mlops`` processes on the same workspace queue instead of failing. Every write
goes through :func:`write_transaction` (``BEGIN IMMEDIATE``): the write lock is taken before the
first read, so "next version = max + 1" can never hand out the same number twice.

The schema version lives in ``PRAGMA user_version``; :data:`MIGRATIONS` is the ordered list of
steps that lead to it. Adding a table later means appending one more string to that tuple.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from mlops_azure.errors import BackendError
from mlops_azure.workspace import AuditEvent, DataAsset, Job, JobStatus, Lineage, ModelVersion, StepRun

#: Seconds a connection waits for another process's write lock before giving up.
BUSY_TIMEOUT_S = 30.0

#: Ordered schema migrations; migration N (1-based) brings ``user_version`` from N-1 to N.
MIGRATIONS: tuple[str, ...] = (
    # 1: data assets, jobs + steps, models, deployments, audit events; dict fields are JSON text.
    """
    CREATE TABLE data_assets (
        name TEXT NOT NULL, version INTEGER NOT NULL CHECK (version >= 1),
        path TEXT NOT NULL, sha256 TEXT NOT NULL, size_bytes INTEGER NOT NULL,
        description TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL,
        PRIMARY KEY (name, version));
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY, experiment TEXT NOT NULL, pipeline TEXT NOT NULL, status TEXT NOT NULL,
        inputs TEXT NOT NULL DEFAULT '{}', outputs TEXT NOT NULL DEFAULT '{}',
        tags TEXT NOT NULL DEFAULT '{}', error TEXT, pid INTEGER, hostname TEXT,
        created_at TEXT NOT NULL, started_at TEXT, ended_at TEXT);
    CREATE INDEX jobs_by_created ON jobs (created_at);
    CREATE TABLE job_steps (
        job_id TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE, name TEXT NOT NULL,
        position INTEGER NOT NULL, status TEXT NOT NULL, started_at TEXT, ended_at TEXT,
        exit_code INTEGER, error TEXT, log_path TEXT,
        PRIMARY KEY (job_id, name));
    CREATE TABLE models (
        name TEXT NOT NULL, version INTEGER NOT NULL CHECK (version >= 1),
        path TEXT NOT NULL, sha256 TEXT NOT NULL, size_bytes INTEGER NOT NULL,
        metrics TEXT NOT NULL DEFAULT '{}', lineage TEXT NOT NULL, tags TEXT NOT NULL DEFAULT '{}',
        description TEXT NOT NULL DEFAULT '', job_id TEXT NOT NULL REFERENCES jobs (id),
        output TEXT NOT NULL, created_at TEXT NOT NULL,
        PRIMARY KEY (name, version));
    CREATE TABLE deployments (
        endpoint TEXT NOT NULL, name TEXT NOT NULL,
        model_name TEXT NOT NULL, model_version INTEGER NOT NULL,
        traffic INTEGER NOT NULL DEFAULT 0 CHECK (traffic BETWEEN 0 AND 100),
        updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')),
        PRIMARY KEY (endpoint, name));
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, actor TEXT NOT NULL,
        action TEXT NOT NULL, subject TEXT NOT NULL, details TEXT NOT NULL DEFAULT '{}');
    """,
    # 2: online endpoints (router process, keys, mirror traffic) and deployment processes.
    """
    CREATE TABLE endpoints (
        name TEXT PRIMARY KEY, kind TEXT NOT NULL, description TEXT NOT NULL DEFAULT '',
        port INTEGER, router_pid INTEGER, primary_key TEXT NOT NULL, secondary_key TEXT NOT NULL,
        created_at TEXT NOT NULL);
    ALTER TABLE deployments ADD COLUMN mirror INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE deployments ADD COLUMN state TEXT NOT NULL DEFAULT 'Succeeded';
    ALTER TABLE deployments ADD COLUMN error TEXT NOT NULL DEFAULT '';
    ALTER TABLE deployments ADD COLUMN port INTEGER;
    ALTER TABLE deployments ADD COLUMN pid INTEGER;
    ALTER TABLE deployments ADD COLUMN spec TEXT NOT NULL DEFAULT '{}';
    ALTER TABLE deployments ADD COLUMN created_at TEXT NOT NULL DEFAULT '';
    CREATE INDEX events_by_action ON events (action, subject, id);
    """,
    # 3: schedules (the trigger and the submission they make; local ones do not fire by themselves).
    """
    CREATE TABLE schedules (
        name TEXT PRIMARY KEY, trigger TEXT NOT NULL, pipeline TEXT NOT NULL,
        experiment TEXT NOT NULL, inputs TEXT NOT NULL DEFAULT '{}', tags TEXT NOT NULL DEFAULT '{}',
        enabled INTEGER NOT NULL DEFAULT 1, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
    """,
    # 4: archived model versions (hidden from listings and from "latest", still readable).
    """
    ALTER TABLE models ADD COLUMN archived INTEGER NOT NULL DEFAULT 0;
    """,
    # 5: a deployment's router token (its server answers only requests carrying it; '' for
    # servers started before tokens existed) and the pid of a replacement server still starting.
    """
    ALTER TABLE deployments ADD COLUMN router_token TEXT NOT NULL DEFAULT '';
    ALTER TABLE deployments ADD COLUMN pending_pid INTEGER;
    """,
)

#: The schema version this code writes and understands.
SCHEMA_VERSION = len(MIGRATIONS)


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def to_iso(moment: datetime | None) -> str | None:
    """ISO-8601 text in UTC (naive datetimes are taken as UTC), or None."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def from_iso(text: str | None) -> datetime | None:
    """The datetime stored by :func:`to_iso`, or None."""
    return None if text is None else datetime.fromisoformat(text)


def to_json(value: Mapping[str, Any]) -> str:
    """A JSON column value; paths and other non-JSON values are stored as their text."""
    return json.dumps(dict(value), sort_keys=True, default=str)


def from_json(text: str) -> dict[str, Any]:
    """A JSON column read back as a dict."""
    value = json.loads(text)
    if not isinstance(value, dict):
        raise BackendError(f"workspace database holds a malformed JSON column value: {text[:60]!r}")
    return value


def connect(db_path: Path) -> sqlite3.Connection:
    """An autocommit connection (transactions are explicit) with WAL, busy timeout and foreign keys."""
    try:
        # isolation_level=None: the sqlite3 module must not open transactions behind our back,
        # or BEGIN IMMEDIATE could not be the first statement of a write.
        conn = sqlite3.connect(db_path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
    except sqlite3.Error as exc:
        raise BackendError(f"cannot open the workspace database {db_path}: {exc}") from None
    try:
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        mode = _enable_wal(conn)
        if mode != "wal":
            raise BackendError(
                f"the workspace database {db_path} cannot use WAL journaling (got '{mode}'): "
                "put the workspace on a local filesystem"
            )
        conn.execute("PRAGMA synchronous = NORMAL")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise BackendError(f"{db_path} is not a usable workspace database: {exc}") from None
    except BaseException:
        conn.close()
        raise
    return conn


def _enable_wal(conn: sqlite3.Connection) -> str:
    """Switch to WAL (persistent, so usually a no-op); returns the journal mode in force.

    Switching a fresh database needs an exclusive lock, and SQLite answers "database is locked"
    at once instead of calling the busy handler when another process is creating the same
    workspace, so retry here for as long as the busy timeout would have waited.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` … ``COMMIT``; rolled back when the block raises anything."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
        conn.execute("COMMIT")
    except BaseException:
        # Some SQLite errors end the transaction themselves; a second ROLLBACK would mask them.
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def schema_version(conn: sqlite3.Connection) -> int:
    """The database's ``user_version``."""
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def migrate(conn: sqlite3.Connection, db_path: Path, migrations: tuple[str, ...] = MIGRATIONS) -> int:
    """Apply the migrations the database lacks, all in one transaction; returns the new version.

    A database written by a newer mlops (higher ``user_version``) is refused with ``BackendError``
    rather than read with a schema this code does not know.
    """
    latest = len(migrations)
    if schema_version(conn) == latest:
        return latest  # the common case costs no write lock
    with write_transaction(conn):
        # Re-read under the lock: another process may have migrated in the meantime.
        current = schema_version(conn)
        if current > latest:
            raise BackendError(
                f"the workspace database {db_path} has schema version {current} but this mlops "
                f"only knows up to {latest}: upgrade mlops-azure to use this workspace"
            )
        for number in range(current + 1, latest + 1):
            for statement in _statements(migrations[number - 1]):
                conn.execute(statement)
        # PRAGMA cannot take a bound parameter; the value is our own integer.
        conn.execute(f"PRAGMA user_version = {latest}")
    return latest


def _statements(script: str) -> list[str]:
    """Split a migration script into statements (``executescript`` would COMMIT our transaction)."""
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            if pending.strip():
                statements.append(pending.strip())
            pending = ""
    if pending.strip():
        raise BackendError(f"incomplete SQL statement in a migration: {pending.strip()[:60]!r}")
    return statements


def open_database(db_path: Path) -> sqlite3.Connection:
    """A connection to a database migrated to :data:`SCHEMA_VERSION`."""
    conn = connect(db_path)
    try:
        migrate(conn, db_path)
    except sqlite3.Error as exc:
        conn.close()
        raise BackendError(f"cannot prepare the workspace database {db_path}: {exc}") from None
    except BaseException:
        conn.close()
        raise
    return conn


def integrity_check(conn: sqlite3.Connection) -> str:
    """SQLite's own verdict on the file: ``"ok"`` when sound."""
    return "; ".join(str(row[0]) for row in conn.execute("PRAGMA integrity_check"))


# -- rows <-> values ----------------------------------------------------------------------------
def _time(text: str) -> datetime:
    moment = from_iso(text)
    if moment is None:
        raise BackendError("the workspace database holds a row without a timestamp")
    return moment


def data_from_row(row: sqlite3.Row) -> DataAsset:
    """A ``data_assets`` row as a DataAsset."""
    return DataAsset(row["name"], int(row["version"]), row["path"], row["sha256"],
                     int(row["size_bytes"]), _time(row["created_at"]), row["description"])


def model_from_row(row: sqlite3.Row) -> ModelVersion:
    """A ``models`` row as a ModelVersion."""
    return ModelVersion(
        name=row["name"], version=int(row["version"]), path=row["path"], sha256=row["sha256"],
        created_at=_time(row["created_at"]),
        metrics={k: float(v) for k, v in from_json(row["metrics"]).items()},
        lineage=Lineage.from_dict(from_json(row["lineage"])),
        tags={k: str(v) for k, v in from_json(row["tags"]).items()},
        description=row["description"],
    )


def step_from_row(row: sqlite3.Row) -> StepRun:
    """A ``job_steps`` row as a StepRun."""
    return StepRun(row["name"], JobStatus(row["status"]), from_iso(row["started_at"]),
                   from_iso(row["ended_at"]), row["exit_code"], row["error"])


def job_from_row(row: sqlite3.Row, steps: Sequence[StepRun]) -> Job:
    """A ``jobs`` row and its steps as a Job."""
    return Job(
        id=row["id"], experiment=row["experiment"], status=JobStatus(row["status"]),
        created_at=_time(row["created_at"]), pipeline=row["pipeline"],
        inputs=from_json(row["inputs"]),
        outputs={k: str(v) for k, v in from_json(row["outputs"]).items()},
        steps=tuple(steps), started_at=from_iso(row["started_at"]), ended_at=from_iso(row["ended_at"]),
        error=row["error"], tags={k: str(v) for k, v in from_json(row["tags"]).items()},
    )


def event_from_row(row: sqlite3.Row) -> AuditEvent:
    """An ``events`` row as an AuditEvent."""
    return AuditEvent(int(row["id"]), _time(row["time"]), row["actor"], row["action"],
                      row["subject"], from_json(row["details"]))


def insert_event(
    conn: sqlite3.Connection, action: str, subject: str, details: Mapping[str, Any], actor: str
) -> AuditEvent:
    """Append an audit event inside the caller's transaction."""
    cursor = conn.execute(
        "INSERT INTO events (time, actor, action, subject, details) VALUES (?, ?, ?, ?, ?)",
        (to_iso(utc_now()), actor, action, subject, to_json(details)),
    )
    row = conn.execute("SELECT * FROM events WHERE id = ?", (cursor.lastrowid,)).fetchone()
    return event_from_row(row)


# -- job bookkeeping ----------------------------------------------------------------------------
def upsert_step(conn: sqlite3.Connection, job_id: str, name: str, status: JobStatus,
                message: str = "") -> None:
    """Record a step's new status; a step first seen is appended after the job's other steps."""
    now = to_iso(utc_now())
    started = now if status is JobStatus.RUNNING else None
    ended = now if status.is_terminal else None
    error = (message or None) if status is JobStatus.FAILED else None
    conn.execute(
        "INSERT INTO job_steps (job_id, name, position, status, started_at, ended_at, error) "
        "VALUES (?, ?, (SELECT COALESCE(MAX(position) + 1, 0) FROM job_steps WHERE job_id = ?), "
        "?, ?, ?, ?) ON CONFLICT (job_id, name) DO UPDATE SET status = excluded.status, "
        "started_at = COALESCE(job_steps.started_at, excluded.started_at), "
        "ended_at = COALESCE(excluded.ended_at, job_steps.ended_at), "
        "error = COALESCE(excluded.error, job_steps.error)",
        (job_id, name, job_id, status.value, started, ended, error),
    )


def finish_job(
    conn: sqlite3.Connection,
    job_id: str,
    status: JobStatus,
    error: str | None,
    outputs: Mapping[str, Path],
    steps: Sequence[tuple[StepRun, Path | None]] | None,
) -> None:
    """Store how a job ended; ``steps`` (with their log files), when given, replace the step rows."""
    conn.execute(
        "UPDATE jobs SET status = ?, error = ?, outputs = ?, ended_at = ? WHERE id = ?",
        (status.value, error, to_json({k: str(v) for k, v in outputs.items()}),
         to_iso(utc_now()), job_id),
    )
    if steps is None:
        # No final word from the runner: whatever was still going ends with the job.
        conn.execute(
            "UPDATE job_steps SET status = ?, ended_at = ?, error = COALESCE(error, ?) "
            "WHERE job_id = ? AND status IN (?, ?)",
            (status.value, to_iso(utc_now()), error, job_id,
             JobStatus.RUNNING.value, JobStatus.QUEUED.value),
        )
        return
    conn.execute("DELETE FROM job_steps WHERE job_id = ?", (job_id,))
    for position, (step, log_path) in enumerate(steps):
        conn.execute(
            "INSERT INTO job_steps (job_id, name, position, status, started_at, ended_at, exit_code, "
            "error, log_path) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (job_id, step.name, position, step.status.value, to_iso(step.started_at),
             to_iso(step.ended_at), step.exit_code, step.error,
             None if log_path is None else str(log_path)),
        )


def mark_interrupted(conn: sqlite3.Connection, job_id: str, was: str, error: str) -> None:
    """Fail a job (and its unfinished steps) whose process died; a no-op if it ended meanwhile."""
    now = to_iso(utc_now())
    with write_transaction(conn):
        changed = conn.execute(
            "UPDATE jobs SET status = ?, error = ?, ended_at = ? WHERE id = ? AND status = ?",
            (JobStatus.FAILED.value, error, now, job_id, was),
        ).rowcount
        if changed:
            conn.execute(
                "UPDATE job_steps SET status = ?, error = 'interrupted', ended_at = ? "
                "WHERE job_id = ? AND status IN (?, ?)",
                (JobStatus.FAILED.value, now, job_id, JobStatus.RUNNING.value, JobStatus.QUEUED.value),
            )


#: The tables holding versioned assets (name, version, ...).
VersionedTable = Literal["data_assets", "models"]


def fetch_version(
    conn: sqlite3.Connection, table: VersionedTable, name: str, version: int | None
) -> sqlite3.Row | None:
    """One row of a versioned table; the highest version when ``version`` is None (for models:
    the highest one not archived)."""
    if version is None:
        active = " AND archived = 0" if table == "models" else ""
        row = conn.execute(
            f"SELECT * FROM {table} WHERE name = ?{active} ORDER BY version DESC LIMIT 1", (name,)
        ).fetchone()
    else:
        row = conn.execute(f"SELECT * FROM {table} WHERE name = ? AND version = ?",
                           (name, version)).fetchone()
    return row if isinstance(row, sqlite3.Row) else None


def fetch_versions(conn: sqlite3.Connection, table: VersionedTable, name: str | None) -> list[sqlite3.Row]:
    """All rows of a versioned table (or of one name), newest first; archived models left out."""
    conditions = (["name = ?"] if name is not None else []) + \
        (["archived = 0"] if table == "models" else [])
    where = ("WHERE " + " AND ".join(conditions)) if conditions else ""
    args = (name,) if name is not None else ()
    return list(conn.execute(f"SELECT * FROM {table} {where} ORDER BY created_at DESC, rowid DESC", args))
