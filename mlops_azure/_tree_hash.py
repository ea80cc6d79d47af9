"""The ``mlops-tree-v1`` hash of a file or folder, shared by both backends: it names artifacts in the
embedded workspace's store and proves on Azure that an uploaded asset is the data that was hashed.

The scheme is deterministic across machines and walk orders:

* every regular file contributes the line ``<relative POSIX path>\\0<size>\\0<sha256 hex of content>\\n``;
  for a file the relative path is the file's name;
* lines are sorted by the UTF-8 bytes of the relative path;
* the digest is ``sha256(b"mlops-tree-v1 <kind>\\n" + lines)`` with kind ``file`` or ``folder``.

So renaming, moving, adding, removing or editing any file changes the digest; empty folders do
not count; symbolic links to files count as the file they point to; links to folders are refused.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mlops_azure._files import open_new
from mlops_azure.errors import BackendError, UserInputError

_SCHEME = "mlops-tree-v1"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class TreeDigest:
    """The tree hash of a file or folder, its total size and how many files it holds."""

    sha256: str
    size_bytes: int
    files: int


def _entries(source: Path) -> list[PurePosixPath]:
    """Relative paths of the regular files under a folder, sorted as the scheme sorts them."""
    found: list[PurePosixPath] = []

    def walk(folder: Path, prefix: PurePosixPath) -> None:
        with os.scandir(folder) as listing:
            for entry in listing:
                rel = prefix / entry.name
                if entry.is_dir(follow_symlinks=False):
                    walk(Path(entry.path), rel)
                elif entry.is_file(follow_symlinks=True):
                    found.append(rel)
                elif entry.is_symlink() and Path(entry.path).is_dir():
                    raise UserInputError(
                        f"{entry.path} is a link to a folder, which an artifact cannot hold"
                    )
                else:
                    raise UserInputError(f"{entry.path} is neither a regular file nor a folder")

    walk(source, PurePosixPath())
    return sorted(found, key=lambda p: str(p).encode("utf-8"))


def digest(kind: str, lines: list[tuple[PurePosixPath, int, str]]) -> str:
    """The digest of ``kind`` (file or folder) over (relative path, size, sha256) lines."""
    total = hashlib.sha256(f"{_SCHEME} {kind}\n".encode())
    for rel, size, content_hash in sorted(lines, key=lambda line: str(line[0]).encode("utf-8")):
        total.update(f"{rel}\0{size}\0{content_hash}\n".encode())
    return total.hexdigest()


def hash_file(path: Path, copy_to: Path | None = None) -> tuple[int, str]:
    """Size and sha256 of a file, optionally writing the very bytes hashed to ``copy_to``."""
    content = hashlib.sha256()
    size = 0
    with path.open("rb") as src:
        out = open_new(copy_to, "xb") if copy_to is not None else None
        try:
            while chunk := src.read(_CHUNK):
                content.update(chunk)
                size += len(chunk)
                if out is not None:
                    out.write(chunk)
        finally:
            if out is not None:
                out.close()
    return size, content.hexdigest()


def walk_pairs(source: Path) -> tuple[str, list[tuple[PurePosixPath, Path]]]:
    """The kind of ``source`` and (relative path, absolute path) of each file it holds."""
    if source.is_file():
        return "file", [(PurePosixPath(source.name), source)]
    if source.is_dir():
        return "folder", [(rel, source.joinpath(*rel.parts)) for rel in _entries(source)]
    if source.exists() or source.is_symlink():
        raise UserInputError(f"{source} is neither a regular file nor a folder")
    raise UserInputError(f"{source} does not exist")


def tree_hash(source: Path) -> TreeDigest:
    """The ``mlops-tree-v1`` digest of a file or folder (see the module docstring)."""
    try:
        kind, pairs = walk_pairs(source)
        lines = [(rel, *hash_file(path)) for rel, path in pairs]
    except OSError as exc:
        raise BackendError(f"cannot read {source} to hash it: {exc}") from None
    return TreeDigest(digest(kind, lines), sum(size for _, size, _ in lines), len(lines))
