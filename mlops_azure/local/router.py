"""The front of a local online endpoint: one stable URL that splits requests over deployments.

Run as ``python -m mlops_azure.local.router ROUTES_FILE PORT [READY_FILE]`` (the workspace starts
it detached). It listens on 127.0.0.1 only and behaves like an Azure ML online endpoint's front:

- ``POST /score`` needs ``Authorization: Bearer <key>`` (either endpoint key; the routes file
  holds only their SHA-256), else 401.
- The ``azureml-model-deployment`` request header sends the request to that deployment; without
  it a deployment is drawn by the live traffic weights. The response names the deployment that
  answered in the same header.
- Mirror traffic: that share of requests is also sent to the mirror deployment, whose answer is
  dropped.
- Requests reach a deployment over kept-alive connections carrying the deployment's router token
  (:mod:`.router_pool`). A deployment that refuses, resets or closes the connection before any
  response byte gets the request re-sent to another live deployment (nothing was answered), so
  a dead or dying process costs no client request while others are healthy.
- JSON nested deeper than ``max_json_depth`` is refused (400) without being forwarded.
- Clients must send a request's headers within ``header_timeout_s`` and its body at
  ``min_body_bytes_per_s`` at least; an idle kept-alive client connection is closed after
  ``idle_timeout_s``. A client that goes away mid-request or mid-response is simply dropped.
- ``GET /`` answers ``Healthy`` (no key needed; it reveals nothing). ``GET /.mlops/traffic``
  (with a key) answers the live-traffic counts per deployment (:mod:`.router_traffic`).

The routes file is re-read whenever it changes (it is replaced atomically), so a traffic change
applies from the next request on. Requests in flight finish where they started.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import random
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from mlops_azure.local.router_pool import BrokenAnswer, Unreachable, Upstream
from mlops_azure.local.router_traffic import MAX_JSON_DEPTH, TrafficCounter, is_probe, too_deep

#: Largest request body accepted (the scoring script caps rows; this caps memory).
MAX_BODY = 64 * 1024 * 1024
DEPLOYMENT_HEADER = "azureml-model-deployment"
TRAFFIC_PATH = "/.mlops/traffic"
#: Client timeouts (routes.json may override each): headers of a request, idle kept-alive
#: connection, and the slowest body (or response) transfer accepted, on top of the header time.
HEADER_TIMEOUT_S = 10.0
IDLE_TIMEOUT_S = 60.0
MIN_BODY_BYTES_PER_S = 1024 * 1024
#: Seconds the router waits beyond a deployment's request timeout, so the deployment's own
#: timeout answer reaches the client rather than the router's 504.
TIMEOUT_GRACE_S = 1.0
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            405: "Method Not Allowed", 411: "Length Required", 413: "Payload Too Large",
            502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}
_FORWARDED = ("content-type", "x-request-id", "x-ms-client-request-id", "accept")


@dataclass
class Routes:
    """The routing table as last read from the routes file."""

    key_hashes: frozenset[str] = frozenset()
    ports: dict[str, int] = field(default_factory=dict)
    traffic: dict[str, int] = field(default_factory=dict)
    mirror: dict[str, int] = field(default_factory=dict)
    timeout_s: float = 5.0
    timeouts_s: dict[str, float] = field(default_factory=dict)
    workers: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)
    header_timeout_s: float = HEADER_TIMEOUT_S
    idle_timeout_s: float = IDLE_TIMEOUT_S
    min_body_bytes_per_s: float = MIN_BODY_BYTES_PER_S
    max_json_depth: int = MAX_JSON_DEPTH
    stamp: tuple[int, int] = (0, 0)

    def pick(self, exclude: set[str]) -> str | None:
        """A deployment drawn by traffic weight among those not excluded."""
        live = [(n, w) for n, w in self.traffic.items() if w > 0 and n not in exclude and n in self.ports]
        if not live:
            return None
        names, weights = zip(*live, strict=True)
        chosen: str = random.choices(names, weights=weights)[0]
        return chosen

    def timeout_of(self, name: str) -> float:
        """Seconds a request to ``name`` may take, queueing included."""
        return self.timeouts_s.get(name, self.timeout_s)

    def transfer_s(self, size: int) -> float:
        """Seconds a client gets to send (or take) ``size`` bytes."""
        return self.header_timeout_s + size / self.min_body_bytes_per_s


def load_routes(path: Path, previous: Routes | None) -> Routes:
    """The routes in ``path``, re-read only when the file was replaced since ``previous``."""
    try:
        info = path.stat()
    except FileNotFoundError:
        return previous or Routes()
    stamp = (info.st_ino, info.st_mtime_ns)
    if previous is not None and previous.stamp == stamp:
        return previous
    raw = json.loads(path.read_text(encoding="utf-8"))
    return Routes(
        key_hashes=frozenset(raw.get("key_sha256", [])),
        ports={str(k): int(v) for k, v in raw.get("ports", {}).items()},
        traffic={str(k): int(v) for k, v in raw.get("traffic", {}).items()},
        mirror={str(k): int(v) for k, v in raw.get("mirror", {}).items()},
        timeout_s=float(raw.get("timeout_s", 5.0)),
        timeouts_s={str(k): float(v) for k, v in raw.get("timeouts_s", {}).items()},
        workers={str(k): int(v) for k, v in raw.get("workers", {}).items()},
        tokens={str(k): str(v) for k, v in raw.get("tokens", {}).items()},
        header_timeout_s=float(raw.get("header_timeout_s", HEADER_TIMEOUT_S)),
        idle_timeout_s=float(raw.get("idle_timeout_s", IDLE_TIMEOUT_S)),
        min_body_bytes_per_s=float(raw.get("min_body_bytes_per_s", MIN_BODY_BYTES_PER_S)),
        max_json_depth=int(raw.get("max_json_depth", MAX_JSON_DEPTH)),
        stamp=stamp,
    )


class Router:
    def __init__(self, routes_file: Path) -> None:
        self.routes_file = routes_file
        self.routes = load_routes(routes_file, None)
        self.traffic = TrafficCounter()
        self._upstreams: dict[str, Upstream] = {}
        self._background: set[asyncio.Task[None]] = set()

    def current(self) -> Routes:
        # A file that cannot be read: keep routing by the last good table.
        with contextlib.suppress(OSError, ValueError):
            self.routes = load_routes(self.routes_file, self.routes)
        return self.routes

    def upstream(self, routes: Routes, name: str) -> Upstream:
        """The connection pool of deployment ``name`` as the routes describe it (a replaced
        server gets a new pool; the old pool's idle connections are closed)."""
        port, workers, token = routes.ports[name], routes.workers.get(name, 1), routes.tokens.get(name, "")
        pool = self._upstreams.get(name)
        if pool is None or not pool.same(port, workers, token):
            if pool is not None:
                pool.close()
            pool = self._upstreams[name] = Upstream(port, workers, token)
        return pool

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        wait = self.routes.header_timeout_s  # a new connection owes its first request promptly
        try:
            async with asyncio.timeout(None) as deadline:
                while True:
                    deadline.reschedule(loop.time() + wait)
                    first = await reader.readexactly(1)
                    deadline.reschedule(loop.time() + self.routes.header_timeout_s)
                    try:
                        head = first + await reader.readuntil(b"\r\n\r\n")
                    except asyncio.LimitOverrunError:
                        await _respond(writer, 400, _error("request headers are too large"), False)
                        return
                    if not await self._one(reader, writer, head, deadline):
                        return
                    wait = self.routes.idle_timeout_s
        except (asyncio.IncompleteReadError, ConnectionError, TimeoutError):
            pass  # the client went away, stalled or idled out: nothing to answer
        finally:
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, head: bytes,
                   deadline: asyncio.Timeout) -> bool:
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            await _respond(writer, 400, _error("malformed request line"), False)
            return False
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        keep_alive = (headers.get("connection", "").lower() != "close"
                      and version.upper() == "HTTP/1.1")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            await _respond(writer, 411, _error("send the body with a Content-Length"), False)
            return False
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            await _respond(writer, 400, _error("Content-Length is not a number"), False)
            return False
        if length > MAX_BODY or length < 0:
            await _respond(writer, 413, _error(f"the body is larger than {MAX_BODY} bytes"), False)
            return False
        loop = asyncio.get_running_loop()
        routes = self.current()
        deadline.reschedule(loop.time() + routes.transfer_s(length))
        body = await reader.readexactly(length) if length else b""
        deadline.reschedule(None)  # the deployment's own timeout bounds what follows
        path = target.split("?", 1)[0]
        if path == "/" and method == "GET":
            await _respond(writer, 200, b"Healthy", keep_alive, content_type="text/plain")
            return keep_alive
        if path not in ("/score", TRAFFIC_PATH):
            await _respond(writer, 404, _error(f"no route {path}: score at /score"), keep_alive)
            return keep_alive
        wanted_method = "POST" if path == "/score" else "GET"
        if method != wanted_method:
            await _respond(writer, 405, _error(f"use {wanted_method} {path}"), keep_alive)
            return keep_alive
        auth = headers.get("authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if not token or hashlib.sha256(token.encode()).hexdigest() not in routes.key_hashes:
            await _respond(writer, 401, _error("missing or wrong key: send 'Authorization: Bearer "
                                               "<endpoint key>'"), keep_alive)
            return keep_alive
        if path == TRAFFIC_PATH:
            await _respond(writer, 200, json.dumps(self.traffic.as_json()).encode(), keep_alive)
            return keep_alive
        if too_deep(body, routes.max_json_depth):
            await _respond(writer, 400, _error(f"the JSON body nests deeper than "
                                               f"{routes.max_json_depth} levels"), keep_alive)
            return keep_alive
        started = time.perf_counter()
        status, payload, extra, served = await self._score(routes, headers, body)
        if served is not None and not is_probe(body):
            self.traffic.record(served, status, time.perf_counter() - started)
        deadline.reschedule(loop.time() + routes.transfer_s(len(payload)))
        await _respond(writer, status, payload, keep_alive, deployment=served, extra=extra)
        return keep_alive

    async def _score(self, routes: Routes, headers: dict[str, str],
                     body: bytes) -> tuple[int, bytes, list[tuple[str, str]], str | None]:
        """Forward to a deployment: (status, payload, headers to pass on, the deployment that
        answered or failed)."""
        wanted = headers.get(DEPLOYMENT_HEADER)
        if wanted is not None and wanted not in routes.ports:
            known = ", ".join(sorted(routes.ports)) or "none"
            return 404, _error(f"no deployment '{wanted}' (deployments: {known})"), [], None
        forwarded = "".join(f"{h}: {headers[h]}\r\n" for h in _FORWARDED if h in headers).encode("latin-1")
        for shadow, share in routes.mirror.items():
            if share > 0 and shadow in routes.ports and random.random() * 100 < share:
                task = asyncio.create_task(self._mirror(routes, shadow, forwarded, body))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
        tried: set[str] = set()
        refreshed = 0
        while True:
            name: str | None = wanted if wanted is not None else routes.pick(tried)
            if name is None and tried and refreshed < 2:
                # Every deployment this request could use is gone: the table it started with may
                # be stale (a rollback moved the traffic, then the old deployment was removed).
                fresh = self.current()
                if fresh is not routes:
                    routes, refreshed = fresh, refreshed + 1
                    continue
            if name is None:
                why = ("the endpoint has no deployment taking traffic" if not tried
                       else f"no deployment answered (tried {', '.join(sorted(tried))})")
                return 503, _error(why), [], None
            tried.add(name)
            limit = routes.timeout_of(name)
            try:
                async with asyncio.timeout(limit + TIMEOUT_GRACE_S):
                    answer = await self.upstream(routes, name).post(forwarded, body)
            except Unreachable:
                if wanted is None:
                    continue
                return 502, _error(f"deployment '{name}' is not running"), [], name
            except TimeoutError:
                return 504, _error(f"deployment '{name}' did not answer within {limit:g} s"), [], name
            except (BrokenAnswer, OSError, ValueError) as exc:
                return 502, _error(f"deployment '{name}' broke the connection "
                                   f"({type(exc).__name__})"), [], name
            return answer.status, answer.payload, answer.headers, name

    async def _mirror(self, routes: Routes, name: str, forwarded: bytes, body: bytes) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(routes.timeout_of(name) + TIMEOUT_GRACE_S):
                await self.upstream(routes, name).post(forwarded, body)


def _error(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


async def _respond(writer: asyncio.StreamWriter, status: int, payload: bytes, keep_alive: bool = True,
                   *, deployment: str | None = None, extra: list[tuple[str, str]] | None = None,
                   content_type: str = "application/json") -> None:
    out = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}\r\n",
           f"Content-Length: {len(payload)}\r\n",
           f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n"]
    extra = extra or []
    if not any(k == "content-type" for k, _ in extra):
        out.append(f"Content-Type: {content_type}\r\n")
    out += [f"{k}: {v}\r\n" for k, v in extra]
    if deployment is not None:
        out.append(f"{DEPLOYMENT_HEADER}: {deployment}\r\n")
    head = "".join(out).encode("latin-1") + b"\r\n"
    try:
        if len(payload) <= 256 * 1024:
            writer.write(head + payload)
        else:
            writer.write(head)
            writer.write(payload)
        await writer.drain()
    except ConnectionError:
        pass  # the client went away: nobody to tell


async def serve(routes_file: Path, port: int, ready_file: Path | None) -> None:
    """Listen on 127.0.0.1:``port`` (0: any free port, written to ``ready_file``) until SIGTERM."""
    router = Router(routes_file)
    server = await asyncio.start_server(router.handle, "127.0.0.1", port, limit=1024 * 1024)
    bound = server.sockets[0].getsockname()[1]
    if ready_file is not None:
        tmp = ready_file.with_suffix(".tmp")
        tmp.write_text(str(bound), encoding="utf-8")
        tmp.replace(ready_file)
    print(f"router: endpoint listening on http://127.0.0.1:{bound}/score", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()
    print("router: stopped", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) not in (2, 3):
        print("usage: python -m mlops_azure.local.router ROUTES_FILE PORT [READY_FILE]", file=sys.stderr)
        return 2
    ready = Path(args[2]) if len(args) == 3 else None
    try:
        asyncio.run(serve(Path(args[0]), int(args[1]), ready))
    except OSError as exc:
        print(f"router: cannot listen on 127.0.0.1:{args[1]}: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
