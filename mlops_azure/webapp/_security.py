"""CSRF protection for the app's forms, and who is signed in behind Azure's Easy Auth.

CSRF: a random token kept in Flask's signed session cookie (HttpOnly, SameSite=Strict) must come
back with every POST, as the form field ``csrf_token`` or the ``X-CSRF-Token`` header. The cookie
alone proves nothing (a forged cross-site form sends it too); the matching field does.

Easy Auth (App Service and Container Apps authentication) signs the user in before a request
reaches the app and passes who it is in ``X-MS-CLIENT-PRINCIPAL-NAME`` and the base64 JSON
``X-MS-CLIENT-PRINCIPAL``. Anyone can send those headers to a server that is not behind Easy
Auth, so they are read only when the app was started with ``easy_auth`` on.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
from collections.abc import Mapping
from typing import Any

from flask import abort, request, session
from werkzeug.datastructures import Headers

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
PRINCIPAL_NAME = "X-MS-CLIENT-PRINCIPAL-NAME"
PRINCIPAL = "X-MS-CLIENT-PRINCIPAL"
#: Claims that name a person, in the order they are preferred.
_NAME_CLAIMS = ("preferred_username", "name", "email",
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress")


class CsrfRefused(Exception):
    """A POST without the form's token: one sentence for the 400 page."""


def csrf_token() -> str:
    """This browser session's token, created on first use."""
    token = session.get(CSRF_FIELD)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[CSRF_FIELD] = token
    return token


def check_csrf() -> None:
    """Refuse the current POST unless it carries the session's token."""
    expected = session.get(CSRF_FIELD)
    sent = request.form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER) or ""
    if not isinstance(expected, str) or not hmac.compare_digest(expected, sent):
        raise CsrfRefused("the form's security token is missing or out of date (the page was "
                          "open too long or comes from another site): reload the page and send "
                          "it again")


def easy_auth_user(headers: Mapping[str, str] | Headers) -> str | None:
    """The signed-in user's name from Easy Auth's headers, None when there is none."""
    name = headers.get(PRINCIPAL_NAME, "").strip()
    if name:
        return name
    encoded = headers.get(PRINCIPAL, "").strip()
    if not encoded:
        return None
    try:
        principal: Any = json.loads(base64.b64decode(encoded, validate=False))
    except (binascii.Error, ValueError):
        return None
    claims = principal.get("claims", []) if isinstance(principal, dict) else []
    by_type = {c["typ"]: c.get("val") for c in claims
               if isinstance(c, dict) and isinstance(c.get("typ"), str)}
    for claim in _NAME_CLAIMS:
        value = by_type.get(claim)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def require_signed_in(easy_auth: bool) -> None:
    """Behind Easy Auth every request must carry a user (the platform lets anonymous requests
    through when configured to): 401 otherwise."""
    if easy_auth and easy_auth_user(request.headers) is None:
        abort(401)
