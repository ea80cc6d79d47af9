"""Appending months under a regime change to an existing purchases file."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from mlops_azure.errors import UserInputError
from mlops_azure.example import write_purchases
from mlops_azure.example.regime import append_months


def test_history_stays_byte_for_byte_and_the_new_months_carry_the_shock(tmp_path: Path) -> None:
    path = write_purchases(tmp_path / "p.csv", months=24)
    history = path.read_bytes()
    new = append_months(path, 6, price_change=0.5, new_customers=4)
    grown = path.read_bytes()
    assert grown.startswith(history)
    frame = pd.read_csv(path)
    assert sorted(new["period"].unique()) == [f"2023-{m:02d}-01" for m in range(1, 7)]
    assert new["customer_id"].nunique() == 20 + 4
    old = frame[frame["period"] < "2023-01-01"]
    assert new["price_eur_per_tonne"].median() > 1.3 * old["price_eur_per_tonne"].median()
    assert not frame.duplicated(["period", "organisation_id", "customer_id", "material_id"]).any()


def test_bad_input_is_one_sentence(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="months must be at least 1"):
        append_months(tmp_path / "p.csv", 0)
    (tmp_path / "p.csv").write_text("a,b\n1,2\n")
    with pytest.raises(UserInputError, match="period column"):
        append_months(tmp_path / "p.csv", 3)
    assert (tmp_path / "p.csv").read_text() == "a,b\n1,2\n"  # untouched
