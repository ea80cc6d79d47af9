"""``create_app``: the Flask application over one project, its pages and its safety rules."""

from __future__ import annotations

import importlib
import logging

from flask import Flask, Response, url_for
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from mlops_azure.errors import BackendError, MlopsError, UserInputError
from mlops_azure.lifecycle.refs import split_ref
from mlops_azure.webapp._context import SETTINGS_KEY, render, settings
from mlops_azure.webapp._security import CsrfRefused, require_signed_in
from mlops_azure.webapp._settings import UiSettings

log = logging.getLogger("mlops_azure.webapp")

#: The modules of the pages, each with a ``blueprint``; the first is the home page.
PAGES = ("_status", "_model", "_predict", "_csv", "_drift", "_audit")

#: No script but the app's own files, nothing fetched from elsewhere, not framed by other sites.
#: Inline styles stay allowed: the SVG plots carry style attributes.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' "
                           "'unsafe-inline'; img-src 'self' data:; object-src 'none'; "
                           "base-uri 'none'; form-action 'self'; frame-ancestors 'self'")


def create_app(settings_: UiSettings) -> Flask:
    """The web app for the project ``settings_.config_path`` names (opened per thread on use)."""
    app = Flask("mlops_azure.webapp")
    app.config.update(SECRET_KEY=settings_.secret_key, SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Strict", SESSION_COOKIE_NAME="mlops_ui",
                      # Behind Easy Auth the app is served over HTTPS only.
                      SESSION_COOKIE_SECURE=settings_.easy_auth,
                      MAX_CONTENT_LENGTH=settings_.max_upload_bytes, **settings_.flask)
    app.config[SETTINGS_KEY] = settings_
    settings_.scratch_dir.mkdir(parents=True, exist_ok=True)
    for page in PAGES:
        app.register_blueprint(importlib.import_module(f"mlops_azure.webapp.{page}").blueprint)

    app.add_template_global(model_link)

    @app.before_request
    def _signed_in() -> None:
        require_signed_in(settings().easy_auth)

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    app.register_error_handler(CsrfRefused, lambda exc: _error(str(exc), 400))
    app.register_error_handler(UserInputError, lambda exc: _error(exc.message, 400))
    app.register_error_handler(BackendError, lambda exc: _error(exc.message, 503))
    app.register_error_handler(MlopsError, lambda exc: _error(exc.message, 400))
    app.register_error_handler(RequestEntityTooLarge, lambda _: _error(
        f"the upload is larger than {settings().max_upload_bytes // (1024 * 1024)} MB: split the "
        "file, or score it with mlops score batch", 413))
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _internal)
    return app


def model_link(ref: str | None) -> Markup:
    """A link to the model page when ``ref`` is ``NAME:VERSION``, else the text itself."""
    if not ref:
        return Markup("")
    found = split_ref(ref)
    if found is None:
        return escape(ref)
    href = url_for("model.version_page", name=found[0], version=found[1])
    return Markup('<a href="{}">{}</a>').format(href, ref)


def _error(message: str, status: int) -> tuple[str, int]:
    """The error page with the layout; without it when even the layout cannot be drawn (the
    project itself is unreadable, say), so the sentence and the status are never lost."""
    try:
        return render("error.html", status=status, message=message)
    except Exception:
        log.debug("mlops ui: error page without the layout", exc_info=True)
        return _plain(message, status)


def _plain(message: str, status: int) -> tuple[str, int]:
    return (f"<!doctype html><html lang=en><title>mlops</title><p role=alert>{escape(message)}</p>"
            "</html>", status)


#: What an HTTP error says when the view gave no sentence of its own.
_HTTP_MESSAGES = {401: "sign in first: this app takes the user from the platform's sign-in",
                  404: "there is no such page here", 405: "this page does not take that method"}


def _http_error(exc: HTTPException) -> tuple[str, int] | HTTPException:
    if exc.code is None:
        return exc
    own = exc.description if exc.description != type(exc).description else None
    message = own or _HTTP_MESSAGES.get(exc.code, exc.description or exc.name)
    if exc.code == 401:  # nobody is signed in: show nothing of the project nor of the server
        return _plain(message, 401)
    return _error(message, exc.code)


def _internal(exc: Exception) -> tuple[str, int]:
    log.exception("mlops ui: unexpected error")
    return _error(f"internal error: {type(exc).__name__} (see the server's log)", 500)
