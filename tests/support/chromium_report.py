"""What the test browser reports about a page, and the errors it raises (see ``chromium.py``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}


class ChromiumError(RuntimeError):
    """The browser died, timed out or answered a DevTools command with an error, or a page step
    (a selector, a navigation, a download) could not be done."""


@dataclass(frozen=True)
class ConsoleMessage:
    """One console call (``console.error`` ...) or browser log entry (a failed load ...)."""

    level: str
    text: str
    source: str


@dataclass(frozen=True)
class PageReport:
    """What a page produced: one load, or everything a :class:`Page` saw so far."""

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


def origin_of(url: str) -> str | None:
    """``scheme://host:port`` of an http(s) URL (the port spelled out), else None."""
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    try:
        port = parts.port or _DEFAULT_PORTS[parts.scheme]
    except ValueError:
        return None
    return f"{parts.scheme}://{parts.hostname}:{port}"


def console_level(kind: str) -> str:
    """The report level of a ``Runtime.consoleAPICalled`` type."""
    # console.assert failures and console.trace are reported as errors by DevTools too.
    return {"warning": "warning", "error": "error", "assert": "error"}.get(kind, "info")


def console_text(args: list[dict[str, Any]]) -> str:
    """A console call's arguments as one line."""
    return " ".join(str(a.get("value", a.get("description", a.get("type", "")))) for a in args)


def exception_text(details: dict[str, Any]) -> str:
    """An exception's message with where it was thrown."""
    exception = details.get("exception") or {}
    # The description carries the stack (with file and line) for Error objects; a thrown string or
    # number has none, so the position is added from the details.
    text = str(exception.get("description") or exception.get("value") or details.get("text", "?"))
    where = f"{details.get('url', '')}:{details.get('lineNumber', 0) + 1}"
    return text if "\n    at " in text else f"{text} (at {where})"
