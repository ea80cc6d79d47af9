"""``batch:``: how ``mlops score batch`` scores files, and where forecasts land in PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from mlops_azure.config._base import _Strict


class BatchConfig(_Strict):
    """The batch scoring script (``init()`` / ``score_frame(frame)``, and ``run(mini_batch)``
    for Azure ML batch deployments) and the PostgreSQL table forecasts go to. The connection
    string is never here: it comes from ``MLOPS_POSTGRES_DSN``."""

    code: Path = Path("components")
    scoring_script: str = "score/batch_score.py"
    chunk_rows: int = Field(100_000, ge=1)
    table: str = "forecasts"
    #: The forecast's key columns besides ``period``, as they are named in the table.
    keys: list[str] = Field(default_factory=lambda: ["organisation_id", "customer_id",
                                                      "material_id"])
