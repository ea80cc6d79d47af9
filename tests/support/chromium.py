"""Load a local HTML file in headless Chromium and report what the page said and drew.

Tests use it to check that a generated page (the model card) runs clean in a real browser: the
console messages and uncaught exceptions, every URL the page asked for, and facts queried from the
DOM with a JavaScript expression (by default: the ``svg[data-plot]`` plots and their marks).

Chromium is Debian's ``chromium`` (``/usr/bin/chromium``, or ``chromium``/``chromium-browser`` on
``PATH``), started headless with a fresh temporary profile, background networking, extensions and
first-run off, and every host name mapped to nothing. It is driven with the Chrome DevTools
Protocol over ``--remote-debugging-pipe`` (fds 3 and 4, NUL-separated JSON): no debugging port is
opened at all, so nothing else on the machine can talk to the browser, and no websocket client is
needed. Requests other than ``file:`` and ``data:`` are failed before they leave the browser.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Where Debian's package puts the launcher; PATH is searched after it.
_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser")
#: Schemes a local page may load; anything else (http, https, ws, ftp...) is failed and recorded.
_LOCAL_SCHEMES = ("file:", "data:", "about:")

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


class ChromiumNotFound(RuntimeError):
    """No Chromium executable: install Debian's ``chromium`` package."""


class ChromiumError(RuntimeError):
    """The browser died, timed out or answered a DevTools command with an error."""


@dataclass(frozen=True)
class ConsoleMessage:
    """One console call (``console.error`` ...) or browser log entry (a failed load ...)."""

    level: str
    text: str
    source: str


@dataclass(frozen=True)
class PageReport:
    """What one page load produced."""

    url: str
    console: tuple[ConsoleMessage, ...]
    #: Uncaught exceptions and unhandled promise rejections, as the browser describes them.
    page_errors: tuple[str, ...]
    #: Every URL the page requested (the page itself included) and those that were refused.
    requests: tuple[str, ...]
    blocked: tuple[str, ...]
    #: The value of the query expression (JSON-like).
    facts: Any = field(default=None)

    @property
    def errors(self) -> list[str]:
        """Console and log entries at level error, page errors and refused requests."""
        out = [f"console.{m.level} ({m.source}): {m.text}" for m in self.console if m.level == "error"]
        out += [f"uncaught: {e}" for e in self.page_errors]
        out += [f"blocked request: {u}" for u in self.blocked]
        return out


def find_chromium() -> Path:
    """The Chromium launcher, or :class:`ChromiumNotFound` naming the Debian package."""
    for name in _CANDIDATES:
        found = shutil.which(name)
        if found:
            return Path(found)
    raise ChromiumNotFound("no Chromium found (/usr/bin/chromium, chromium or chromium-browser on "
                           "PATH): install the Debian package chromium")


def _flags(profile: Path) -> list[str]:
    flags = ["--headless", f"--user-data-dir={profile}", "--remote-debugging-pipe",
             "--disable-background-networking", "--no-first-run", "--disable-extensions",
             "--no-default-browser-check", "--disable-sync", "--disable-component-update",
             "--disable-default-apps", "--disable-gpu", "--mute-audio", "--hide-scrollbars",
             # Belt and braces with the request interception: no host name resolves.
             "--host-resolver-rules=MAP * ~NOTFOUND", "--window-size=1280,2000"]
    # Chromium's sandbox refuses to start as root; as any other user it stays on.
    if os.geteuid() == 0:
        flags.append("--no-sandbox")
    return flags


class Chromium:
    """A running headless Chromium; :meth:`load` pages, then :meth:`close` (or use ``with``)."""

    def __init__(self, executable: Path | None = None, *, timeout_s: float = 30.0) -> None:
        self.executable = executable or find_chromium()
        self.timeout_s = timeout_s
        self._profile = Path(tempfile.mkdtemp(prefix="mlops-chromium-"))
        self._log = self._profile.parent / f"{self._profile.name}.log"
        self._next_id = 0
        self._buffer = b""
        self._events: list[dict[str, Any]] = []
        self._pid, self._to_browser, self._from_browser = self._spawn()
        try:
            self._call("Browser.getVersion")
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

    def _receive(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_browser], [], [], left)[0]:
                raise ChromiumError("Chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise ChromiumError(f"Chromium has gone away: {self._log_tail()}")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        parsed: dict[str, Any] = json.loads(message)
        return parsed

    def _call(self, method: str, params: dict[str, Any] | None = None,
              session: str | None = None) -> dict[str, Any]:
        """Send a command and wait for its answer; events arriving meanwhile are queued."""
        sent = self._send(method, params, session)
        deadline = time.monotonic() + self.timeout_s
        while True:
            message = self._receive(deadline)
            if message.get("id") != sent:
                if "method" in message:
                    self._events.append(message)
                continue
            if "error" in message:
                raise ChromiumError(f"{method}: {message['error'].get('message', message['error'])}")
            result: dict[str, Any] = message.get("result", {})
            return result

    def _log_tail(self) -> str:
        with contextlib.suppress(OSError):
            return " | ".join(self._log.read_text(errors="replace").strip().splitlines()[-3:])
        return "(no log)"

    # -- pages -------------------------------------------------------------------------------

    def load(self, page: Path, *, query: str = PLOT_FACTS, settle_s: float = 0.2) -> PageReport:
        """Open ``page`` (a local file) in a fresh tab, wait for its load event and ``settle_s``
        more (for timers and late errors), evaluate ``query`` and close the tab."""
        url = page.resolve().as_uri()
        target = self._call("Target.createTarget", {"url": "about:blank"})["targetId"]
        try:
            session = self._call("Target.attachToTarget",
                                 {"targetId": target, "flatten": True})["sessionId"]
            return self._load_in(session, url, query, settle_s)
        finally:
            with contextlib.suppress(ChromiumError):
                self._call("Target.closeTarget", {"targetId": target})

    def _load_in(self, session: str, url: str, query: str, settle_s: float) -> PageReport:
        self._events.clear()
        for domain in ("Runtime.enable", "Log.enable", "Page.enable", "Network.enable"):
            self._call(domain, session=session)
        self._call("Fetch.enable", {"patterns": [{"urlPattern": "*"}]}, session=session)
        # Not _call: the answer comes after the navigation request, which Fetch pauses until the
        # loop below lets it through. Its answer is skipped there like any other stray reply.
        self._send("Page.navigate", {"url": url}, session)
        console: list[ConsoleMessage] = []
        errors: list[str] = []
        requests: list[str] = []
        blocked: list[str] = []
        loaded = False
        deadline = time.monotonic() + self.timeout_s
        settle_until = float("inf")
        while time.monotonic() < min(deadline, settle_until):
            if not self._events:
                wait_until = min(deadline, settle_until)
                try:
                    message = self._receive(wait_until)
                except ChromiumError:
                    if loaded and time.monotonic() >= settle_until:
                        break
                    raise
                if "method" in message:
                    self._events.append(message)
                continue
            event = self._events.pop(0)
            if event.get("sessionId") != session:
                continue
            method, params = event.get("method"), event.get("params", {})
            if method == "Fetch.requestPaused":
                self._route(session, params, blocked)
            elif method == "Network.requestWillBeSent":
                requests.append(params["request"]["url"])
            elif method == "Runtime.consoleAPICalled":
                console.append(ConsoleMessage(_console_level(params["type"]),
                                              _console_text(params.get("args", [])), "console"))
            elif method == "Runtime.exceptionThrown":
                errors.append(_exception_text(params["exceptionDetails"]))
            elif method == "Log.entryAdded":
                entry = params["entry"]
                console.append(ConsoleMessage(entry["level"], entry["text"], entry["source"]))
            elif method == "Page.loadEventFired" and not loaded:
                loaded = True
                settle_until = time.monotonic() + settle_s
        if not loaded:
            raise ChromiumError(f"{url} did not finish loading in {self.timeout_s:g}s")
        value = self._call("Runtime.evaluate", {"expression": query, "returnByValue": True},
                           session=session)
        if "exceptionDetails" in value:
            raise ChromiumError(f"the query failed: {_exception_text(value['exceptionDetails'])}")
        return PageReport(url, tuple(console), tuple(errors), tuple(requests), tuple(blocked),
                          value["result"].get("value"))

    def _route(self, session: str, paused: dict[str, Any], blocked: list[str]) -> None:
        """Let local URLs through; fail anything that would leave the machine."""
        request_url = paused["request"]["url"]
        if request_url.startswith(_LOCAL_SCHEMES):
            self._call("Fetch.continueRequest", {"requestId": paused["requestId"]}, session=session)
        else:
            blocked.append(request_url)
            self._call("Fetch.failRequest", {"requestId": paused["requestId"],
                                             "errorReason": "BlockedByClient"}, session=session)

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


def _console_level(kind: str) -> str:
    # console.assert failures and console.trace are reported as errors by DevTools too.
    return {"warning": "warning", "error": "error", "assert": "error"}.get(kind, "info")


def _console_text(args: list[dict[str, Any]]) -> str:
    return " ".join(str(a.get("value", a.get("description", a.get("type", "")))) for a in args)


def _exception_text(details: dict[str, Any]) -> str:
    exception = details.get("exception") or {}
    # The description carries the stack (with file and line) for Error objects; a thrown string or
    # number has none, so the position is added from the details.
    text = str(exception.get("description") or exception.get("value") or details.get("text", "?"))
    where = f"{details.get('url', '')}:{details.get('lineNumber', 0) + 1}"
    return text if "\n    at " in text else f"{text} (at {where})"
