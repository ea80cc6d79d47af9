"""What every view needs: the project (one per thread), the settings, the actor, and rendering.

The embedded workspace's SQLite connection belongs to the thread that opened it, and the server
answers on a pool of threads, so each thread opens the project once and keeps it until
mlops.yaml changes.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from flask import current_app, render_template, request

from mlops_azure.audit_events import resolve_actor
from mlops_azure.project import Project
from mlops_azure.webapp._security import csrf_token, easy_auth_user
from mlops_azure.webapp._settings import UiSettings

SETTINGS_KEY = "MLOPS_UI_SETTINGS"
ACTOR_KEY = "MLOPS_UI_ACTOR"
#: Who acts behind Easy Auth when the platform named nobody (the request is refused anyway).
NOT_SIGNED_IN = "(not signed in)"
_local = threading.local()

#: The navigation bar: endpoint name, label.
NAV = (("status.page", "Status"), ("model.versions", "Models"), ("predict.form", "Predict"),
       ("csv.upload_form", "CSV"), ("drift.checks", "Drift"), ("audit.trail", "Audit"))


def settings() -> UiSettings:
    """The settings the app was created with."""
    found: UiSettings = current_app.config[SETTINGS_KEY]
    return found


def project() -> Project:
    """This thread's project, loaded on its first request and again whenever mlops.yaml has
    changed since (so every thread sees an edit on its next request)."""
    wanted = settings()
    try:
        found_stat = wanted.config_path.stat()
        stamp: tuple[int, int] | None = (found_stat.st_mtime_ns, found_stat.st_size)
    except OSError:
        stamp = None  # Project.load says what is wrong with the path
    found: Project | None = getattr(_local, "project", None)
    if found is None or _local.settings is not wanted or _local.stamp != stamp:
        found = Project.load(wanted.config_path, wanted.backend)
        _local.project, _local.settings, _local.stamp = found, wanted, stamp
    return found


def actor() -> str:
    """Who is acting: the Easy Auth user when the app trusts those headers, else the audit
    trail's usual rule (``$MLOPS_ACTOR``, the git user, the OS user)."""
    if settings().easy_auth:
        # Never the server's own identity: behind Easy Auth that would name the wrong person.
        return easy_auth_user(request.headers) or NOT_SIGNED_IN
    # Worked out once: the rule may ask git, a subprocess per page otherwise.
    found: str | None = current_app.config.get(ACTOR_KEY)
    if found is None:
        found = current_app.config[ACTOR_KEY] = resolve_actor()
    return found


def default_stage(serving: Sequence[str]) -> str | None:
    """The stage predictions go to unless the user picks another, among the ``serving`` ones:
    ``mlops ui --stage``, else ``production``, else the last stage of mlops.yaml; the first
    serving stage when those do not serve; None when none does."""
    stages = list(project().config.stages)
    for wanted in (settings().stage, "production", stages[-1] if stages else None):
        if wanted is not None and wanted in serving:
            return wanted
    return serving[0] if serving else None


def render(template: str, *, status: int = 200, **context: Any) -> tuple[str, int]:
    """``template`` rendered with what ``base.html`` needs (navigation, user, CSRF token)."""
    config = project().config
    html = render_template(template, nav=NAV, actor=actor(),
                           csrf_token=csrf_token(), project_name=config.project,
                           backend=project().backend, **context)
    return html, status
