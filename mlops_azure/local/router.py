"""The front of a local online endpoint: one stable URL that splits requests over deployments.

Run as ``python -m mlops_azure.local.router ROUTES_FILE`` (the workspace starts it detached). It
listens on 127.0.0.1 only and behaves like an Azure ML online endpoint's front:

- ``POST /score`` needs ``Authorization: Bearer <key>`` (either endpoint key; the routes file
  holds only their SHA-256), else 401.
- The ``azureml-model-deployment`` request header sends the request to that deployment; without
  it a deployment is drawn by the live traffic weights. The response names the deployment that
  answered in the same header.
- Mirror traffic: that share of requests is also sent to the mirror deployment, whose answer is
  dropped.
- A deployment that refuses the connection gets the request re-sent to another live deployment
  (nothing was processed), so a dead process costs no client request while others are healthy.
- ``GET /`` answers ``Healthy`` (no key needed; it reveals nothing).

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
from dataclasses import dataclass, field
from pathlib import Path

#: Largest request body accepted (the scoring script caps rows; this caps memory).
MAX_BODY = 64 * 1024 * 1024
DEPLOYMENT_HEADER = "azureml-model-deployment"
_REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            405: "Method Not Allowed", 411: "Length Required", 413: "Payload Too Large",
            502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


@dataclass
class Routes:
    """The routing table as last read from the routes file."""

    key_hashes: frozenset[str] = frozenset()
    ports: dict[str, int] = field(default_factory=dict)
    traffic: dict[str, int] = field(default_factory=dict)
    mirror: dict[str, int] = field(default_factory=dict)
    timeout_s: float = 5.0
    stamp: tuple[int, int] = (0, 0)

    def pick(self, exclude: set[str]) -> str | None:
        """A deployment drawn by traffic weight among those not excluded."""
        live = [(n, w) for n, w in self.traffic.items() if w > 0 and n not in exclude and n in self.ports]
        if not live:
            return None
        names, weights = zip(*live, strict=True)
        chosen: str = random.choices(names, weights=weights)[0]
        return chosen


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
        stamp=stamp,
    )


class Router:
    def __init__(self, routes_file: Path) -> None:
        self.routes_file = routes_file
        self.routes = load_routes(routes_file, None)
        self._background: set[asyncio.Task[None]] = set()

    def current(self) -> Routes:
        # A file that cannot be read: keep routing by the last good table.
        with contextlib.suppress(OSError, ValueError):
            self.routes = load_routes(self.routes_file, self.routes)
        return self.routes

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                except asyncio.LimitOverrunError:
                    await _respond(writer, 400, _error("request headers are too large"), keep_alive=False)
                    return
                keep_alive = await self._one(reader, writer, head)
                if not keep_alive:
                    return
        finally:
            writer.close()

    async def _one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                   head: bytes) -> bool:
        lines = head.decode("latin-1").split("\r\n")
        try:
            method, target, version = lines[0].split(" ", 2)
        except ValueError:
            await _respond(writer, 400, _error("malformed request line"), keep_alive=False)
            return False
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        keep_alive = (headers.get("connection", "").lower() != "close"
                      and version.upper() == "HTTP/1.1")
        if "chunked" in headers.get("transfer-encoding", "").lower():
            await _respond(writer, 411, _error("send the body with a Content-Length"), keep_alive=False)
            return False
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            await _respond(writer, 400, _error("Content-Length is not a number"), keep_alive=False)
            return False
        if length > MAX_BODY or length < 0:
            await _respond(writer, 413, _error(f"the body is larger than {MAX_BODY} bytes"), keep_alive=False)
            return False
        body = await reader.readexactly(length) if length else b""
        path = target.split("?", 1)[0]
        if path == "/" and method == "GET":
            await _respond(writer, 200, b"Healthy", keep_alive, content_type="text/plain")
            return keep_alive
        if path != "/score":
            await _respond(writer, 404, _error(f"no route {path}: score at /score"), keep_alive)
            return keep_alive
        if method != "POST":
            await _respond(writer, 405, _error("use POST /score"), keep_alive)
            return keep_alive
        routes = self.current()
        auth = headers.get("authorization", "")
        token = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if not token or hashlib.sha256(token.encode()).hexdigest() not in routes.key_hashes:
            await _respond(writer, 401, _error("missing or wrong key: send 'Authorization: Bearer "
                                               "<endpoint key>'"), keep_alive)
            return keep_alive
        await self._score(writer, routes, headers, body, keep_alive)
        return keep_alive

    async def _score(self, writer: asyncio.StreamWriter, routes: Routes, headers: dict[str, str],
                     body: bytes, keep_alive: bool) -> None:
        wanted = headers.get(DEPLOYMENT_HEADER)
        if wanted is not None and wanted not in routes.ports:
            known = ", ".join(sorted(routes.ports)) or "none"
            await _respond(writer, 404, _error(f"no deployment '{wanted}' (deployments: {known})"),
                           keep_alive)
            return
        for shadow, share in routes.mirror.items():
            if share > 0 and shadow in routes.ports and random.random() * 100 < share:
                task = asyncio.create_task(self._mirror(routes.ports[shadow], headers, body,
                                                        routes.timeout_s))
                self._background.add(task)
                task.add_done_callback(self._background.discard)
        tried: set[str] = set()
        while True:
            name: str | None = wanted if wanted is not None else routes.pick(tried)
            if name is None:
                why = ("the endpoint has no deployment taking traffic" if not tried
                       else f"no deployment answered (tried {', '.join(sorted(tried))})")
                await _respond(writer, 503, _error(why), keep_alive)
                return
            tried.add(name)
            try:
                status, extra, payload = await _forward(routes.ports[name], headers, body,
                                                        routes.timeout_s)
            except ConnectionRefusedError:
                if wanted is not None:
                    await _respond(writer, 502, _error(f"deployment '{name}' is not running"),
                                   keep_alive, deployment=name)
                    return
                continue
            except TimeoutError:
                await _respond(writer, 504, _error(f"deployment '{name}' did not answer within "
                                                   f"{routes.timeout_s:g} s"), keep_alive,
                               deployment=name)
                return
            except (ConnectionError, asyncio.IncompleteReadError, ValueError) as exc:
                await _respond(writer, 502, _error(f"deployment '{name}' broke the connection "
                                                   f"({type(exc).__name__})"), keep_alive,
                               deployment=name)
                return
            await _respond(writer, status, payload, keep_alive, deployment=name, extra=extra)
            return

    async def _mirror(self, port: int, headers: dict[str, str], body: bytes, timeout_s: float) -> None:
        with contextlib.suppress(Exception):
            await _forward(port, headers, body, timeout_s)


_FORWARDED = ("content-type", "x-request-id", "x-ms-client-request-id", "accept")


async def _forward(port: int, headers: dict[str, str], body: bytes,
                   timeout_s: float) -> tuple[int, list[tuple[str, str]], bytes]:
    """POST ``body`` to a deployment on 127.0.0.1:``port``; (status, headers to pass on, body)."""
    async def exchange() -> tuple[int, list[tuple[str, str]], bytes]:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            lines = [f"POST /score HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n"
                     f"Content-Length: {len(body)}\r\n"]
            lines += [f"{h}: {headers[h]}\r\n" for h in _FORWARDED if h in headers]
            writer.write("".join(lines).encode("latin-1") + b"\r\n" + body)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            status_line, *header_lines = head.decode("latin-1").split("\r\n")
            status = int(status_line.split(" ", 2)[1])
            passed: list[tuple[str, str]] = []
            length: int | None = None
            for line in header_lines:
                key, _, value = line.partition(":")
                key = key.strip().lower()
                if key == "content-length":
                    length = int(value)
                elif key in ("content-type", "x-ms-run-fn-exec-ms", "x-request-id",
                             "x-ms-request-id"):
                    passed.append((key, value.strip()))
            payload = await (reader.readexactly(length) if length is not None else reader.read())
            return status, passed, payload
        finally:
            writer.close()

    return await asyncio.wait_for(exchange(), timeout_s)


def _error(message: str) -> bytes:
    return json.dumps({"error": message}).encode()


async def _respond(writer: asyncio.StreamWriter, status: int, payload: bytes, keep_alive: bool = True,
                   *, deployment: str | None = None,
                   extra: list[tuple[str, str]] | None = None,
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
    try:
        writer.write("".join(out).encode("latin-1") + b"\r\n" + payload)
        await writer.drain()
    except ConnectionError:
        pass


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
