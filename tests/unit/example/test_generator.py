"""The example data generator: deterministic, realistic, and with the defects it promises."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mlops_azure.errors import UserInputError
from mlops_azure.example import COLUMNS, Shock, generate_purchases, write_purchases
from mlops_azure.example.generator import KEY, MATERIALS


@pytest.fixture(scope="module")
def purchases() -> pd.DataFrame:
    return generate_purchases()


def test_same_arguments_give_byte_identical_csv(tmp_path: Path) -> None:
    first = write_purchases(tmp_path / "a.csv", seed=3, months=24)
    second = write_purchases(tmp_path / "nested" / "b.csv", seed=3, months=24)
    other = write_purchases(tmp_path / "c.csv", seed=4, months=24)
    assert first.read_bytes() == second.read_bytes()
    assert first.read_bytes() != other.read_bytes()
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["a.csv", "b.csv", "c.csv"]


def test_columns_shape_and_types(purchases: pd.DataFrame) -> None:
    assert tuple(purchases.columns) == COLUMNS
    assert len(purchases) == 4 * 5 * 6 * 48
    assert purchases["period"].str.fullmatch(r"\d{4}-\d{2}-01").all()
    assert purchases["period"].min() == "2021-01-01" and purchases["period"].max() == "2024-12-01"
    assert purchases["organisation_id"].str.fullmatch(r"ORG-0[1-4]").all()
    assert purchases["customer_id"].str.fullmatch(r"CUST-00(0[1-9]|1\d|20)").all()
    assert set(purchases["material_id"]) == {m[0] for m in MATERIALS}
    assert set(purchases["segment"]) <= {"construction", "automotive", "machinery", "energy"}
    assert set(purchases["region"]) <= {"north", "south", "east", "west"}
    assert set(purchases["company_size"]) <= {"small", "medium", "large"}
    assert purchases["price_eur_per_tonne"].dtype == np.float64
    assert purchases["quantity_tonnes"].dtype == np.float64
    assert purchases["promotion"].dtype == np.int64
    assert set(purchases["promotion"]) == {0, 1}
    assert not purchases.duplicated(list(KEY)).any()
    assert (purchases["quantity_tonnes"] >= 0).all()
    # Each customer belongs to one organisation and has one segment, region and size.
    per_customer = purchases.groupby("customer_id")[
        ["organisation_id", "segment", "region", "company_size"]].nunique()
    assert (per_customer == 1).all().all()


def test_defects_are_present_at_small_rates(purchases: pd.DataFrame) -> None:
    missing = purchases["price_eur_per_tonne"].isna().mean()
    assert 0.003 <= missing <= 0.008
    quantity = purchases["quantity_tonnes"]
    median = quantity.groupby([purchases["customer_id"], purchases["material_id"]]).transform("median")
    spikes = (quantity > 6 * median).mean()
    assert 0.001 <= spikes <= 0.004
    zero_months = (quantity == 0).mean()
    assert 0.01 <= zero_months <= 0.10


def test_seasonality_trend_prices_and_promotions_are_visible(purchases: pd.DataFrame) -> None:
    month = purchases["period"].str[5:7].astype(int)
    construction = purchases[purchases["segment"] == "construction"]
    by_month = construction.groupby(month[construction.index])["quantity_tonnes"].mean()
    assert by_month[[6, 7, 8]].mean() > 1.25 * by_month[[12, 1, 2]].mean()
    december = purchases[month == 12]["quantity_tonnes"].mean()
    november = purchases[month == 11]["quantity_tonnes"].mean()
    assert december < november
    year = purchases["period"].str[:4]
    yearly = purchases.groupby(["customer_id", "material_id", year])["quantity_tonnes"].sum().unstack()
    assert (yearly["2024"] / yearly["2021"]).median() > 1.0
    promoted = purchases.groupby("promotion")["quantity_tonnes"].median()
    assert promoted[1] > promoted[0]
    prices = purchases.groupby("material_id")["price_eur_per_tonne"].mean()
    assert prices["MAT-GAL"] > prices["MAT-REB"]  # galvanised sheet costs more than rebar


def test_larger_companies_buy_more(purchases: pd.DataFrame) -> None:
    volume = purchases.groupby("company_size")["quantity_tonnes"].median()
    assert volume["small"] < volume["medium"] < volume["large"]


def test_price_shock_raises_prices_from_its_start_and_leaves_the_past_alone(
    purchases: pd.DataFrame,
) -> None:
    shocked = generate_purchases(shock=Shock("2024-01", price_change=0.3))
    before = purchases["period"] < "2024-01-01"
    pd.testing.assert_frame_equal(shocked[before], purchases[before])
    ratio = (shocked.loc[~before, "price_eur_per_tonne"]
             / purchases.loc[~before, "price_eur_per_tonne"]).dropna()
    assert ratio.between(1.29, 1.31).all()
    # Demand answers through the price elasticity.
    assert shocked.loc[~before, "quantity_tonnes"].sum() < purchases.loc[~before, "quantity_tonnes"].sum()


def test_new_customers_arrive_with_the_shock(purchases: pd.DataFrame) -> None:
    shocked = generate_purchases(shock=Shock("2024-07", new_customers=3))
    new = shocked[~shocked["customer_id"].isin(purchases["customer_id"])]
    assert sorted(new["customer_id"].unique()) == ["CUST-0021", "CUST-0022", "CUST-0023"]
    assert new["period"].min() == "2024-07-01"
    assert len(new) == 3 * 6 * 6
    assert not shocked.duplicated(list(KEY)).any()
    old = shocked[shocked["customer_id"].isin(purchases["customer_id"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(old, purchases)


def test_size_arguments_are_honoured() -> None:
    small = generate_purchases(organisations=2, customers_per_organisation=3, materials=2,
                               months=13, start="2023-12")
    assert len(small) == 2 * 3 * 2 * 13
    assert small["period"].iloc[0] == "2023-12-01" and small["period"].iloc[-1] == "2024-12-01"
    assert set(small["material_id"]) == {"MAT-HRC", "MAT-CRC"}


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"months": 0}, "months"),
        ({"organisations": 0}, "organisations"),
        ({"customers_per_organisation": 0}, "customers_per_organisation"),
        ({"materials": 7}, "materials"),
        ({"start": "2021-13"}, "start"),
        ({"start": "January"}, "start"),
    ],
)
def test_impossible_arguments_are_named(kwargs: dict[str, object], named: str) -> None:
    with pytest.raises(UserInputError, match=named):
        generate_purchases(**kwargs)  # type: ignore[arg-type]


def test_bad_shock_is_refused() -> None:
    with pytest.raises(UserInputError, match=r"Shock\.start"):
        Shock("2024/01")
    with pytest.raises(UserInputError, match="new_customers"):
        Shock("2024-01", new_customers=-1)


def test_generation_is_fast() -> None:
    began = time.perf_counter()
    generate_purchases(seed=11)
    assert time.perf_counter() - began < 1.0


def test_bias_makes_one_segment_rare_and_different() -> None:
    from mlops_azure.example.generator import Bias

    fair = generate_purchases(customers_per_organisation=25, months=24)
    biased = generate_purchases(customers_per_organisation=25, months=24, bias=Bias())
    share = (biased.drop_duplicates("customer_id")["segment"] == "energy").mean()
    assert share < (fair.drop_duplicates("customer_id")["segment"] == "energy").mean()
    energy = biased[biased["segment"] == "energy"]
    others = biased[biased["segment"] != "energy"]
    # Its promotions are far more frequent than everyone else's 6 %.
    assert energy["promotion"].mean() > 0.25 > 0.1 > others["promotion"].mean()


@pytest.mark.parametrize(("kwargs", "says"), [
    ({"segment": "retail"}, "Bias.segment 'retail' is not one of"),
    ({"share": 1.5}, "Bias.share must be between 0 and 1"),
    ({"elasticity": -1}, "Bias.elasticity must not be negative"),
    ({"promotion_rate": 2}, "Bias.promotion_rate must be between 0 and 1"),
])
def test_bias_rejects_impossible_settings(kwargs: dict[str, Any], says: str) -> None:
    from mlops_azure.example.generator import Bias

    with pytest.raises(UserInputError, match=says):
        Bias(**kwargs)
