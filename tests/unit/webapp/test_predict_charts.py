"""The prediction page's plots and the forecast's period: marks, order, where the forecast goes."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest

from mlops_azure.webapp._predict_charts import contributions_chart, series_chart, top_contributions
from mlops_azure.webapp._series_history import next_period


def test_the_largest_contributions_come_first_with_the_typed_values() -> None:
    contributions = {f"f{i}": (-1) ** i * i for i in range(15)}
    top = top_contributions(contributions, {"f14": " 3.5 ", "f13": "x"})
    assert [c.feature for c in top] == [f"f{i}" for i in range(14, 4, -1)]
    assert (top[0].value, top[1].value, top[2].value) == ("3.5", "x", "")
    svg = str(contributions_chart("c", top, 1.5, "the target's units"))
    assert svg.startswith('<svg data-plot="contributions" id="c"')
    assert svg.count('class="mark"') == 10
    assert "f14 = 3.5" in svg and "base value 1.5" in svg


def test_the_series_chart_draws_history_and_one_forecast() -> None:
    times = [datetime(2024, m, 1) for m in range(1, 7)]
    svg = str(series_chart("s", times, [1.0, 2, 3, 2, 4, 5], [(datetime(2024, 7, 1), 6.5)], "qty",
                           "customer=A & B"))
    assert svg.startswith('<svg data-plot="series" id="s"')
    assert svg.count('data-kind="history"') == 6 and svg.count('data-kind="forecast"') == 1
    assert svg.count('class="mark"') == 7
    assert "customer=A &amp; B" in svg and "2024-07-01" in svg


@pytest.mark.parametrize(("times", "last", "expected", "words"), [
    (pd.date_range("2021-01-01", periods=30, freq="MS"), "2024-12-01", "2025-01-01",
     "monthly data"),
    (pd.date_range("2021-01-31", periods=30, freq="ME"), "2024-02-29", "2024-03-29",
     "monthly data"),
    (pd.date_range("2021-01-01", periods=9, freq="QS"), "2024-10-01", "2025-01-01",
     "quarterly data"),
    (pd.date_range("2021-01-04", periods=9, freq="W-MON"), "2024-01-01", "2024-01-08",
     "weekly data"),
    (pd.date_range("2021-01-01", periods=9, freq="D"), "2024-01-31", "2024-02-01", "daily data"),
    (pd.date_range("2021-01-01", periods=9, freq="3D"), "2024-01-01", "2024-01-04",
     "one typical gap (3 days)"),
])
def test_the_forecast_goes_one_period_after_the_last_point(
        times: pd.DatetimeIndex, last: str, expected: str, words: str) -> None:
    step, said = next_period(list(times))
    assert step(pd.Timestamp(last)) == pd.Timestamp(expected)
    assert said.startswith(words)


def test_one_point_of_history_and_no_forecast_still_draw() -> None:
    svg = str(series_chart("s", [datetime(2024, 1, 1)], [5.0], [], "qty", "a=1"))
    assert svg.count('data-kind="history"') == 1 and 'data-kind="forecast"' not in svg
