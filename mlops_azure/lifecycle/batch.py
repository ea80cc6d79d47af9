"""Batch scoring: rows of features (a CSV file or a data asset) → forecasts, optionally into
PostgreSQL.

- **Chunked and memory bounded.** The pass that hashes the input also finds where each chunk of
  ``chunk_rows`` rows starts and ends (``_batch_input``); each worker reads its own chunk from the
  file, scores it and writes its part file. At most two chunks per worker are in flight, so a
  file larger than memory scores in constant memory.
- **Parallel.** Chunks are scored by a pool of processes (every core by default) that share one
  loaded copy of the project's batch scoring script (``batch.scoring_script``: ``init()`` and
  ``score_frame(frame)``, the same file an Azure ML batch deployment runs) and of its model
  (``execution.forked_pool``: why they are forked from a fresh interpreter).
- **Resumable.** A run is named by its input's content hash, the model and the chunk size. Each
  scored chunk is written to ``part-NNNNN.csv`` (atomically) and, with a sink, staged in the
  database as that chunk; a rerun of the same run skips what is done, so a crash halfway costs the
  chunks in flight and never duplicates a row. The sink publishes the run in one transaction at
  the end (a re-run replaces it).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mlops_azure._files import atomic_write
from mlops_azure.config import ProjectConfig
from mlops_azure.contract import FEATURES_FILE, FeaturesFile, find_in_model, read_document
from mlops_azure.errors import BackendError, UserInputError
from mlops_azure.lifecycle._batch_input import Layout, scan
from mlops_azure.lifecycle._batch_work import (
    Task,
    load_script,
    score,
    scoring_loader,
    scoring_pool,
    start,
)
from mlops_azure.lifecycle.data import local_data
from mlops_azure.lifecycle.refs import live_deployment, parse_ref
from mlops_azure.workspace import ModelVersion, Workspace

MANIFEST = "_run.json"


class ForecastSink(Protocol):
    """Where forecasts land besides the output folder (``mlops_azure.sinks.PostgresSink``)."""

    def ensure_schema(self) -> None: ...

    def write_chunk(self, run_id: str, chunk: int, frame: Any, *, model: str) -> int: ...

    def chunks_done(self, run_id: str) -> set[int]: ...

    def publish(self, run_id: str) -> int: ...


@dataclass(frozen=True)
class BatchResult:
    """What a batch run did."""

    run_id: str
    model: str
    input: str
    output: Path
    chunks: int
    resumed_chunks: int
    rows: int
    seconds: float
    published_rows: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "model": self.model, "input": self.input,
                "output": str(self.output), "chunks": self.chunks,
                "resumed_chunks": self.resumed_chunks, "rows": self.rows,
                "seconds": round(self.seconds, 3), "rows_per_s": round(self.rows / self.seconds)
                if self.seconds else None, "published_rows": self.published_rows}


# -- the coordinator -------------------------------------------------------------------------------
def serving_or_latest(ws: Workspace, config: ProjectConfig, model: str | None) -> ModelVersion:
    """``model`` (NAME:VERSION), else what production serves most, else the latest version."""
    if model:
        name, version = parse_ref(model)
        return ws.get_model(name, version)
    production = config.production_stage
    serving = live_deployment(ws, production.endpoint) if production else None
    if serving is not None:
        return ws.get_model(serving.model_name, serving.model_version)
    return ws.get_model(config.model.name)


def _text_columns(model_dir: Path) -> tuple[str, ...]:
    """Columns to read as text: keys and categoricals (so 007 stays "007")."""
    found = find_in_model(model_dir, FEATURES_FILE)
    if found is None:
        return ()
    spec = read_document(FeaturesFile, found, f"{FEATURES_FILE} of the model at {model_dir}",
                         UserInputError)
    return tuple(dict.fromkeys([*spec.keys, *spec.id_columns, *spec.categorical_features]))


def part_file(output: Path, number: int) -> Path:
    """Where chunk ``number`` of a run in ``output`` is written."""
    return output / f"part-{number:05d}.csv"


def _tasks(path: Path, layout: Layout, chunk_rows: int, text: tuple[str, ...], output: Path,
           keep: bool) -> Iterator[Task]:
    """Every chunk of the input as a task: a byte range of the file, or (an input only pandas
    can split, see ``_batch_input``) the rows read here."""
    def part(number: int) -> Path:
        return part_file(output, number)

    if layout.header is not None and layout.chunks is not None:
        for chunk in layout.chunks:
            yield Task(chunk.number, part(chunk.number), keep, path, text, layout.header,
                       chunk.start, chunk.end)
        return
    import pandas as pd

    try:
        for number, frame in enumerate(pd.read_csv(path, chunksize=chunk_rows,
                                                   dtype={c: str for c in text})):
            yield Task(number, part(number), keep, path, text, frame=frame)
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise UserInputError(f"input {path} is not a readable CSV file: {exc}") from None


def open_run(output: Path, manifest: dict[str, Any]) -> bool:
    """Start the run in ``output`` or resume it there; True when the folder is new."""
    found = output / MANIFEST
    if found.is_file():
        try:
            before = json.loads(found.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            before = {}
        if before.get("run_id") != manifest["run_id"]:
            raise UserInputError(f"output {output} holds another run ({before.get('run_id')}): "
                                 "choose an empty folder")
        return False
    if output.exists() and any(output.iterdir()):
        raise UserInputError(f"output {output} is not empty and holds no batch run")
    output.mkdir(parents=True, exist_ok=True)
    atomic_write(found, (json.dumps(manifest, indent=2) + "\n").encode())
    return True


def _forget(output: Path, fresh: bool) -> None:
    """A run that failed before it scored anything leaves no folder behind (bad input must
    not block the next run with a stale manifest)."""
    if fresh and not any(output.glob("part-*.csv")):
        shutil.rmtree(output, ignore_errors=True)


def score_batch(
    ws: Workspace,
    config: ProjectConfig,
    source: str,
    output: Path,
    *,
    model: str | None = None,
    chunk_rows: int | None = None,
    workers: int = 0,
    sink: ForecastSink | None = None,
    say: Callable[[str], None] | None = None,
) -> BatchResult:
    """Score ``source`` (a CSV path or ``azureml:NAME[:VERSION]``) into ``output`` (see the module
    docstring); with ``sink``, also stage and publish the forecasts there. ``chunk_rows``
    defaults to ``batch.chunk_rows``."""
    chunk_rows = config.batch.chunk_rows if chunk_rows is None else chunk_rows
    if chunk_rows < 1:
        raise UserInputError(f"--chunk-rows must be at least 1 (got {chunk_rows})")
    path, described = local_data(ws, source)
    if not path.is_file():
        raise UserInputError(f"input {path} does not exist")
    scoring = config.resolve(config.batch.code) / config.batch.scoring_script
    if not scoring.is_file():
        raise UserInputError(f"batch scoring script {scoring} does not exist")
    started = time.perf_counter()
    count = workers or os.cpu_count() or 1
    # The zygote starts while this process finds (and verifies) the model, then imports the
    # script and loads the model while this process hashes and splits the input.
    pool = scoring_pool(count, config.batch.block_imports) if count > 1 else None
    fresh = False
    try:
        found = serving_or_latest(ws, config, model)
        model_dir = ws.model_local_path(found.name, found.version)
        if pool is not None:
            pool.load(scoring_loader(scoring, model_dir))
        layout = scan(path, chunk_rows)
        run_id = hashlib.sha256(f"{layout.digest}:{found.ref}:{chunk_rows}".encode()).hexdigest()[:16]
        fresh = open_run(output, {"run_id": run_id, "model": found.ref, "input": described,
                                   "input_sha256": layout.digest, "chunk_rows": chunk_rows})
        done_in_sink: set[int] = set()
        if sink is not None:
            sink.ensure_schema()
            done_in_sink = sink.chunks_done(run_id)
        rows = resumed = chunks = 0

        def todo() -> Iterator[Task]:
            nonlocal rows, resumed, chunks
            for task in _tasks(path, layout, chunk_rows, _text_columns(model_dir), output,
                               sink is not None):
                chunks += 1
                if task.part.is_file() and (sink is None or task.number in done_in_sink):
                    resumed += 1
                    rows += _resumed_rows(task, layout)
                    continue
                yield task

        if pool is None:
            start(scoring, model_dir)
            results: Iterator[tuple[int, tuple[int, Any]]] = (
                (task.number, score(task)) for task in todo())
        else:
            results = pool.run((task.number, task) for task in todo())
        for number, (scored, frame) in results:
            if sink is not None:
                sink.write_chunk(run_id, number, frame, model=found.ref)
            rows += scored
            if say and number % 10 == 0:
                say(f"chunk {number}: {rows:,} rows scored")
    except (ValueError, KeyError) as exc:
        _forget(output, fresh)
        raise UserInputError(f"input {path} cannot be scored: {exc}") from None
    except RuntimeError as exc:
        _forget(output, fresh)
        raise BackendError(f"the batch scoring script failed: {exc}") from None
    except BaseException:
        _forget(output, fresh)
        raise
    finally:
        if pool is not None:
            pool.close()
    published = sink.publish(run_id) if sink is not None else None
    seconds = time.perf_counter() - started
    atomic_write(output / "_SUCCESS", json.dumps({"run_id": run_id, "rows": rows}).encode())
    return BatchResult(run_id, found.ref, described, output, chunks, resumed, rows, seconds,
                       published)


def _resumed_rows(task: Task, layout: Layout) -> int:
    """Rows of a chunk already scored (its part file is kept)."""
    if task.frame is not None:
        return len(task.frame)
    assert layout.chunks is not None
    return layout.chunks[task.number].rows


__all__ = ["BatchResult", "ForecastSink", "load_script", "score_batch", "serving_or_latest"]
