"""Partitioned training as an Azure ML parallel job: which pipeline runs, and the parallel
step's settings mlops binds from ``mlops.yaml`` at submission.

The YAML of a parallel step holds defaults; its ``partition_keys`` and thresholds depend on the
project's ``partitions`` section, which reaches the pipeline as the inputs ``partition_levels``,
``model_levels`` and ``max_failed_partitions`` (see ``lifecycle.training``). The keys are the
columns of the coarsest model level, so every partition of every model level falls inside one
mini-batch (finer keys would split an organisation's rows across mini-batches and train its
model on part of them).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_azure.errors import UserInputError

if TYPE_CHECKING:
    from mlops_azure.config import ProjectConfig


def azure_variants(config: ProjectConfig) -> dict[Path, Path]:
    """``training.pipeline`` → the pipeline to submit instead on Azure (empty when off)."""
    found = config.partitions
    if found is None or not found.azure_parallel:
        return {}
    # Checked when a job is submitted, so commands that submit nothing work without it.
    return {config.resolve(config.training.pipeline).resolve(): config.resolve(found.azure_pipeline)}


def variant_of(variants: Mapping[Path, Path], pipeline_file: Path) -> Path:
    """The pipeline to submit for ``pipeline_file``; ``UserInputError`` when it is missing."""
    variant = variants.get(Path(pipeline_file).resolve())
    if variant is None:
        return Path(pipeline_file)
    if not variant.is_file():
        raise UserInputError(f"partitions.azure_pipeline {variant} does not exist (set "
                             "partitions.azure_parallel: false to train in one command step)")
    return variant


def _columns(value: Any) -> list[str]:
    return [part.strip() for part in str(value or "").split(",") if part.strip()]


def partition_keys(inputs: Mapping[str, Any]) -> list[str] | None:
    """The key columns of the coarsest model level, from the submission's inputs."""
    levels = _columns(inputs.get("partition_levels"))
    if not levels:
        return None
    model_levels = _columns(inputs.get("model_levels")) or levels
    unknown = [m for m in model_levels if m not in levels]
    if unknown:
        raise UserInputError(f"model_levels {unknown} are not partition levels {levels}")
    coarsest = min(levels.index(m) for m in model_levels)
    return levels[: coarsest + 1]


def bind_parallel_steps(job: Any, inputs: Mapping[str, Any]) -> None:
    """Set each parallel step's ``partition_keys`` (only where it partitions) and
    ``mini_batch_error_threshold`` (a mini-batch that fails after its retries loses all its
    partitions: at most ``max_failed`` of them may) from the submission's inputs."""
    keys = partition_keys(inputs)
    for node in job.jobs.values():
        if getattr(node, "type", None) != "parallel":
            continue
        if keys is not None and node.partition_keys:
            node.partition_keys = keys
        if "max_failed_partitions" in inputs:
            node.mini_batch_error_threshold = int(str(inputs["max_failed_partitions"]))
