"""A large CSV scored by batch scoring instead of through the endpoint: the project's batch
scoring script (``batch.scoring_script``) in a local process pool, on the model the stage
serves, as ``mlops score batch --here`` does. Its output is what that script writes per row (the
series keys and the prediction), the part files joined into one download.
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from mlops_azure.errors import MlopsError
from mlops_azure.project import Project
from mlops_azure.webapp._csv_scoring import OUTPUT_FILE, PROGRESS_EVERY_S, Progress, Upload
from mlops_azure.webapp._settings import UiSettings

#: What ``lifecycle.batch`` says as each chunk lands: its number and rows.
_CHUNK_DONE = re.compile(r"chunk \d+: ([\d,]+) rows scored")
BATCH_FOLDER = "batch"


def score_by_batch(settings: UiSettings, folder: Path, upload: Upload, progress: Progress, *,
                   finish: Callable[[Progress], None] | None = None) -> Progress:
    """Batch score ``upload`` with ``progress.model``; the final progress (``failed`` with the
    sentence when scoring failed), saved after ``finish`` had it."""
    started = time.perf_counter()
    saved = 0.0
    state = {"progress": progress}

    def say(line: str) -> None:
        nonlocal saved
        found = _CHUNK_DONE.match(line)
        if found is None:
            return
        done = state["progress"].rows_done + int(found.group(1).replace(",", ""))
        state["progress"] = replace(state["progress"], rows_done=done,
                                    seconds=time.perf_counter() - started)
        if time.perf_counter() - saved >= PROGRESS_EVERY_S:
            state["progress"].save(folder)
            saved = time.perf_counter()

    source = folder / "batch-input.csv"
    output = folder / BATCH_FOLDER
    try:
        # The batch script reads a plain comma-separated file: the upload as parsed (any
        # delimiter, a BOM) is written back that way.
        upload.frame.to_csv(source, index=False)
        # This thread's own project: the embedded workspace's connection belongs to its thread.
        found = Project.load(settings.config_path, settings.backend)
        found.score_batch(str(source), output, model=progress.model, here=True, say=say)
        columns = _join_parts(output, folder / OUTPUT_FILE)
        final = replace(state["progress"], state="done", rows_done=progress.rows_total,
                        seconds=time.perf_counter() - started,
                        columns_added=tuple(c for c in columns if c not in upload.frame.columns))
    except MlopsError as exc:
        final = replace(state["progress"], state="failed", error=exc.message,
                        seconds=time.perf_counter() - started)
    finally:
        source.unlink(missing_ok=True)
    if finish is not None:
        finish(final)
    final.save(folder)
    return final


def _join_parts(parts: Path, target: Path) -> list[str]:
    """The part files in order, as one CSV with one header; its columns."""
    files = sorted(parts.glob("part-*.csv"))
    partial = target.with_name(f"{target.name}.partial")
    header = ""
    with partial.open("w", encoding="utf-8", newline="") as out:
        for number, part in enumerate(files):
            with part.open(encoding="utf-8", newline="") as read:
                first = read.readline()
                if number == 0:
                    header = first
                    out.write(first)
                shutil.copyfileobj(read, out)
    partial.replace(target)
    shutil.rmtree(parts, ignore_errors=True)
    return header.rstrip("\r\n").split(",") if header else []
