"""Events of the web app (``mlops ui``): what its users did through it."""

from __future__ import annotations

from dataclasses import dataclass

from mlops_azure.audit_events._core import AuditRecord


@dataclass(frozen=True, kw_only=True)
class UiScoredEvent(AuditRecord):
    """A CSV file scored through a stage's endpoint from the web app (``subject``: the model's
    ``NAME:VERSION``); the actor is the signed-in user."""

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
