"""``batch:``: how ``mlops score batch`` scores files, and where forecasts land in PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import Field, field_validator

from mlops_azure.config._base import _Strict

#: Rows scored at a time. Larger chunks mean fewer LightGBM calls per partition model (with
#: 1,000 partitions, 100,000 rows make calls of ~100 rows, and each call pays its model's trees
#: cold in cache) for more memory per worker: in the 1,000-partition benchmark a worker peaks at
#: ~384 MiB with 250,000 rows against ~294 MiB with 100,000 (benchmarks/results/partitions.md).
DEFAULT_CHUNK_ROWS = 250_000
_MODULE = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
#: What the batch scoring processes run on themselves.
_NEEDED = frozenset({"mlops_azure", "pandas", "numpy"})


class BatchConfig(_Strict):
    """The batch scoring script (``init()`` / ``score_frame(frame)``, and ``run(mini_batch)``
    for Azure ML batch deployments) and the PostgreSQL table forecasts go to. The connection
    string is never here: it comes from ``MLOPS_POSTGRES_DSN``."""

    code: Path = Path("components")
    scoring_script: str = "score/batch_score.py"
    chunk_rows: int = Field(DEFAULT_CHUNK_ROWS, ge=1)
    #: Modules the scoring processes ``mlops score batch`` starts must not import. LightGBM
    #: imports scikit-learn (~0.5 s) only for its scikit-learn API; a script that scores with
    #: ``lightgbm.Booster`` never needs it, and ``[sklearn]`` takes that off every run's start.
    #: A script that does import a blocked module fails with one sentence naming it. With one
    #: worker the script runs in the calling process, which is left alone.
    block_imports: list[str] = Field(default_factory=list)
    table: str = "forecasts"
    #: The columns that identify a forecast series (besides ``data.time_column``), as they are
    #: named in the table, coarse to fine. In mlops.yaml the default is ``partitions.levels``,
    #: else ``data.id_columns`` (``ProjectConfig`` fills it in); empty, forecasts cannot go to
    #: PostgreSQL.
    keys: list[str] = Field(default_factory=list)

    @field_validator("block_imports")
    @classmethod
    def _module_names(cls, value: list[str]) -> list[str]:
        for name in value:
            if not _MODULE.fullmatch(name):
                raise ValueError(f"'{name}' is not a module name (e.g. sklearn or scipy.sparse)")
            if name.split(".")[0] in _NEEDED:
                raise ValueError(f"'{name}' cannot be blocked: the scoring processes need it")
        return value
