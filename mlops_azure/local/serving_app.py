"""The WSGI app of a local deployment: the inference server, answering its router only.

A deployment's port is reachable by every local user, so each deployment gets a random token
when it is created (in :envvar:`MLOPS_ROUTER_TOKEN`); this wrapper answers 401 to any request
(``/score``, ``/``, ``/swagger.json`` alike) that does not carry it in the
``x-mlops-router-token`` header. The endpoint router adds the header; clients go through the
router, with the endpoint key. The token is removed from the environment before the scoring
script is loaded, so neither it nor anything it starts inherits it.
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Callable, Iterable
from typing import Any

#: Environment variable carrying the deployment's token to its server.
TOKEN_ENV = "MLOPS_ROUTER_TOKEN"
#: Request header the router sends the token in.
TOKEN_HEADER = "x-mlops-router-token"

_TOKEN = os.environ.pop(TOKEN_ENV, "").encode("ascii", errors="replace")
_DENIED = json.dumps({"error": "this deployment answers its endpoint's router only: call the "
                               "endpoint's scoring URL with the endpoint key"}).encode()

# Imported after the token left the environment: creating the app loads the scoring script.
from azureml_inference_server_http.server.entry import app as inference_app  # noqa: E402

StartResponse = Callable[..., Any]


def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
    """The inference app behind the token check (no token configured: every request refused)."""
    given = str(environ.get("HTTP_X_MLOPS_ROUTER_TOKEN", "")).encode("latin-1", errors="replace")
    if not _TOKEN or not hmac.compare_digest(given, _TOKEN):
        start_response("401 Unauthorized", [("Content-Type", "application/json"),
                                            ("Content-Length", str(len(_DENIED)))])
        return [_DENIED]
    result: Iterable[bytes] = inference_app(environ, start_response)
    return result
