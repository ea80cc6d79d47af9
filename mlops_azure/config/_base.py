"""What every config section shares: strictness, and the asset-name rule."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from mlops_azure.workspace import is_asset_name


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_asset_name(value: str) -> str:
    if not is_asset_name(value):
        raise ValueError(
            f"'{value}' is not a valid asset name (letters, digits, '-', '_' and '.', "
            "starting with a letter or digit)"
        )
    return value
