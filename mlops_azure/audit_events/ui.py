"""Events of the web app (``mlops ui``): what its users did through it."""

from __future__ import annotations

from dataclasses import dataclass

from mlops_azure.audit_events._core import AuditRecord


@dataclass(frozen=True, kw_only=True)
class UiScoredEvent(AuditRecord):
    """A CSV file scored from the web app (``subject``: the model's ``NAME:VERSION``), through a
    stage's endpoint or, for a large file, by batch scoring; the actor is the signed-in user."""

    ACTION = "ui.score"

    stage: str
    #: Rows scored (all of the file's when ``outcome`` is ``scored``).
    rows: int
    #: The uploaded file's name as the browser sent it.
    file_name: str
    #: sha256 of the uploaded bytes.
    sha256: str
    #: ``scored`` or ``failed``.
    outcome: str
    #: The deployment that scored the rows.
    deployment: str = ""
    rows_total: int = 0
    #: Why it failed (the sentence the page showed).
    reason: str = ""
    #: ``endpoint`` (chunks through the stage's endpoint) or ``batch`` (the project's batch
    #: scoring script in a local process pool, as ``mlops score batch``).
    method: str = "endpoint"
