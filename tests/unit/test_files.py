"""File helpers: private folders pass their privacy on; a loose folder is tightened in place."""

from __future__ import annotations

import os
from pathlib import Path

from mlops_azure._files import atomic_write, make_dirs, make_private, open_new


def mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_folders_and_files_made_inside_a_private_folder_are_private(tmp_path: Path) -> None:
    root = tmp_path / "secret"
    root.mkdir(mode=0o700)
    make_dirs(root / "a" / "b")
    with open_new(root / "a" / "b" / "log", "ab") as out:
        out.write(b"x")
    atomic_write(root / "c" / "doc.txt", b"y")
    assert [mode(root / p) for p in ("a", "a/b", "a/b/log", "c", "c/doc.txt")] == [
        0o700, 0o700, 0o600, 0o700, 0o600]


def test_elsewhere_the_umask_decides_as_usual(tmp_path: Path) -> None:
    os.chmod(tmp_path, 0o755)  # pytest makes it private
    old = os.umask(0o022)
    try:
        make_dirs(tmp_path / "out" / "deep")
        with open_new(tmp_path / "out" / "deep" / "report.txt", "wb") as out:
            out.write(b"z")
    finally:
        os.umask(old)
    assert mode(tmp_path / "out") == mode(tmp_path / "out" / "deep") == 0o755
    assert mode(tmp_path / "out" / "deep" / "report.txt") == 0o644


def test_a_loose_tree_is_made_private_without_touching_its_content(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "data.csv").write_text("a,b\n1,2\n")
    (root / "run.sh").write_text("echo hi\n")
    os.chmod(root / "run.sh", 0o755)
    (root / "link").symlink_to(tmp_path)  # followed by nobody: the folder it points at keeps its mode
    for path, loose in ((root, 0o755), (root / "sub", 0o775), (root / "sub" / "data.csv", 0o664)):
        os.chmod(path, loose)
    outside = mode(tmp_path)
    make_private(root)
    assert (mode(root), mode(root / "sub"), mode(root / "sub" / "data.csv"), mode(root / "run.sh")) == (
        0o700, 0o700, 0o600, 0o700)
    assert (root / "sub" / "data.csv").read_text() == "a,b\n1,2\n"
    assert mode(tmp_path) == outside
