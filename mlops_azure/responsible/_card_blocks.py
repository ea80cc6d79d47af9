"""The model card's building blocks (paragraphs, lists, tables, plots), which the Markdown and
HTML renderers each draw in their own way."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Paragraph:
    """Running text (a "...: not computed." one is styled as such)."""

    text: str


@dataclass(frozen=True)
class Items:
    """A bulleted list."""

    items: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """A table; a key-value table has empty headers."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    numeric: tuple[bool, ...]  # right-aligned columns
    caption: str = ""


@dataclass(frozen=True)
class Plot:
    """An inline SVG plot: ``draw`` builds it, so the Markdown card (which only names it) does
    not pay for drawing thousands of dots."""

    draw: Callable[[], str]
    caption: str


Block = Paragraph | Items | Table | Plot


@dataclass(frozen=True)
class Section:
    """A titled part of the card; ``ident`` is the HTML anchor."""

    ident: str
    title: str
    blocks: tuple[Block, ...]


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[bool],
           caption: str = "") -> Table:
    return Table(tuple(headers), tuple(tuple(r) for r in rows), tuple(numeric), caption)


def not_computed(what: str) -> Paragraph:
    return Paragraph(f"{what}: not computed.")


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"
