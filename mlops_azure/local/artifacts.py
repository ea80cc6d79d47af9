"""Content-addressed artifact store of the embedded workspace.

Layout: ``<root>/sha256/<first 2 hex>/<digest>/`` holds one artifact; a folder artifact is that
folder's content, a file artifact is that folder holding the one file under its own name. Identical
content is stored once. A write copies into ``<root>/tmp/`` (same filesystem) and then renames the
finished folder into place, so an artifact is either wholly visible or absent.

Tree hash scheme (``mlops-tree-v1``), deterministic across machines and walk orders:

* every regular file contributes the line ``<relative POSIX path>\\0<size>\\0<sha256 hex of content>\\n``;
  for a file artifact the relative path is the file's name;
* lines are sorted by the UTF-8 bytes of the relative path;
* the digest is ``sha256(b"mlops-tree-v1 <kind>\\n" + lines)`` with kind ``file`` or ``folder``.

So renaming, moving, adding, removing or editing any file changes the digest; empty folders do
not count; symbolic links to files count as the file they point to; links to folders are refused.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mlops_azure._files import make_dirs, open_new
from mlops_azure.errors import BackendError, UserInputError

_SCHEME = "mlops-tree-v1"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class TreeDigest:
    """The tree hash of a file or folder, its total size and how many files it holds."""

    sha256: str
    size_bytes: int
    files: int


@dataclass(frozen=True)
class StoredArtifact:
    """An artifact in the store: its digest, size and the stored file or folder."""

    sha256: str
    size_bytes: int
    path: Path


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


def _digest(kind: str, lines: list[tuple[PurePosixPath, int, str]]) -> str:
    total = hashlib.sha256(f"{_SCHEME} {kind}\n".encode())
    for rel, size, content_hash in sorted(lines, key=lambda line: str(line[0]).encode("utf-8")):
        total.update(f"{rel}\0{size}\0{content_hash}\n".encode())
    return total.hexdigest()


def _hash_file(path: Path, copy_to: Path | None = None) -> tuple[int, str]:
    """Size and sha256 of a file, optionally writing the very bytes hashed to ``copy_to``."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as src:
        out = open_new(copy_to, "xb") if copy_to is not None else None
        try:
            while chunk := src.read(_CHUNK):
                digest.update(chunk)
                size += len(chunk)
                if out is not None:
                    out.write(chunk)
        finally:
            if out is not None:
                out.close()
    return size, digest.hexdigest()


def _walk_pairs(source: Path) -> tuple[str, list[tuple[PurePosixPath, Path]]]:
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
        kind, pairs = _walk_pairs(source)
        lines = [(rel, *_hash_file(path)) for rel, path in pairs]
    except OSError as exc:
        raise BackendError(f"cannot read {source} to hash it: {exc}") from None
    return TreeDigest(_digest(kind, lines), sum(size for _, size, _ in lines), len(lines))


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host still runs (a zombie awaiting its parent does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, it is just someone else's
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return True  # no procfs (macOS): kill(0) is all we know
    # The state letter follows the parenthesised command name, which may itself contain ')'.
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


class ArtifactStore:
    """Content-addressed files and folders under ``root`` (created on first write)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / "tmp"
        self._objects = root / "sha256"

    def location(self, sha256: str) -> Path:
        """Where the artifact with this digest lives (whether or not it is stored)."""
        return self._objects / sha256[:2] / sha256

    def put(self, source: Path) -> StoredArtifact:
        """Store a file or folder; returns the stored copy. Storing identical content again is a no-op.

        The digest is computed over the bytes written to the copy, so a source that changes
        while being stored can never be filed under a digest that does not match what is kept.
        """
        staging = self._tmp / f"{os.getpid()}-{secrets.token_hex(6)}-{socket.gethostname()}"
        try:
            kind, pairs = _walk_pairs(source)
            make_dirs(self._tmp)
            staging.mkdir(mode=0o700)
            lines = []
            for rel, path in pairs:
                target = staging.joinpath(*rel.parts)
                make_dirs(target.parent)
                lines.append((rel, *_hash_file(path, copy_to=target)))
            sha = _digest(kind, lines)
            final = self.location(sha)
            stored = final / source.name if kind == "file" else final
            artifact = StoredArtifact(sha, sum(size for _, size, _ in lines), stored)
            if final.exists() and self._intact(stored, sha):
                return artifact
            make_dirs(final.parent)
            if final.exists():
                self._discard(final)  # altered in place: replace it with the good copy
            self._publish(staging, final)
            return artifact
        except OSError as exc:
            raise BackendError(f"cannot store {source} in the artifact store {self.root}: {exc}") from None
        finally:
            shutil.rmtree(staging, ignore_errors=True)

    def _publish(self, staging: Path, final: Path) -> None:
        try:
            os.replace(staging, final)
        except OSError:
            # Another process published the same content first; that copy is as good as ours.
            if not final.exists():
                raise

    def _discard(self, final: Path) -> None:
        doomed = self._tmp / f"discard-{secrets.token_hex(6)}"
        try:
            os.replace(final, doomed)
        except FileNotFoundError:
            return
        shutil.rmtree(doomed, ignore_errors=True)

    def _intact(self, stored: Path, sha256: str) -> bool:
        try:
            return tree_hash(stored).sha256 == sha256
        except (UserInputError, BackendError):
            return False

    def relocate(self, recorded: Path, sha256: str) -> Path:
        """Where an artifact recorded as ``recorded`` lives in *this* store: the workspace folder
        may have been moved or copied since, and the digest, not the old path, identifies it."""
        expected = self.location(sha256)
        return expected / recorded.name if recorded.parent.name == sha256 else expected

    def verify(self, stored: Path, sha256: str) -> bool:
        """True when ``stored`` is inside this store and its content still hashes to ``sha256``."""
        expected = self.location(sha256)
        if stored != expected and stored.parent != expected:
            return False
        return self._intact(stored, sha256)

    def sweep(self) -> int:
        """Remove staging folders left by processes of this host that died mid-write; returns how many."""
        removed = 0
        host = socket.gethostname()
        for leftover in self._staging_folders():
            pid_text, _, rest = leftover.name.partition("-")
            _, _, leftover_host = rest.partition("-")
            if leftover.name.startswith("discard-") or (
                pid_text.isdigit() and leftover_host == host and not process_alive(int(pid_text))
            ):
                shutil.rmtree(leftover, ignore_errors=True)
                removed += 1
        return removed

    def _staging_folders(self) -> Iterator[Path]:
        try:
            yield from self._tmp.iterdir()
        except FileNotFoundError:
            return
