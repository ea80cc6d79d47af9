"""A pool of worker processes forked from a fresh interpreter (the *zygote*) that loaded, once,
what every worker needs; tasks go in, results come out in order.

Why forked from a fresh interpreter rather than spawned: a spawned worker pays its own
interpreter, imports (pandas, and LightGBM, which pulls in scikit-learn: ~1 s) and model (1,000
partition boosters: ~1 s) before it does any work. Forked workers share one loaded copy. But a
process must not fork once LightGBM has run OpenMP threads in it: with libgomp the child then
hangs at its next parallel region (checked with LightGBM 4.7: a child forked after a
multi-threaded predict hangs in predict and in loading a model). The caller may have done just
that (the batch benchmark predicts in-process first; a test runner trains). So the zygote is a new
``python`` with ``OMP_NUM_THREADS=1``: no OpenMP thread is ever started in it, it loads what the
caller asks (on several Python threads, if it likes: a parse can run without the GIL) and forks
the workers. One OpenMP thread per worker is also what a pool with a worker per core wants.

The zygote skips the interpreter's teardown when it is done: freeing a thousand boosters and
every module would keep the caller waiting a quarter of a second for nothing.

What the zygote runs (``prepare``, the loader, ``work``) travels pickled, so it must be a
module-level function or a :func:`functools.partial` of one: the zygote imports its module.
"""

from __future__ import annotations

import gc
import json
import multiprocessing
import os
import subprocess
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing.connection import Connection
from typing import Any, Generic, TypeVar

from mlops_azure.errors import BackendError

T = TypeVar("T")
R = TypeVar("R")
K = TypeVar("K")

_BOOT = ("import json, sys; sys.path[:] = json.loads(sys.argv[1]); "
         "from mlops_azure.execution.forked_pool import zygote; zygote(int(sys.argv[2]))")

#: One OpenMP thread (see the module docstring). And glibc's malloc told to keep what a task
#: frees for the next task (arrays up to 32 MiB from the heap, freed memory kept up to 512 MiB)
#: rather than hand it back to the kernel and fault it in again: ~5 % of a batch worker's time.
_ZYGOTE_ENV = {"OMP_NUM_THREADS": "1", "MALLOC_MMAP_THRESHOLD_": str(32 << 20),
               "MALLOC_TRIM_THRESHOLD_": str(512 << 20)}


class ForkedPool(Generic[T, R]):
    """``workers`` processes forked from a zygote (see the module docstring) that run ``work``
    on each task. The zygote starts at once and runs ``prepare``; it runs the loader given to
    :meth:`load` and forks the workers at the first task."""

    def __init__(self, workers: int, work: Callable[[T], R], *,
                 prepare: Callable[[], object] | None = None,
                 what: str = "the worker processes") -> None:
        self.what = what  # how an error names the pool: "{what} stopped"
        self.window = 2 * workers  # tasks in flight: each worker has its next one queued
        self._conn, theirs = multiprocessing.Pipe()
        self._process = subprocess.Popen(
            [sys.executable, "-c", _BOOT, json.dumps(sys.path), str(theirs.fileno())],
            pass_fds=(theirs.fileno(),), env={**os.environ, **_ZYGOTE_ENV})
        theirs.close()
        self._conn.send((workers, self.window, prepare, work))
        self._forked = False

    def load(self, loader: Callable[[], object]) -> None:
        """Have the zygote run ``loader``: what it loads, every worker shares. An exception it
        raises is raised by :meth:`run`."""
        self._conn.send(loader)

    def run(self, tasks: Iterable[tuple[K, T]]) -> Iterator[tuple[K, R]]:
        """``(key, work(task))`` for each ``(key, task)``, in order; an exception ``work``
        raised in a worker is raised here."""
        keys: deque[K] = deque()
        for key, task in tasks:
            self._forked = True  # the zygote forks its workers at its first task
            self._conn.send(task)
            keys.append(key)
            while len(keys) >= self.window:
                yield keys.popleft(), self._receive()
        self._conn.send(None)
        while keys:
            yield keys.popleft(), self._receive()

    def _receive(self) -> Any:
        try:
            kind, payload = self._conn.recv()
        except (EOFError, OSError):
            code = self._process.poll()
            raise BackendError(f"{self.what} stopped (exit code {code})") from None
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
    """The zygote's main: prepare, load, fork the workers, pass tasks to them and results back."""
    conn = Connection(fd)
    workers, window, prepare, work = conn.recv()
    if prepare is not None:
        prepare()  # while the caller finds what to load
    try:
        loader = conn.recv()
    except (EOFError, OSError):
        return  # the caller gave up before it knew what to load
    try:
        loader()
    except Exception as exc:  # reported to the parent, which raises it
        _send_error(conn, exc)
        return
    # What is loaded now lives as long as the workers: the collector need not walk it (nor,
    # walking it, copy the pages the workers share).
    gc.freeze()
    # fork: the point of the zygote (its only threads, the loaders', have ended).
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
        pending: deque[Future[Any]] = deque()
        try:
            while (task := conn.recv()) is not None:
                pending.append(pool.submit(work, task))
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


def _send(conn: Connection, future: Future[Any]) -> None:
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


__all__ = ["ForkedPool", "zygote"]
