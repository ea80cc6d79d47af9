"""New months for the example data, under a regime change: what production sees after a shock.

The months are appended to an existing purchases file whose history stays byte for byte what it
was (a data extract that grew, not a new one), so a model trained on the old file and one trained
on the grown file differ only by what happened since.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from mlops_azure._files import atomic_write
from mlops_azure.errors import UserInputError
from mlops_azure.example.generator import Shock, generate_purchases


def _months_between(first: pd.Period, last: pd.Period) -> int:
    return (last.year - first.year) * 12 + last.month - first.month + 1


def append_months(path: Path, months: int, *, price_change: float = 0.0, new_customers: int = 0,
                  seed: int = 7, organisations: int = 4, customers_per_organisation: int = 5,
                  materials: int = 6) -> pd.DataFrame:
    """Append ``months`` months after the last period of ``path`` (pass the generator arguments
    the file was made with), under a :class:`Shock` starting with the first of them: prices
    times ``1 + price_change``, and ``new_customers`` customers arriving. Returns the new rows."""
    if months < 1:
        raise UserInputError(f"months must be at least 1 (got {months})")
    try:
        periods = pd.read_csv(path, usecols=["period"])["period"]
        first, last = (pd.Period(periods.min(), freq="M"), pd.Period(periods.max(), freq="M"))
    except (OSError, ValueError, KeyError) as exc:
        raise UserInputError(f"{path} is not a purchases file with a period column ({exc})") from None
    grown = generate_purchases(
        seed=seed, start=first.strftime("%Y-%m"), months=_months_between(first, last) + months,
        organisations=organisations, customers_per_organisation=customers_per_organisation,
        materials=materials,
        shock=Shock((last + 1).strftime("%Y-%m"), price_change=price_change,
                    new_customers=new_customers))
    new = grown[grown["period"] > last.strftime("%Y-%m-01")].reset_index(drop=True)
    history = Path(path).read_bytes()
    if history and not history.endswith(b"\n"):
        history += b"\n"
    atomic_write(Path(path), history + new.to_csv(index=False, header=False,
                                                  lineterminator="\n").encode())
    return new




def later_years(rows: pd.DataFrame, copies: int) -> pd.DataFrame:
    """``rows`` followed by ``copies - 1`` copies moved one, two, ... years later: more rows to
    score with every (series, period) still unique (batch-scoring tests and benchmarks)."""
    periods = pd.to_datetime(rows["period"])
    return pd.concat([rows.assign(period=(periods + pd.DateOffset(years=k)).dt.strftime("%Y-%m-01"))
                      for k in range(copies)], ignore_index=True)


__all__ = ["append_months", "later_years"]
