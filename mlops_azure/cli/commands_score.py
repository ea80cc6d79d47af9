"""``mlops score batch``: forecasts for a file of rows, optionally into PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlops_azure.cli import output
from mlops_azure.cli.state import STATE

app = typer.Typer(help="Score in bulk.", no_args_is_help=True)


@app.command("batch")
def batch(
    input_: Annotated[str, typer.Option(
        "--input", help="CSV of feature rows, or a data asset azureml:NAME[:VERSION].")],
    output_dir: Annotated[Path, typer.Option(
        "--output", help="Folder for part-NNNNN.csv files (an empty one, or this run's).")],
    model: Annotated[str | None, typer.Option(
        help="NAME:VERSION (default: what production serves, else the latest).")] = None,
    to_postgres: Annotated[bool, typer.Option(
        "--to-postgres", help="Also publish the forecasts to PostgreSQL (MLOPS_POSTGRES_DSN).")
    ] = False,
    chunk_rows: Annotated[int | None, typer.Option(
        help="Rows read and scored at a time (default: batch.chunk_rows).")] = None,
    workers: Annotated[int, typer.Option(help="Scoring processes (0: every core).")] = 0,
    endpoint: Annotated[str | None, typer.Option(
        help="Azure ML batch endpoint to score on (default on --backend azure with a data "
             "asset: MODEL-batch).")] = None,
    here: Annotated[bool, typer.Option(
        "--here", help="Score in this process pool even on --backend azure.")] = False,
    mini_batch_size: Annotated[int, typer.Option(
        help="Batch endpoint: files per mini-batch.")] = 1,
    error_threshold: Annotated[int, typer.Option(
        help="Batch endpoint: files that may fail before the job fails (-1: any).")] = 0,
) -> None:
    """Chunked, parallel, memory bounded and resumable: a rerun after a crash scores only what
    is missing and never duplicates a row.

    Example: `mlops score batch --input data/next-month.csv --output forecasts --to-postgres`.
    """
    project = STATE.project()
    sink = None
    if to_postgres:
        from mlops_azure.sinks import PostgresSink

        sink = PostgresSink.for_project(project.config)
    try:
        done = project.score_batch(input_, output_dir, model=model, chunk_rows=chunk_rows,
                                   workers=workers, sink=sink, endpoint=endpoint, here=here,
                                   mini_batch_size=mini_batch_size, error_threshold=error_threshold,
                                   say=None if STATE.json else output.say)
    finally:
        if sink is not None:
            sink.close()
    if STATE.json:
        output.emit_json(done.to_dict())
        return
    output.say(f"run {done.run_id}: {done.rows:,} rows in {done.chunks} chunks with {done.model} "
               f"({done.resumed_chunks} resumed) in {done.seconds:.1f} s → {done.output}"
               + ("" if done.published_rows is None
                  else f"; {done.published_rows:,} rows published to PostgreSQL"))
