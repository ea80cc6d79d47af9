"""The throwaway PostgreSQL cluster: 127.0.0.1 only, password auth, fast settings, gone with its
parent."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.postgres import USER, Postgres, _sweep_stale_root_dirs, find_postgres_bindir

psycopg = pytest.importorskip("psycopg")
#: This checkout: the cluster a subprocess starts comes from its tests/support.
REPO = Path(__file__).resolve().parents[2]


def test_the_cluster_listens_on_loopback_with_its_socket_in_its_own_folder(postgres: Postgres) -> None:
    assert postgres.dsn.startswith(f"postgresql://{USER}:")
    assert f"@127.0.0.1:{postgres.port}/" in postgres.dsn  # never anywhere else
    with psycopg.connect(postgres.dsn) as conn:
        settings = dict(conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN ('listen_addresses', 'fsync', "
            "'unix_socket_directories', 'password_encryption')").fetchall())
    assert settings["listen_addresses"] == "127.0.0.1"
    assert settings["fsync"] == "off"
    assert settings["password_encryption"] == "scram-sha-256"
    assert Path(settings["unix_socket_directories"]).parent == postgres.data_dir.parent


def test_a_wrong_password_is_refused_and_the_password_stays_out_of_repr(postgres: Postgres) -> None:
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(postgres.dsn.replace(postgres.password, "not-the-password"))
    assert postgres.password not in repr(postgres)


def test_the_binaries_are_found() -> None:
    folder = find_postgres_bindir()
    assert (folder / "initdb").is_file() and (folder / "postgres").is_file()


def test_postgres_stops_when_the_process_that_started_it_is_killed(tmp_path: Path,
                                                                   postgres: Postgres) -> None:
    # The session fixture proves the binaries exist; this starts a second, short-lived cluster.
    script = ("import os, signal, sys; from pathlib import Path\n"
              f"sys.path.insert(0, {str(REPO)!r})\n"
              "from tests.support.postgres import start_postgres\n"
              f"p = start_postgres(Path({str(tmp_path)!r}))\n"
              "print(p.port, p.data_dir, p.owned_dir, flush=True)\n"
              "os.kill(os.getpid(), signal.SIGKILL)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          check=False)
    port_text, data_dir, owned_dir = done.stdout.split()
    port = int(port_text)
    deadline = time.monotonic() + 20
    # postgres deletes postmaster.pid as its very last act: then it is gone for good.
    while (Path(data_dir) / "postmaster.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    with socket.socket() as sock:
        if sock.connect_ex(("127.0.0.1", port)) == 0:
            raise AssertionError(f"PostgreSQL on port {port} outlived the process that started it")
    if owned_dir != "None":  # as root: the next start sweeps the folder its dead owner left
        _sweep_stale_root_dirs()
        assert not Path(owned_dir).exists()


REPO = Path(__file__).resolve().parents[2]
MAKE = shutil.which("make")


def _fake_tools(folder: Path, *, uid: int, install_fails_first: bool) -> Path:
    """A bin folder with a fake ``id`` and ``apt-get`` that log their calls (nothing is installed)."""
    folder.mkdir()
    (folder / "id").write_text(f"#!/bin/sh\necho {uid}\n", encoding="ascii")
    fail = f'[ ! -e "{folder}/updated" ] && exit 100' if install_fails_first else ""
    (folder / "apt-get").write_text(
        "#!/bin/sh\n"
        f'echo "DEBIAN_FRONTEND=$DEBIAN_FRONTEND $*" >> "{folder}/calls"\n'
        f'case "$1" in update) touch "{folder}/updated";; install) {fail};; esac\n'
        "exit 0\n", encoding="ascii")
    for tool in ("id", "apt-get"):
        (folder / tool).chmod(0o755)
    return folder


def _make_postgres_server(tmp_path: Path, tools: Path) -> subprocess.CompletedProcess[str]:
    assert MAKE is not None
    shutil.copy2(REPO / "Makefile", tmp_path / "Makefile")
    # No initdb on PATH (/usr/local/bin left out) nor at the Debian location.
    env = {"PATH": f"{tools}:/usr/bin:/bin"}
    return subprocess.run([MAKE, "postgres-server", f"POSTGRES_INITDB_GLOB={tmp_path}/none/*"],
                          cwd=tmp_path, capture_output=True, text=True, env=env, timeout=60,
                          check=False)


@pytest.mark.skipif(MAKE is None or shutil.which("initdb", path="/usr/bin:/bin") is not None,
                    reason="make missing, or initdb in /usr/bin")
def test_make_test_installs_the_server_as_root_updating_only_when_the_install_fails(
        tmp_path: Path) -> None:
    tools = _fake_tools(tmp_path / "bin", uid=0, install_fails_first=True)
    ran = _make_postgres_server(tmp_path, tools)
    assert ran.returncode == 0, ran.stderr
    calls = (tools / "calls").read_text(encoding="ascii").splitlines()
    install = "DEBIAN_FRONTEND=noninteractive install -y -qq --no-install-recommends postgresql"
    assert calls == [install, "DEBIAN_FRONTEND=noninteractive update -qq", install]
    assert "test: $(STAMP) $(NODE_STAMP) postgres-server" in (REPO / "Makefile").read_text("utf-8")


@pytest.mark.skipif(MAKE is None or shutil.which("initdb", path="/usr/bin:/bin") is not None,
                    reason="make missing, or initdb in /usr/bin")
def test_make_test_without_the_server_and_without_root_says_so_in_one_line(tmp_path: Path) -> None:
    tools = _fake_tools(tmp_path / "bin", uid=1000, install_fails_first=False)
    ran = _make_postgres_server(tmp_path, tools)
    assert ran.returncode == 0
    assert not (tools / "calls").exists()
    assert len(ran.stderr.strip().splitlines()) == 1
    assert "postgresql" in ran.stderr and "skipped" in ran.stderr
