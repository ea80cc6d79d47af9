"""Start and stop a throwaway PostgreSQL cluster for offline tests of the PostgreSQL sink.

The binaries come from the system (Debian's ``postgresql`` package puts them in
``/usr/lib/postgresql/<version>/bin``; ``initdb`` on ``PATH`` works too). The cluster listens on
127.0.0.1 only, on a free port, with its unix socket inside its own folder, ``fsync`` off (a test
cluster never needs to survive a power cut) and password authentication (scram-sha-256) for one
user, so tests can try a wrong password. The password is random per cluster and never logged.

PostgreSQL refuses to run as root: as root, ``initdb`` and ``postgres`` run as the ``postgres``
system user (Debian's package creates it), in a folder of their own under the system temp folder,
because the caller's ``workdir`` (pytest's, say) usually sits in a folder only root may enter.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mlops_azure.local.processes import free_port

#: The user the throwaway cluster creates, and the database the DSN names.
USER = "mlops"
DATABASE = "postgres"
#: Folders under the temp folder that a root-run cluster lives in (swept when their owner died).
_ROOT_PREFIX = "mlops-postgres-"


class PostgresNotFound(RuntimeError):
    """``initdb``/``postgres`` are neither on ``PATH`` nor under ``/usr/lib/postgresql/*/bin``."""


@dataclass
class Postgres:
    """A running throwaway PostgreSQL cluster."""

    port: int
    password: str = field(repr=False)
    data_dir: Path
    process: subprocess.Popen[bytes] | None = field(repr=False, default=None)
    #: A folder created for the cluster (root only) and removed by ``stop()``.
    owned_dir: Path | None = field(repr=False, default=None)

    @property
    def dsn(self) -> str:
        """A libpq URL for the cluster's user over TCP on 127.0.0.1."""
        return f"postgresql://{USER}:{self.password}@127.0.0.1:{self.port}/{DATABASE}"

    def stop(self) -> None:
        """Fast shutdown (SIGINT: roll back open transactions, disconnect), then remove the
        folder created for the cluster, if any."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.owned_dir is not None:
            shutil.rmtree(self.owned_dir, ignore_errors=True)


def find_postgres_bindir() -> Path:
    """The folder holding ``initdb``, ``postgres`` and ``pg_isready`` of one PostgreSQL version.

    ``initdb`` on PATH is followed to its real folder (Debian links only some tools into PATH);
    otherwise the newest ``/usr/lib/postgresql/<version>/bin``.
    """
    candidates: list[Path] = []
    found = shutil.which("initdb")
    if found:
        candidates.append(Path(found).resolve().parent)
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin"),
                      key=lambda p: [int(n) for n in re.findall(r"\d+", p.parent.name)] or [0],
                      reverse=True)
    candidates.extend(versions)
    for folder in candidates:
        if all((folder / tool).is_file() for tool in ("initdb", "postgres", "pg_isready")):
            return folder
    raise PostgresNotFound("PostgreSQL server binaries (initdb, postgres) not found on PATH or under "
                           "/usr/lib/postgresql/*/bin: install the Debian package 'postgresql'")


def _die_with_parent() -> Callable[[], None] | None:
    """What the child runs before exec so that PostgreSQL shuts down fast (SIGINT) when the
    process that started it dies. Popen runs it after switching user: a change of user clears
    the parent-death signal, so it must come last. libc is loaded here, in the parent."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    return lambda: prctl(1, signal.SIGINT)  # 1 = PR_SET_PDEATHSIG


def _sweep_stale_root_dirs() -> None:
    """Remove clusters' folders whose owner process is gone (it was killed before ``stop()``)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{_ROOT_PREFIX}*"):
        try:
            owner = int((folder / "owner.pid").read_text(encoding="ascii"))
            os.kill(owner, 0)
        except ProcessLookupError:
            shutil.rmtree(folder, ignore_errors=True)
        except (OSError, ValueError):
            continue


def _run_as(user: pwd.struct_passwd | None) -> dict[str, object]:
    """Popen arguments that run a child as ``user`` (None: as ourselves)."""
    if user is None:
        return {}
    return {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": [],
            "env": {**os.environ, "HOME": user.pw_dir, "USER": user.pw_name, "LOGNAME": user.pw_name}}


def start_postgres(workdir: Path, *, timeout_s: float = 60.0, bindir: Path | None = None) -> Postgres:
    """Create a cluster with ``initdb`` and start ``postgres`` on 127.0.0.1; wait until it accepts
    connections. ``workdir`` receives ``postgres.log`` (and the data, unless running as root)."""
    tools = bindir or find_postgres_bindir()
    workdir.mkdir(parents=True, exist_ok=True)
    system_user: pwd.struct_passwd | None = None
    owned: Path | None = None
    if os.geteuid() == 0:
        try:
            system_user = pwd.getpwnam("postgres")
        except KeyError as exc:
            raise PostgresNotFound("running as root, PostgreSQL needs the 'postgres' system user, "
                                   "which the Debian package 'postgresql' creates") from exc
        _sweep_stale_root_dirs()
        owned = Path(tempfile.mkdtemp(prefix=_ROOT_PREFIX))
        (owned / "owner.pid").write_text(str(os.getpid()), encoding="ascii")
        home = owned
    else:
        home = Path(tempfile.mkdtemp(prefix="postgres-", dir=workdir))
    data, sockets = home / "data", home / "sockets"
    sockets.mkdir()
    password = secrets.token_hex(16)
    pwfile = home / "pwfile"
    pwfile.write_text(password + "\n", encoding="ascii")
    if system_user is not None:
        for path in (home, sockets, pwfile):
            os.chown(path, system_user.pw_uid, system_user.pw_gid)
    log_path = workdir / "postgres.log"
    try:
        with log_path.open("ab") as log:
            done = subprocess.run(
                [str(tools / "initdb"), "-D", str(data), "-U", USER, f"--pwfile={pwfile}",
                 "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C", "--no-sync"],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=home,
                check=False, **_run_as(system_user))  # type: ignore[call-overload]
        pwfile.unlink()
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed (exit {done.returncode}): {_tail(log_path)}")
        port = free_port()
        argv = [str(tools / "postgres"), "-D", str(data), "-p", str(port),
                "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={sockets}",
                # A test cluster never needs to survive a crash: skip every durability cost.
                "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                "-c", "max_connections=40", "-c", "logging_collector=off"]
        with log_path.open("ab") as log:
            process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL, cwd=home,
                                       preexec_fn=_die_with_parent(),
                                       **_run_as(system_user))  # type: ignore[call-overload]
    except BaseException:
        if owned is not None:
            shutil.rmtree(owned, ignore_errors=True)
        raise
    cluster = Postgres(port, password, data, process, owned)
    deadline = time.monotonic() + timeout_s
    while not _ready(tools, port):
        if process.poll() is not None or time.monotonic() > deadline:
            cluster.stop()
            raise RuntimeError(f"PostgreSQL did not start on 127.0.0.1:{port}: {_tail(log_path)}")
        time.sleep(0.1)
    return cluster


def _ready(tools: Path, port: int) -> bool:
    """pg_isready says yes only once the server accepts connections (not while starting up)."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        return subprocess.run([str(tools / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port),
                               "-d", DATABASE, "-U", USER, "-t", "2"],
                              stdin=subprocess.DEVNULL, timeout=5, check=False).returncode == 0
    return False


def _tail(log: Path) -> str:
    return log.read_text(encoding="utf-8", errors="replace")[-2000:]


__all__ = ["DATABASE", "USER", "Postgres", "PostgresNotFound", "find_postgres_bindir", "start_postgres"]
