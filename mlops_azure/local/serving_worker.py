"""A gunicorn worker for local deployments: gunicorn's sync worker, plus keep-alive.

gunicorn's sync worker closes the connection after every response, so the endpoint router pays a
new TCP connection per request. Its threaded worker keeps connections open but runs requests off
the main thread, where ``azureml-inference-server-http`` cannot arm its SIGALRM scoring timeout
(``SCORING_TIMEOUT_MS`` is then silently ignored). This worker serves several requests on one
connection, still one at a time in the main thread, so the timeout keeps working:

- between requests it waits at most ``--keep-alive`` seconds for the next one, then closes;
- it beats the arbiter's heartbeat before every wait and every request, so it is not killed
  while it holds an idle connection;
- SIGTERM (graceful stop) ends the connection after the request in flight;
- while it idles, a new connection waiting on the listening socket that no free worker takes
  within :data:`STEAL_AFTER_S` makes it drop its idle connection and serve the newcomer; and an
  answer given while a connection waits says ``Connection: close``. So a client holding a
  connection can never starve the others (the router opens no more than one per worker).

Use it with ``gunicorn --worker-class mlops_azure.local.serving_worker.KeepAliveWorker``.
"""

from __future__ import annotations

import errno
import select
import socket
import sys
from datetime import datetime
from typing import Any

from gunicorn import http, util
from gunicorn.http import wsgi
from gunicorn.workers.sync import SyncWorker

#: How long a pending connection waits for a free worker before an idle one steals it.
STEAL_AFTER_S = 0.02


class KeepAliveWorker(SyncWorker):  # type: ignore[misc]  # gunicorn ships no type hints
    """Sync worker that keeps connections alive (see the module docstring)."""

    def handle(self, listener: socket.socket, client: socket.socket, addr: Any) -> None:
        while True:
            stolen = self._serve_connection(listener, client, addr)
            if stolen is None:
                return
            client, addr = stolen

    def _serve_connection(self, listener: socket.socket, client: socket.socket,
                          addr: Any) -> tuple[socket.socket, Any] | None:
        """Serve ``client`` until it closes, idles out or is dropped for a newcomer (returned)."""
        req = None
        graceful = True
        try:
            parser = http.get_parser(self.cfg, client, addr)
            while True:
                self.notify()
                req = next(parser)
                if not self._handle_one(listener, req, client, addr) or not self.alive:
                    return None
                if _buffered(parser):
                    continue  # a pipelined request is already read
                waited = self._wait_next(listener, client)
                if waited is True:
                    continue
                graceful = False  # nothing unread: a plain close, no lingering
                return waited if isinstance(waited, tuple) else None
        except StopIteration:
            return None
        except http.errors.NoMoreData:
            return None
        except OSError as exc:
            if exc.errno not in (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN):
                self.log.exception("Socket error processing request.")
            return None
        except BaseException as exc:  # gunicorn's own reply for bad requests and app errors
            self.handle_error(req, client, addr, exc)
            return None
        finally:
            if graceful:
                util.close_graceful(client)
            else:
                client.close()

    def _wait_next(self, listener: socket.socket,
                   client: socket.socket) -> bool | tuple[socket.socket, Any]:
        """Wait for the next request on ``client``: True when it comes, False to close (idle
        timeout, shutdown), or a newly accepted connection to serve instead."""
        idle = float(self.cfg.keepalive or 0)
        waited = 0.0
        while self.alive and waited < idle:
            self.notify()
            step = min(1.0, idle - waited)
            ready, _, _ = select.select([client, listener, self.PIPE[0]], [], [], step)
            waited += step if not ready else 0.0
            if client in ready:
                return True
            if self.PIPE[0] in ready:
                _drain_pipe(self.PIPE[0])
            if listener in ready:
                # Give a free worker the chance to take it first.
                if select.select([client], [], [], STEAL_AFTER_S)[0]:
                    return True
                waited += STEAL_AFTER_S
                try:
                    new_client, new_addr = listener.accept()
                except OSError as exc:
                    if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.ECONNABORTED):
                        continue  # another worker took it
                    raise
                new_client.setblocking(True)
                util.close_on_exec(new_client)
                return new_client, new_addr
        return False

    def _handle_one(self, listener: socket.socket, req: Any, client: socket.socket,
                    addr: Any) -> bool:
        """Run one request through the app; whether the connection may serve another."""
        environ: dict[str, Any] = {}
        resp = None
        try:
            self.cfg.pre_request(self, req)
            started = datetime.now()
            resp, environ = wsgi.create(req, client, addr, listener.getsockname(), self.cfg)
            self.nr += 1
            if self.nr >= self.max_requests:
                self.log.info("Autorestarting worker after current request.")
                self.alive = False
            if not self.alive or not self.cfg.keepalive:
                resp.force_close()
            body = self.wsgi(environ, resp.start_response)
            if _pending(listener):
                # Others wait for a worker: this answer (its head is not sent yet) ends the
                # connection, so one client cannot keep the worker to itself. The router opens
                # no more connections than there are workers: this happens when others call.
                resp.force_close()
            try:
                for chunk in body:
                    resp.write(chunk)
                resp.close()
            finally:
                self.log.access(resp, req, environ, datetime.now() - started)
                if hasattr(body, "close"):
                    body.close()
            return not resp.should_close()
        except OSError:
            raise
        except (Exception, SystemExit):
            if resp is not None and resp.headers_sent:
                # Half a response is out: nothing sane can follow on this connection.
                self.log.exception("Error handling request")
                raise StopIteration() from None
            raise
        finally:
            try:
                self.cfg.post_request(self, req, environ, resp)
            except Exception:
                self.log.exception("Exception in post_request hook")


def _pending(listener: socket.socket) -> bool:
    """Whether a connection waits on the listening socket."""
    try:
        return bool(select.select([listener], [], [], 0)[0])
    except (OSError, ValueError):
        return False


def _buffered(parser: Any) -> bool:
    """Whether the parser already holds bytes of a next request."""
    buf = getattr(getattr(parser, "unreader", None), "buf", None)
    try:
        return buf is not None and len(buf.getbuffer()) > 0
    except (AttributeError, ValueError):
        return False


def _drain_pipe(fd: int) -> None:
    import os

    try:
        os.read(fd, 64)
    except OSError as exc:
        if exc.errno not in (errno.EAGAIN, errno.EWOULDBLOCK):
            print(f"worker: cannot read its wake-up pipe: {exc}", file=sys.stderr)
