"""The CSV pages: upload a file of rows, follow its scoring, download the predictions.

``POST /predict/csv`` saves the upload in its own folder under ``scratch_dir`` (named by a random
run id), checks it (a bad file is the form again with one sentence, 400) and scores it in a
background thread through the chosen stage's endpoint (``_csv_scoring``). The progress page reads
the run's ``progress.json``: with JavaScript it polls a fragment every second (htmx), without it
the page reloads itself while the run lasts and has a "Refresh" link.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import shutil
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

from flask import Blueprint, Response, abort, redirect, request, send_file, url_for
from werkzeug.datastructures import FileStorage
from werkzeug.utils import secure_filename
from werkzeug.wrappers import Response as BaseResponse

from mlops_azure._files import make_dirs
from mlops_azure.audit_events import UiScoredEvent, record
from mlops_azure.errors import BackendError, UserInputError
from mlops_azure.lifecycle.refs import split_ref
from mlops_azure.lifecycle.scoring import ScoringClient
from mlops_azure.project import Project
from mlops_azure.webapp._context import actor, default_stage, project, render, settings
from mlops_azure.webapp._csv_batch import score_by_batch
from mlops_azure.webapp._csv_scoring import (
    CONCURRENT_CHUNKS,
    INPUT_FILE,
    OUTPUT_FILE,
    Progress,
    RequestColumns,
    read_upload,
    request_columns,
    score_upload,
)
from mlops_azure.webapp._csv_series import forecasts_of, read_scored, series_index
from mlops_azure.webapp._model_inputs import StageChoice, model_inputs, serving_stages
from mlops_azure.webapp._predict_charts import series_chart
from mlops_azure.webapp._security import check_csrf
from mlops_azure.webapp._series_history import series_history
from mlops_azure.webapp._settings import UiSettings

blueprint = Blueprint("csv", __name__)
log = logging.getLogger("mlops_azure.webapp")

#: A run id: what ``secrets.token_hex(16)`` gives; anything else is no run (never a path).
RUN_ID = re.compile(r"[0-9a-f]{32}")
_READ_BYTES = 1 << 20
#: Files scored at once by one server; one more is refused (503) until one is done: each holds
#: its rows in memory and keeps the endpoint (or the cores, batch scored) busy.
MAX_RUNNING = 4


def _columns(choice: StageChoice) -> RequestColumns:
    found = project()
    return request_columns(model_inputs(found.workspace, found.config, found.backend,
                                        choice.model_name, choice.model_version), found.config)


def _form(error: str | None = None, status: int = 200, chosen: str | None = None
          ) -> tuple[str, int]:
    stages = serving_stages(project().workspace, project().config)
    names = [s.name for s in stages]
    chosen = chosen if chosen in names else default_stage(names)
    needs: dict[str, tuple[str, ...]] = {}
    for stage in stages:
        try:
            needs[stage.name] = _columns(stage).features
        except (UserInputError, BackendError):
            needs[stage.name] = ()
    return render("csv_upload.html", status=status, stages=stages, chosen=chosen, needs=needs,
                  error=error, max_mb=settings().max_upload_bytes // (1024 * 1024))


@blueprint.get("/predict/csv")
def upload_form() -> tuple[str, int]:
    return _form()


def _save(upload: FileStorage, target: Path) -> str:
    """``upload`` written to ``target``; its sha256."""
    digest = hashlib.sha256()
    with target.open("wb") as out:
        while block := upload.stream.read(_READ_BYTES):
            digest.update(block)
            out.write(block)
    return digest.hexdigest()


@blueprint.post("/predict/csv")
def upload() -> BaseResponse | tuple[str, int]:
    check_csrf()
    choices = {s.name: s for s in serving_stages(project().workspace, project().config)}
    stage = request.form.get("stage") or default_stage(list(choices)) or ""
    if stage not in choices:
        return _form(f"stage '{stage}' serves no model: choose one of "
                     f"{', '.join(choices) or 'none (deploy a model first)'}", 400)
    choice = choices[stage]
    sent = request.files.get("file")
    if sent is None or not sent.filename:
        return _form("choose a CSV file to upload", 400, stage)
    name = PurePosixPath(sent.filename.replace("\\", "/")).name or "upload.csv"
    busy = _running()
    if busy >= MAX_RUNNING:
        return _form(f"this server is scoring {busy} files already: send this one when one of "
                     "them is done", 503, stage)
    run_id = secrets.token_hex(16)
    folder = make_dirs(settings().scratch_dir / run_id)
    current = settings()
    clients: list[ScoringClient] = []
    try:
        sha256 = _save(sent, folder / INPUT_FILE)
        inputs = _columns(choice)
        rows = read_upload(folder / INPUT_FILE, inputs, name)
        batch = rows.rows > current.batch_rows
        if not batch:
            clients = [ScoringClient.for_endpoint(project().workspace, choice.endpoint)
                       for _ in range(CONCURRENT_CHUNKS)]
    except BaseException as exc:
        # Nothing of a refused upload stays behind: its rows may be confidential.
        for client in clients:
            client.close()
        shutil.rmtree(folder, ignore_errors=True)
        if isinstance(exc, UserInputError):
            return _form(exc.message, 400, stage)
        raise
    progress = Progress("running", rows.rows, file_name=name, stage=stage, model=choice.model,
                        deployment="" if batch else choice.deployment, sha256=sha256,
                        owner=actor(), method="batch" if batch else "endpoint")
    progress.save(folder)

    def score(finish: Callable[[Progress], None]) -> object:
        if batch:
            return score_by_batch(current, folder, rows, progress, finish=finish)
        return score_upload(folder, rows, inputs, clients, progress,
                            chunk_rows=current.chunk_rows, deployment=progress.deployment,
                            finish=finish)
    threading.Thread(target=_run, name=f"csv-{run_id[:8]}", daemon=True,
                     args=(current, actor(), folder, progress, score, clients)).start()
    return redirect(url_for("csv.job", run_id=run_id), 303)


def _running() -> int:
    """How many runs of this server are scoring now (read from their progress files)."""
    found = 0
    for folder in settings().scratch_dir.iterdir():
        progress = Progress.load(folder) if RUN_ID.fullmatch(folder.name) else None
        found += progress is not None and progress.state == "running"
    return found


def _run(settings_: UiSettings, who: str, folder: Path, progress: Progress,
         score: Callable[[Callable[[Progress], None]], object],
         clients: Sequence[ScoringClient] = ()) -> None:
    """The background thread of one run: ``score`` (given what to do once it ends: record who
    scored what), then close ``clients``."""
    try:
        score(lambda final: _record(settings_, who, final, folder))
    except Exception as exc:
        log.exception("mlops ui: scoring %s failed", folder.name)
        failed = replace(progress, state="failed",
                         error=f"internal error: {type(exc).__name__} (see the server's log)")
        _record(settings_, who, failed, folder)
        failed.save(folder)
    finally:
        for client in clients:
            client.close()


def _record(settings_: UiSettings, who: str, progress: Progress, folder: Path) -> None:
    try:
        # This thread's own workspace: the embedded one's connection belongs to its thread.
        ws = Project.load(settings_.config_path, settings_.backend).workspace
        record(ws, UiScoredEvent(
            subject=progress.model, stage=progress.stage, rows=progress.rows_done,
            rows_total=progress.rows_total, file_name=progress.file_name,
            sha256=progress.sha256, deployment=progress.deployment,
            outcome="scored" if progress.state == "done" else "failed",
            reason=progress.error, method=progress.method), actor=who)
    except Exception:
        log.exception("mlops ui: could not record the scoring of %s", folder.name)


def _folder(run_id: str) -> tuple[Path, Progress]:
    if not RUN_ID.fullmatch(run_id):
        abort(404)
    folder = settings().scratch_dir / run_id
    progress = Progress.load(folder)
    # Someone else's run is as good as no run: its rows are the uploader's business.
    if progress is None or (progress.owner and progress.owner != actor()):
        abort(404)
    return folder, progress


def download_name(file_name: str) -> str:
    """``predictions-<stem>.csv`` for an upload named ``file_name``, safe as a header value."""
    stem = secure_filename(PurePosixPath(file_name).stem) or "upload"
    return f"predictions-{stem}.csv"


def _charts() -> bool:
    """Whether a scored file can be charted series by series (a forecasting project)."""
    return bool(project().config.data.time_column)


def _progress_page(template: str, run_id: str) -> tuple[str, int]:
    _, progress = _folder(run_id)
    return render(template, p=progress, run_id=run_id,
                  download=download_name(progress.file_name), charts=_charts())


@blueprint.get("/predict/csv/<run_id>")
def job(run_id: str) -> tuple[str, int]:
    return _progress_page("csv_job.html", run_id)


@blueprint.get("/predict/csv/<run_id>/fragment")
def job_fragment(run_id: str) -> tuple[str, int]:
    """The progress alone, which htmx polls."""
    return _progress_page("csv_job_body.html", run_id)


@blueprint.get("/predict/csv/<run_id>/download")
def download(run_id: str) -> Response | tuple[str, int]:
    folder, progress = _folder(run_id)
    output = folder / OUTPUT_FILE
    if progress.state != "done" or not output.is_file():
        return render("error.html", status=404, message=f"{progress.file_name} has no "
                      "predictions to download (yet): see its progress page")
    return send_file(output, mimetype="text/csv", as_attachment=True,
                     download_name=download_name(progress.file_name))


@blueprint.get("/predict/csv/<run_id>/series")
def series(run_id: str) -> tuple[str, int]:
    """A forecasting project's scored file, one series at a time: its forecasts beside its
    history in the model's training data."""
    folder, progress = _folder(run_id)
    output = folder / OUTPUT_FILE
    if progress.state != "done" or not output.is_file():
        abort(404)
    found = project()
    config = found.config
    model = split_ref(progress.model)
    if model is None:
        abort(404)
    inputs = model_inputs(found.workspace, config, found.backend, *model)
    scored = read_scored(output, inputs.series_keys(config)) if config.data.time_column else None
    page: dict[str, Any] = {"p": progress, "run_id": run_id,
                            "download": download_name(progress.file_name)}
    if scored is None or not scored.names:
        return render("csv_series.html", scored=None, **page)
    index = series_index(request.args.get("series"), len(scored.names))
    rows = scored.rows(index)
    history = series_history(found.workspace, config, found.backend, inputs,
                             dict(zip(scored.keys, scored.names[index], strict=True)))
    prediction = (progress.columns_added or ("prediction",))[0]
    svg = None
    if history is not None:
        target = config.data.target or "target"
        svg = series_chart("series-plot", [t.to_pydatetime() for t in history.times],
                           history.values, forecasts_of(rows, config, history, prediction),
                           target, scored.label(index))
    return render("csv_series.html", scored=scored, index=index, rows=rows, history=history,
                  svg=svg, prediction=prediction, **page)
