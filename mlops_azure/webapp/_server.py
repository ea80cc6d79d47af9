"""``serve``: the app under gunicorn (one worker process with a pool of threads).

One worker keeps the CSV scoring runs' progress in one place; threads let a long page (a model
card) and the status page's refreshes be answered side by side.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Callable
from typing import Any

from mlops_azure.errors import UserInputError
from mlops_azure.webapp._settings import UiSettings

#: Threads answering requests in the worker.
THREADS = 8
#: A request still running after this long is cut off (CSV scoring runs in the background).
TIMEOUT_S = 120


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_port(host: str, port: int) -> None:
    """``UserInputError`` when ``host:port`` cannot be listened on (taken, or not an address of
    this machine): one sentence instead of gunicorn's five retries and a log line."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            taken = exc.errno == errno.EADDRINUSE
            raise UserInputError(
                f"cannot listen on {host}:{port}: "
                + ("the port is in use (another mlops ui?): pass --port N, or --port 0 for any "
                   "free one" if taken else f"{exc.strerror or exc}")) from None


def serve(settings: UiSettings, host: str = "127.0.0.1", port: int = 8080, *,
          ready: Callable[[str], None] | None = None) -> None:
    """Serve the app on ``host:port`` until interrupted; ``ready`` gets the URL once it listens
    (port 0 picks a free port)."""
    from gunicorn.app.base import BaseApplication

    from mlops_azure.webapp._app import create_app

    class _Application(BaseApplication):  # type: ignore[misc]  # gunicorn ships no type hints
        def load_config(self) -> None:
            bind = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            for key, value in {"bind": [bind], "workers": 1, "threads": THREADS,
                               "worker_class": "gthread", "timeout": TIMEOUT_S,
                               "accesslog": None, "errorlog": "-", "loglevel": "warning",
                               "when_ready": _when_ready, "proc_name": "mlops-ui"}.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            return create_app(settings)

    def _when_ready(server: Any) -> None:
        if ready is not None:
            address = server.LISTENERS[0].sock.getsockname()
            shown = f"[{address[0]}]" if ":" in address[0] else address[0]
            ready(f"http://{shown}:{address[1]}/")

    _Application().run()
