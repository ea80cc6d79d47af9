"""The embedded workspace holds endpoint keys: nobody but its owner may read any of it."""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path

from mlops_azure.local import LocalWorkspace


def loose_entries(root: Path) -> list[str]:
    """Everything under ``root`` (itself included) that group or others may use, with its mode."""
    found = []
    for folder, _, files in os.walk(root):
        for path in (Path(folder), *(Path(folder) / name for name in files)):
            if not path.is_symlink() and path.stat().st_mode & 0o077:
                found.append(f"{path.relative_to(root.parent)} {path.stat().st_mode & 0o777:o}")
    return found


def test_a_new_workspace_is_private_from_the_start(tmp_path: Path) -> None:
    old = os.umask(0o022)  # the usual umask, which would make everything world-readable
    try:
        ws = LocalWorkspace(tmp_path / "nested" / ".mlops")
        ws.events.record("test", "subject", {"key": "value"}, actor="tester")
        with ws.locks.exclusive("some-lock"):
            pass
        # The -wal and -shm files exist while a connection is open; SQLite copies the database's mode.
        with closing(sqlite3.connect(ws.db_path)) as reader:
            assert reader.execute("SELECT COUNT(*) FROM events").fetchone() == (1,)
            assert sorted(p.name for p in ws.root.iterdir()) == [
                "locks", "workspace.db", "workspace.db-shm", "workspace.db-wal"]
            assert loose_entries(ws.root) == []
    finally:
        os.umask(old)
    assert (tmp_path / "nested").stat().st_mode & 0o777 == 0o755  # above the workspace: as usual


def test_an_old_loose_workspace_is_tightened_when_opened_and_keeps_its_data(tmp_path: Path) -> None:
    root = tmp_path / ".mlops"
    LocalWorkspace(root).events.record("test", "before", {}, actor="tester")
    (root / "jobs" / "old-job").mkdir(parents=True)
    (root / "jobs" / "old-job" / "std_log.txt").write_text("trained\n")
    for folder, _, files in os.walk(root):  # as an older mlops left it
        os.chmod(folder, 0o755)
        for name in files:
            os.chmod(Path(folder) / name, 0o644)
    assert loose_entries(root)

    ws = LocalWorkspace(root)
    assert [event.subject for event in ws.events.recent()] == ["before"]
    assert loose_entries(root) == []
    assert (root / "jobs" / "old-job" / "std_log.txt").read_text() == "trained\n"
