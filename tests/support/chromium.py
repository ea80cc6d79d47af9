"""Headless Chromium for tests: load a local HTML file, or drive pages of a server on 127.0.0.1.

:meth:`Chromium.load` checks that a generated page (the model card) runs clean in a real browser:
the console messages and uncaught exceptions, every URL the page asked for, and facts queried from
the DOM with a JavaScript expression (by default: the ``svg[data-plot]`` plots and their marks).
:meth:`Chromium.page` opens a :class:`~tests.support.chromium_page.Page` kept across steps (go to a
URL, fill and submit forms, click, upload, download, screenshot) for the web app's tests.

Chromium is Debian's ``chromium`` (``/usr/bin/chromium``, or ``chromium``/``chromium-browser`` on
``PATH``), started headless with a fresh temporary profile, background networking, extensions and
first-run off, no proxy, and every host name but the ``127.0.0.1`` literal mapped to nothing. It is
driven with the Chrome DevTools Protocol over ``--remote-debugging-pipe`` (fds 3 and 4,
NUL-separated JSON): no debugging port is opened at all, so nothing else on the machine can talk to
the browser, and no websocket client is needed. Requests other than ``file:``, ``data:`` and
``blob:`` are failed before they leave the browser, unless their origin is on the allow-list
(``allow_origins``: ``http://127.0.0.1:PORT`` origins only); failed requests are recorded.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.support.chromium_page import Page
from tests.support.chromium_report import ChromiumError, ConsoleMessage, PageReport, origin_of

__all__ = ["PLOT_FACTS", "Chromium", "ChromiumError", "ChromiumNotFound", "ConsoleMessage", "Page",
           "PageReport", "find_chromium", "origin_of"]

#: Where Debian's package puts the launcher; PATH is searched after it.
_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser",
               # Hosted CI images (Azure Pipelines' ubuntu-latest) carry Google Chrome instead.
               "google-chrome", "google-chrome-stable")
#: The only host an allowed origin may name: tests send traffic to 127.0.0.1 only, and it is the one
#: name the host resolver rules below leave resolvable.
_LOOPBACK = "127.0.0.1"

#: Facts about the plots: one entry per ``svg[data-plot]`` with its id, kind, title and how many
#: ``.mark`` elements it holds that the browser laid out with a non-empty box (drawn, not hidden).
PLOT_FACTS = """(() => [...document.querySelectorAll('svg[data-plot]')].map(svg => {
  const marks = [...svg.querySelectorAll('.mark')];
  const drawn = marks.filter(m => { const b = m.getBBox(); return b.width > 0 || b.height > 0; });
  const box = svg.getBoundingClientRect();
  const title = svg.querySelector(':scope > title');
  return {id: svg.id, plot: svg.dataset.plot, title: title ? title.textContent : null,
          marks: marks.length, drawn: drawn.length, width: box.width, height: box.height};
}))()"""

#: A browser-level event handler (downloads): method, params.
EventHandler = Callable[[str, dict[str, Any]], None]


class ChromiumNotFound(RuntimeError):
    """No Chromium executable: install Debian's ``chromium`` package."""


def find_chromium() -> Path:
    """The Chromium launcher, or :class:`ChromiumNotFound` naming the Debian package."""
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return Path(found)
    raise ChromiumNotFound("no Chromium found (/usr/bin/chromium, chromium or chromium-browser on "
                           "PATH): install the Debian package chromium")


def allowed_origins(origins: Iterable[str]) -> frozenset[str]:
    """The normalised origins; ValueError for one that is not http(s) on 127.0.0.1."""
    out = set()
    for given in origins:
        origin = origin_of(given)
        if origin is None or urlsplit(origin).hostname != _LOOPBACK:
            raise ValueError(f"allow_origins: {given!r} is not an http(s)://127.0.0.1:PORT origin")
        out.add(origin)
    return frozenset(out)


def _flags(profile: Path) -> list[str]:
    flags = ["--headless", f"--user-data-dir={profile}", "--remote-debugging-pipe",
             "--disable-background-networking", "--no-first-run", "--disable-extensions",
             "--no-default-browser-check", "--disable-sync", "--disable-component-update",
             "--disable-default-apps", "--disable-gpu", "--mute-audio", "--hide-scrollbars",
             # Belt and braces with the request interception: no host name resolves, and no proxy
             # from the environment gets a request either; the loopback literal is left alone so
             # allowed origins on 127.0.0.1 can be reached.
             f"--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE {_LOOPBACK}", "--no-proxy-server",
             "--window-size=1280,2000"]
    # Chromium's sandbox refuses to start as root; as any other user it stays on.
    if os.geteuid() == 0:
        flags.append("--no-sandbox")
    return flags


class Chromium:
    """A running headless Chromium; :meth:`load` files or open a :meth:`page`, then :meth:`close`
    (or use ``with``). ``allow_origins`` are let through on every page (a page may add more)."""

    def __init__(self, executable: Path | None = None, *, timeout_s: float = 30.0,
                 allow_origins: Iterable[str] = ()) -> None:
        self.executable = executable or find_chromium()
        self.timeout_s = timeout_s
        self.allow_origins = allowed_origins(allow_origins)
        self._profile = Path(tempfile.mkdtemp(prefix="mlops-chromium-"))
        self._log = self._profile.parent / f"{self._profile.name}.log"
        self._next_id = 0
        self._buffer = b""
        self._replies: dict[int, dict[str, Any]] = {}
        # Replies nobody waits for (Fetch.continueRequest ...): dropped when they arrive.
        self._unwanted: set[int] = set()
        self._sessions: dict[str, Page] = {}
        self._browser_handlers: list[EventHandler] = []
        self._pid, self._to_browser, self._from_browser = self._spawn()
        try:
            self.call("Browser.getVersion")
        except BaseException:
            self.close()
            raise

    def _spawn(self) -> tuple[int, int, int]:
        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()
        # Moved above fd 9 so the dup2 onto 3 and 4 below can never overwrite one with the other.
        child_in = fcntl.fcntl(to_r, fcntl.F_DUPFD_CLOEXEC, 10)
        child_out = fcntl.fcntl(from_w, fcntl.F_DUPFD_CLOEXEC, 10)
        for fd in (to_r, from_w):
            os.close(fd)
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        log = os.open(self._log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        argv = [str(self.executable), *_flags(self._profile), "about:blank"]
        try:
            # posix_spawn, not subprocess: the browser expects its pipe on exactly fds 3 and 4,
            # which Popen cannot arrange without a (thread-unsafe) preexec_fn. Its own session, so
            # close() can end the renderer and GPU helpers with it.
            pid = os.posix_spawn(argv[0], argv, dict(os.environ), setsid=True, file_actions=[
                (os.POSIX_SPAWN_DUP2, null, 0), (os.POSIX_SPAWN_DUP2, null, 1),
                (os.POSIX_SPAWN_DUP2, log, 2), (os.POSIX_SPAWN_DUP2, child_in, 3),
                (os.POSIX_SPAWN_DUP2, child_out, 4)])
        finally:
            for fd in (null, log, child_in, child_out):
                os.close(fd)
        return pid, to_w, from_r

    # -- the DevTools pipe -------------------------------------------------------------------

    def send(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None) -> None:
        """Send a command without waiting for its answer (an error in it is ignored)."""
        self._unwanted.add(self._send(method, params, session))

    def call(self, method: str, params: dict[str, Any] | None = None,
             session: str | None = None) -> dict[str, Any]:
        """Send a command and wait for its answer; events arriving meanwhile are handled (paused
        requests routed), so a command that waits on the network cannot deadlock."""
        sent = self._send(method, params, session)
        deadline = time.monotonic() + self.timeout_s
        while sent not in self._replies:
            if not self.pump(deadline):
                raise ChromiumError(f"Chromium did not answer {method} in {self.timeout_s:g}s")
        message = self._replies.pop(sent)
        if "error" in message:
            raise ChromiumError(f"{method}: {message['error'].get('message', message['error'])}")
        result: dict[str, Any] = message.get("result", {})
        return result

    def pump(self, deadline: float) -> bool:
        """Handle one message from the browser; False when none came before ``deadline``
        (a ``time.monotonic()`` value)."""
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                return False
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise ChromiumError(f"Chromium has gone away: {self._log_tail()}")
            self._buffer += chunk
        raw, _, self._buffer = self._buffer.partition(b"\0")
        message: dict[str, Any] = json.loads(raw)
        if "id" in message:
            if message["id"] in self._unwanted:
                self._unwanted.discard(message["id"])
            else:
                self._replies[message["id"]] = message
        elif "method" in message:
            method, params = message["method"], message.get("params", {})
            page = self._sessions.get(message.get("sessionId", ""))
            if page is not None:
                page._on_event(method, params)
            elif "sessionId" not in message:
                for handler in self._browser_handlers:
                    handler(method, params)
        return True

    def _send(self, method: str, params: dict[str, Any] | None, session: str | None) -> int:
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        data = json.dumps(message).encode() + b"\0"
        try:
            while data:
                data = data[os.write(self._to_browser, data):]
        except OSError as exc:
            raise ChromiumError(f"Chromium has gone away: {self._log_tail()}") from exc
        return self._next_id

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return " | ".join(self._log.read_text(errors="replace").strip().splitlines()[-3:])
        return "(no log)"

    # -- pages -------------------------------------------------------------------------------

    def page(self, *, javascript: bool = True, allow_origins: Iterable[str] = ()) -> Page:
        """A fresh tab in its own browser context (no cookies or storage shared with other pages),
        showing about:blank; use it with ``with`` or :meth:`Page.close` it. ``allow_origins`` adds to
        the browser's; ``javascript=False`` disables the page's scripts (DevTools expressions such
        as :meth:`Page.evaluate` still run)."""
        return Page(self, javascript=javascript,
                    allow_origins=self.allow_origins | allowed_origins(allow_origins))

    def open(self, url: str, *, javascript: bool = True, allow_origins: Iterable[str] = ()) -> Page:
        """:meth:`page`, then :meth:`Page.goto` ``url``."""
        page = self.page(javascript=javascript, allow_origins=allow_origins)
        try:
            page.goto(url)
        except BaseException:
            page.close()
            raise
        return page

    def load(self, page: Path | str, *, query: str = PLOT_FACTS, settle_s: float = 0.2,
             allow_origins: Iterable[str] = ()) -> PageReport:
        """Open ``page`` (a local file, or a URL) in a fresh tab, wait for its load event and
        ``settle_s`` more (for timers and late errors), evaluate ``query`` and close the tab."""
        url = page.resolve().as_uri() if isinstance(page, Path) else page
        with self.page(allow_origins=allow_origins) as tab:
            tab.goto(url)
            tab.settle(settle_s)
            return tab.report(query)

    def _attach(self, page: Page, session: str) -> None:
        self._sessions[session] = page

    def _detach(self, session: str) -> None:
        self._sessions.pop(session, None)

    def _add_browser_handler(self, handler: EventHandler) -> None:
        self._browser_handlers.append(handler)

    def _remove_browser_handler(self, handler: EventHandler) -> None:
        with contextlib.suppress(ValueError):
            self._browser_handlers.remove(handler)

    def close(self) -> None:
        """Ask the browser to quit, end its process group if it lingers, remove the profile."""
        if self._pid:
            with contextlib.suppress(ChromiumError, OSError):
                self._send("Browser.close", None, None)
            for fd in (self._to_browser, self._from_browser):
                with contextlib.suppress(OSError):
                    os.close(fd)
            if not _wait(self._pid, 5.0):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self._pid, signal.SIGKILL)
                _wait(self._pid, 5.0)
            self._pid = 0
        shutil.rmtree(self._profile, ignore_errors=True)
        self._log.unlink(missing_ok=True)

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _wait(pid: int, timeout_s: float) -> bool:
    """Reap ``pid`` within ``timeout_s``; False when it is still running."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return True
        if done:
            return True
        time.sleep(0.02)
    return False
