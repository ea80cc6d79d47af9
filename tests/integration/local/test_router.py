"""The endpoint router against stand-in deployments: pooled keep-alive connections, retries on a
deployment that dies before answering, client timeouts, nesting limit and live-traffic counts.

The stand-ins are plain sockets in this process, so each test can make a deployment refuse,
reset, close or stall exactly when it wants; the router is the real one, in its own process.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from mlops_azure.local import processes
from mlops_azure.local.router_traffic import LATENCY_BOUNDS_MS

KEY = "endpoint-key"


class FakeDeployment:
    """A deployment stand-in on 127.0.0.1 that records what reaches it.

    ``behaviour``: ``ok`` answers every request, keeping the connection open; ``reset`` /
    ``eof`` read a request, then reset / close the connection without a byte of answer;
    ``second-dropped`` drops (closes unanswered) every second request of a connection.
    A body holding ``bad`` gets 400, ``boom`` 500.
    """

    def __init__(self, behaviour: str = "ok", delay_s: float = 0.0, payload: bytes = b'{"predictions": [1]}'):
        self.behaviour, self.delay_s, self.payload = behaviour, delay_s, payload
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.connections = self.requests = self.active = self.max_active = 0
        self.tokens: set[str] = set()
        self.lock = threading.Lock()
        #: Called with each request it reads, before it answers (or dies).
        self.on_request: Callable[[], None] = lambda: None
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with self.lock:
            self.connections += 1
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        served = 0
        try:
            data = b""
            while True:
                while b"\r\n\r\n" not in data:
                    chunk = conn.recv(65536)
                    if not chunk:
                        return
                    data += chunk
                head, _, data = data.partition(b"\r\n\r\n")
                fields = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
                fields = {k.lower(): v for k, v in fields.items()}
                length = int(fields.get("content-length", "0"))
                while len(data) < length:
                    data += conn.recv(65536)
                body, data = data[:length], data[length:]
                served += 1
                with self.lock:
                    self.requests += 1
                    self.tokens.add(fields.get("x-mlops-router-token", ""))
                self.on_request()
                if self.behaviour == "reset":
                    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    return
                if self.behaviour == "eof" or (self.behaviour == "second-dropped" and served % 2 == 0):
                    return
                time.sleep(self.delay_s)
                status = 400 if b"bad" in body else 500 if b"boom" in body else 200
                conn.sendall(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                             f"Content-Length: {len(self.payload)}\r\n\r\n".encode() + self.payload)
        except OSError:
            return
        finally:
            conn.close()
            with self.lock:
                self.active -= 1


@pytest.fixture
def router(tmp_path: Path) -> Iterator[Callable[..., int]]:
    """Start a router over the given fakes (name -> (fake, traffic, workers)); its port."""
    started: list[int] = []

    def start(deployments: dict[str, tuple[FakeDeployment, int, int]], **limits: Any) -> int:
        routes = {
            "key_sha256": [hashlib.sha256(KEY.encode()).hexdigest()],
            "ports": {n: f.port for n, (f, _, _) in deployments.items()},
            "traffic": {n: t for n, (_, t, _) in deployments.items()},
            "workers": {n: w for n, (_, _, w) in deployments.items()},
            "tokens": {n: f"token-{n}" for n in deployments},
            "timeout_s": 5.0, **limits,
        }
        path = tmp_path / "routes.json"
        path.write_text(json.dumps(routes), encoding="utf-8")
        pid, port = processes.start_router(path, 0, tmp_path / "router.log")
        started.append(pid)
        return port

    yield start
    for pid in started:
        processes.stop(pid)


def score(port: int, body: bytes = b'{"data": [1]}', conn: http.client.HTTPConnection | None = None,
          **headers: str) -> tuple[int, dict[str, str], bytes]:
    own = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        sent = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json",
                **{k.replace("_", "-"): v for k, v in headers.items()}}
        own.request("POST", "/score", body=body, headers=sent)
        answer = own.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read()
    finally:
        if conn is None:
            own.close()


def test_connections_to_a_deployment_are_kept_open_and_carry_its_token(router: Callable[..., int]) -> None:
    fake = FakeDeployment()
    port = router({"blue": (fake, 100, 1)})
    assert [score(port)[0] for _ in range(20)] == [200] * 20
    assert (fake.requests, fake.connections, fake.tokens) == (20, 1, {"token-blue"})


def test_requests_beyond_the_workers_queue_instead_of_opening_more_connections(
    router: Callable[..., int]
) -> None:
    fake = FakeDeployment(delay_s=0.1)
    port = router({"blue": (fake, 100, 2)})
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: score(port)[0], range(16)))
    assert statuses == [200] * 16
    assert fake.max_active <= 2 and fake.connections <= 2


@pytest.mark.parametrize("death", ["reset", "eof"])
def test_a_deployment_dying_before_it_answers_costs_no_client_request(
    router: Callable[..., int], death: str
) -> None:
    dying, good = FakeDeployment(death), FakeDeployment()
    port = router({"dying": (dying, 50, 1), "good": (good, 50, 1)})
    answers = [score(port) for _ in range(40)]
    assert [status for status, _, _ in answers] == [200] * 40
    assert {h["azureml-model-deployment"] for _, h, _ in answers} == {"good"}
    assert dying.requests > 0  # it was tried, and its failure retried elsewhere
    pinned = score(port, azureml_model_deployment="dying")
    assert pinned[0] == 502 and b"not running" in pinned[2]


def test_a_request_whose_deployment_left_with_a_rollback_is_sent_by_the_new_table(
    router: Callable[..., int], tmp_path: Path
) -> None:
    # The request reached `old` by the table it started with; meanwhile traffic moved to `new`
    # and `old` was removed (it closes unanswered): the router reads the table again.
    old, new = FakeDeployment("eof"), FakeDeployment()
    port = router({"old": (old, 100, 1), "new": (new, 0, 1)})
    routes = tmp_path / "routes.json"

    def roll_back() -> None:
        table = json.loads(routes.read_text(encoding="utf-8"))
        table["traffic"] = {"old": 0, "new": 100}
        staged = tmp_path / "routes.tmp"
        staged.write_text(json.dumps(table), encoding="utf-8")
        staged.replace(routes)

    old.on_request = roll_back
    status, headers, _ = score(port)
    assert (status, headers["azureml-model-deployment"]) == (200, "new")
    assert old.requests == 1


def test_a_kept_alive_connection_the_deployment_dropped_is_retried_on_a_fresh_one(
    router: Callable[..., int]
) -> None:
    fake = FakeDeployment("second-dropped")
    port = router({"blue": (fake, 100, 1)})
    assert [score(port)[0] for _ in range(6)] == [200] * 6
    assert fake.connections == 6 and fake.requests == 11  # 5 dropped second requests, re-sent


def _closed_by_router(sock: socket.socket) -> bool:
    sock.settimeout(10)  # a guard: the router closes long before
    try:
        while sock.recv(65536):
            pass  # a 408 or the previous answer's rest
        return True
    except ConnectionResetError:
        return True


def test_stalled_and_idle_clients_are_disconnected(router: Callable[..., int]) -> None:
    port = router({"blue": (FakeDeployment(), 100, 1)}, header_timeout_s=0.3, idle_timeout_s=0.5)
    for sent in (b"", b"POST /score HTTP/1.1\r\nHost: x\r\n",
                 b"POST /score HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"data\""):
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(sent)
            assert _closed_by_router(sock)
    kept = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    assert score(port, conn=kept)[0] == 200
    assert kept.sock is not None and _closed_by_router(kept.sock)  # idle after its answer


def test_a_client_that_goes_away_mid_request_or_mid_response_leaves_no_traceback(
    router: Callable[..., int], tmp_path: Path
) -> None:
    fake = FakeDeployment(payload=b"[" + b"1," * 4_000_000 + b"1]")
    port = router({"blue": (fake, 100, 1)})
    request = (f"POST /score HTTP/1.1\r\nAuthorization: Bearer {KEY}\r\nContent-Length: 13\r\n\r\n"
               '{"data": [1]}').encode()
    for cut in (request[:20], request[:-5], request):
        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(cut)
            if cut == request:
                sock.recv(10)  # the answer has started: leave in the middle of its 8 MB
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    assert score(port)[0] == 200  # still serving
    log = (tmp_path / "router.log").read_text()
    assert "Traceback" not in log and "rror" not in log, log


def test_json_nested_too_deep_is_refused_without_reaching_a_deployment(router: Callable[..., int]) -> None:
    fake = FakeDeployment()
    port = router({"blue": (fake, 100, 1)})
    status, _, body = score(port, b'{"data": ' + b"[" * 64 + b"]" * 64 + b"}")
    assert status == 400 and b"deeper than 64" in body and fake.requests == 0
    assert score(port, b'{"data": ' + b"[" * 63 + b"]" * 63 + b"}")[0] == 200


def test_live_traffic_counts_client_answers_by_class_and_leaves_probes_out(
    router: Callable[..., int]
) -> None:
    port = router({"blue": (FakeDeployment(), 100, 1)})
    for body in [b'{"data": [1]}'] * 5 + [b'{"data": ["bad"]}'] * 2 + [b'{"data": ["boom"]}'] * 3:
        score(port, body)
    for _ in range(4):
        assert score(port, b'{"mlops_probe": "rollout", "data": [1]}')[0] == 200

    assert processes.get(port, "/.mlops/traffic")[0] == 401
    status, doc = processes.get(port, "/.mlops/traffic", headers={"Authorization": f"Bearer {KEY}"})
    counts = json.loads(doc)
    assert status == 200 and counts["latency_bounds_ms"] == list(LATENCY_BOUNDS_MS)
    blue = counts["deployments"]["blue"]
    assert (blue["requests"], blue["status_2xx"], blue["status_4xx"], blue["status_5xx"]) == (10, 5, 2, 3)
    assert sum(blue["latency_ms_counts"]) == 10
