"""The processes behind local endpoints: start them detached, wait until they answer, stop them.

Every server binds 127.0.0.1 only. Processes start in their own session so they outlive the
``mlops`` command that started them (as an Azure endpoint outlives ``az ml``), and are stopped by
process group so no worker is left behind.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

from mlops_azure._files import PRIVATE_UMASK, is_private, make_dirs, open_new
from mlops_azure.errors import DeploymentFailed
from mlops_azure.local.artifacts import process_alive

#: The WSGI app of ``azureml-inference-server-http``; its own CLI binds 0.0.0.0, so we run the app
#: under gunicorn ourselves with the flags that CLI builds, but bound to loopback.
INFERENCE_APP = "azureml_inference_server_http.server.entry:app"
#: What deployments actually serve: the inference app behind the router-token check.
SERVING_APP = "mlops_azure.local.serving_app:app"
#: The gunicorn worker class: sync (the scoring timeout needs the main thread) with keep-alive.
SERVING_WORKER = "mlops_azure.local.serving_worker.KeepAliveWorker"
#: Seconds a deployment keeps an idle connection from the router open.
KEEP_ALIVE_S = 5
#: Environment variable and header of a deployment's router token (see :mod:`.serving_app`).
TOKEN_ENV = "MLOPS_ROUTER_TOKEN"
TOKEN_HEADER = "x-mlops-router-token"


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _spawn(argv: list[str], env: Mapping[str, str], log_file: Path, cwd: Path) -> int:
    make_dirs(log_file.parent)
    with open_new(log_file, "ab") as log:
        # What a server writes in a private workspace (logs, collected requests) stays private.
        umask = PRIVATE_UMASK if is_private(log_file.parent) else -1
        proc = subprocess.Popen(
            argv, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True, close_fds=True, umask=umask,
        )
    return proc.pid


#: Variables that would point ``azureml-inference-server-http`` at an Application Insights
#: resource (its ``server/config.py`` and ``appinsights_client.py``); never passed to a local server.
TELEMETRY_VARIABLES = ("AML_APP_INSIGHTS_ENABLED", "AML_APP_INSIGHTS_KEY",
                       "APPLICATIONINSIGHTS_CONNECTION_STRING", "APP_INSIGHTS_LOG_RESPONSE_ENABLED")


def start_inference_server(*, code_dir: Path, scoring_script: str, model_dir: Path, port: int,
                           workers: int, timeout_ms: int, log_file: Path,
                           extra_env: Mapping[str, str], token: str) -> int:
    """Start ``azureml-inference-server-http`` serving ``scoring_script`` on 127.0.0.1:``port``,
    answering only requests that carry ``token`` in the :data:`TOKEN_HEADER` header."""
    env = dict(os.environ)
    env.update({
        "AZUREML_ENTRY_SCRIPT": str(code_dir / scoring_script),
        "AZUREML_MODEL_DIR": str(model_dir),
        "AML_APP_ROOT": str(code_dir),
        "SCORING_TIMEOUT_MS": str(timeout_ms),
        "PYTHONUNBUFFERED": "1",
    })
    if workers > 1:
        # Several workers on few cores: LightGBM's OpenMP threads would oversubscribe them (~4x
        # slower measured); one thread per worker is the measured optimum.
        env.setdefault("OMP_NUM_THREADS", "1")
    env.update(extra_env)
    env[TOKEN_ENV] = token  # after extra_env: a deployment's variables cannot replace it
    # The server's own telemetry (Application Insights) stays off, whatever the caller's or the
    # deployment's variables say: a local server sends nothing beyond 127.0.0.1.
    for name in TELEMETRY_VARIABLES:
        env.pop(name, None)
    env["AML_APP_INSIGHTS_ENABLED"] = "false"
    argv = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
            "--worker-class", SERVING_WORKER, "--keep-alive", str(KEEP_ALIVE_S),
            "--timeout", str(max(30, timeout_ms // 1000 + 10)), "--graceful-timeout", "10",
            "--error-logfile", "-", SERVING_APP]
    return _spawn(argv, env, log_file, code_dir)


def start_router(routes_file: Path, port: int, log_file: Path) -> tuple[int, int]:
    """Start the endpoint router on 127.0.0.1:``port`` (0: any); returns (pid, bound port)."""
    ready = routes_file.with_name("router.port")
    ready.unlink(missing_ok=True)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    argv = [sys.executable, "-m", "mlops_azure.local.router", str(routes_file), str(port), str(ready)]
    pid = _spawn(argv, env, log_file, routes_file.parent)
    deadline = time.monotonic() + 30.0
    while time.monotonic() < deadline:
        if ready.is_file():
            text = ready.read_text(encoding="utf-8").strip()
            if text:
                return pid, int(text)
        if not alive(pid):
            break
        time.sleep(0.02)
    stop(pid)
    raise DeploymentFailed(f"the endpoint router did not start on 127.0.0.1:{port}",
                           tail(log_file))


def alive(pid: int | None, marker: str | None = None) -> bool:
    """Whether process ``pid`` runs (see :func:`.artifacts.process_alive`) and, when ``marker`` is
    given, has it in its command line, so a recycled pid is not mistaken for our server."""
    if not pid or pid <= 0 or not process_alive(pid):
        return False
    if marker is None:
        return True
    try:
        return marker.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False  # ended since
    except OSError:
        return True  # no procfs (macOS): the pid is all we can check


def _reap(pid: int) -> None:
    # Not our child: its own parent (or init) reaps it.
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop(pid: int | None, grace_s: float = 15.0) -> None:
    """Stop process group ``pid`` (SIGTERM: servers finish requests in flight), then SIGKILL."""
    if not pid or not alive(pid):
        return
    try:
        os.killpg(pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        return
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        _reap(pid)
        if not alive(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    _reap(pid)


def get(port: int, path: str = "/", timeout_s: float = 2.0,
        headers: Mapping[str, str] | None = None) -> tuple[int, bytes]:
    """GET http://127.0.0.1:``port````path``; (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        conn.request("GET", path, headers=dict(headers or {}))
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def wait_until_healthy(pid: int, port: int, log_file: Path, timeout_s: float, what: str,
                       token: str | None = None) -> None:
    """Poll ``GET /`` (with the deployment's router ``token``, when it has one) until it answers
    200; ``DeploymentFailed`` with the log tail when the process exits or ``timeout_s`` passes."""
    headers = {TOKEN_HEADER: token} if token else {}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not alive(pid):
            _reap(pid)
            raise DeploymentFailed(f"{what} exited while starting", tail(log_file))
        try:
            status, _ = get(port, timeout_s=1.0, headers=headers)
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    stop(pid)
    raise DeploymentFailed(f"{what} did not answer within {timeout_s:g} s", tail(log_file))


def tail(log_file: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log file ('' when there is none)."""
    try:
        with log_file.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 64 * 1024))
            text = handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
