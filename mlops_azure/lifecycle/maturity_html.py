"""The maturity report as one self-contained HTML page (no script, nothing loaded from outside:
the model card's stylesheet and Content-Security-Policy)."""

from __future__ import annotations

from mlops_azure.lifecycle.maturity import MODEL_URL, Maturity
from mlops_azure.lifecycle.maturity_criteria import LEVELS, Status
from mlops_azure.responsible._card_html import page_head
from mlops_azure.responsible._plots_svg import esc

_BADGE = {Status.MET: "pass", Status.NOT_MET: "block", Status.UNKNOWN: "warn"}


def render_html(result: Maturity) -> str:
    """The whole page: the level reached, what the next one needs, every criterion by level."""
    parts = [page_head(f"MLOps maturity: {result.project}"), "<header>",
             f"<h1>MLOps maturity: {esc(result.project)}"
             f'<span class="badge pass">level {result.level}</span></h1>',
             f"<p>Level {result.level}: {esc(LEVELS[result.level])}. Judged from evidence "
             f"(files, git, CI definitions, the {esc(result.backend or 'unread')} workspace"
             + (f", {esc(result.junit)}" if result.junit else "") + ") against "
             f"Microsoft's MLOps maturity model ({esc(MODEL_URL)}).</p></header><main>"]
    gaps = result.gaps()
    if gaps:
        parts.append(f"<h2>What level {result.next_level} needs</h2><ul class=\"limits\">")
        parts += [f"<li><b>{esc(j.criterion.text)}</b>: {esc(j.verdict.missing)}. "
                  f"<span class=\"mono\">{esc(j.verdict.fix)}</span></li>" for j in gaps]
        parts.append("</ul>")
    for level in sorted(LEVELS)[1:]:
        rows = [j for j in result.judged if j.criterion.level == level]
        parts.append(f"<h2>Level {level}: {esc(LEVELS[level])}</h2><table><thead><tr>"
                     "<th>Criterion</th><th>Aspect</th><th>Status</th><th>Evidence or what is "
                     "missing</th></tr></thead><tbody>")
        for j in rows:
            v = j.verdict
            seen = "<br>".join(f'<span class="mono">{esc(str(e))}</span>' for e in v.evidence)
            if v.status != Status.MET:
                seen = (f"{esc(v.missing)}" + (f'<br><span class="mono">{esc(v.fix)}</span>'
                                              if v.fix else "") + (f"<br>{seen}" if seen else ""))
            parts.append(f"<tr><td>{esc(j.criterion.text)}<br><span class=\"nc\">"
                         f"{esc(j.criterion.id)}: {esc(j.criterion.source)}</span></td>"
                         f"<td>{esc(j.criterion.aspect)}</td><td><span class=\"badge "
                         f"{_BADGE[v.status]}\">{esc(v.status.value)}</span></td><td>{seen}</td></tr>")
        parts.append("</tbody></table>")
    parts.append("</main></body></html>\n")
    return "\n".join(parts)
