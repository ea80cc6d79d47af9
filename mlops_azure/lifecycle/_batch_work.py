"""The processes that score a batch: the scoring script's side, one chunk scored into its part
file, and the pool of workers that share one loaded model.

Why the pool is forked from a fresh interpreter (the *zygote*) rather than spawned: a spawned
worker pays its own interpreter, imports (pandas, and LightGBM, which pulls in scikit-learn:
~1 s) and model (1,000 partition boosters: ~1 s) before it scores a row. Forked workers share
one loaded copy. But a process must not fork once LightGBM has run OpenMP threads in it: with
libgomp the child then hangs at its next parallel region (checked with LightGBM 4.7: a child
forked after a multi-threaded predict hangs in predict and in loading a model). The caller of
``score_batch`` may have done just that (the benchmark predicts in-process first; a test runner
trains). So the zygote is a new ``python`` with ``OMP_NUM_THREADS=1``: no OpenMP thread is ever
started in it, it imports the scoring script, loads the model (on several Python threads: the
parse runs without the GIL) and forks the workers. One OpenMP thread per worker is also what a
pool with a worker per core wants.

The zygote also refuses the modules ``batch.block_imports`` names (scikit-learn, which LightGBM
imports for an API a ``Booster`` script never uses, is half of its start-up), and it skips the
interpreter's teardown when it is done: freeing a thousand boosters and every module would keep
the caller waiting a quarter of a second for nothing.
"""

from __future__ import annotations

import gc
import io
import json
import multiprocessing
import os
import subprocess
import sys
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from types import ModuleType
from typing import Any

from mlops_azure._files import atomic_write
from mlops_azure.errors import BackendError, UserInputError
from mlops_azure.lifecycle._scripts import load_scoring_script

_script: ModuleType | None = None
#: Modules this process refuses to import (``batch.block_imports``; set in the zygote only).
_blocked: tuple[str, ...] = ()


@dataclass(frozen=True)
class Task:
    """Score chunk ``number`` into ``part``: the rows are bytes ``[start, end)`` of ``source``
    under ``header``, or ``frame`` itself (an input only pandas can split)."""

    number: int
    part: Path
    keep: bool
    source: Path
    text: tuple[str, ...]
    header: bytes = b""
    start: int = 0
    end: int = 0
    frame: Any = None


def load_script(script: Path, model_dir: Path) -> ModuleType:
    """The batch scoring script, imported by path with its model loaded (``init()``)."""
    return load_scoring_script(script, model_dir, module_name="mlops_batch_score",
                               needs=("init", "score_frame"), what="batch scoring script")


def start(script: Path, model_dir: Path, *, preload: bool = False) -> None:
    """Load the scoring script in this process; with ``preload``, also everything it would
    load lazily (its optional ``preload()``), before workers are forked to share it."""
    global _script
    with _naming_blocked(script):
        _script = load_script(script, model_dir)
        if preload and callable(getattr(_script, "preload", None)):
            _script.preload()


def block(modules: Sequence[str]) -> None:
    """Make ``modules`` unimportable in this process (and the workers it forks)."""
    global _blocked
    _blocked = tuple(modules)
    for name in _blocked:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None: "halted"


@contextmanager
def _naming_blocked(script: Path) -> Iterator[None]:
    """An import refused by :func:`block` as one sentence naming the setting."""
    try:
        yield
    except ImportError as exc:
        name = exc.name or ""
        refused = [b for b in _blocked if name == b or name.startswith(b + ".")]
        if not refused:
            raise
        raise UserInputError(f"the batch scoring script {script} imports {refused[0]}, which "
                             "batch.block_imports in mlops.yaml keeps out of the scoring "
                             "processes: remove it from the list") from None


def read_rows(task: Task) -> Any:
    """The chunk's rows as pandas reads them (key and categorical columns as text)."""
    import pandas as pd

    if task.frame is not None:
        return task.frame
    try:
        with task.source.open("rb") as handle:
            handle.seek(task.start)
            body = handle.read(task.end - task.start)
        return pd.read_csv(io.BytesIO(task.header + body), dtype={c: str for c in task.text})
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise UserInputError(f"input {task.source} is not a readable CSV file: {exc}") from None


def score(task: Task) -> tuple[int, Any]:
    """Score a chunk and write its part file here, in the worker; the frame goes back only
    if wanted (a sink stages it)."""
    assert _script is not None, "the worker was started without its scoring script"
    with _naming_blocked(Path(_script.__file__ or "?")):
        scored = _script.score_frame(read_rows(task))
    atomic_write(task.part, frame_csv(scored))
    return len(scored), scored if task.keep else None


# -- CSV out ---------------------------------------------------------------------------------------
_SPECIAL = (",", '"', "\n", "\r")


def frame_csv(frame: Any) -> bytes:
    """``frame.to_csv(index=False, lineterminator="\\n")``, byte for byte, about three times as
    fast for what scoring returns (text keys and float predictions): pandas goes through the csv
    module row by row. Anything else (a field to quote, other dtypes) is left to pandas."""
    import pandas as pd

    names = [str(c) for c in frame.columns]
    columns: list[list[str]] = []
    fast = len(names) > 1 and all(isinstance(c, str) and not _needs_quotes(c)
                                   for c in frame.columns)
    for name in frame.columns if fast else ():
        series = frame[name]
        if series.dtype.kind == "f":
            values = series.to_numpy(dtype="float64")
            # repr is the shortest round-trip text, as numpy's astype(str) that pandas uses.
            text = list(map(float.__repr__, values.tolist()))
            for i in (values != values).nonzero()[0].tolist():  # NaN: pandas' na_rep ""
                text[i] = ""
        elif series.dtype.kind in "OT" and pd.api.types.infer_dtype(series, skipna=True) in (
                "string", "empty"):
            text = series.to_numpy(dtype=object, na_value="").tolist()
            if _needs_quotes("\x00".join(text)):
                fast = False
                break
        else:
            fast = False
            break
        columns.append(text)
    if not fast:
        return str(frame.to_csv(index=False, lineterminator="\n")).encode()
    lines = [",".join(names), *map(",".join, zip(*columns, strict=True))]
    return ("\n".join(lines) + "\n").encode()


def _needs_quotes(text: str) -> bool:
    return any(c in text for c in _SPECIAL)


# -- the pool --------------------------------------------------------------------------------------
_BOOT = ("import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
         "from mlops_azure.lifecycle._batch_work import zygote; zygote(int(sys.argv[2]))")


#: One OpenMP thread (see the module docstring). And glibc's malloc told to keep what a chunk
#: frees for the next chunk (arrays up to 32 MiB from the heap, freed memory kept up to 512 MiB)
#: rather than hand it back to the kernel and fault it in again: ~5 % of a worker's time.
_ZYGOTE_ENV = {"OMP_NUM_THREADS": "1", "MALLOC_MMAP_THRESHOLD_": str(32 << 20),
               "MALLOC_TRIM_THRESHOLD_": str(512 << 20)}


class Pool:
    """``workers`` processes forked from a zygote that loaded the scoring script and its model
    (see the module docstring): the zygote starts at once, loads at :meth:`load`; chunks go in,
    ``(rows, frame | None)`` come out in order."""

    def __init__(self, script: Path, workers: int, block_imports: Sequence[str] = ()) -> None:
        self.window = 2 * workers  # chunks in flight: each worker has its next one queued
        self._conn, theirs = multiprocessing.Pipe()
        self._process = subprocess.Popen(
            [sys.executable, "-c", _BOOT, json.dumps(sys.path), str(theirs.fileno())],
            pass_fds=(theirs.fileno(),), env={**os.environ, **_ZYGOTE_ENV})
        theirs.close()
        self._conn.send((script, workers, self.window, tuple(block_imports)))
        self._forked = False

    def load(self, model_dir: Path) -> None:
        """Have the zygote import the script with ``model_dir`` as its model and load it."""
        self._conn.send(model_dir)

    def run(self, tasks: Iterable[Task]) -> Iterator[tuple[int, tuple[int, Any]]]:
        numbers: deque[int] = deque()
        for task in tasks:
            self._forked = True  # the zygote forks its workers at its first task
            self._conn.send(task)
            numbers.append(task.number)
            while len(numbers) >= self.window:
                yield numbers.popleft(), self._receive()
        self._conn.send(None)
        while numbers:
            yield numbers.popleft(), self._receive()

    def _receive(self) -> Any:
        try:
            kind, payload = self._conn.recv()
        except (EOFError, OSError):
            code = self._process.poll()
            raise BackendError(f"the batch scoring processes stopped (exit code {code})") from None
        if kind == "error":
            raise payload
        return payload

    def close(self) -> None:
        """Stop the zygote and its workers (they end when the connection closes). A zygote
        that has no workers yet (the run failed or had nothing to do) may be loading: kill it."""
        self._conn.close()
        if not self._forked:
            self._process.kill()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()


def zygote(fd: int) -> None:
    """The zygote's main: load, fork the workers, pass chunks to them and results back."""
    conn = Connection(fd)
    script, workers, window, blocked = conn.recv()
    block(blocked)
    import pandas  # noqa: F401  # what the workers read chunks with: while the caller finds the model

    try:
        model_dir = conn.recv()
    except (EOFError, OSError):
        return  # the caller gave up before it had a model
    try:
        start(script, model_dir, preload=True)
    except Exception as exc:  # reported to the parent, which raises it
        _send_error(conn, exc)
        return
    # What is loaded now lives as long as the workers: the collector need not walk it (nor,
    # walking it, copy the pages the workers share).
    gc.freeze()
    # fork: the point of the zygote (its only threads, the loaders', have ended).
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        pending: deque[Future[tuple[int, Any]]] = deque()
        try:
            while (task := conn.recv()) is not None:
                pending.append(pool.submit(score, task))
                while len(pending) >= window:
                    _send(conn, pending.popleft())
            while pending:
                _send(conn, pending.popleft())
        except (EOFError, OSError, _Stop):
            for future in pending:  # the parent is gone or gave up: stop, write nothing more
                future.cancel()
    conn.close()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)  # no teardown (see the module docstring): the workers have ended


class _Stop(Exception):
    pass


def _send(conn: Connection, future: Future[tuple[int, Any]]) -> None:
    try:
        result = future.result()
    except Exception as exc:
        _send_error(conn, exc)
        raise _Stop from None
    conn.send(("ok", result))


def _send_error(conn: Connection, exc: Exception) -> None:
    try:
        conn.send(("error", exc))
    except Exception:  # an exception that does not pickle: its text
        conn.send(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))


__all__ = ["Pool", "Task", "block", "frame_csv", "load_script", "read_rows", "score", "start"]
