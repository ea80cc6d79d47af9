"""Tables fit the terminal: low-value columns are left out, and said so, until the table fits;
``--wide`` shows them all."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from mlops_azure.cli import output
from mlops_azure.cli.state import STATE

ROWS = [("steel-purchase-forecast:12", "2026-12-05 01:05:07", "wape 0.2566, mae 31.4, rmse 76.5",
         "steel-purchases:3", "steel-forecast-20261205010511-107b8a")]


def _printed(monkeypatch: pytest.MonkeyPatch, *, wide: bool, width: int = 80) -> str:
    screen = io.StringIO()
    monkeypatch.setattr(output, "console", Console(file=screen, width=width, highlight=False))
    monkeypatch.setattr(STATE, "wide", wide)
    output.table("Models", ["model", "created", "metrics", "data", "job"], ROWS,
                 optional=("job", "data"))
    return screen.getvalue()


def test_low_value_columns_make_way_on_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = _printed(monkeypatch, wide=False)
    assert all(len(line) <= 80 for line in shown.splitlines())
    assert "steel-forecast-20261205010511-107b8a" not in shown
    assert "job, data left out to fit 80 columns: mlops --wide shows them" in shown
    assert "wape 0.2566" in shown  # the metrics stay


def test_wide_shows_every_column(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = _printed(monkeypatch, wide=True)
    assert "left out" not in shown and " job " in shown


def test_a_wide_terminal_leaves_nothing_out(monkeypatch: pytest.MonkeyPatch) -> None:
    shown = _printed(monkeypatch, wide=False, width=200)
    assert "steel-forecast-20261205010511-107b8a" in shown and "left out" not in shown
