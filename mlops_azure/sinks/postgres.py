"""Forecasts into PostgreSQL: chunks COPYed into a staging table, published in one transaction.

A batch run writes its chunks with ``write_chunk`` (each one transaction, idempotent: writing a
chunk again replaces it), may crash and resume (``chunks_done`` says what is staged), then
``publish`` moves the run's rows into the main table in one transaction, replacing an earlier
publication of the same run. Readers of the main table never see a half-written run.

The connection string comes from the environment (``MLOPS_POSTGRES_DSN``), never from
``mlops.yaml``, and no message ever shows it or its password. psycopg is imported on first use:
``mlops --help`` does not pay for it, and without it one sentence says which extra to install.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
from collections.abc import Iterator, Sequence
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any

import pandas as pd

from mlops_azure.errors import BackendError, UserInputError

if TYPE_CHECKING:
    import psycopg

    from mlops_azure.config import ProjectConfig

#: The environment variable holding the connection string (libpq key=value or postgresql:// URL).
DSN_VARIABLE = "MLOPS_POSTGRES_DSN"

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MAX_IDENTIFIER = 63  # PostgreSQL's NAMEDATALEN - 1: longer names are silently truncated
_RESERVED = frozenset({"run_id", "chunk", "model", "prediction", "created_at"})
# libpq's reasons for these two quote an option name, never a value: safe to repeat.
_SAFE_PARSE_ERROR = re.compile(r'(invalid connection option "[^"]*"|invalid URI query parameter: "[^"]*")')
# COPY's types for run_id, chunk and model, the staging table's first columns.
_COPY_TYPES = ("text", "int4", "text")


def _psycopg() -> ModuleType:
    try:
        import psycopg
    except ImportError:
        raise UserInputError("The PostgreSQL sink needs psycopg: install mlops-azure[postgres] "
                             "(pip install 'mlops-azure[postgres]').") from None
    return psycopg


def _check_identifier(name: str, what: str) -> str:
    if not _IDENTIFIER.fullmatch(name) or len(name) > _MAX_IDENTIFIER:
        raise UserInputError(f"{what} {name!r} is not a valid SQL identifier (letters, digits and "
                             f"underscores, not starting with a digit, at most {_MAX_IDENTIFIER}).")
    return name


class PostgresSink:
    """Forecast rows into ``<table>`` through ``<table>_staging``, keyed by run, series and time.

    The main table has ``run_id``, ``model`` (``NAME:VERSION``), the key columns (text), the time
    column when there is one (date), ``prediction`` (double precision) and ``created_at``; primary
    key (run_id, keys..., time). One connection, opened on first use and reopened after a
    failure; not for use by several threads.
    """

    def __init__(self, dsn: str, *, table: str = "forecasts", keys: Sequence[str],
                 time_column: str | None = None, connect_timeout_s: float = 10.0) -> None:
        parts = table.split(".")
        if len(parts) > 2:
            raise UserInputError(f"Table {table!r} should be NAME or SCHEMA.NAME.")
        for part in parts:
            _check_identifier(part, "Table name")
        # Derived names (staging table and its index) must stay within PostgreSQL's limit too.
        _check_identifier(parts[-1] + "_staging_run_chunk_idx", "Table name (with its suffixes)")
        if isinstance(keys, str) or not keys:
            raise UserInputError("keys should be a non-empty list of column names.")
        self.keys: tuple[str, ...] = tuple(_check_identifier(k, "Key column") for k in keys)
        if len(set(self.keys)) != len(self.keys) or _RESERVED & set(self.keys):
            raise UserInputError(f"Key columns {list(self.keys)} repeat a name or use one of "
                                 f"{sorted(_RESERVED)}.")
        self.time_column = (None if time_column is None
                            else _check_identifier(time_column, "Time column"))
        if self.time_column in {*self.keys, *_RESERVED}:
            raise UserInputError(f"Time column {self.time_column!r} is also a key column or one of "
                                 f"{sorted(_RESERVED)}.")
        #: What identifies a forecast within a run: the keys, then the time.
        self._row_key = (*self.keys, *([self.time_column] if self.time_column else []))
        self.table = table
        self._schema = parts[0] if len(parts) == 2 else None
        self._name = parts[-1]
        self._dsn, self._password, self.where = _parse_dsn(dsn)
        self._timeout = max(2, round(connect_timeout_s))  # libpq: whole seconds, 2 at least
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None

    @classmethod
    def from_env(cls, *, table: str = "forecasts", keys: Sequence[str],
                 time_column: str | None = None) -> PostgresSink:
        """A sink on the connection string in ``MLOPS_POSTGRES_DSN``."""
        dsn = os.environ.get(DSN_VARIABLE, "").strip()
        if not dsn:
            raise UserInputError(f"{DSN_VARIABLE} is not set: export the PostgreSQL connection "
                                 "string (e.g. postgresql://USER@HOST:5432/DB, password in "
                                 "PGPASSWORD or ~/.pgpass) to write forecasts to PostgreSQL.")
        return cls(dsn, table=table, keys=keys, time_column=time_column)

    @classmethod
    def for_project(cls, config: ProjectConfig) -> PostgresSink:
        """The project's sink: ``batch.table`` keyed by ``batch.keys`` and ``data.time_column``,
        on the connection string in ``MLOPS_POSTGRES_DSN``."""
        if not config.batch.keys:
            raise UserInputError("batch.keys is not set in mlops.yaml: name the columns that "
                                 "identify a forecast series (batch: {keys: [...]}), or declare "
                                 "partitions.levels or data.id_columns, to write to PostgreSQL.")
        return cls.from_env(table=config.batch.table, keys=config.batch.keys,
                            time_column=config.data.time_column)

    # -- public API ---------------------------------------------------------------------------

    def level_views(self) -> dict[str, tuple[str, ...]]:
        """The views with forecasts summed to each coarser level: ``<table>_by_<key>`` grouped
        by the keys down to it (e.g. ``forecasts_by_region`` for keys region, store)."""
        return {f"{self._name}_by_{key}": self.keys[: i + 1]
                for i, key in enumerate(self.keys[:-1])}

    def ensure_schema(self) -> None:
        """Create ``<table>``, ``<table>_staging`` and their indexes where missing (idempotent)."""
        from psycopg import sql

        typed = [sql.SQL("{} text NOT NULL").format(sql.Identifier(k)) for k in self.keys]
        if self.time_column:
            typed.append(sql.SQL("{} date NOT NULL").format(sql.Identifier(self.time_column)))
        statements = [
            sql.SQL("CREATE TABLE IF NOT EXISTS {t} (run_id text NOT NULL, model text NOT NULL, "
                    "{keys_text}, prediction double precision NOT NULL, "
                    "created_at timestamptz NOT NULL DEFAULT now(), "
                    "PRIMARY KEY (run_id, {keys}))"),
            # BI reads one partition's series, or one period across partitions. (The indexes
            # keep their first names, "period" for the time column, so existing tables match.)
            sql.SQL("CREATE INDEX IF NOT EXISTS {keys_idx} ON {t} ({keys})"),
            # UNLOGGED: no WAL for rows that live minutes. A server crash empties it, and then
            # chunks_done reports those chunks as not done, so a resumed run writes them again.
            sql.SQL("CREATE UNLOGGED TABLE IF NOT EXISTS {s} (run_id text NOT NULL, "
                    "chunk integer NOT NULL, model text NOT NULL, {keys_text}, "
                    "prediction double precision NOT NULL)"),
            sql.SQL("CREATE INDEX IF NOT EXISTS {chunk_idx} ON {s} (run_id, chunk)"),
        ]
        if self.time_column:
            statements.insert(2, sql.SQL("CREATE INDEX IF NOT EXISTS {period_idx} ON {t} ({time})"))
        names = {"t": self._ident(self._name), "s": self._ident(self._name + "_staging"),
                 "keys_text": sql.SQL(", ").join(typed), "keys": self._key_list(),
                 "time": sql.Identifier(self.time_column or ""),
                 "keys_idx": sql.Identifier(self._name + "_keys_period_idx"),
                 "period_idx": sql.Identifier(self._name + "_period_idx"),
                 "chunk_idx": sql.Identifier(self._name + "_staging_run_chunk_idx")}
        with self._session(f"create table {self.table}") as conn, conn.transaction():
            # Two workers creating the same table at once would collide in the catalog.
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                         (f"mlops-schema:{self.table}",))
            for statement in statements:
                conn.execute(statement.format(**names))
            for view, columns in self.level_views().items():
                # Coherent by construction (bottom-up): a coarser level's forecast is the sum
                # of the finest-level forecasts below it.
                grouped = sql.SQL(", ").join(
                    sql.Identifier(c) for c in (*columns, *self._row_key[len(self.keys):]))
                conn.execute(sql.SQL(
                    "CREATE OR REPLACE VIEW {v} AS SELECT run_id, model, {g}, "
                    "sum(prediction) AS prediction FROM {t} GROUP BY run_id, model, {g}"
                ).format(v=self._ident(view), g=grouped, t=names["t"]))

    def write_chunk(self, run_id: str, chunk: int, frame: pd.DataFrame, *, model: str) -> int:
        """Stage ``frame``'s rows as chunk ``chunk`` of ``run_id`` (replacing an earlier write of
        that chunk) in one transaction; returns the number of rows."""
        from psycopg import sql

        _check_run(run_id)
        if isinstance(chunk, bool) or not isinstance(chunk, int) or not 0 <= chunk < 2**31:
            raise UserInputError(f"chunk should be an integer from 0, not {chunk!r}.")
        if not isinstance(model, str) or not re.fullmatch(r"[^:\s]+:[^:\s]+", model):
            raise UserInputError(f"model should be NAME:VERSION, not {model!r}.")
        columns = _prepare(frame, self.keys, self.time_column)
        n = len(columns[-1])
        staging = self._ident(self._name + "_staging")
        copy = sql.SQL("COPY {s} (run_id, chunk, model, {keys}, prediction) FROM STDIN "
                       "(FORMAT BINARY)").format(s=staging, keys=self._key_list())
        times = ["date"] if self.time_column else []
        action = f"write chunk {chunk} of run {run_id!r}"
        with self._session(action) as conn, conn.transaction():
            conn.execute(sql.SQL("DELETE FROM {s} WHERE run_id = %s AND chunk = %s").format(s=staging),
                         (run_id, chunk))
            with conn.cursor() as cursor, cursor.copy(copy) as copier:
                # Binary COPY with typed rows: measured ~2x faster than text rows or pandas CSV.
                copier.set_types([*_COPY_TYPES, *["text"] * len(self.keys), *times, "float8"])
                for row in zip([run_id] * n, [chunk] * n, [model] * n, *columns, strict=True):
                    copier.write_row(row)
        return n

    def chunks_done(self, run_id: str) -> set[int]:
        """The chunks of ``run_id`` already staged (and not yet published)."""
        from psycopg import sql

        _check_run(run_id)
        query = sql.SQL("SELECT DISTINCT chunk FROM {s} WHERE run_id = %s").format(
            s=self._ident(self._name + "_staging"))
        with self._session(f"read the staged chunks of run {run_id!r}") as conn:
            return {int(row[0]) for row in conn.execute(query, (run_id,))}

    def publish(self, run_id: str) -> int:
        """Replace ``run_id``'s rows in ``<table>`` with its staged rows, in one transaction;
        returns the rows published. With nothing staged the table is left as it is (0): publishing
        twice never empties a run."""
        from psycopg import sql

        _check_run(run_id)
        names = {"t": self._ident(self._name), "s": self._ident(self._name + "_staging"),
                 "keys": self._key_list()}
        action = f"publish run {run_id!r} to {self.table}"
        with self._session(action) as conn, conn.transaction():
            # Two publishers of one run would otherwise interleave their delete and insert.
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                         (f"mlops-publish:{self.table}:{run_id}",))
            staged = conn.execute(sql.SQL("SELECT EXISTS (SELECT 1 FROM {s} WHERE run_id = %s)")
                                  .format(**names), (run_id,)).fetchone()
            if not staged or not staged[0]:
                return 0
            conn.execute(sql.SQL("DELETE FROM {t} WHERE run_id = %s").format(**names), (run_id,))
            # One statement moves the rows: what is inserted is exactly what is deleted, even if
            # another writer stages a chunk meanwhile.
            moved = conn.execute(sql.SQL(
                "WITH moved AS (DELETE FROM {s} WHERE run_id = %s "
                "RETURNING run_id, model, {keys}, prediction) "
                "INSERT INTO {t} (run_id, model, {keys}, prediction) "
                "SELECT run_id, model, {keys}, prediction FROM moved").format(**names),
                (run_id,))
            return moved.rowcount

    def count(self, run_id: str | None = None) -> int:
        """Rows in ``<table>``: all of them, or those of ``run_id``."""
        from psycopg import sql

        query = sql.SQL("SELECT count(*) FROM {t}").format(t=self._ident(self._name))
        params: tuple[str, ...] = ()
        if run_id is not None:
            query = sql.SQL("{q} WHERE run_id = %s").format(q=query)
            params = (run_id,)
        with self._session(f"count the rows of {self.table}") as conn:
            row = conn.execute(query, params).fetchone()
        return int(row[0]) if row else 0

    def close(self) -> None:
        """Close the connection (a later call opens a new one)."""
        if self._conn is not None:
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def __enter__(self) -> PostgresSink:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"PostgresSink({self.where}, table={self.table!r}, keys={list(self.keys)}, "
                f"time_column={self.time_column!r})")

    # -- internals ----------------------------------------------------------------------------

    def _ident(self, name: str) -> psycopg.sql.Identifier:
        from psycopg import sql

        return sql.Identifier(self._schema, name) if self._schema else sql.Identifier(name)

    def _key_list(self) -> psycopg.sql.Composed:
        """The columns that identify a row of a run: the keys, then the time column."""
        from psycopg import sql

        return sql.SQL(", ").join(sql.Identifier(k) for k in self._row_key)

    @contextlib.contextmanager
    def _session(self, action: str) -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
        """The open connection; psycopg's errors become one-sentence mlops errors, password-free
        (`from None`: the driver's exception is never shown, so nothing it carries can leak)."""
        pg = _psycopg()
        try:
            if self._conn is None or self._conn.closed or self._conn.broken:
                self.close()
                self._conn = pg.connect(self._dsn, autocommit=True, connect_timeout=self._timeout)
            yield self._conn
        except pg.errors.UniqueViolation as exc:
            detail = getattr(exc.diag, "message_detail", None) or ""
            same = f"keys and {self.time_column}" if self.time_column else "keys"
            raise UserInputError(f"Could not {action}: two staged rows have the same {same} "
                                 f"({detail.rstrip('.')}).") from None
        except (pg.errors.DataError, pg.errors.IntegrityError) as exc:
            raise UserInputError(f"Could not {action}: {self._reason(exc)}.") from None
        except (pg.OperationalError, pg.InterfaceError) as exc:
            self.close()  # the connection may be dead: the next call opens a fresh one
            raise BackendError(f"Could not {action} on PostgreSQL at {self.where}: "
                               f"{self._reason(exc)}.") from None
        except pg.Error as exc:
            hint = (" (PostgresSink.ensure_schema creates the tables)"
                    if isinstance(exc, pg.errors.UndefinedTable) else "")
            raise BackendError(f"Could not {action} on PostgreSQL at {self.where}: "
                               f"{self._reason(exc)}{hint}.") from None

    def _reason(self, exc: Exception) -> str:
        """The server's or libpq's first line, without the connection preamble or the password."""
        diag = getattr(exc, "diag", None)
        text = getattr(diag, "message_primary", None) or str(exc)
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        first = lines[0] if lines else type(exc).__name__
        first = re.sub(r"^(connection failed:\s*)?(connection to server .*? failed:\s*)?", "", first)
        first = re.sub(r"^(FATAL|ERROR):\s*", "", first).rstrip(".") or type(exc).__name__
        if self._password:
            first = first.replace(self._password, "***")
        return first


def _parse_dsn(dsn: str) -> tuple[str, str | None, str]:
    """(dsn, its password, 'user@host:port/db' for messages); malformed → UserInputError."""
    if not isinstance(dsn, str) or not dsn.strip():
        raise UserInputError(f"The PostgreSQL connection string ({DSN_VARIABLE}) is empty.")
    conninfo_to_dict = _psycopg().conninfo.conninfo_to_dict
    try:
        parsed = conninfo_to_dict(dsn)
    except Exception as exc:  # libpq's reason may quote any token, the password included
        safe = _SAFE_PARSE_ERROR.search(str(exc))
        hint = f" ({safe.group(1)})" if safe else ""
        raise UserInputError(f"The PostgreSQL connection string ({DSN_VARIABLE}) is malformed{hint}: "
                             "expected key=value pairs or a postgresql://USER@HOST:PORT/DB URL.") from None
    ports = str(parsed.get("port") or "5432")
    if not all(p.isdigit() and 0 < int(p) < 65536 for p in ports.split(",") if p):
        raise UserInputError(f"The PostgreSQL connection string ({DSN_VARIABLE}) has a port that is "
                             "not a number from 1 to 65535.")
    password = parsed.get("password")
    where = (f"{parsed.get('user') or '(default user)'}@{parsed.get('host') or '(default host)'}:"
             f"{ports}/{parsed.get('dbname') or '(default database)'}")
    return dsn, str(password) if password else None, where


def _check_run(run_id: str) -> None:
    if not isinstance(run_id, str) or not run_id.strip():
        raise UserInputError(f"run_id should be a non-empty string, not {run_id!r}.")


def _prepare(frame: pd.DataFrame, keys: tuple[str, ...], time_column: str | None) -> list[list[Any]]:
    """The frame's key, time and prediction columns as Python lists COPY can send."""
    times = [time_column] if time_column else []
    missing = [c for c in (*keys, *times, "prediction") if c not in frame.columns]
    if missing:
        raise UserInputError(f"The forecast frame lacks the column(s) {missing}.")
    columns: list[list[Any]] = []
    for key in keys:
        values = frame[key]
        if values.isna().any():
            raise UserInputError(f"The forecast frame's column {key!r} has missing values.")
        columns.append(values.astype(str).tolist())
    if time_column:
        columns.append(_dates(frame[time_column], time_column))
    prediction = pd.to_numeric(frame["prediction"], errors="coerce").astype("float64")
    if prediction.isna().any():
        raise UserInputError("The forecast frame's column 'prediction' has missing or non-numeric values.")
    columns.append(prediction.tolist())
    return columns


def _dates(period: pd.Series[Any], name: str) -> list[dt.date]:
    """Periods as dates, parsing each distinct value once (a batch has few distinct periods)."""
    codes, distinct = pd.factorize(period, use_na_sentinel=True)
    if (codes < 0).any():
        raise UserInputError(f"The forecast frame's column {name!r} has missing values.")
    parsed: list[dt.date] = []
    for value in distinct:
        if isinstance(value, pd.Timestamp | dt.datetime):
            parsed.append(value.date())
        elif isinstance(value, dt.date):
            parsed.append(value)
        else:
            text = str(value)
            try:
                if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
                    raise ValueError(text)
                parsed.append(dt.date.fromisoformat(text))
            except ValueError:
                raise UserInputError(f"The forecast frame's column {name!r} has {value!r}, "
                                     "not a date (YYYY-MM-DD).") from None
    lookup = pd.Series(parsed, dtype=object).to_numpy()
    dates: list[dt.date] = lookup[codes].tolist()
    return dates
