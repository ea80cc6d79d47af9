"""``data:``: where the training data is, and the schema the data check enforces."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from mlops_azure.config._base import _check_asset_name, _Strict


class ColumnSpec(_Strict):
    """Expectations on one column of the training data."""

    type: Literal["string", "integer", "float", "date", "boolean"]
    required: bool = True
    max_null_fraction: float = Field(0.0, ge=0.0, le=1.0)
    min: float | None = None
    max: float | None = None
    allowed: list[str] | None = None

    @model_validator(mode="after")
    def _range_is_ordered(self) -> ColumnSpec:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class OutlierRule(_Strict):
    """Robust z-score rule: |x - median| / (1.4826 MAD) above ``robust_z`` is an outlier."""

    columns: list[str]
    group_by: list[str] = Field(default_factory=list)
    robust_z: float = Field(8.0, gt=0)
    max_fraction: float = Field(0.01, ge=0.0, le=1.0)


class DataSchema(_Strict):
    """The data sanity gate: what the data check component verifies."""

    columns: dict[str, ColumnSpec]
    unique_key: list[str] = Field(default_factory=list)
    min_rows: int = Field(1, ge=0)
    allow_extra_columns: bool = True
    outliers: OutlierRule | None = None

    @model_validator(mode="after")
    def _keys_are_columns(self) -> DataSchema:
        named = set(self.columns)
        for key in self.unique_key:
            if key not in named:
                raise ValueError(f"unique_key names '{key}', which is not a declared column")
        if self.outliers:
            for col in [*self.outliers.columns, *self.outliers.group_by]:
                if col not in named:
                    raise ValueError(f"outliers names '{col}', which is not a declared column")
        return self

    def to_json(self) -> str:
        """The JSON document the ``data_check`` component reads."""
        return json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True)


class DataConfig(_Strict):
    asset: str = "training-data"
    path: Path = Path("data/train.csv")
    data_schema: DataSchema = Field(alias="schema")
    #: The column the model predicts (None: the project does not say; nothing excludes it).
    target: str | None = None
    #: Identifier columns: never a feature, never monitored for drift by default.
    id_columns: list[str] = Field(default_factory=list)
    #: The column a time split orders by (None: the project splits at random).
    time_column: str | None = None
    #: The component that checks data against the schema, in the pipeline and in `mlops data check`.
    check_component: Path = Path("components/data_check/data_check.yml")

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @field_validator("asset")
    @classmethod
    def _asset_name(cls, value: str) -> str:
        return _check_asset_name(value)

    @model_validator(mode="after")
    def _named_columns_are_declared(self) -> DataConfig:
        declared = self.data_schema.columns
        named = [("target", self.target), ("time_column", self.time_column),
                 *(("id_columns", c) for c in self.id_columns)]
        for key, column in named:
            if column is not None and column not in declared:
                raise ValueError(f"{key} names '{column}', which is not a column of schema")
        return self

    @property
    def not_features(self) -> list[str]:
        """Columns that are never model inputs: the target and the identifiers."""
        return [*([self.target] if self.target else []), *self.id_columns]
