"""The model card: what goes in (:class:`ModelCard`) and its two renderings, GitHub-flavoured
Markdown (for an Azure DevOps wiki or a repository) and a self-contained HTML page with SVG plots.

Both renderings come from the same sections (``_card_sections``), so they say the same things;
both are deterministic (same card, same bytes) so a card can be hashed and stored as evidence.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from typing import Any


@dataclass(frozen=True)
class Lineage:
    """Where the model came from: data asset, code, job, pipeline, parameters, environment."""

    data_asset: str | None = None  # "name:version"
    data_sha256: str | None = None
    code_commit: str | None = None
    job_id: str | None = None
    pipeline: str | None = None
    params: Mapping[str, Any] = field(default_factory=dict)
    environment_hash: str | None = None


@dataclass(frozen=True)
class GateResult:
    """One release gate the model went through."""

    gate: str
    verdict: str
    detail: str = ""
    at: str = ""

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> GateResult:
        """From a ``{gate, verdict, detail, at}`` mapping (missing keys are empty)."""
        return cls(str(raw.get("gate", "")), str(raw.get("verdict", "")),
                   str(raw.get("detail") or ""), str(raw.get("at") or ""))


@dataclass(frozen=True)
class Champion:
    """The model this one was compared with, and its metrics on the same data."""

    name: str
    version: str
    metrics: Mapping[str, float]


@dataclass(frozen=True)
class ModelCard:
    """Everything a model card shows. ``responsible`` is the responsible-ML report (JSON shape of
    ``mlops_azure.responsible``); any part of it may be missing and the card says "not computed".

    ``limitations`` are the author's; the card adds the ones the report shows (untrusted groups,
    worst cohorts, findings). ``group_limits`` (per sensitive feature, in metric units) is the
    line drawn on the per-group plots; without it the line is derived from the verdict's findings.
    """

    name: str
    version: str
    description: str = ""
    created: datetime | None = None
    creator: str = ""
    intended_use: str = ""
    limitations: Sequence[str] = ()
    lineage: Lineage = field(default_factory=Lineage)
    metrics: Mapping[str, float] = field(default_factory=dict)
    champion: Champion | None = None
    gates: Sequence[GateResult] = ()
    responsible: Mapping[str, Any] | None = None
    group_limits: Mapping[str, float] = field(default_factory=dict)
    #: regression or classification (``model.task``), shown when no report states it.
    task: str = ""

    @property
    def created_text(self) -> str:
        """The creation time in UTC to the minute, or "unknown"."""
        if self.created is None:
            return "unknown"
        moment = self.created if self.created.tzinfo else self.created.replace(tzinfo=UTC)
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def render_markdown(card: ModelCard) -> str:
    """The card as GitHub-flavoured Markdown (tables; plots are in the HTML card)."""
    from mlops_azure.responsible._card_blocks import Items, Paragraph, Plot, Table
    from mlops_azure.responsible._card_sections import sections

    out = [f"# Model card: {md(card.name)} version {md(card.version)}", ""]
    if card.description:
        out += [md(card.description), ""]
    for section in sections(card):
        out += [f"## {md(section.title)}", ""]
        for block in section.blocks:
            if isinstance(block, Paragraph):
                out += [md(block.text), ""]
            elif isinstance(block, Items):
                out += [f"- {md(item)}" for item in block.items] + [""]
            elif isinstance(block, Table):
                if block.caption:
                    out += [f"**{md(block.caption)}**", ""]
                # A key-value table has no headers; GFM needs a header row all the same.
                headers = block.headers if any(block.headers) else ("Field", "Value")
                out.append("| " + " | ".join(md(h) for h in headers) + " |")
                out.append("|" + "".join(" ---: |" if right else " --- |" for right in block.numeric))
                out += ["| " + " | ".join(md(c) for c in row) + " |" for row in block.rows]
                out.append("")
            elif isinstance(block, Plot):
                out += [f"_Plot in the HTML card: {md(block.caption)}._", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def render_html(card: ModelCard) -> str:
    """The card as one self-contained HTML page: inline CSS and SVG, no script, no network."""
    from mlops_azure.responsible._card_html import page

    return page(card)


_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}#|~])")


def md(value: object) -> str:
    """Text for a Markdown line or table cell: HTML escaped (a wiki renders inline HTML),
    Markdown punctuation backslashed, line breaks folded."""
    text = " ".join(str(value).split())
    return _MD_SPECIAL.sub(r"\\\1", escape(text, quote=False))
