"""``mlops score batch`` through an Azure ML batch endpoint: the same result as the local path.

The workspace deploys the model to a batch endpoint (``ModelBatchDeployment`` running the
project's batch scoring script), invokes it with the data asset and downloads the appended rows
(``Workspace.score_with_batch_endpoint``). This module turns that file into the layout the local
batch writes — ``_run.json``, ``part-NNNNN.csv`` of ``chunk_rows`` rows with a header,
``_SUCCESS`` — stages each part in the sink and publishes the run, so ``--to-postgres`` and
every reader of the output folder work the same. The job is named after the run id (input,
model, deployment settings), so a rerun after a crash follows or reuses the job it submitted
and never duplicates a row.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from pathlib import Path

from mlops_azure._files import atomic_write
from mlops_azure.audit_events import BatchScoredEvent, record
from mlops_azure.config import ProjectConfig
from mlops_azure.errors import BackendError, UserInputError
from mlops_azure.lifecycle._batch_work import frame_csv
from mlops_azure.lifecycle.batch import (
    BatchResult,
    ForecastSink,
    open_run,
    part_file,
    serving_or_latest,
)
from mlops_azure.lifecycle.refs import parse_ref
from mlops_azure.rules import is_endpoint_name
from mlops_azure.workspace import BatchDeploymentSpec, JobStatus, Workspace

PREDICTION = "prediction"


def default_endpoint(config: ProjectConfig) -> str:
    """``<model>-batch``, cut to Azure's 32 characters."""
    return f"{config.model.name[:26].rstrip('-')}-batch"


def score_with_endpoint(
    ws: Workspace, config: ProjectConfig, source: str, output: Path, *,
    model: str | None = None, endpoint: str | None = None, chunk_rows: int | None = None,
    mini_batch_size: int = 1, error_threshold: int = 0, sink: ForecastSink | None = None,
    say: Callable[[str], None] | None = None,
) -> BatchResult:
    """Score data asset ``source`` (``azureml:NAME[:VERSION]``) on a batch endpoint into
    ``output`` (see the module docstring); ``chunk_rows`` defaults to ``batch.chunk_rows``."""
    chunk_rows = config.batch.chunk_rows if chunk_rows is None else chunk_rows
    batch = ws.batch
    if batch is None:
        raise UserInputError(f"the {ws.backend} workspace has no batch endpoints: "
                             "mlops score batch scores here instead")
    if not source.startswith("azureml:"):
        raise UserInputError(f"--input {source}: a batch endpoint scores a data asset "
                             "(azureml:NAME[:VERSION]); score a local file without --endpoint")
    if chunk_rows < 1:
        raise UserInputError(f"--chunk-rows must be at least 1 (got {chunk_rows})")
    name, version = parse_ref(source.removeprefix("azureml:"), what="data asset")
    asset = ws.data.get(name, version)
    found = serving_or_latest(ws, config, model)
    endpoint = endpoint or default_endpoint(config)
    if not is_endpoint_name(endpoint):
        raise UserInputError(f"--endpoint '{endpoint}' is not a valid endpoint name")
    spec = BatchDeploymentSpec(
        endpoint=endpoint, deployment=f"v{found.version:03d}", model_name=found.name,
        model_version=found.version, code_dir=config.resolve(config.batch.code),
        scoring_script=config.batch.scoring_script,
        environment=config.resolve(Path("environments/inference.yml")),
        mini_batch_size=mini_batch_size, error_threshold=error_threshold)
    run_id = hashlib.sha256(f"{asset.ref}:{found.ref}:{endpoint}:{mini_batch_size}:"
                            f"{chunk_rows}".encode()).hexdigest()[:16]
    open_run(output, {"run_id": run_id, "model": found.ref, "input": f"data asset {asset.ref}",
                   "chunk_rows": chunk_rows, "batch_endpoint": endpoint})
    started = time.perf_counter()
    if say:
        say(f"batch endpoint {endpoint}: scoring {asset.ref} with {found.ref} (job batch-{run_id})")
    done = batch.score(spec, asset, job_name=f"batch-{run_id}")
    record(ws, BatchScoredEvent(subject=endpoint, job_id=done.job_id, status=done.status.value,
                                model=found.ref, input=asset.ref, run_id=run_id))
    if done.status is not JobStatus.COMPLETED or done.output_file is None:
        raise BackendError(f"batch job {done.job_id} on endpoint {endpoint} ended "
                           f"{done.status.value}: {done.error or 'no error recorded'}")
    chunks, rows = _write_parts(done.output_file, output, chunk_rows, config, run_id,
                                found.ref, sink)
    published = sink.publish(run_id) if sink is not None else None
    atomic_write(output / "_SUCCESS", json.dumps({"run_id": run_id, "rows": rows}).encode())
    return BatchResult(run_id, found.ref, f"data asset {asset.ref}", output, chunks, 0, rows,
                       time.perf_counter() - started, published)


def _write_parts(appended: Path, output: Path, chunk_rows: int, config: ProjectConfig,
                 run_id: str, model: str, sink: ForecastSink | None) -> tuple[int, int]:
    """The appended rows (``run`` returns ``data.time_column``, ``batch.keys`` and the prediction,
    in that order; Azure writes each row space-separated without a header) as the local batch's
    part files, staged in the sink."""
    import pandas as pd

    time = [config.data.time_column] if config.data.time_column else []
    columns = [*time, *config.batch.keys, PREDICTION]
    if sink is not None:
        sink.ensure_schema()
    done_in_sink = sink.chunks_done(run_id) if sink is not None else set()
    chunks = rows = 0
    reader = pd.read_csv(appended, sep=" ", header=None, names=columns, chunksize=chunk_rows,
                         dtype={c: str for c in columns if c != PREDICTION})
    try:
        for number, frame in enumerate(reader):
            part = part_file(output, number)
            if not part.is_file():
                atomic_write(part, frame_csv(frame))
            if sink is not None and number not in done_in_sink:
                sink.write_chunk(run_id, number, frame, model=model)
            chunks += 1
            rows += len(frame)
    except (ValueError, pd.errors.ParserError) as exc:
        raise BackendError(f"the batch job's output {appended.name} is not the rows "
                           f"{', '.join(columns)}: {exc}") from None
    return chunks, rows
