"""Start and stop Azurite, the Azure Storage emulator, for offline tests of blob code.

Azurite comes from npm (``npm install`` in the project puts it in ``node_modules/.bin``; a global
``azurite-blob`` on ``PATH`` works too). It listens on 127.0.0.1 only, keeps everything in memory
and sends no telemetry. Its well-known development account is public knowledge, not a secret.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

#: Azurite's documented development account and key (the same for every Azurite install).
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


class AzuriteNotFound(RuntimeError):
    """``azurite-blob`` is neither in ``node_modules/.bin`` nor on ``PATH``."""


@dataclass
class Azurite:
    """A running Azurite blob service."""

    port: int
    process: subprocess.Popen[bytes] | None = field(repr=False, default=None)

    @property
    def account_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT}"

    @property
    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={ACCOUNT_KEY};"
                f"BlobEndpoint={self.account_url};")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def find_azurite(start: Path | None = None) -> Path:
    """The ``azurite-blob`` executable: ``node_modules/.bin`` in ``start`` or a parent, else PATH."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "node_modules" / ".bin" / "azurite-blob"
        if candidate.is_file():
            return candidate
    found = shutil.which("azurite-blob")
    if found:
        return Path(found)
    raise AzuriteNotFound("azurite-blob not found: run 'npm install' in the project "
                          "(package.json pins azurite) or 'npm install -g azurite'")


def _die_with_parent() -> Callable[[], None] | None:
    """On Linux, what the child runs before exec so that it gets SIGTERM when the process that
    started Azurite dies: a test run killed outright (timeout, Ctrl-C twice) leaves no emulator
    behind. libc is loaded here, in the parent: the child may not import anything."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    return lambda: prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def start_azurite(workdir: Path, *, port: int | None = None, timeout_s: float = 30.0,
                  executable: Path | None = None) -> Azurite:
    """Start Azurite's blob service on 127.0.0.1 and wait until it accepts connections.

    ``workdir`` receives its output (``azurite.log``); data stays in memory.
    """
    binary = executable or find_azurite(Path(__file__).parent)
    chosen = port or _free_port()
    workdir.mkdir(parents=True, exist_ok=True)
    log = (workdir / "azurite.log").open("ab")
    argv = [str(binary), "--blobHost", "127.0.0.1", "--blobPort", str(chosen),
            "--inMemoryPersistence", "--disableTelemetry", "--skipApiVersionCheck", "--loose"]
    try:
        process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, cwd=workdir,
                                   preexec_fn=_die_with_parent())
    finally:
        log.close()
    azurite = Azurite(chosen, process)
    deadline = time.monotonic() + timeout_s
    while not _listening(chosen):
        if process.poll() is not None or time.monotonic() > deadline:
            azurite.stop()
            tail = (workdir / "azurite.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"Azurite did not start on 127.0.0.1:{chosen}: {tail}")
        time.sleep(0.1)
    return azurite


__all__ = ["ACCOUNT", "ACCOUNT_KEY", "Azurite", "AzuriteNotFound", "find_azurite", "start_azurite"]
