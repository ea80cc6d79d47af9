"""One tab of the test browser, kept across steps: navigate, fill and submit forms, click, upload,
download, screenshot, and a report of what the page said and asked for (see ``chromium.py``)."""

from __future__ import annotations

import base64
import contextlib
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.support.chromium_report import (
    ChromiumError,
    ConsoleMessage,
    PageReport,
    console_level,
    console_text,
    exception_text,
    origin_of,
)

if TYPE_CHECKING:
    from tests.support.chromium import Chromium

#: Schemes a page may always load: they never leave the browser. Anything else (http, https, ws,
#: ftp...) is failed and recorded unless its origin is allowed.
_LOCAL_SCHEMES = ("file:", "data:", "about:", "blob:")
#: Events that say the main frame is about to navigate. frameScheduledNavigation (deprecated, still
#: sent) comes from the renderer as a form submission is queued, so before the reply to the step.
_NAVIGATION_STARTS = ("Page.frameScheduledNavigation", "Page.frameRequestedNavigation",
                      "Page.frameStartedLoading")
_WS_BINDING = "__mlopsRefusedWebSocket"
#: Replaces the page's WebSocket before its own scripts run: the constructor reports the URL
#: (through the binding above) and throws, as a browser refusing the connection would.
_NO_WEBSOCKET = f"""(() => {{ const report = globalThis.{_WS_BINDING};
  globalThis.WebSocket = class WebSocket extends EventTarget {{ constructor(url) {{ super();
    const target = new URL(url, location.href);
    target.protocol = target.protocol.replace(/^http/, "ws"); report(target.href);
    throw new DOMException("WebSocket refused by the test browser", "SecurityError"); }} }}; }})()"""


@dataclass
class _Download:
    guid: str
    url: str
    name: str
    state: str = "inProgress"


#: Keys :meth:`Page.press` knows: DOM key name -> (code, Windows virtual key code, text typed).
_KEYS = {"Tab": ("Tab", 9, ""), "Enter": ("Enter", 13, "\r"), "Space": ("Space", 32, " ")}


class Page:
    """A tab in its own browser context (made by :meth:`Chromium.page`). Steps that may navigate
    (:meth:`click`, :meth:`submit`) wait up to ``nav_grace_s`` for a navigation to start and, when
    one does, until it has finished loading; :attr:`timeout_s` bounds every wait."""

    #: How long a click or submit waits for a navigation to start before taking it that there is none.
    nav_grace_s = 0.3

    def __init__(self, browser: Chromium, *, javascript: bool, allow_origins: frozenset[str]) -> None:
        self.browser = browser
        self.allow_origins = allow_origins
        #: How long a step waits for a navigation, a download or :meth:`wait_for` (a test may lower it).
        self.timeout_s = browser.timeout_s
        self.url = "about:blank"
        #: HTTP status of the last main document response (None before the first one).
        self.status: int | None = None
        self._console: list[ConsoleMessage] = []
        self._errors: list[str] = []
        self._requests: list[str] = []
        self._blocked: list[str] = []
        self._started = self._stopped = self._committed = 0
        self._downloads: dict[str, _Download] = {}
        self._download_dir: Path | None = None
        self._context = browser.call("Target.createBrowserContext",
                                     {"disposeOnDetach": True})["browserContextId"]
        try:
            self._target = browser.call("Target.createTarget", {
                "url": "about:blank", "browserContextId": self._context})["targetId"]
            self._session = browser.call("Target.attachToTarget",
                                         {"targetId": self._target, "flatten": True})["sessionId"]
            browser._attach(self, self._session)
            for domain in ("Runtime.enable", "Log.enable", "Page.enable", "Network.enable"):
                self._call(domain)
            self._call("Fetch.enable", {"patterns": [{"urlPattern": "*"}]})
            # WebSockets bypass Fetch: page scripts get a WebSocket that refuses and reports.
            self._call("Runtime.addBinding", {"name": _WS_BINDING})
            self._call("Page.addScriptToEvaluateOnNewDocument", {"source": _NO_WEBSOCKET})
            if not javascript:
                self._call("Emulation.setScriptExecutionDisabled", {"value": True})
            self._frame = self._call("Page.getFrameTree")["frameTree"]["frame"]["id"]
        except BaseException:
            self.close()
            raise

    # -- steps -------------------------------------------------------------------------------

    def goto(self, url: str) -> None:
        """Navigate to ``url`` and wait until it has loaded; ChromiumError when it could not be
        fetched (a refused origin, nothing listening)."""
        stopped = self._stopped
        result = self._call("Page.navigate", {"url": url})
        if result.get("errorText"):
            # The error page still loads: wait for it so its events do not leak into a later step.
            with contextlib.suppress(ChromiumError):
                self._wait_loaded(stopped)
            raise ChromiumError(f"{url}: {result['errorText']}")
        if result.get("loaderId") and not result.get("isDownload"):
            self._wait_loaded(stopped)

    def click(self, selector: str, *, navigate: bool | None = None) -> bool:
        """Click the centre of the first element matching ``selector`` with the mouse (scrolled into
        view first, so whatever covers it gets the click, as for a user). ``navigate``: None waits
        for a navigation if one starts, True requires one, False does not wait. True when the page
        now shows a new document (a download or a 204 answer leaves it as it was)."""
        where = self._evaluate(f"""(() => {{ const el = document.querySelector({json.dumps(selector)});
          if (!el) return null; el.scrollIntoView({{block: 'center', inline: 'center'}});
          const r = el.getBoundingClientRect();
          return {{x: r.left + r.width / 2, y: r.top + r.height / 2, w: r.width, h: r.height}}; }})()""")
        if where is None:
            raise ChromiumError(f"click: nothing matches {selector!r} on {self.url}")
        if not (where["w"] > 0 and where["h"] > 0):
            raise ChromiumError(f"click: {selector!r} is not displayed on {self.url}")

        def press() -> None:
            for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
                self._call("Input.dispatchMouseEvent", {"type": kind, "x": where["x"], "y": where["y"],
                                                        "button": "left", "clickCount": 1})
        return self._then_navigation(press, navigate)

    def press(self, key: str, *, shift: bool = False, navigate: bool | None = False) -> bool:
        """Press and release ``key`` (``Tab``, ``Enter``, ``Space``) on the keyboard, to whatever
        has the focus, as a user would (JavaScript off too); ``navigate`` as for :meth:`click`."""
        if key not in _KEYS:
            raise ValueError(f"press: {key!r} is not one of {', '.join(_KEYS)}")
        code, virtual, typed = _KEYS[key]
        name = " " if key == "Space" else key

        def down_up() -> None:
            common = {"key": name, "code": code, "windowsVirtualKeyCode": virtual,
                      "modifiers": 8 if shift else 0}
            self._call("Input.dispatchKeyEvent",
                       {"type": "keyDown" if typed else "rawKeyDown", **common,
                        **({"text": typed} if typed else {})})
            self._call("Input.dispatchKeyEvent", {"type": "keyUp", **common})
        return self._then_navigation(down_up, navigate)

    def focused(self) -> str:
        """What has the keyboard focus, described as ``tag#id.class[name]`` with its text."""
        return str(self._evaluate("""(() => { const el = document.activeElement;
          if (!el || el === document.body) return 'body';
          return el.tagName.toLowerCase() + (el.id ? '#' + el.id : '')
            + (el.getAttribute('name') ? '[' + el.getAttribute('name') + ']' : '')
            + ' ' + (el.textContent || '').trim().slice(0, 40); })()"""))

    def submit(self, selector: str, *, navigate: bool | None = None) -> bool:
        """Submit a form as its submit button would (validation, submit event, then the request):
        ``selector`` is the form, or a submit button of it (sent as the submitter). ``navigate`` as
        for :meth:`click`; True when the page navigated (False: e.g. a field failed validation)."""
        problem = self._evaluate(f"""(() => {{ const el = document.querySelector({json.dumps(selector)});
          if (!el) return 'nothing matches'; const form = el instanceof HTMLFormElement ? el : el.form;
          if (!form) return 'is not a form nor in one';
          const submitter = el !== form && ['submit', 'image'].includes(el.type) ? el : null;
          form.requestSubmit(submitter); return null; }})()""")
        if problem:
            raise ChromiumError(f"submit: {selector!r} {problem} on {self.url}")
        return self._then_navigation(lambda: None, navigate)

    def fill(self, selector: str, value: str) -> None:
        """Set an input's, textarea's or select's value as typing or picking would, then dispatch
        ``input`` and ``change``; ChromiumError when the field is missing, has no such option or
        would not keep the value (an ``<input type=number>`` refuses letters)."""
        problem = self._evaluate(f"""(() => {{ const el = document.querySelector({json.dumps(selector)});
          const value = {json.dumps(value)};
          if (!el) return 'nothing matches';
          if (el instanceof HTMLSelectElement) {{
            if (![...el.options].some(o => o.value === value)) return 'has no option ' + value;
          }} else if (!(el instanceof HTMLTextAreaElement || el instanceof HTMLInputElement)
                     || ['file', 'checkbox', 'radio', 'submit', 'button'].includes(el.type)) {{
            return 'is not a text field or select (use click or set_files)';
          }}
          el.focus(); el.value = value;
          if (el.value !== value) return 'kept ' + JSON.stringify(el.value) + ' instead';
          el.dispatchEvent(new Event('input', {{bubbles: true}}));
          el.dispatchEvent(new Event('change', {{bubbles: true}})); return null; }})()""")
        if problem:
            raise ChromiumError(f"fill: {selector!r} {problem} on {self.url}")

    def set_files(self, selector: str, paths: Sequence[Path | str]) -> None:
        """Choose ``paths`` in the ``<input type=file>`` matching ``selector`` (as the file picker
        would: the input's ``input`` and ``change`` events fire)."""
        files = [str(Path(p).resolve(strict=True)) for p in paths]
        expression = f"document.querySelector({json.dumps(selector)})"
        found = self._call("Runtime.evaluate", {"expression": expression})
        if "objectId" not in found["result"]:
            raise ChromiumError(f"set_files: nothing matches {selector!r} on {self.url}")
        self._call("DOM.setFileInputFiles", {"files": files, "objectId": found["result"]["objectId"]})

    def download(self, selector: str, into: Path | None = None) -> Path:
        """Click ``selector`` and wait until the download it starts is complete. The file is named
        as the browser would save it (``Content-Disposition`` or the ``download`` attribute) and
        lives in ``into`` or else in a folder removed when the page is closed."""
        if self._download_dir is None:
            self._download_dir = Path(tempfile.mkdtemp(prefix="mlops-chromium-downloads-"))
            self.browser._add_browser_handler(self._on_browser_event)
            self.browser.call("Browser.setDownloadBehavior", {
                "behavior": "allowAndName", "browserContextId": self._context,
                "downloadPath": str(self._download_dir), "eventsEnabled": True})
        before = set(self._downloads)
        self.click(selector, navigate=False)
        deadline = time.monotonic() + self.timeout_s
        while True:
            new = [d for guid, d in self._downloads.items() if guid not in before]
            if new and new[0].state in ("completed", "canceled"):
                break
            if time.monotonic() >= deadline:
                raise ChromiumError(f"download: clicking {selector!r} on {self.url} saved no file "
                                    f"in {self.timeout_s:g}s")
            self.browser.pump(deadline)
        if new[0].state == "canceled":
            raise ChromiumError(f"download: {new[0].url} was cancelled")
        if into is not None:
            into.mkdir(parents=True, exist_ok=True)
        target = (into or self._download_dir) / new[0].name
        shutil.move(self._download_dir / new[0].guid, target)
        return target

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (a promise is awaited); ChromiumError
        when it throws. Runs even with the page's scripts disabled."""
        return self._evaluate(expression)

    def wait_for(self, expression: str, timeout_s: float | None = None) -> Any:
        """Evaluate ``expression`` until it is truthy (an exception counts as not yet) and return
        its value; ChromiumError after ``timeout_s`` (default: the page's)."""
        deadline = time.monotonic() + (self.timeout_s if timeout_s is None else timeout_s)
        last = "it stayed falsy"
        while True:
            try:
                value = self._evaluate(expression)
                if value:
                    return value
            except ChromiumError as exc:
                last = str(exc)
            if time.monotonic() >= deadline:
                raise ChromiumError(f"wait_for: {expression!r} on {self.url}: {last}")
            self.settle(0.05)

    def settle(self, seconds: float) -> None:
        """Let the page run for ``seconds`` (timers, late errors, requests are handled meanwhile)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.browser.pump(deadline)

    def screenshot(self, path: Path, *, down_to: str | None = None) -> Path:
        """Save a PNG of the whole page (beyond the window too) to ``path``; with ``down_to`` (a
        selector), only down to the bottom of that element (a page shorter than the window)."""
        size = dict(self._call("Page.getLayoutMetrics")["cssContentSize"])
        if down_to is not None:
            bottom = self._evaluate(f"""(() => {{ const el = document.querySelector({json.dumps(down_to)});
              return el ? el.getBoundingClientRect().bottom + window.scrollY : null; }})()""")
            if bottom is None:
                raise ChromiumError(f"screenshot: nothing matches {down_to!r} on {self.url}")
            size["height"] = min(size["height"], float(bottom) + 16)
        shot = self._call("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}})
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def report(self, query: str | None = None) -> PageReport:
        """Everything seen since the page was opened, and the value of ``query`` if given."""
        facts = None if query is None else self._evaluate(query)
        return PageReport(self.url, tuple(self._console), tuple(self._errors), tuple(self._requests),
                          tuple(self._blocked), facts)

    def close(self) -> None:
        """Close the tab, drop its browser context and downloads."""
        browser = self.browser
        if hasattr(self, "_session"):
            browser._detach(self._session)
        browser._remove_browser_handler(self._on_browser_event)
        if hasattr(self, "_target"):
            with contextlib.suppress(ChromiumError):
                browser.call("Target.closeTarget", {"targetId": self._target})
        with contextlib.suppress(ChromiumError):
            browser.call("Target.disposeBrowserContext", {"browserContextId": self._context})
        if self._download_dir is not None:
            shutil.rmtree(self._download_dir, ignore_errors=True)

    def __enter__(self) -> Page:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- the protocol ------------------------------------------------------------------------

    def _call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.browser.call(method, params, self._session)

    def _evaluate(self, expression: str) -> Any:
        value = self._call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if "exceptionDetails" in value:
            raise ChromiumError(f"the expression failed: {exception_text(value['exceptionDetails'])}")
        return value["result"].get("value")

    def _then_navigation(self, action: Callable[[], None], navigate: bool | None) -> bool:
        started, stopped, committed = self._started, self._stopped, self._committed
        action()
        if navigate is False:
            return False
        # A round trip through the renderer's main thread: a navigation the step queued there has
        # been announced by the time the answer arrives, however slow the machine.
        self._call("Runtime.evaluate", {"expression": "0"})
        grace = self.timeout_s if navigate else self.nav_grace_s
        deadline = time.monotonic() + grace
        while self._started == started and time.monotonic() < deadline:
            self.browser.pump(deadline)
        if self._started == started:
            if navigate:
                raise ChromiumError(f"no navigation started from {self.url} in {grace:g}s")
            return False
        self._wait_loaded(stopped)
        # A download or a 204 starts a navigation that shows no new document.
        return self._committed > committed

    def _wait_loaded(self, stopped: int) -> None:
        """Until the main frame stops loading (after its load event) once more than ``stopped``."""
        deadline = time.monotonic() + self.timeout_s
        while self._stopped <= stopped:
            if not self.browser.pump(deadline) and time.monotonic() >= deadline:
                raise ChromiumError(f"{self.url} did not finish loading in {self.timeout_s:g}s")

    def _on_event(self, method: str, params: dict[str, Any]) -> None:
        main = params.get("frameId") == getattr(self, "_frame", None)
        if method == "Fetch.requestPaused":
            self._route(params)
        elif method == "Network.requestWillBeSent":
            self._requests.append(params["request"]["url"])
        elif method == "Runtime.bindingCalled" and params["name"] == _WS_BINDING:
            self._blocked.append(params["payload"])
        elif method == "Network.webSocketCreated":
            # One that escaped the stand-in (opened by a worker): it must not pass unnoticed.
            self._blocked.append(params["url"])
        elif method == "Network.responseReceived" and main and params.get("type") == "Document":
            self.status = params["response"]["status"]
        elif method == "Runtime.consoleAPICalled":
            self._console.append(ConsoleMessage(console_level(params["type"]),
                                                console_text(params.get("args", [])), "console"))
        elif method == "Runtime.exceptionThrown":
            self._errors.append(exception_text(params["exceptionDetails"]))
        elif method == "Log.entryAdded":
            entry = params["entry"]
            self._console.append(ConsoleMessage(entry["level"], entry["text"], entry["source"]))
        elif method == "Page.javascriptDialogOpening":
            # alert/confirm (hx-confirm) would hold the page forever: accept, as a user clicking OK.
            self._console.append(ConsoleMessage("info", params["message"], f"dialog:{params['type']}"))
            self.browser.send("Page.handleJavaScriptDialog", {"accept": True}, self._session)
        elif method == "Page.frameNavigated" and "parentId" not in params["frame"]:
            self.url = params["frame"]["url"]
            self._committed += 1
        elif method in _NAVIGATION_STARTS and main:
            self._started += 1
        elif method == "Page.frameStoppedLoading" and main:
            self._stopped += 1

    def _on_browser_event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Browser.downloadWillBegin" and params.get("frameId") == self._frame:
            self._downloads[params["guid"]] = _Download(params["guid"], params["url"],
                                                        Path(params["suggestedFilename"]).name)
        elif method == "Browser.downloadProgress" and params["guid"] in self._downloads:
            self._downloads[params["guid"]].state = params["state"]

    def _route(self, paused: dict[str, Any]) -> None:
        """Let local URLs and allowed origins through; fail anything else."""
        url, request_id = paused["request"]["url"], paused["requestId"]
        if url.startswith(_LOCAL_SCHEMES) or origin_of(url) in self.allow_origins:
            self.browser.send("Fetch.continueRequest", {"requestId": request_id}, self._session)
        else:
            self._blocked.append(url)
            self.browser.send("Fetch.failRequest", {"requestId": request_id,
                                                    "errorReason": "BlockedByClient"}, self._session)
