"""Where each chunk of a batch input starts and ends, found in the pass that hashes the file.

Workers read their own chunk from the file by byte offsets: nothing parsed in one process is
pickled to another. A chunk is ``chunk_rows`` records, counted as pandas counts them (lines that
hold only blanks are skipped), so a chunk's rows, its part file and the run id are those of
``pandas.read_csv(path, chunksize=chunk_rows)``.

A file with a double quote anywhere (a quoted field may hold a line break, or a quote may be a
literal character: only a CSV parser can tell) or with a bare carriage return as a line end is
not split here; the caller reads it with pandas' own reader instead.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: Bytes read at a time: the scan holds one block (plus the line it cuts) in memory.
BLOCK = 8 << 20
_BLANK = b" \t\r\n"


@dataclass(frozen=True)
class Chunk:
    """Chunk ``number``: the records in bytes ``[start, end)`` of the file, ``rows`` of them."""

    number: int
    start: int
    end: int
    rows: int


@dataclass(frozen=True)
class Layout:
    """The input's SHA-256 and, when it can be split by lines, its header line and chunks."""

    digest: str
    header: bytes | None
    chunks: tuple[Chunk, ...] | None

    @property
    def splittable(self) -> bool:
        return self.header is not None and self.chunks is not None


def _record_ends(data: bytes, arr: np.ndarray, at_eof: bool) -> np.ndarray:
    """Offsets (in ``data``, exclusive) where the non-blank lines of ``arr`` (its first bytes)
    end."""
    ends = np.flatnonzero(arr == 10) + 1
    if at_eof and len(arr) and arr[-1] != 10:
        ends = np.append(ends, len(arr))
    if not len(ends):
        return ends
    starts = np.concatenate(([0], ends[:-1]))
    # A line is blank only if it starts with a blank byte: check those (rare) one by one.
    maybe = np.flatnonzero(np.isin(arr[starts], np.frombuffer(_BLANK, np.uint8)))
    blank = [i for i in maybe.tolist() if not data[starts[i]:ends[i]].strip(_BLANK)]
    return np.delete(ends, blank) if blank else ends


def _plain(data: bytes, arr: np.ndarray) -> bool:
    """No double quote, and every carriage return ends a line with a line feed."""
    if data.find(b'"', 0, len(arr)) >= 0:
        return False
    if data.find(b"\r", 0, len(arr)) < 0:
        return True
    after = np.flatnonzero(arr == 13) + 1
    return bool(after[-1] < len(arr)) and bool((arr[after] == 10).all())


def scan(path: Path, chunk_rows: int) -> Layout:
    """Hash ``path`` and, unless it needs a CSV parser to find its records, lay out its
    chunks of ``chunk_rows`` records after the header."""
    digest = hashlib.sha256()
    header: bytes | None = None
    chunks: list[Chunk] = []
    splittable = True
    base = 0          # file offset of ``data``
    chunk_start = 0   # file offset where the open chunk begins
    in_chunk = 0      # records in the open chunk
    carry = b""
    with path.open("rb") as handle:
        while True:
            block = handle.read(BLOCK)
            digest.update(block)
            if not splittable:
                if not block:
                    break
                continue
            at_eof = not block
            data = carry + block
            cut = len(data) if at_eof else data.rfind(b"\n") + 1
            # Bytes up to the last line end are scanned now (a view: no copy), the rest waits.
            arr, carry = np.frombuffer(data, np.uint8, count=cut), data[cut:]
            if not _plain(data, arr):
                splittable = False
                continue
            ends = _record_ends(data, arr, at_eof) + base
            if header is None and len(ends):
                header, ends = data[: int(ends[0]) - base], ends[1:]
                chunk_start = base + len(header)
            # Close a chunk at every chunk_rows-th record.
            position = 0
            while len(ends) - position >= chunk_rows - in_chunk:
                position += chunk_rows - in_chunk
                end = int(ends[position - 1])
                chunks.append(Chunk(len(chunks), chunk_start, end, chunk_rows))
                chunk_start, in_chunk = end, 0
            in_chunk += len(ends) - position
            base += cut
            if at_eof:
                break
    if in_chunk or (header is not None and not chunks):
        # The last, shorter chunk; or, as pandas reads a header and no rows, one empty chunk.
        chunks.append(Chunk(len(chunks), chunk_start, base, in_chunk))
    if not splittable or header is None:
        return Layout(digest.hexdigest(), None, None)
    return Layout(digest.hexdigest(), header, tuple(chunks))
