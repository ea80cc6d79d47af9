"""``serve``: the app under gunicorn (one worker process with a pool of threads).

One worker keeps the CSV scoring runs' progress in one place; threads let a long page (a model
card) and the status page's refreshes be answered side by side.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

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
