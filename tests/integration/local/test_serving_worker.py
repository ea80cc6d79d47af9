"""The deployments' gunicorn worker: keep-alive in the main thread, idle timeout, no starvation."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_azure.local import processes

APP = """\
import threading, time

def app(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        time.sleep(0.5)
    # the scoring timeout of azureml-inference-server-http needs SIGALRM, i.e. the main thread
    main = threading.current_thread() is threading.main_thread()
    body = b"main" if main else b"other"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
"""


@pytest.fixture(params=[1])
def server(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[int]:
    """A one-worker server of a tiny app; ``request.param`` is its keep-alive (s)."""
    (tmp_path / "tiny_app.py").write_text(APP, encoding="utf-8")
    port = processes.free_port()
    log = tmp_path / "gunicorn.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "1",
             "--worker-class", processes.SERVING_WORKER, "--keep-alive", str(request.param), "tiny_app:app"],
            cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        processes.wait_until_healthy(proc.pid, port, log, 30, "tiny app")
        yield port
    finally:
        processes.stop(proc.pid)


def get(sock: socket.socket, path: str = "/") -> bytes:
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    return answer(sock)


def answer(sock: socket.socket) -> bytes:
    """One whole answer (its head and body may arrive in separate segments)."""
    data = b""
    while not data.endswith((b"main", b"other")):
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"closed after {data!r}")
        data += chunk
    return data


def test_one_connection_serves_many_requests_in_the_main_thread(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server), timeout=10) as sock:
        answers = [get(sock) for _ in range(5)]
    assert all(a.endswith(b"main") and b"connection: close" not in a.lower() for a in answers)


def test_an_idle_connection_is_closed_after_the_keep_alive_time(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server), timeout=10) as sock:
        get(sock)
        assert sock.recv(100) == b""  # closed by the worker (the 10 s timeout is only a guard)


@pytest.mark.parametrize("server", [60], indirect=True)
def test_a_worker_holding_an_idle_connection_still_serves_a_newcomer(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server), timeout=10) as idle:
        get(idle)
        # The only worker would hold `idle` for 60 s; the newcomer is served at once instead
        # (its 10 s timeout is a guard), and `idle` is closed for it.
        with socket.create_connection(("127.0.0.1", server), timeout=10) as newcomer:
            assert get(newcomer).endswith(b"main")
        assert idle.recv(100) == b""


@pytest.mark.parametrize("server", [60], indirect=True)
def test_a_busy_connection_is_closed_after_its_answer_when_another_client_waits(server: int) -> None:
    with socket.create_connection(("127.0.0.1", server), timeout=10) as busy:
        get(busy)
        busy.sendall(b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.1)  # the worker is in the app now
        with socket.create_connection(("127.0.0.1", server), timeout=10) as waiting:
            slow = answer(busy)
            assert slow.endswith(b"main") and b"connection: close" in slow.lower()
            assert get(waiting).endswith(b"main")
