"""The last steps of ``mlops run``: many models, and the batch forecast.

The project switches to one model per customer and per customer x material series
(``partitions:`` in mlops.yaml, ``pipelines/training-partitioned.yml``); the candidate goes
through the champion gate partition by partition against the model in production; then the
latest model forecasts the holdout months in batch, into ``forecasts/`` and, when
``MLOPS_POSTGRES_DSN`` is set, into PostgreSQL.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlops_azure.config import ProjectConfig, load_config, set_settings
from mlops_azure.example import demo_git
from mlops_azure.lifecycle.batch import score_batch
from mlops_azure.lifecycle.training import train, write_model_json
from mlops_azure.sinks import DSN_VARIABLE
from mlops_azure.workspace import ProgressCallback, Workspace

PARTITIONS = {"levels": ["organisation_id", "customer_id", "material_id"],
              "model_levels": ["customer_id", "material_id"], "min_rows": 24, "max_failed": 2}


def enable_partitions(config: ProjectConfig) -> ProjectConfig:
    """The project's mlops.yaml with ``partitions:`` and the partitioned pipeline (its comments
    and the rest of its lines kept as they are)."""
    path = config.root / "mlops.yaml"
    set_settings(path, {"training.pipeline": "pipelines/training-partitioned.yml",
                        "partitions": PARTITIONS})
    return load_config(path)


def many_models(ws: Workspace, config: ProjectConfig, say: Callable[[str], None],
                progress: ProgressCallback | None, step: Callable[[str], None]) -> dict[str, Any]:
    """Train per partition, gate per partition, forecast in batch; a summary."""
    step("many models: one per customer and per customer x material series, gated one by one "
         "against production")
    config = enable_partitions(config)
    demo_git.try_commit(config.root, "Many models: partitions in mlops.yaml")
    outcome = train(ws, config, progress=progress)
    say(f"      {outcome.decision.reason}")
    if outcome.model is not None:
        write_model_json(config.root / "model.json", outcome.model)
        say(f"      registered [bold green]{outcome.model.ref}[/]")

    step("batch forecast of the holdout months with the latest model")
    rows = ws.jobs.output_path(outcome.job.id, "prepared") / "holdout.csv"
    latest = ws.models.get(config.model.name)
    sink = None
    if os.environ.get(DSN_VARIABLE):
        from mlops_azure.sinks import PostgresSink

        sink = PostgresSink.for_project(config)
    try:
        done = score_batch(ws, config, str(rows), config.root / "forecasts", model=latest.ref,
                           chunk_rows=500, sink=sink)
    finally:
        if sink is not None:
            sink.close()
    where = (f"PostgreSQL table {config.batch.table} (and its _by_ level views)" if sink
             else f"no PostgreSQL ({DSN_VARIABLE} is not set)")
    say(f"      {done.rows:,} forecasts by {done.model} in {done.chunks} chunks → "
        f"{Path(done.output).name}/ and {where}")
    return {"partitioned": outcome.to_dict(), "batch": done.to_dict()}
