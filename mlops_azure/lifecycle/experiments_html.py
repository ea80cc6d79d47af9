"""``mlops experiments compare --html``: one self-contained page (inline stylesheet and SVG, no
script, no font or URL; a Content-Security-Policy forbids loading anything), the runs side by
side and, for each study, its optimisation history, parallel coordinates, parameter importances
and trials. The same comparison always gives the same bytes."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mlops_azure.lifecycle.experiments_importance import MIN_TRIALS, param_importances
from mlops_azure.lifecycle.experiments_plots import history, importance, parallel
from mlops_azure.records_tuning import Study, TrialState
from mlops_azure.responsible._plots_svg import esc, fmt

if TYPE_CHECKING:
    from mlops_azure.lifecycle.experiments import Comparison, Run

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"

_STYLE = """
:root { --ink: #1f2933; --muted: #5f6b7a; --line: #d9dee4; --soft: #f5f7f9; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
header { background: var(--soft); border-bottom: 1px solid var(--line); padding: 24px 40px 16px; }
header h1 { margin: 0 0 4px; font-size: 24px; }
header p { margin: 4px 0; color: var(--muted); }
main { padding: 8px 40px 48px; max-width: 1200px; }
h2 { margin: 32px 0 10px; padding-bottom: 6px; border-bottom: 2px solid var(--line); font-size: 20px; }
h3 { margin: 22px 0 6px; font-size: 16px; }
table { border-collapse: collapse; margin: 10px 0 18px; font-size: 13.5px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 14px 5px 0; text-align: left;
  vertical-align: top; }
th { color: var(--muted); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
figure { margin: 12px 0 20px; }
figure svg { max-width: 100%; height: auto; display: block; }
figcaption { color: var(--muted); font-size: 12.5px; }
.nc { color: var(--muted); font-style: italic; }
.scroll { overflow-x: auto; }
@media print { header { background: none; } main { padding: 0; } figure, table { break-inside: avoid; } }
"""


def render_page(comparison: Comparison) -> str:
    """The whole page."""
    runs, studies = comparison.runs, comparison.studies
    what = [f"{len(runs)} run{'s' * (len(runs) != 1)}"] if runs else []
    what += [f"{len(studies)} stud{'ies' if len(studies) != 1 else 'y'}"] if studies else []
    parts = ["<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
             f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             "<title>Experiments compared</title>", f"<style>{_STYLE}</style></head><body>",
             "<header><h1>Experiments compared</h1>",
             f"<p>{esc(' and '.join(what))}</p></header><main>"]
    if runs:
        parts.append(_runs(runs))
    for index, study in enumerate(studies):
        parts.append(_study(study, index))
    parts.append("</main></body></html>\n")
    return "".join(parts)


def _runs(runs: Sequence[Run]) -> str:
    params = _union(r.params for r in runs)
    metrics = _union(r.metrics or {} for r in runs)
    rows: list[tuple[str, list[str]]] = [
        ("when", [r.created_at.strftime("%Y-%m-%d %H:%M:%S") for r in runs]),
        ("status", [r.status.value for r in runs]),
        ("data", [r.data or "-" for r in runs]),
        *((f"param {p}", [_value(r.params.get(p, "")) for r in runs]) for p in params),
        *((m, ["-" if r.metrics is None or m not in r.metrics else fmt(r.metrics[m], 4)
               for r in runs]) for m in metrics),
        ("registered", [r.registered or "no" for r in runs]),
        ("sweep", [r.sweep or "" for r in runs]),
    ]
    head = "".join(f'<th class="mono">{esc(r.job_id)}</th>' for r in runs)
    body = "".join(f"<tr><th>{esc(name)}</th>" + "".join(f"<td>{esc(c)}</td>" for c in cells)
                   + "</tr>" for name, cells in rows)
    return (f'<section id="runs"><h2>Runs</h2><div class="scroll"><table><thead><tr><th></th>'
            f"{head}</tr></thead><tbody>{body}</tbody></table></div></section>")


def _study(study: Study, index: int) -> str:
    counts = ", ".join(f"{study.count(s)} {s.value.lower()}" for s in TrialState if study.count(s))
    best = study.best
    facts = {
        "job": study.job_id, "step": study.step, "objective": f"{study.goal} {study.metric}",
        "sampling": study.sampling, "early termination": study.early_termination or "none",
        "trials": f"{len(study.trials)} ({counts or 'none'})",
        "best trial": "none completed" if best is None else
        f"#{best.number}: {study.metric}={fmt(best.value, 4)} with {_params(best.params)}",
        "search space sha256": study.search_space_sha256,
    }
    if study.sweep_job_id:
        facts["sweep job"] = study.sweep_job_id
    summary = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in facts.items())
    ident = f"s{index}"
    importances = param_importances(study)
    plots = [
        ("Optimisation history", history(study, f"plot-{ident}-history"),
         f"{study.metric} per trial; hollow dots were pruned; the line is the best so far.",
         "No trial reported a value yet."),
        ("Parallel coordinates", parallel(study, f"plot-{ident}-parallel"),
         "One line per completed trial; log axes are marked (log).",
         "No trial completed yet."),
        ("Parameter importances",
         importance(study, f"plot-{ident}-importance", importances or {}),
         "fANOVA on the completed trials (Optuna's default evaluator).",
         f"Importances need at least {MIN_TRIALS} completed trials with differing parameters."),
    ]
    figures = "".join(
        f"<h3>{esc(title)}</h3>" + (f"<figure>{svg}<figcaption>{esc(caption)}</figcaption></figure>"
                                    if svg else f'<p class="nc">{esc(missing)}</p>')
        for title, svg, caption, missing in plots)
    return (f'<section id="study-{ident}"><h2>Study {esc(study.name)}</h2>'
            f"<table><tbody>{summary}</tbody></table>{figures}<h3>Trials</h3>"
            f"{_trials(study)}</section>")


def _trials(study: Study) -> str:
    names = _union(t.params for t in study.trials)
    head = "".join(f"<th>{esc(h)}</th>" for h in ["#", "state", *names, study.metric, "duration"])
    rows = []
    for trial in sorted(study.trials, key=lambda t: t.number):
        cells = [str(trial.number), trial.state.value.lower(),
                 *(_value(trial.params.get(n, "")) for n in names),
                 fmt(trial.value, 4) if trial.value is not None else "-",
                 "-" if trial.duration_s is None else f"{fmt(trial.duration_s)} s"]
        mark = ' style="font-weight:600"' if trial.number == study.best_trial else ""
        rows.append(f"<tr{mark}>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
    return (f'<div class="scroll"><table><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div>")


def _union(mappings: Any) -> list[str]:
    seen: dict[str, None] = {}
    for mapping in mappings:
        seen.update(dict.fromkeys(mapping))
    return list(seen)


def _value(value: object) -> str:
    return fmt(value, 4) if isinstance(value, float) else str(value)


def _params(params: Any) -> str:
    return ", ".join(f"{k}={_value(v)}" for k, v in params.items()) or "no parameters"


__all__ = ["render_page"]
