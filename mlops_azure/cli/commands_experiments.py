"""``mlops experiments``: the runs of a training experiment listed and compared, with the studies
of their sweep steps."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mlops_azure.cli import output
from mlops_azure.cli.state import STATE

if TYPE_CHECKING:
    from mlops_azure.lifecycle.experiments import Run
    from mlops_azure.records_tuning import Study

app = typer.Typer(help="Runs of the training experiment: list them, compare runs and studies.",
                  no_args_is_help=True)

_EXPERIMENT = typer.Option("--experiment", help="The experiment (default: training.experiment "
                           "of mlops.yaml).")
_JSON = typer.Option("--json", help="Machine-readable output (as the global --json).")


@app.command("list")
def list_(
    experiment: Annotated[str | None, _EXPERIMENT] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many runs, newest first.")] = 20,
    json_output: Annotated[bool, _JSON] = False,
) -> None:
    """Runs of the experiment: when, status, data, params, holdout metrics, registered or not."""
    from mlops_azure.lifecycle.experiments import list_runs

    config = STATE.config()
    runs = list_runs(STATE.workspace(config), config, experiment=experiment, limit=limit)
    if STATE.json or json_output:
        output.emit_json([r.to_dict() for r in runs])
        return
    # One block per run, not a table: the job id (what `compare` takes) stays whole on any
    # terminal, and params and metrics get a line each however many there are.
    shown = _differing(runs)
    output.say(f"[bold]Runs of {output.plain(experiment or config.training.experiment)}[/] "
               f"({len(runs)}, newest first)")
    for r in runs:
        metrics = {k: v for k, v in (r.metrics or {}).items() if k != "rows"}  # a count
        params = {k: r.params[k] for k in shown if k in r.params}
        lines = [f"[bold]{output.plain(r.job_id)}[/]  {output.when(r.created_at)}  "
                 f"{r.status.value}  registered: {output.plain(r.registered or 'no')}",
                 f"    data     {output.plain(r.data or '-')}",
                 f"    params   {output.plain(_pairs(params) or '-')}",
                 f"    metrics  {output.plain(_pairs(metrics) if r.metrics is not None else '-')}"]
        if r.sweep:
            lines.append(f"    {output.plain(r.sweep)}")
        output.console.print("\n".join(lines), soft_wrap=True)
    if len(runs) > 1 and shown != _all_keys(r.params for r in runs):
        output.say("params: those that differ between the runs listed (--json shows all)")
    if not runs:
        output.say("no runs yet: `mlops train` makes one")


@app.command("compare")
def compare(
    targets: Annotated[list[str] | None, typer.Argument(
        help="Job ids (runs) and study names, in any mix.", metavar="RUN|STUDY")] = None,
    last: Annotated[int | None, typer.Option(
        min=1, help="Also the N newest runs of the experiment.")] = None,
    experiment: Annotated[str | None, _EXPERIMENT] = None,
    html: Annotated[Path | None, typer.Option(
        help="Also write a self-contained HTML page with the plots of each study.")] = None,
    json_output: Annotated[bool, _JSON] = False,
) -> None:
    """Runs side by side (params, metrics, registered); each study's trials."""
    from mlops_azure.errors import UserInputError
    from mlops_azure.lifecycle import experiments

    if not targets and last is None:
        raise UserInputError("name at least one run (job id) or study to compare, or --last N")
    config = STATE.config()
    found = experiments.compare(STATE.workspace(config), config, targets or [],
                                experiment=experiment, last=last)
    if html is not None:
        experiments.write_html(html, found)
    if STATE.json or json_output:
        output.emit_json(found.to_dict() | ({"html": str(html)} if html else {}))
        return
    if found.runs:
        _runs_side_by_side(found.runs)
    for study in found.studies:
        _study(study)
    if html is not None:
        output.say(f"HTML page: {html}")


def _runs_side_by_side(runs: Sequence[Run]) -> None:
    params = _all_keys(r.params for r in runs)
    metrics = _all_keys(r.metrics or {} for r in runs)
    rows: list[Sequence[str]] = [
        ["when", *(output.when(r.created_at) for r in runs)],
        ["status", *(r.status.value for r in runs)],
        ["data", *(r.data or "-" for r in runs)],
        *([f"param {p}", *(_text(r.params.get(p, "")) for r in runs)] for p in params),
        *([m, *("-" if r.metrics is None or m not in r.metrics else f"{r.metrics[m]:.4g}"
                for r in runs)] for m in metrics),
        ["registered", *(r.registered or "no" for r in runs)],
        ["sweep", *(r.sweep or "" for r in runs)],
    ]
    from rich.table import Table

    # Cells fold rather than end in "…": a job id cut short could not be passed on.
    table = Table(title="Runs compared", title_justify="left")
    for column in ("", *(r.job_id for r in runs)):
        table.add_column(output.plain(column), overflow="fold")
    for row in rows:
        table.add_row(*(output.plain(cell) for cell in row))
    output.console.print(table)


def _study(study: Study) -> None:
    best = study.best
    output.fields(f"Study {study.name}", {
        "job": study.job_id, "step": study.step, "objective": f"{study.goal} {study.metric}",
        "sampling": study.sampling, "early termination": study.early_termination or "none",
        "trials": len(study.trials),
        "best": "none completed" if best is None else
        f"trial {best.number}: {study.metric}={_text(best.value)} ({_pairs(best.params)})",
    })
    names = _all_keys(t.params for t in study.trials)
    output.table(f"Trials of {study.name}", ["#", "state", *names, study.metric, "duration"],
                 [(str(t.number), t.state.value.lower(), *(_text(t.params.get(n, "")) for n in names),
                   "-" if t.value is None else f"{t.value:.4g}",
                   "-" if t.duration_s is None else f"{t.duration_s:.1f} s")
                  for t in sorted(study.trials, key=lambda t: t.number)],
                 optional=("duration",))


def _differing(runs: Sequence[Run]) -> list[str]:
    """The params whose value is not the same in every run (all of them for a single run)."""
    keys = _all_keys(r.params for r in runs)
    if len(runs) < 2:
        return keys
    return [k for k in keys if len({repr(r.params.get(k, "")) for r in runs}) > 1]


def _all_keys(mappings: Any) -> list[str]:
    seen: dict[str, None] = {}
    for mapping in mappings:
        seen.update(dict.fromkeys(mapping))
    return list(seen)


def _pairs(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={_text(v)}" for k, v in values.items())


def _text(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
