"""Rendering: rich tables for people, JSON for pipelines, one-line errors on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from mlops_azure.cli.state import STATE

console = Console(highlight=False)
err_console = Console(stderr=True, highlight=False)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "value"):  # enums
        return value.value
    raise TypeError(f"cannot serialise {type(value).__name__}")


def emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, default=_default, sort_keys=False) + "\n")


def table(title: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], *,
          optional: Sequence[str] = ()) -> None:
    """Rows under ``columns``, fitted to the terminal (80 columns when it is not one): while the
    table is wider, the ``optional`` columns are left out, in the order given, and a last line
    names them. ``mlops --wide`` shows every column (wrapped)."""
    cells = [["" if cell is None else plain(cell) for cell in row] for row in rows]
    shown = list(columns)
    out = _table(title, shown, cells)
    left_out: list[str] = []
    for name in optional if not STATE.wide else ():
        if _natural_width(out) <= console.width:
            break
        index = shown.index(name)
        shown.pop(index)
        cells = [row[:index] + row[index + 1:] for row in cells]
        left_out.append(name)
        out = _table(title, shown, cells)
    console.print(out)
    if left_out:
        console.print(f"[dim]{', '.join(left_out)} left out to fit {console.width} columns: "
                      "mlops --wide shows them[/]")


def _natural_width(out: Table) -> int:
    """How wide ``out`` is with room to spare (``console.measure`` stops at the console's width)."""
    return Measurement.get(console, console.options.update(max_width=10_000), out).maximum


def _table(title: str, columns: Sequence[str], rows: Sequence[Sequence[str]]) -> Table:
    out = Table(title=title, title_justify="left")
    for column in columns:
        out.add_column(column, overflow="fold")  # long names wrap, never cut to "…"
    for row in rows:
        out.add_row(*row)
    return out


def fields(title: str, values: Mapping[str, Any]) -> None:
    out = Table(title=title, title_justify="left", show_header=False)
    out.add_column(style="bold")
    out.add_column()
    for key, value in values.items():
        out.add_row(key, "" if value is None else plain(value))
    console.print(out)


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def plain(text: object) -> str:
    """``text`` with rich markup escaped: for details that quote a server's or user's words."""
    from rich.markup import escape

    return escape(str(text))


def say(message: str) -> None:
    """A line for people; silent under --json so stdout stays machine-readable."""
    if not STATE.json:
        console.print(message)


def error(message: str) -> None:
    err_console.print(f"[bold red]error:[/] {plain(message)}", soft_wrap=True)
