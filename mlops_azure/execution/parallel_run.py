"""The local parallel runtime: what Azure ML's parallel job does with a ``run_function`` task.

``python -m mlops_azure.execution.parallel_run --entry_script S --input_data PATH [options]
-- PROGRAM ARGUMENTS``. The input is an MLTable folder (read with its ``paths`` and
``read_delimited`` / ``read_parquet`` / ``convert_column_types`` transformations) or a file or
folder of files. Mini-batches: one per distinct value of ``partition_keys`` (a DataFrame, and
``run(mini_batch, mini_batch_context)`` gets ``partition_key_value``), else ``mini_batch_size``
files (a list of paths) or rows. ``workers`` processes each import the entry script, call
``init()`` once (with the program arguments as ``sys.argv``, as Azure does) and then ``run``
per mini-batch; a mini-batch that raises, outlives ``timeout`` (its process is killed and a
fresh one started) or kills its process is retried ``max_retries`` times. Failed mini-batches
over ``mini_batch_error_threshold``, or failed items (a failed mini-batch's rows or files, and
rows a tabular ``run`` returned fewer results for) over ``error_threshold``, fail the step (-1:
no limit). What ``run`` returns is appended to ``append_row_to``, in mini-batch order: a list
one line per element, a DataFrame one space-separated line per row. An ``init()`` that fails
fails the step.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import multiprocessing
import os
import sys
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

from mlops_azure import _yaml

DEFAULT_APPEND_FILE = "parallel_run_step.txt"
_entry: ModuleType | None = None


@dataclass
class MiniBatch:
    number: int
    data: Any  # a DataFrame or a list of file paths
    items: int
    keys: dict[str, Any] = field(default_factory=dict)


# -- reading the input ---------------------------------------------------------------------------
def read_mltable(folder: Path) -> Any:
    """The table an MLTable file describes (the subset of the format mlops writes and reads)."""
    import pandas as pd

    spec = _yaml.load((folder / "MLTable").read_text(encoding="utf-8")) or {}
    files: list[Path] = []
    for entry in spec.get("paths") or []:
        if "file" in entry:
            files.append(folder / str(entry["file"]))
        elif "folder" in entry:
            files += sorted(p for p in (folder / str(entry["folder"])).rglob("*") if p.is_file())
        elif "pattern" in entry:
            files += sorted(folder.glob(str(entry["pattern"]).removeprefix("./")))
    text: list[str] = []
    reader: dict[str, Any] = {"kind": "delimited", "delimiter": ","}
    for step in spec.get("transformations") or []:
        if "read_delimited" in step:
            reader = {"kind": "delimited", "delimiter": (step["read_delimited"] or {}).get("delimiter", ",")}
        elif "read_parquet" in step:
            reader = {"kind": "parquet"}
        elif "convert_column_types" in step:
            for conversion in step["convert_column_types"]:
                if str(conversion.get("column_type")) == "string":
                    text += list(conversion.get("columns") or [])
        else:
            raise SystemExit(f"parallel_run: MLTable transformation {sorted(step)} is not supported")
    if not files:
        raise SystemExit(f"parallel_run: the MLTable in {folder} names no existing file")
    frames = [pd.read_parquet(f) if reader["kind"] == "parquet"
              else pd.read_csv(f, sep=reader["delimiter"], dtype={c: str for c in text})
              for f in files]
    return pd.concat(frames, ignore_index=True)


def mini_batches(source: Path, keys: list[str], size: str | None) -> Iterator[MiniBatch]:
    if (source / "MLTable").is_file():
        frame = read_mltable(source)
        if keys:
            missing = [k for k in keys if k not in frame.columns]
            if missing:
                raise SystemExit(f"parallel_run: partition key(s) {', '.join(missing)} are not "
                                 "columns of the input table")
            for number, (values, rows) in enumerate(frame.groupby(keys, sort=True, dropna=False)):
                values = values if isinstance(values, tuple) else (values,)
                yield MiniBatch(number, rows.reset_index(drop=True), len(rows),
                                dict(zip(keys, values, strict=True)))
            return
        step = _rows(size)
        for number, start in enumerate(range(0, len(frame), step)):
            part = frame.iloc[start:start + step].reset_index(drop=True)
            yield MiniBatch(number, part, len(part))
        return
    files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    step = _rows(size)
    for number, start in enumerate(range(0, len(files), step)):
        chunk = [str(f) for f in files[start:start + step]]
        yield MiniBatch(number, chunk, len(chunk))


def _rows(size: str | None) -> int:
    """``mini_batch_size`` as a count (sizes such as ``10kb`` mean one item at a time here)."""
    text = str(size or "1").strip().lower()
    return int(text) if text.isdigit() and int(text) > 0 else 1


# -- the worker side -------------------------------------------------------------------------------
def _start(entry_script: str, argv: list[str], env: dict[str, str]) -> None:
    global _entry
    os.environ.update(env)
    sys.argv = [entry_script, *argv]
    sys.path.insert(0, str(Path(entry_script).parent))
    spec = importlib.util.spec_from_file_location("parallel_entry_script", entry_script)
    if spec is None or spec.loader is None:
        raise SystemExit(f"parallel_run: entry script {entry_script} cannot be imported")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, "run", None)):
        raise SystemExit(f"parallel_run: entry script {entry_script} has no run() function")
    if callable(getattr(module, "init", None)):
        module.init()
    _entry = module


def _run(batch: MiniBatch) -> Any:
    assert _entry is not None, "the worker was started without its entry script"
    run = _entry.run
    if len(inspect.signature(run).parameters) >= 2:
        context = SimpleNamespace(partition_key_value=batch.keys, minibatch_index=batch.number,
                                  dataset=None)
        return run(batch.data, context)
    return run(batch.data)


def _serve(conn: Connection, entry_script: str, argv: list[str], env: dict[str, str]) -> None:
    """A worker's main: start the entry script, then run the mini-batches it is sent."""
    try:
        _start(entry_script, argv, env)
    except BaseException as exc:  # SystemExit too: the coordinator reports it
        conn.send(("init", str(exc) if isinstance(exc, SystemExit) else
                   f"init() of {entry_script} failed: {type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", None))
    while True:
        try:
            batch = conn.recv()
        except EOFError:
            return
        try:
            conn.send(("ok", _run(batch)))
        except Exception as exc:
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class _Worker:
    """One spawned worker process and the mini-batch it runs (with its deadline)."""

    def __init__(self, context: Any, start: tuple[str, list[str], dict[str, str]]) -> None:
        self.conn, theirs = context.Pipe()
        self.process = context.Process(target=_serve, args=(theirs, *start), daemon=True)
        self.process.start()
        theirs.close()
        self.ready = False
        self.batch: MiniBatch | None = None
        self.deadline = 0.0

    def give(self, batch: MiniBatch, timeout: float) -> None:
        self.conn.send(batch)
        self.batch, self.deadline = batch, time.monotonic() + timeout

    def receive(self) -> tuple[str, Any]:
        try:
            kind, payload = self.conn.recv()
        except (EOFError, OSError):
            self.process.join(5)
            return "died", f"its process died (exit code {self.process.exitcode})"
        return kind, payload

    def kill(self) -> None:
        self.process.kill()
        self.process.join()
        self.conn.close()


# -- the coordinator -------------------------------------------------------------------------------
def _lines(result: Any) -> list[str]:
    if result is None:
        return []
    if hasattr(result, "to_csv"):
        text = str(result.to_csv(sep=" ", header=False, index=False, lineterminator="\n"))
        return text.splitlines()
    return [str(item) for item in result]


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    split = args_in.index("--") if "--" in args_in else len(args_in)
    parser = argparse.ArgumentParser(prog="parallel_run")
    parser.add_argument("--entry_script", required=True)
    parser.add_argument("--input_data", type=Path, required=True)
    parser.add_argument("--partition_keys", default="")
    parser.add_argument("--mini_batch_size", default=None)
    parser.add_argument("--error_threshold", type=int, default=-1)
    parser.add_argument("--mini_batch_error_threshold", type=int, default=-1)
    parser.add_argument("--max_retries", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--logging_level", default="INFO")
    parser.add_argument("--append_row_to", type=Path, default=None)
    parser.add_argument("--append_row_file_name", default=DEFAULT_APPEND_FILE)
    parser.add_argument("--env", action="append", default=[])
    args = parser.parse_args(args_in[:split])
    program = args_in[split + 1:]
    keys = [k for k in args.partition_keys.split(",") if k]
    env = dict(item.split("=", 1) for item in args.env)
    batches = list(mini_batches(args.input_data, keys, args.mini_batch_size))
    workers = max(1, min(args.workers, len(batches), os.cpu_count() or 1))
    print(f"parallel_run: {len(batches)} mini-batch(es) on {workers} process(es)"
          + (f", partitioned by {', '.join(keys)}" if keys else ""), flush=True)
    context = multiprocessing.get_context("spawn")
    launch = (args.entry_script, program, env)
    pool = [_Worker(context, launch) for _ in range(workers if batches else 0)]
    results: dict[int, list[str]] = {}
    failed_batches = failed_items = 0
    attempts = {b.number: 0 for b in batches}
    queue = deque(batches)
    started = time.perf_counter()
    try:
        while queue or any(w.batch is not None for w in pool):
            for worker in pool:
                if worker.ready and worker.batch is None and queue:
                    worker.give(queue.popleft(), args.timeout)
            running = [w.deadline for w in pool if w.batch is not None]
            left = max(0.0, min(running) - time.monotonic()) if running else None
            answered = wait([w.conn for w in pool], timeout=left)
            for i, worker in enumerate(pool):
                batch = worker.batch
                if worker.conn in answered:
                    kind, payload = worker.receive()
                elif batch is not None and time.monotonic() >= worker.deadline:
                    kind, payload = "died", f"timed out after {args.timeout:g} s"
                else:
                    continue
                if kind == "ready":
                    worker.ready = True
                    continue
                if kind == "init" or not worker.ready:  # init() failed, or its process died
                    reason = payload if kind == "init" else f"init() of {args.entry_script}: {payload}"
                    print(f"parallel_run: {reason}", file=sys.stderr, flush=True)
                    return 1
                worker.batch = None
                if kind == "died":  # killed (timed out) or crashed: a fresh process takes over
                    worker.kill()
                    pool[i] = _Worker(context, launch)
                if batch is None:
                    continue
                if kind == "ok":
                    produced = _lines(payload)
                    # a tabular run() returning fewer rows than it got: the missing ones failed
                    # (an empty return skips the check, as on Azure)
                    if hasattr(batch.data, "columns") and produced and len(produced) < batch.items:
                        failed_items += batch.items - len(produced)
                    results[batch.number] = produced
                    continue
                attempts[batch.number] += 1  # the job retries, then counts it failed
                if attempts[batch.number] <= args.max_retries:
                    print(f"parallel_run: mini-batch {batch.number} {_keys(batch)}{payload}; "
                          f"retry {attempts[batch.number]}/{args.max_retries}", flush=True)
                    queue.append(batch)
                    continue
                failed_batches += 1
                failed_items += batch.items
                print(f"parallel_run: mini-batch {batch.number} {_keys(batch)}FAILED: {payload}",
                      flush=True)
    finally:
        for worker in pool:
            worker.kill()
    lines = [line for number in sorted(results) for line in results[number]]
    if args.append_row_to is not None:
        target = args.append_row_to
        if target.suffix == "" or target.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            target = target / args.append_row_file_name
        target.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    print(f"parallel_run: {len(batches) - failed_batches}/{len(batches)} mini-batch(es) "
          f"succeeded, {failed_items} item(s) failed, {len(lines)} row(s) appended in "
          f"{time.perf_counter() - started:.1f} s", flush=True)
    for count, limit, what in ((failed_batches, args.mini_batch_error_threshold, "mini-batch"),
                               (failed_items, args.error_threshold, "item")):
        if limit != -1 and count > limit:
            print(f"parallel_run: {count} {what} failure(s), more than the {what} error threshold "
                  f"{limit}", file=sys.stderr, flush=True)
            return 1
    return 0


def _keys(batch: MiniBatch) -> str:
    return f"({', '.join(f'{k}={v}' for k, v in batch.keys.items())}) " if batch.keys else ""


if __name__ == "__main__":
    sys.exit(main())
