"""Content-addressed artifact store of the embedded workspace.

Layout: ``<root>/sha256/<first 2 hex>/<digest>/`` holds one artifact; a folder artifact is that
folder's content, a file artifact is that folder holding the one file under its own name. Identical
content is stored once. A write copies into ``<root>/tmp/`` (same filesystem) and then renames the
finished folder into place, so an artifact is either wholly visible or absent.

Artifacts are named by their :func:`mlops_azure._tree_hash.tree_hash`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from mlops_azure._files import make_dirs
from mlops_azure._tree_hash import digest, hash_file, tree_hash, walk_pairs
from mlops_azure.errors import BackendError, UserInputError


@dataclass(frozen=True)
class StoredArtifact:
    """An artifact in the store: its digest, size and the stored file or folder."""

    sha256: str
    size_bytes: int
    path: Path


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
            kind, pairs = walk_pairs(source)
            make_dirs(self._tmp)
            staging.mkdir(mode=0o700)
            lines = []
            for rel, path in pairs:
                target = staging.joinpath(*rel.parts)
                make_dirs(target.parent)
                lines.append((rel, *hash_file(path, copy_to=target)))
            sha = digest(kind, lines)
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
