"""Data-driven retraining: each new blob in a watched container → a data asset version → one
training run (champion gate included). Azure ML v2 has no data-change trigger; this is it.

Each blob is taken as one complete extract of the training data (the file ``data.path`` names
locally). A blob is known by its name and etag, so an overwritten blob counts as new.

The cursor is the workspace's own audit trail, so it survives fresh DevOps agents and is shared
by every machine watching the same workspace: a ``watch.data`` event per blob and phase
(``submitted`` with the job id, then ``done`` or ``failed``). After a crash the next pass:

- skips blobs that are done or failed (nothing is processed twice);
- finishes the job of a blob left ``submitted`` instead of submitting another;
- for a blob with no event, first looks for a job already tagged with it (a crash between
  submitting and recording) and finishes that one; otherwise it starts over. Uploading the
  data again is harmless: data assets are content-addressed, the same bytes get the same version.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

from mlops_azure.audit_events import WatchEvent, read, record, resolve_actor
from mlops_azure.config import ProjectConfig
from mlops_azure.errors import GateFailed
from mlops_azure.lifecycle.training import (
    TrainingOutcome,
    finish_training,
    submit_training,
)
from mlops_azure.records import BlobInfo, JobStatus, ProgressCallback
from mlops_azure.workspace import Workspace

WATCH_EVENT = WatchEvent.ACTION
#: The job tag naming the blob a run was started for (``container/name@etag``).
BLOB_TAG = "data_blob"
#: How many recent jobs are searched for one already started for a blob.
RECENT_JOBS = 50


class BlobSource(Protocol):
    """Where new data files appear (``mlops_azure.azure.watched_container.ContainerSource``)."""

    container: str

    def list(self, prefix: str = "") -> list[BlobInfo]: ...

    def download(self, blob: BlobInfo, folder: Path) -> Path: ...


@dataclass(frozen=True)
class WatchResult:
    """What became of one blob in this pass."""

    blob: str
    phase: str  # "done" or "failed"
    job_id: str | None
    data: str | None
    registered: str | None = None
    verdict: str | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"blob": self.blob, "phase": self.phase, "job_id": self.job_id, "data": self.data,
                "registered": self.registered, "verdict": self.verdict, "error": self.error}


def blob_key(container: str, blob: BlobInfo) -> str:
    return f"{container}/{blob.name}@{blob.etag}"


def cursor(ws: Workspace, container: str) -> dict[str, WatchEvent]:
    """The newest ``watch.data`` event per blob key of ``container``."""
    latest: dict[str, WatchEvent] = {}
    for found in read(ws, WatchEvent, limit=1_000_000):
        key = found.event.blob
        if key.startswith(f"{container}/"):
            latest.setdefault(key, found.event)  # newest first: the first one wins
    return latest


def _started_job(ws: Workspace, key: str) -> str | None:
    """A job already started for ``key`` that has not failed (its record was lost in a crash)."""
    for job in ws.jobs.recent(limit=RECENT_JOBS):
        if job.tags.get(BLOB_TAG) == key and job.status not in (JobStatus.FAILED,
                                                                JobStatus.CANCELED):
            return job.id
    return None


def pending(ws: Workspace, source: BlobSource, prefix: str = "",
            seen: Mapping[str, WatchEvent] | None = None) -> list[BlobInfo]:
    """Blobs under ``prefix`` not yet done or failed, oldest first (``seen``: the cursor, when
    the caller has read it already)."""
    seen = cursor(ws, source.container) if seen is None else seen
    blobs = sorted(source.list(prefix), key=lambda b: (b.last_modified, b.name))
    return [b for b in blobs
            if _phase(seen.get(blob_key(source.container, b))) not in ("done", "failed")]


def _phase(event: WatchEvent | None) -> str | None:
    return event.phase if event is not None else None


def watch_once(
    ws: Workspace,
    config: ProjectConfig,
    source: BlobSource,
    prefix: str = "",
    *,
    asset: str | None = None,
    progress: ProgressCallback | None = None,
    say: Callable[[str], None] | None = None,
    actor: str | None = None,
    timeout_s: float | None = None,
) -> list[WatchResult]:
    """One pass: every pending blob, oldest first, becomes a version of ``asset`` (default
    ``data.asset``) and one training run. Infrastructure errors propagate (the blob stays
    pending for the next pass); a run that fails is recorded as failed and not retried.

    ``timeout_s`` bounds the wait for each job: ``TrainingStillRunning`` then ends the pass with
    the blob left ``submitted``, and the next pass attaches to the same job (a DevOps agent need
    not wait for hours). One watcher per container at a time (a workspace lock): a second one
    stands aside and returns nothing, so two schedules overlapping never submit a blob twice."""
    with ws.locks.exclusive(f"watch-{source.container}") as mine:
        if not mine:
            if say:
                say(f"another watcher of container {source.container} is running: nothing done")
            return []
        return _pass(ws, config, source, prefix, asset=asset, progress=progress, say=say,
                     actor=resolve_actor(actor), timeout_s=timeout_s)


def _pass(ws: Workspace, config: ProjectConfig, source: BlobSource, prefix: str, *,
          asset: str | None, progress: ProgressCallback | None,
          say: Callable[[str], None] | None, actor: str,
          timeout_s: float | None) -> list[WatchResult]:
    name = asset or config.data.asset
    seen = cursor(ws, source.container)
    results = []
    for blob in pending(ws, source, prefix, seen):
        key = blob_key(source.container, blob)
        submitted = WatchEvent(subject=key, blob=key, phase="submitted", size=blob.size,
                               last_modified=blob.last_modified.isoformat())
        last = seen.get(key)
        job_id = last.job if last is not None and last.phase == "submitted" else _started_job(ws, key)
        data = last.data if last is not None else None
        if job_id is None:
            with tempfile.TemporaryDirectory(prefix="mlops-watch-") as tmp:
                file = source.download(blob, Path(tmp))
                registered = ws.data.upload(name, file, description=f"from {key}", actor=actor)
            data = registered.ref
            if say:
                say(f"{key}: new data {data}; training")
            job = submit_training(ws, config, data=data,
                                  because={"trigger": "data", BLOB_TAG: key})
            job_id = job.id
            record(ws, replace(submitted, job=job_id, data=data), actor=actor)
        elif say:
            say(f"{key}: resuming job {job_id}")
        try:
            outcome: TrainingOutcome = finish_training(ws, config, str(job_id), progress=progress,
                                                       actor=actor, timeout_s=timeout_s)
        except GateFailed as exc:
            result = WatchResult(key, "failed", str(job_id), data, error=exc.message)
        else:
            result = WatchResult(key, "done", outcome.job.id, outcome.data.ref,
                                 outcome.model.ref if outcome.model else None,
                                 outcome.decision.verdict)
        record(ws, replace(submitted, phase=result.phase, job_id=result.job_id, data=result.data,
                           registered=result.registered, verdict=result.verdict,
                           error=result.error), actor=actor)
        results.append(result)
    return results
