"""The model card as one self-contained HTML page: inline stylesheet (screen and print), inline
SVG plots, no script, no external font or URL; a Content-Security-Policy forbids loading anything,
so a page that tried would fail loudly in the browser test rather than phone home."""

from __future__ import annotations

from mlops_azure.responsible._card import ModelCard
from mlops_azure.responsible._card_blocks import Items, Paragraph, Plot, Section, Table
from mlops_azure.responsible._card_limits import report_part
from mlops_azure.responsible._card_sections import sections
from mlops_azure.responsible._plots_svg import esc

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

_STYLE = """
:root { --ink: #1f2933; --muted: #5f6b7a; --line: #d9dee4; --soft: #f5f7f9; --accent: #2f6db5; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.45;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
header { background: var(--soft); border-bottom: 1px solid var(--line); padding: 28px 40px 20px; }
header h1 { margin: 0 0 4px; font-size: 26px; }
header p { margin: 4px 0; color: var(--muted); max-width: 70em; }
main { padding: 8px 40px 48px; max-width: 1100px; }
nav { margin: 12px 0 0; font-size: 13px; }
nav a { color: var(--accent); margin-right: 14px; text-decoration: none; }
h2 { margin: 36px 0 10px; padding-bottom: 6px; border-bottom: 2px solid var(--line); font-size: 20px; }
table { border-collapse: collapse; margin: 10px 0 18px; font-size: 13.5px; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 12px 5px 0; text-align: left;
  vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
figure { margin: 14px 0 22px; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: 12.5px; }
ul.limits li { margin: 4px 0; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 10px; font-weight: 600;
  font-size: 13px; color: #fff; background: #5f6b7a; vertical-align: middle; margin-left: 8px; }
.badge.pass { background: #2e7d4f; } .badge.warn { background: #b26a00; }
.badge.block { background: #c8102e; }
.nc { color: var(--muted); font-style: italic; }
@media print {
  body { font-size: 11pt; }
  header { background: none; padding: 0 0 8pt; }
  main { padding: 0; max-width: none; }
  nav { display: none; }
  h2 { break-after: avoid; }
  figure, table { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
  .badge { border: 1px solid #000; color: #000; background: none !important; }
}
"""


def page_head(title: str) -> str:
    """A self-contained page up to its ``<body>``: the card's stylesheet and its policy (no
    script, nothing loaded from elsewhere); ``title`` is escaped."""
    return "\n".join(["<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
                      f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
                      '<meta name="viewport" content="width=device-width, initial-scale=1">',
                      '<meta name="referrer" content="no-referrer">',
                      f"<title>{esc(title)}</title>",
                      f"<style>{_STYLE}</style></head><body>"])


def page(card: ModelCard) -> str:
    """The whole page."""
    parts = [page_head(f"Model card: {card.name}:{card.version}"), _header(card), "<main>"]
    parts += [_section(section) for section in sections(card)]
    parts.append("</main></body></html>\n")
    return "\n".join(parts)


def _header(card: ModelCard) -> str:
    verdict = report_part(card.responsible or {}, "verdict")
    status = str(verdict.get("status") or "not computed")
    badge_class = status if status in ("pass", "warn", "block") else "none"
    badge = (f'<span class="badge {badge_class}" title="responsible-ML verdict">'
             f"responsible ML: {esc(status)}</span>")
    links = "".join(f'<a href="#{ident}">{title}</a>' for ident, title in (
        ("summary", "Summary"), ("limitations", "Limitations"), ("lineage", "Lineage"),
        ("metrics", "Metrics"), ("fairness", "Fairness"), ("cohorts", "Cohorts"),
        ("explanations", "Explanations"), ("mitigation", "Mitigation")))
    return (f"<header><h1>{esc(card.name)} <span class=\"mono\">v{esc(card.version)}</span>{badge}"
            f"</h1><p>{esc(card.description) if card.description else 'No description.'}</p>"
            f"<p>Created {esc(card.created_text)} by {esc(card.creator or 'unknown')}</p>"
            f"<nav>{links}</nav></header>")


def _section(section: Section) -> str:
    out = [f'<section id="{esc(section.ident)}"><h2>{esc(section.title)}</h2>']
    for block in section.blocks:
        if isinstance(block, Paragraph):
            css = ' class="nc"' if block.text.endswith("not computed.") else ""
            out.append(f"<p{css}>{esc(block.text)}</p>")
        elif isinstance(block, Items):
            css = ' class="limits"' if section.ident == "limitations" else ""
            out.append(f"<ul{css}>" + "".join(f"<li>{esc(i)}</li>" for i in block.items) + "</ul>")
        elif isinstance(block, Table):
            out.append(_table(block))
        elif isinstance(block, Plot):
            # The SVG is built from escaped values only (see _plots_svg), so it goes in as is.
            out.append(f"<figure>{block.draw()}</figure>")
    out.append("</section>")
    return "\n".join(out)


def _table(table: Table) -> str:
    def cls(i: int) -> str:
        return ' class="num"' if table.numeric[i] else ""

    head = "" if not any(table.headers) else "<thead><tr>" + "".join(
        f"<th{cls(i)}>{esc(h)}</th>" for i, h in enumerate(table.headers)) + "</tr></thead>"
    caption = f"<caption>{esc(table.caption)}</caption>" if table.caption else ""
    body = "".join("<tr>" + "".join(
        f"<th>{esc(c)}</th>" if i == 0 and not any(table.headers) else f"<td{cls(i)}>{esc(c)}</td>"
        for i, c in enumerate(row)) + "</tr>" for row in table.rows)
    return f"<table>{caption}{head}<tbody>{body}</tbody></table>"
