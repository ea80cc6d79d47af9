"""A Page drives a real http server on 127.0.0.1: forms, uploads, links, downloads, screenshots,
JavaScript off, and requests to anywhere else refused and reported."""

from __future__ import annotations

import email.parser
import email.policy
import struct
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.support.chromium import Chromium, ChromiumError

INDEX = """<!doctype html><html><head><meta charset="utf-8"><title>form</title>
<link rel="icon" href="data:,"><script src="/app.js" defer></script></head><body>
<form method="post" action="/submit" enctype="multipart/form-data">
  <label for="kind">Kind</label><select id="kind" name="kind">
    <option value="a">A</option><option value="b">B</option></select>
  <label for="who">Name</label><input id="who" name="who" required>
  <label for="rows">Rows</label><input id="rows" name="rows" type="file">
  <label for="n">N</label><input id="n" name="n" type="number">
  <button id="send" type="submit">Send</button>
</form>
<a id="other" href="/other">other</a> <a id="csv" href="/download">download</a>
<button id="nothing" type="button">does nothing</button>
<p id="slot"></p></body></html>"""

# Served as a file, as the web app serves its scripts (its CSP forbids inline ones).
APP_JS = """document.title = "js ran";
console.error("from app.js");
fetch("/fragment").then(r => r.text()).then(t => { document.querySelector("#slot").textContent = t; });
fetch("http://example.com/track").catch(() => {});
fetch("http://169.254.169.254/latest/meta-data/").catch(() => {});
fetch("http://127.0.0.1:" + (Number(location.port) + 1) + "/other-port").catch(() => {});
try { new WebSocket("/ws"); } catch (e) { console.warn(e.name); }
"""

CSV = "a,b\n1,2\n"
# Without an icon link the browser asks for /favicon.ico, and the 404 is a console error.
ICON = '<!doctype html><link rel="icon" href="data:,">'


@dataclass
class Server:
    """The test site: what it was sent, and where it listens."""

    origin: str = ""
    posts: list[dict[str, Any]] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


def _handler(server: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            server.paths.append(self.path)
            pages = {"/": ("text/html", INDEX), "/app.js": ("text/javascript", APP_JS),
                     "/fragment": ("text/plain", "fragment arrived"),
                     "/other": ("text/html", ICON + "<title>other</title><h1>Other</h1>"),
                     "/done": ("text/html", ICON + "<title>done</title><p id=ok>received</p>"),
                     "/download": ("text/csv", CSV)}
            if self.path not in pages:
                self.send_error(404)
                return
            kind, text = pages[self.path]
            extra = {"Content-Disposition": 'attachment; filename="result.csv"'} \
                if self.path == "/download" else {}
            self._reply(200, kind, text.encode(), extra)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            head = f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode()
            message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
            fields: dict[str, Any] = {}
            for part in message.iter_parts():  # type: ignore[attr-defined]
                name = part.get_param("name", header="content-disposition")
                payload = part.get_payload(decode=True)
                fields[name] = (part.get_filename(), payload) if part.get_filename() is not None \
                    else payload.decode()
            server.posts.append(fields)
            self._reply(303, "text/plain", b"", {"Location": "/done"})

        def _reply(self, status: int, kind: str, body: bytes, extra: dict[str, str]) -> None:
            self.send_response(status)
            for name, value in {"Content-Type": kind, "Content-Length": str(len(body)), **extra}.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_: object) -> None:
            pass

    return Handler


@pytest.fixture(scope="module")
def site() -> Iterator[Server]:
    server = Server()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    server.origin = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_a_form_is_filled_uploaded_and_submitted_and_the_page_reported(
        chromium: Chromium, site: Server, tmp_path: Path) -> None:
    upload = tmp_path / "rows.csv"
    upload.write_text("x,y\n3,4\n", encoding="utf-8")
    site.posts.clear()
    with chromium.open(site.origin + "/", allow_origins=(site.origin,)) as page:
        assert page.status == 200
        assert page.wait_for("document.querySelector('#slot').textContent") == "fragment arrived"
        page.fill("#kind", "b")
        page.fill("#who", "Ann")
        page.set_files("#rows", [upload])
        assert page.evaluate("document.querySelector('#rows').files[0].name") == "rows.csv"
        assert page.submit("form") is True
        assert page.url == site.origin + "/done"
        assert page.evaluate("document.querySelector('#ok').textContent") == "received"
        report = page.report()
    assert site.posts == [{"kind": "b", "who": "Ann", "n": "", "rows": ("rows.csv", b"x,y\n3,4\n")}]
    assert ("error", "from app.js") in {(m.level, m.text) for m in report.console}
    port = int(site.origin.rsplit(":", 1)[1])
    assert set(report.blocked) == {"http://example.com/track", "http://169.254.169.254/latest/meta-data/",
                                   f"http://127.0.0.1:{port + 1}/other-port", f"ws://127.0.0.1:{port}/ws"}
    assert ("warning", "SecurityError") in {(m.level, m.text) for m in report.console}
    assert "/ws" not in site.paths
    assert {site.origin + p for p in ("/", "/app.js", "/fragment", "/submit", "/done")} \
        <= set(report.requests)
    assert report.errors and report.page_errors == ()


def test_a_click_follows_a_link_and_waits_only_when_something_navigates(chromium: Chromium,
                                                                        site: Server) -> None:
    with chromium.open(site.origin + "/", allow_origins=(site.origin,)) as page:
        assert page.click("#nothing") is False
        # Navigates to a download: nothing new to show.
        assert page.click("#csv") is False
        assert page.url == site.origin + "/"
        assert page.click("#other") is True
        assert (page.url, page.evaluate("document.title")) == (site.origin + "/other", "other")
        page.timeout_s = 0.5
        with pytest.raises(ChromiumError, match="no navigation started"):
            page.click("h1", navigate=True)


def test_steps_on_what_is_not_there_fail_with_the_selector(chromium: Chromium, site: Server) -> None:
    with chromium.open(site.origin + "/", allow_origins=(site.origin,)) as page:
        with pytest.raises(ChromiumError, match="has no option c"):
            page.fill("#kind", "c")
        with pytest.raises(ChromiumError, match="kept \"\" instead"):
            page.fill("#n", "twelve")
        with pytest.raises(ChromiumError, match="nothing matches '#missing'"):
            page.click("#missing")
        with pytest.raises(ChromiumError, match="nothing matches '#missing'"):
            page.set_files("#missing", [])
        with pytest.raises(ChromiumError, match="wait_for"):
            page.wait_for("document.querySelector('#never')", timeout_s=0.1)
        with pytest.raises(ChromiumError, match=r"the expression failed: .*boom"):
            page.evaluate("(() => { throw new Error('boom'); })()")
        # A required field left empty: the browser refuses to submit, nothing navigates.
        assert page.submit("#send") is False


def test_without_javascript_the_script_does_not_run_and_the_form_still_posts(
        chromium: Chromium, site: Server) -> None:
    site.posts.clear()
    with chromium.open(site.origin + "/", javascript=False, allow_origins=(site.origin,)) as page:
        page.settle(0.2)
        assert page.evaluate("document.title") == "form"
        page.fill("#who", "Bo")
        assert page.click("#send") is True
        assert page.url == site.origin + "/done"
        report = page.report()
    assert site.posts == [{"kind": "a", "who": "Bo", "n": "", "rows": ("", b"")}]
    assert report.blocked == () and report.console == ()
    assert site.origin + "/fragment" not in report.requests


def test_a_screenshot_is_a_png_of_the_whole_page(chromium: Chromium, site: Server,
                                                 tmp_path: Path) -> None:
    with chromium.open(site.origin + "/", allow_origins=(site.origin,)) as page:
        page.evaluate("document.body.style.height = '3000px'")
        shot = page.screenshot(tmp_path / "page.png")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    # Taller than the 2000 px window: the whole page, not the viewport.
    assert width >= 1000 and height >= 3000
    assert len(data) > 2000


def test_a_download_is_saved_under_the_name_the_server_gave(chromium: Chromium, site: Server,
                                                            tmp_path: Path) -> None:
    with chromium.open(site.origin + "/", allow_origins=(site.origin,)) as page:
        saved = page.download("#csv")
        assert (saved.name, saved.read_text(encoding="utf-8")) == ("result.csv", CSV)
        kept = page.download("#csv", into=tmp_path)
        assert page.url == site.origin + "/"
    assert kept == tmp_path / "result.csv" and kept.read_text(encoding="utf-8") == CSV
    assert not saved.exists()


def test_a_server_not_on_the_allow_list_is_refused(chromium: Chromium, site: Server) -> None:
    before = len(site.paths)
    with chromium.page() as page:
        with pytest.raises(ChromiumError, match="ERR_BLOCKED_BY_CLIENT"):
            page.goto(site.origin + "/")
        assert page.report().blocked == (site.origin + "/",)
    assert len(site.paths) == before
    with pytest.raises(ValueError, match="not an http"):
        chromium.page(allow_origins=("http://example.com",))
    with pytest.raises(ValueError, match="not an http"):
        chromium.page(allow_origins=("ws://127.0.0.1:1",))


def test_load_takes_an_allowed_url_too(chromium: Chromium, site: Server) -> None:
    report = chromium.load(site.origin + "/other", query="document.querySelector('h1').textContent",
                           allow_origins=(site.origin,))
    assert (report.facts, report.errors) == ("Other", [])
