"""The router's connections to one deployment: kept alive, at most one per server worker.

A deployment's server (:mod:`.serving_worker`) handles one connection per worker at a time and
keeps it open between requests, so the router opens at most ``workers`` connections to it and
queues the requests beyond that (FIFO, inside the caller's deadline) instead of piling up
connections that no worker would accept. A request is only ever sent once it holds a
connection, so a request still queued when its deadline passes was never processed.

Failures before the first response byte are told apart from the rest, because nothing was
answered and the request can safely go elsewhere (scoring is a pure function of the body):

- an idle pooled connection that the server closed or reset meanwhile: the request is sent once
  more on a fresh connection;
- a fresh connection refused, reset or closed before any response byte: :class:`Unreachable`,
  which the router treats as a dead deployment and retries on another live one.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

#: Seconds an idle pooled connection is trusted; below the deployments' keep-alive (5 s), so the
#: router drops a connection before the server closes it.
POOL_IDLE_S = 4.0
#: Largest response head accepted from a deployment.
_HEAD_LIMIT = 64 * 1024
#: Response headers passed on to the client.
PASSED = frozenset({"content-type", "x-ms-run-fn-exec-ms", "x-request-id", "x-ms-request-id"})

Connection = tuple[asyncio.StreamReader, asyncio.StreamWriter]


class Unreachable(ConnectionError):
    """The deployment refused, closed or reset the connection before any response byte."""


class BrokenAnswer(ConnectionError):
    """The deployment broke the connection in the middle of its response."""


@dataclass(frozen=True)
class Answer:
    """A deployment's response: status, headers to pass on, body."""

    status: int
    headers: list[tuple[str, str]]
    payload: bytes


class Upstream:
    """The pool of keep-alive connections to the deployment on 127.0.0.1:``port``."""

    def __init__(self, port: int, workers: int, token: str) -> None:
        self.port = port
        self.workers = max(1, workers)
        self.token = token
        self._prefix = (f"POST /score HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                        + (f"x-mlops-router-token: {token}\r\n" if token else "")).encode("latin-1")
        self._idle: list[tuple[Connection, float]] = []
        self._slots = asyncio.Semaphore(self.workers)
        self._closed = False

    def same(self, port: int, workers: int, token: str) -> bool:
        """Whether this pool serves that deployment server as configured."""
        return (self.port, self.workers, self.token) == (port, max(1, workers), token)

    async def post(self, headers: bytes, body: bytes) -> Answer:
        """POST ``body`` to ``/score`` with ``headers`` (complete ``Name: value\\r\\n`` lines).

        Waits for a free connection first; the caller bounds the whole call with a timeout.
        """
        request = (self._prefix + headers + b"Content-Length: " + str(len(body)).encode()
                   + b"\r\n\r\n")
        async with self._slots:
            pooled = self._take_idle()
            if pooled is not None:
                with contextlib.suppress(Unreachable):
                    return await self._exchange(pooled, request, body)
            try:
                fresh = await asyncio.open_connection("127.0.0.1", self.port, limit=_HEAD_LIMIT)
            except (ConnectionRefusedError, ConnectionResetError) as exc:
                raise Unreachable(f"connection {type(exc).__name__}") from None
            return await self._exchange(fresh, request, body)

    def close(self) -> None:
        """Close the idle connections; connections in use close when their request ends."""
        self._closed = True
        for (_, writer), _ in self._idle:
            writer.close()
        self._idle.clear()

    def _take_idle(self) -> Connection | None:
        now = asyncio.get_running_loop().time()
        while self._idle:
            (reader, writer), since = self._idle.pop()
            if now - since < POOL_IDLE_S and not reader.at_eof() and not writer.is_closing():
                return reader, writer
            writer.close()
        return None

    async def _exchange(self, conn: Connection, request: bytes, body: bytes) -> Answer:
        reader, writer = conn
        reusable = False
        try:
            answer, reusable = await _round_trip(reader, writer, request, body)
            return answer
        finally:
            if reusable and not self._closed:
                self._idle.append((conn, asyncio.get_running_loop().time()))
            else:
                writer.close()


async def _round_trip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes,
                      body: bytes) -> tuple[Answer, bool]:
    """One request and its response on an open connection; (answer, connection reusable)."""
    try:
        if len(body) <= 256 * 1024:  # one send: fewer syscalls and segments for small bodies
            writer.write(request + body)
        else:
            writer.write(request)
            writer.write(body)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if exc.partial:
            raise BrokenAnswer("the response head was cut short") from None
        raise Unreachable("closed before answering") from None
    except (ConnectionResetError, BrokenPipeError) as exc:
        raise Unreachable(f"connection {type(exc).__name__}") from None
    except asyncio.LimitOverrunError:
        raise BrokenAnswer("the response head is too large") from None
    try:
        status_line, *lines = head.decode("latin-1").split("\r\n")
        version, code = status_line.split(" ", 2)[:2]
        status = int(code)
    except ValueError:
        raise BrokenAnswer("malformed status line") from None
    passed: list[tuple[str, str]] = []
    length: int | None = None
    chunked = False
    keep = version.upper() == "HTTP/1.1"
    for line in lines:
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key == "content-length":
            if not value.strip().isdigit():
                raise BrokenAnswer("malformed Content-Length")
            length = int(value)
        elif key == "transfer-encoding":
            chunked = "chunked" in value.lower()
        elif key == "connection":
            keep = keep and value.strip().lower() != "close"
        elif key in PASSED:
            passed.append((key, value.strip()))
    try:
        if chunked:
            payload = await _read_chunked(reader)
        elif length is not None:
            payload = await reader.readexactly(length)
        else:
            payload, keep = await reader.read(), False
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError,
            ValueError) as exc:
        raise BrokenAnswer(f"the response body was cut short ({type(exc).__name__})") from None
    return Answer(status, passed, payload), keep and (length is not None or chunked)


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip(), 16)
        if size == 0:
            while (await reader.readuntil(b"\r\n")) != b"\r\n":
                pass  # trailers
            return b"".join(parts)
        parts.append(await reader.readexactly(size))
        await reader.readexactly(2)
