"""``partitions:``: many models, one per partition (``pipelines/training-partitioned.yml``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator

from mlops_azure.config._base import _Strict


class PartitionsConfig(_Strict):
    """Which columns partition the data and which levels get a model of their own."""

    #: Partition columns, coarse to fine (e.g. region, store).
    levels: list[str] = Field(min_length=1)
    #: The levels that get one model per partition (default: every level). Rows of a partition
    #: without a model go to its parent level's model, and finally to the global model.
    model_levels: list[str] | None = None
    #: Training rows a partition needs for a model of its own.
    min_rows: int = Field(24, ge=1)
    #: Partitions that may fail to train before the training job fails.
    max_failed: int = Field(0, ge=0)
    #: On ``--backend azure``, train the partitions as an Azure ML parallel job (one mini-batch
    #: per partition of the coarsest model level, over the prepared rows as an mltable):
    #: ``azure_pipeline`` is submitted in place of ``training.pipeline``. Off: the command step
    #: with its own process pool, as locally.
    azure_parallel: bool = True
    azure_pipeline: Path = Path("pipelines/training-partitioned-parallel.yml")

    @model_validator(mode="after")
    def _model_levels_are_levels(self) -> PartitionsConfig:
        for level in self.model_levels or []:
            if level not in self.levels:
                raise ValueError(f"model_levels names '{level}', which is not one of levels")
        if len(set(self.levels)) != len(self.levels):
            raise ValueError("levels must not repeat a column")
        return self
