"""``mlops run``: the whole loop on the embedded workspace.

fresh project (a git repository, with CI/CD pipelines and tests) → data check → train (first
model registered) → a challenger through the champion gate → deploy to staging → QA gate →
approval → canary promotion to production → a prediction from the production endpoint → a
regime change in production traffic → drift detected in what production recorded → retraining on
the grown data, through the champion gate → the retrained model released the same way, its canary
sharing traffic with the serving one → many models (one per customer and series), gated per
partition → a batch forecast (into PostgreSQL when ``MLOPS_POSTGRES_DSN`` is set).
The endpoints keep running afterwards, as they would on Azure.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rich.markup import escape

from mlops_azure.backends import open_workspace
from mlops_azure.config import ProjectConfig, load_config
from mlops_azure.errors import GateFailed
from mlops_azure.example import demo_git
from mlops_azure.example.demo_partitions import many_models
from mlops_azure.example.scaffold import init_project
from mlops_azure.lifecycle.approval import approve, record_qa
from mlops_azure.lifecycle.data import check_data
from mlops_azure.lifecycle.qa import run_qa_gate, write_report
from mlops_azure.lifecycle.release import deploy, promote
from mlops_azure.lifecycle.responsible import CARD_HTML
from mlops_azure.lifecycle.scoring import ScoringClient
from mlops_azure.lifecycle.training import train, write_model_json
from mlops_azure.workspace import ProgressCallback, Workspace

#: Steps the demo prints, for "n/STEPS" progress.
STEPS = 15
#: The regime change production goes through after the release: this many months after the
#: training data, with steel prices up by this share and this many new customers (mostly from
#: the energy segment) arriving.
REGIME_MONTHS = 12
REGIME_PRICE_CHANGE = 0.35
REGIME_NEW_CUSTOMERS = 12
#: Rows per scoring request when the regime's traffic is sent.
BATCH_ROWS = 100
#: What the demo writes into the project besides the workspace: outputs, never committed.
DEMO_OUTPUTS = ("qa-report.json", "drift-report.html", "model-card.html", "forecasts/")
#: A challenger that differs from mlops.yaml's parameters, so the gate has something to judge.
CHALLENGER_PARAMS = {"n_estimators": 600, "learning_rate": 0.03, "num_leaves": 15}


def run_demo(
    directory: Path,
    *,
    force: bool = False,
    say: Callable[[str], None] = print,
    progress: ProgressCallback | None = None,
    organisations: int = 4,
    customers: int = 5,
) -> dict[str, Any]:
    """Run the loop in a fresh project at ``directory`` (with ``organisations`` x ``customers``
    customers in its data); returns a summary of what happened."""
    say(f"[bold]1/{STEPS}[/] creating the example project in {directory}")
    # The demo becomes a git repository of its own (demo_git), even inside another one.
    created = init_project(directory, force=force, organisations=organisations,
                           customers=customers, repository_folder=".")
    config = load_config(created.root / "mlops.yaml")
    if force and config.workspace_dir.exists():
        # The demo starts from nothing: a workspace left by an earlier demo run would make the
        # "first model" a challenger. Its endpoints are processes: stop them first.
        stop_endpoints(open_workspace(config, "local"))
        shutil.rmtree(config.workspace_dir)
    ws = open_workspace(config, "local")
    demo_git.ignore(created.root, DEMO_OUTPUTS)
    try:
        commit = demo_git.commit(created.root, "The project, as mlops init made it")
        committed = f"git commit {commit[:12]}, which each model's lineage records"
    except demo_git.GitUnavailable as exc:
        committed = f"no git commit ({escape(str(exc))}): the models' lineage records none"
    say(f"      {created.files} files with CI/CD pipelines (.azure-pipelines/) and tests (tests/); "
        f"{committed}")

    say(f"[bold]2/{STEPS}[/] checking {config.data.path} against the schema in mlops.yaml")
    report = check_data(config, config.resolve(config.data.path))
    say(f"      {report.rows} rows: {len(report.errors)} errors, {len(report.warnings)} warnings "
        "(handled by the prep step)")
    if not report.passed:
        raise GateFailed("the generated data failed the data check")

    summary: dict[str, Any] = {"project": str(created.root), "trainings": []}
    for number, (label, params) in enumerate(
        [("first model", {}), ("challenger", CHALLENGER_PARAMS)], start=3
    ):
        say(f"[bold]{number}/{STEPS}[/] training the {label}"
            + (f" with {params}" if params else ""))
        outcome = train(ws, config, params=params, progress=progress)
        say(f"      champion gate: {outcome.decision.reason}")
        if outcome.responsible is not None:
            findings = [str(f["message"]) for f in outcome.responsible.get("findings", [])]
            say(f"      responsible-ML gate: {outcome.responsible['status']}"
                + (f" ({escape('; '.join(findings))})" if findings else
                   " (quality per segment, region and company size within the policy)"))
        if outcome.model is not None:
            write_model_json(created.root / "model.json", outcome.model)
            say(f"      registered [bold green]{outcome.model.ref}[/]")
            if outcome.responsible is not None:
                card = created.root / "model-card.html"
                card.write_bytes(ws.models.get_document(outcome.model.name, outcome.model.version,
                                                       CARD_HTML))
                summary["model_card"] = str(card)
                say(f"      model card stored with it; a copy in {card.name} "
                    f"('mlops models card {outcome.model.ref}')")
        summary["trainings"].append(outcome.to_dict())

    latest = ws.models.get(config.model.name)
    summary["latest_registered"] = latest.ref
    summary["release"] = release(ws, config, latest.ref, created.root, say)
    summary.update(closed_loop(ws, config, created.root, say, progress,
                               {"organisations": organisations,
                                "customers_per_organisation": customers}))
    serving, retrained = latest.ref, summary["retraining"]["registered"]
    if retrained is not None:
        say(f"[bold]13/{STEPS}[/] releasing the retrained {retrained} the same way: the canary "
            f"shares production's traffic with {serving}, which stays deployed for rollback")
        summary["second_release"] = release(ws, config, retrained, created.root, say,
                                            step=lambda text: say(f"      [bold]·[/] {text}"))
        serving = retrained
    else:
        say(f"[bold]13/{STEPS}[/] nothing to release: the champion gate kept {serving}")
    numbers = iter(range(14, STEPS + 1))
    summary.update(many_models(ws, config, say, progress,
                               lambda text: say(f"[bold]{next(numbers)}/{STEPS}[/] {text}")))
    say(f"done: {serving} serves production at {summary['release']['production_uri']}; try "
        f"'cd {directory} && mlops invoke --stage production --file sample-request.json', "
        "'mlops status', 'mlops history' and 'mlops monitor drift --stage production "
        "--window 1d'. Stop the endpoints with 'mlops endpoints delete NAME'.")
    summary["ui_command"] = f"cd {directory} && mlops ui"
    say(f"see it in the browser (status, models, predictions, drift, audit): "
        f"[bold]{summary['ui_command']}[/], then open http://127.0.0.1:8080/")
    return summary


def release(ws: Workspace, config: ProjectConfig, ref: str, root: Path,
            say: Callable[[str], None], step: Callable[[str], None] | None = None
            ) -> dict[str, Any]:
    """staging → QA gate → approval → canary to production → one prediction; a summary.
    ``step`` announces each of those five (default: as steps 5 to 9 of the demo)."""
    numbers = iter(range(5, 10))
    step = step or (lambda text: say(f"[bold]{next(numbers)}/{STEPS}[/] {text}"))
    step(f"deploying {ref} to staging")
    staged = deploy(ws, config, ref, "staging", say=say)
    say(f"      {staged.endpoint} serves it at {staged.scoring_uri}")

    step("QA gate on staging: health, schema, offline/online parity, latency, bad requests")
    report = run_qa_gate(ws, config, "staging", model=ref)
    write_report(report, root / "qa-report.json")
    record_qa(ws, report, config=config)
    for check in report.checks:
        say(f"      {'[green]pass[/]' if check.passed else '[red]FAIL[/]'} {check.name}: "
            f"{escape(check.detail)}")
    if not report.passed:
        raise GateFailed(f"the QA gate failed for {ref}: {', '.join(c.name for c in report.failed)}")

    step(f"approving {ref} for production (evidence: the QA report and the responsible-ML "
         "verdict)")
    approval = approve(ws, config, ref, "production", reason="demo: QA gate passed on staging")
    responsible = approval.evidence.get("responsible")
    say(f"      approved by {approval.by}"
        + (f"; responsible-ML gate at promotion: {responsible['status']}" if responsible else ""))

    step("canary promotion to production")
    promoted = promote(ws, config, ref, "production", say=lambda line: say(f"      {line}"))

    step("a prediction from the production endpoint (sample-request.json)")
    request = json.loads((root / "sample-request.json").read_text(encoding="utf-8"))
    with ScoringClient.for_endpoint(ws, promoted.endpoint) as client:
        predictions = client.predictions(request)
    say(f"      {len(predictions)} rows → " + ", ".join(f"{p:.1f} t" for p in predictions))
    return {"staging_uri": staged.scoring_uri, "qa_passed": report.passed,
            "approval": approval.to_dict(), "promotion": promoted.to_dict(),
            "production_uri": promoted.scoring_uri, "predictions": predictions}


def stop_endpoints(ws: Workspace) -> None:
    """Delete every endpoint of ``ws`` (stopping local server processes)."""
    for endpoint in ws.endpoints.all():
        ws.endpoints.delete(endpoint.name)


def regime_requests(config: ProjectConfig, data: Path, months: int) -> list[dict[str, Any]]:
    """Scoring rows (the model's features, as clients send them) for the last ``months`` months
    of ``data``: the project's own data check and prep components compute them."""
    import tempfile

    import pandas as pd

    from mlops_azure.execution.runner import log_tail, run_component

    with tempfile.TemporaryDirectory(prefix="mlops-demo-") as tmp:
        schema = Path(tmp) / "schema.json"
        schema.write_text(config.data.data_schema.to_json(), encoding="utf-8")
        checked = run_component(config.resolve(config.data.check_component),
                                {"data": data, "schema": schema}, Path(tmp) / "check")
        prepped = None
        if checked.steps[0].exit_code == 0:
            prepped = run_component(config.resolve(Path("components/prep/prep.yml")),
                                    {"raw_data": data, "check_report": checked.outputs["report"],
                                     "holdout_months": months}, Path(tmp) / "prep")
        for ran in (checked, prepped):
            if ran is None or ran.steps[0].exit_code != 0:
                step = (ran or checked).steps[0]
                raise GateFailed(f"preparing the regime change's requests failed in {step.name}: "
                                 f"{log_tail(step.log_path, 3)}")
        assert prepped is not None
        folder = prepped.outputs["prepared"]
        features = json.loads((folder / "features.json").read_text(encoding="utf-8"))["features"]
        rows = pd.read_csv(folder / "holdout.csv")[features]
    records: list[dict[str, Any]] = rows.astype(object).where(rows.notna(), None).to_dict("records")
    return records


def closed_loop(ws: Workspace, config: ProjectConfig, root: Path, say: Callable[[str], None],
                progress: ProgressCallback | None,
                generated: dict[str, int] | None = None) -> dict[str, Any]:
    """A regime change reaches production → drift → retraining through the champion gate.
    ``generated``: the generator arguments the project's data was made with."""
    from mlops_azure.example.regime import append_months
    from mlops_azure.lifecycle.monitoring import check_drift
    from mlops_azure.monitoring.html import render_html

    data = config.resolve(config.data.path)
    say(f"[bold]10/{STEPS}[/] a regime change: {REGIME_MONTHS} more months in which steel prices "
        f"rise {REGIME_PRICE_CHANGE:.0%} and {REGIME_NEW_CUSTOMERS} new customers (mostly energy) "
        "arrive; production serves them")
    new = append_months(data, REGIME_MONTHS, price_change=REGIME_PRICE_CHANGE,
                        new_customers=REGIME_NEW_CUSTOMERS, **(generated or {}))
    demo_git.try_commit(root, f"{REGIME_MONTHS} more months of actuals")
    rows = regime_requests(config, data, REGIME_MONTHS)
    production = config.stage("production").endpoint
    with ScoringClient.for_endpoint(ws, production) as client:
        for start in range(0, len(rows), BATCH_ROWS):
            client.predictions({"data": rows[start:start + BATCH_ROWS]})
    requests = -(-len(rows) // BATCH_ROWS)
    say(f"      {len(rows)} rows in {requests} requests to {production}, each one recorded; "
        f"{config.data.path} grew by {len(new)} rows of actuals")

    say(f"[bold]11/{STEPS}[/] monitoring: what production recorded in the last hour against the "
        "serving model's training data")
    checked = check_drift(ws, config, stage="production", window="1h")
    drift = checked.report
    title = f"Drift of {checked.model.ref}: {checked.current} against {checked.reference}"
    (root / "drift-report.html").write_text(render_html(drift, title), encoding="utf-8")
    for feature in drift.compared:
        if feature.drifted:
            say(f"      [red]drift[/] {feature.feature}: {escape('; '.join(feature.reasons))}")
    say(f"      report {checked.event_id}: {len(drift.drifted_features)} of "
        f"{len(drift.features)} features drifted"
        + ("" if drift.prediction is None else
           f", predictions {'drifted' if drift.prediction.drifted else 'stable'}")
        + f" → {'[red]drift[/]' if drift.drifted else 'no drift'} (drift-report.html)")
    if not drift.drifted:
        raise GateFailed(f"the regime change went unnoticed: drift report {checked.event_id} "
                         "found no drift")

    say(f"[bold]12/{STEPS}[/] retraining because of report {checked.event_id}, on the grown data, "
        "through the champion gate")
    outcome = train(ws, config, progress=progress,
                    because={"trigger": "drift", "drift_report": str(checked.event_id)})
    say(f"      champion gate: {outcome.decision.reason}")
    if outcome.model is not None:
        write_model_json(root / "model.json", outcome.model)
        say(f"      registered [bold green]{outcome.model.ref}[/] (lineage: trigger=drift, "
            f"drift_report={checked.event_id}); release it with mlops deploy, gate qa, approve "
            "and promote")
    return {"regime": {"rows": len(rows), "requests": requests, "new_data_rows": len(new)},
            "monitoring": checked.to_dict(), "retraining": outcome.to_dict()}
