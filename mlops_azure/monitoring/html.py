"""A drift report as one self-contained HTML page: the verdict, a table, and for every drifted
feature a chart of its reference and current distributions (inline SVG: no scripts, no network)."""

from __future__ import annotations

from html import escape

from mlops_azure.monitoring.drift import DriftReport, FeatureDrift

_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;color:#1b1f24;max-width:980px}
h1{font-size:1.4rem}.verdict{padding:.6rem 1rem;border-radius:6px;display:inline-block}
.drift{background:#ffe3e0;color:#8a1c10}.stable{background:#dff5e3;color:#145a24}
table{border-collapse:collapse;margin:1rem 0}td,th{padding:.3rem .6rem;border-bottom:1px solid #ddd;
text-align:right}td:first-child,th:first-child{text-align:left}tr.drifted td{color:#8a1c10}
figure{margin:1.5rem 0}figcaption{font-weight:600;margin-bottom:.3rem}
.legend span{display:inline-block;width:.8rem;height:.8rem;margin:0 .3rem 0 1rem}
"""
REFERENCE, CURRENT = "#7a8ca3", "#d9480f"


def _number(value: float | None, digits: int = 3) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _chart(feature: FeatureDrift, width: int = 900, height: int = 220) -> str:
    dist = feature.distribution
    bins = len(dist.labels)
    top = max([*dist.reference, *dist.current, 1e-9])
    slot = (width - 40) / max(bins, 1)
    bar = slot * 0.38
    parts = [f'<svg role="img" aria-label="{escape(feature.feature)}: reference and current '
             f'distributions" width="{width}" height="{height + 60}" '
             f'viewBox="0 0 {width} {height + 60}">']
    for i, label in enumerate(dist.labels):
        x = 30 + i * slot
        for offset, share, colour in ((0.0, dist.reference[i], REFERENCE),
                                      (bar, dist.current[i], CURRENT)):
            h = height * share / top
            parts.append(f'<rect x="{x + offset:.1f}" y="{height - h + 10:.1f}" '
                         f'width="{bar:.1f}" height="{h:.1f}" fill="{colour}">'
                         f'<title>{escape(label)}: {share:.1%}</title></rect>')
        parts.append(f'<text x="{x + bar:.1f}" y="{height + 28}" font-size="10" '
                     f'text-anchor="middle">{escape(label[:18])}</text>')
    parts.append(f'<line x1="25" y1="{height + 10}" x2="{width - 5}" y2="{height + 10}" '
                 'stroke="#999"/></svg>')
    return "".join(parts)


def _verdict(report: DriftReport) -> str:
    verdict = report.verdict
    kind = "drift" if verdict.drifted else "stable"
    return f'<p class="verdict {kind}">{escape(verdict.reason[:1].upper() + verdict.reason[1:])}</p>'


def render_html(report: DriftReport, title: str) -> str:
    """The report page; ``title`` says what was compared with what."""
    rows = []
    compared = report.compared
    for f in sorted(compared, key=lambda f: (not f.drifted, -f.js)):
        rows.append(
            f'<tr class="{"drifted" if f.drifted else ""}"><td>{escape(f.feature)}</td>'
            f"<td>{f.kind}</td><td>{_number(f.psi)}</td><td>{_number(f.js)}</td>"
            f"<td>{_number(f.wasserstein)}</td><td>{_number(f.ks_p, 4)}</td>"
            f"<td>{_number(f.chi2_p, 4)}</td><td>{f.missing_current:.1%}</td>"
            f"<td>{f.out_of_range:.1%}</td><td>{escape('; '.join(f.reasons))}</td></tr>")
    charts = [f"<figure><figcaption>{escape(f.feature)} — {escape('; '.join(f.reasons))}"
              f"</figcaption>{_chart(f)}</figure>" for f in compared if f.drifted]
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{escape(title)}"
        f"</title><style>{_STYLE}</style></head><body><h1>{escape(title)}</h1>{_verdict(report)}"
        f"<p>{report.rows_reference:,} reference rows, {report.rows_current:,} current rows.</p>"
        "<table><tr><th>feature</th><th>kind</th><th>PSI</th><th>Jensen-Shannon</th>"
        "<th>Wasserstein (std)</th><th>KS p</th><th>chi² p</th><th>missing</th>"
        "<th>out of range</th><th>why</th></tr>" + "".join(rows) + "</table>"
        f'<p class="legend"><span style="background:{REFERENCE}"></span>reference (training data; '
        f'predictions: the model\'s on its holdout)<span style="background:{CURRENT}"></span>'
        "current</p>" + "".join(charts) + "</body></html>")
