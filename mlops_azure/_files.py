"""Writing files so that a reader never sees half of one, and private folders stay private.

Privacy is inherited: a folder only its owner may open (mode 0700, as the embedded workspace's
root is made) gets private subfolders (0700) and files (0600) from :func:`make_dirs` and
:func:`open_new`, whoever in mlops writes them. Anywhere else the process umask decides as usual,
so reports and exports a user asked for keep their normal modes.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO, Literal

#: Permission bits that let anyone but the owner in.
OTHERS = 0o077
#: The umask of processes that write into a private folder (steps, endpoint servers, routers).
PRIVATE_UMASK = 0o077

_FLAGS = {
    "ab": os.O_WRONLY | os.O_CREAT | os.O_APPEND,
    "wb": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
    "xb": os.O_WRONLY | os.O_CREAT | os.O_EXCL,
}


def is_private(folder: Path) -> bool:
    """True when ``folder`` exists and gives group and others no permission at all."""
    try:
        return not os.stat(folder).st_mode & OTHERS
    except OSError:
        return False


def make_dirs(path: Path) -> Path:
    """``path.mkdir(parents=True, exist_ok=True)``, except that a folder created inside a private
    folder is private (0700) too; returns ``path``."""
    missing: list[Path] = []
    probe = path
    while not probe.is_dir() and probe.parent != probe:
        missing.append(probe)
        probe = probe.parent
    private = is_private(probe)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=0o700 if private else 0o777)
        except FileExistsError:
            if not folder.is_dir():
                raise
    return path


def open_new(path: Path, mode: Literal["ab", "wb", "xb"]) -> BinaryIO:
    """``path.open(mode)``, except that a file created in a private folder is private (0600)."""
    fd = os.open(path, _FLAGS[mode], 0o600 if is_private(path.parent) else 0o666)
    return os.fdopen(fd, mode)


def make_private(root: Path) -> None:
    """Take every permission of group and others off ``root`` and all below it (the owner's stay).

    For a folder that was created with looser modes: nothing is copied or moved, so nothing can
    be lost. ``root`` itself goes last, so an interrupted pass is redone by the next caller that
    finds it loose. A file that cannot be changed (not ours) is left as it is: the private
    ``root`` is what keeps others out.
    """
    for folder, dirs, files in os.walk(root):
        for name in (*dirs, *files):
            entry = os.path.join(folder, name)
            try:
                mode = os.lstat(entry).st_mode
                if not stat.S_ISLNK(mode) and mode & OTHERS:
                    os.chmod(entry, stat.S_IMODE(mode) & ~OTHERS)
            except OSError:
                continue
    os.chmod(root, stat.S_IMODE(os.stat(root).st_mode) & ~OTHERS)


def atomic_write(path: Path, content: bytes) -> None:
    """Write ``content`` to a private (0600) temporary file beside ``path``, then rename it over
    ``path``: readers see the old file or the new one, and concurrent writers never share a
    temporary file."""
    make_dirs(path.parent)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(content)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
