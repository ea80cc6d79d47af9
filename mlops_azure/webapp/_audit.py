"""The audit page: the trail, newest first, filtered by version (subject), stage and action,
fifty events a page, each with its recorded details."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, request

from mlops_azure.audit_events import event_types
from mlops_azure.records import AuditEvent
from mlops_azure.rules import whole_number
from mlops_azure.webapp._context import project, render
from mlops_azure.webapp._status import EventRow, event_row

blueprint = Blueprint("audit", __name__)

#: Events per page.
PAGE_SIZE = 50
#: The newest events this page reaches (the pages go back this far, and a stage filter looks
#: through this many): older ones are for ``mlops history``.
WINDOW = 5000
#: A subject filter longer than this is not a subject.
MAX_SUBJECT = 300


@dataclass(frozen=True)
class TrailRow:
    """An event as a row, and its details as indented JSON."""

    row: EventRow
    details: str


@dataclass(frozen=True)
class Filters:
    """What the query string asked for ("" for no filter)."""

    subject: str
    stage: str
    action: str
    page: int

    def args(self, page: int) -> dict[str, Any]:
        """The query of page ``page`` with the same filters (empty ones left out)."""
        given = {"subject": self.subject, "stage": self.stage, "action": self.action}
        return {**{k: v for k, v in given.items() if v}, "page": page}


class BadQuery(ValueError):
    """A query value the page cannot use: one sentence."""


def parse_filters(args: dict[str, str], stages: list[str], actions: list[str],
                  model_name: str) -> Filters:
    """The filters of the query string ``args``; ``BadQuery`` names the first bad value. A
    bare version number as the subject means that version of ``model_name``."""
    subject = args.get("subject", "").strip()
    version = whole_number(subject)
    if version is not None:
        subject = f"{model_name}:{version}"
    stage = args.get("stage", "").strip()
    action = args.get("action", "").strip()
    page = args.get("page", "1").strip() or "1"
    if len(subject) > MAX_SUBJECT:
        raise BadQuery(f"the version filter is longer than {MAX_SUBJECT} characters")
    if stage and stage not in stages:
        raise BadQuery(f"stage '{stage}' is not one of mlops.yaml's stages ({', '.join(stages)})")
    if action and action not in actions:
        raise BadQuery(f"'{action}' is not an action the trail records (pick one from the list)")
    number = whole_number(page)
    if number is None or number < 1:
        raise BadQuery(f"page '{page[:20]}' is not a page number (1, 2, ...)")
    if (number - 1) * PAGE_SIZE >= WINDOW:
        raise BadQuery(f"page {page} is older than the newest {WINDOW} events this page shows: "
                       "use mlops history for older ones")
    return Filters(subject, stage, action, number)


def select(filters: Filters) -> tuple[list[AuditEvent], bool]:
    """The events of ``filters.page`` and whether older ones match too.

    Action and subject are filtered by the store, in one query. The stage lives in each
    event's details, so it is filtered here: the read grows fourfold while the page is not
    full and the store has more, up to the newest :data:`WINDOW` events of that action and
    subject (a stage's events older than those are not shown; the page says so).
    """
    ws = project().workspace
    start = (filters.page - 1) * PAGE_SIZE
    wanted = start + PAGE_SIZE + 1  # one more than the page: are there older ones?
    limit = wanted
    while True:
        batch = ws.events.recent(limit, action=filters.action or None,
                                subject=filters.subject or None)
        found = [e for e in batch if not filters.stage or stage_of(e) == filters.stage]
        if len(found) >= wanted or len(batch) < limit or limit >= WINDOW:
            break
        limit = min(limit * 4, WINDOW)
    return found[start:start + PAGE_SIZE], len(found) > start + PAGE_SIZE


def stage_of(event: AuditEvent) -> str:
    """The stage :func:`summary_of` gives ``event``, read straight off its details: every type
    summarises ``details["stage"]`` as it is, and parsing thousands of events to learn it would
    cost a tenth of a second."""
    details = event.details if isinstance(event.details, Mapping) else {}
    return str(details.get("stage") or "")


def trail_row(event: AuditEvent) -> TrailRow:
    """``event`` as a row with its details pretty-printed (escaped by the template)."""
    details = json.dumps(event.details, indent=2, sort_keys=True, ensure_ascii=False, default=str)
    return TrailRow(event_row(event), details)


@blueprint.get("/audit")
def trail() -> tuple[str, int]:
    config = project().config
    stages = list(config.stages)
    actions = sorted(event_types())
    context: dict[str, Any] = {"stages": stages, "actions": actions, "window": WINDOW,
                               "page_size": PAGE_SIZE, "model_name": config.model.name}
    raw = {k: request.args.get(k, "") for k in ("subject", "stage", "action", "page")}
    try:
        filters = parse_filters(raw, stages, actions, config.model.name)
    except BadQuery as exc:
        shown = Filters(raw["subject"][:MAX_SUBJECT], raw["stage"], raw["action"], 1)
        return render("audit.html", status=400, error=str(exc), filters=shown, rows=[],
                      older=False, **context)
    events, older = select(filters)
    return render("audit.html", filters=filters, rows=[trail_row(e) for e in events],
                  older=older, **context)
