"""Scoring an uploaded CSV file through a stage's endpoint, chunk by chunk, with progress on disk.

No Flask here: the web page (``_csv``) saves the upload, calls :func:`read_upload` (a bad file is
a ``UserInputError`` with one sentence, before anything is scored) and runs :func:`score_upload`
in a background thread; the progress page reads ``progress.json``, which every chunk replaces.

Reading is strict on structure and leaves values to the endpoint: the file must be UTF-8 text
with a header naming every feature the model reads (the keys of its ``parity.json`` request
rows) and as many values on every line as the header has columns. pandas pads a short line with
empty values without a word, so the structure is checked with the ``csv`` module, which also
tells each row's line in the file. Values are typed as the scoring scripts read them: text for a
categorical, key or string column, a JSON number otherwise, null for an empty cell; a cell that
is no number goes as it is and the endpoint's refusal is reported at the CSV's line.
"""

from __future__ import annotations

import csv
import io
import json
import math
import queue
import re
import time
from collections import Counter, deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson
import pandas as pd

from mlops_azure._files import atomic_write
from mlops_azure.config import ProjectConfig
from mlops_azure.errors import MlopsError, UserInputError
from mlops_azure.lifecycle.scoring import ScoreResponse, ScoringClient
from mlops_azure.webapp._forms import INTEGER, NUMBER
from mlops_azure.webapp._model_inputs import ModelInputs

#: Chunks sent at the same time: while the endpoint scores one, the next is encoded and on its
#: way (benchmarks/bench_ui_csv.py measures the gain).
CONCURRENT_CHUNKS = 2
#: Answers that mean "try again shortly" rather than "this chunk is wrong".
_RETRY_STATUSES = frozenset({0, 429, 502, 503, 504})
_RETRIES = 2
INPUT_FILE = "input.csv"
OUTPUT_FILE = "output.csv"
PROGRESS_FILE = "progress.json"
#: Delimiters a spreadsheet may save with; the header decides which one the file uses.
_DELIMITERS = (",", ";", "\t", "|")
#: Columns an upload may have (the duplicate check and the frame grow with them).
MAX_COLUMNS = 10_000
#: Seconds between two saves of the progress while a run lasts (the page polls every second).
PROGRESS_EVERY_S = 0.25
_ROW_REF = re.compile(r'^data\[(\d+)\](?:\[\d+\] \("([^"]+)"\)|\.(\S+))?\s*')
_SNIFF_BYTES = 8192


@dataclass(frozen=True)
class RequestColumns:
    """What the model behind a stage reads: its features in request order, which are text."""

    ref: str
    features: tuple[str, ...]
    text: frozenset[str]


@dataclass(frozen=True)
class Upload:
    """A structurally sound CSV file: every cell as text, and the line each row starts on."""

    frame: pd.DataFrame
    lines: tuple[int, ...]
    delimiter: str

    @property
    def rows(self) -> int:
        return len(self.frame)


@dataclass(frozen=True)
class Progress:
    """A scoring run as the progress page shows it (``progress.json``)."""

    state: str  # running, done, failed
    rows_total: int
    rows_done: int = 0
    file_name: str = ""
    stage: str = ""
    model: str = ""
    deployment: str = ""
    sha256: str = ""
    error: str = ""
    started: float = field(default_factory=time.time)
    seconds: float = 0.0
    columns_added: tuple[str, ...] = ()
    #: Who uploaded the file: only they see the run (its rows may be confidential).
    owner: str = ""
    #: ``endpoint`` or ``batch`` (see ``UiScoredEvent.method``).
    method: str = "endpoint"

    @property
    def percent(self) -> int:
        return 100 if not self.rows_total else int(100 * self.rows_done / self.rows_total)

    @property
    def rows_per_s(self) -> float | None:
        return self.rows_done / self.seconds if self.seconds > 0 else None

    def save(self, folder: Path) -> None:
        atomic_write(folder / PROGRESS_FILE, json.dumps(asdict(self)).encode())

    @classmethod
    def load(cls, folder: Path) -> Progress | None:
        """The run's last saved progress; None when it has none (yet)."""
        try:
            raw = json.loads((folder / PROGRESS_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        raw["columns_added"] = tuple(raw.get("columns_added", ()))
        return cls(**raw)


# -- what the model reads --------------------------------------------------------------------------
def request_columns(inputs: ModelInputs, config: ProjectConfig) -> RequestColumns:
    """The columns a file must have and which of them are sent as text: the prediction form's
    fields (``_forms.field_specs``), so a row is typed alike whether typed in or uploaded (the
    form's range and allowed-value checks are its own: a file is judged by the endpoint)."""
    specs = inputs.specs(config)
    return RequestColumns(inputs.model.ref, tuple(s.name for s in specs),
                          frozenset(s.name for s in specs if s.kind == "category"))


# -- reading the upload ----------------------------------------------------------------------------
def _decode(raw: bytes, name: str) -> str:
    if not raw.strip():
        raise UserInputError(f"{name} is empty: upload a CSV file with a header line and rows")
    if b"\x00" in raw[:_SNIFF_BYTES]:
        raise UserInputError(f"{name} is not a CSV file (it holds binary data): save the sheet "
                             "as CSV and upload that")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise UserInputError(f"{name} is not UTF-8 text (byte 0x{raw[exc.start]:02x} on line "
                             f"{line:,}): save it as \"CSV UTF-8\" and upload it again") from None


def _delimiter(text: str) -> str:
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_upload(path: Path, inputs: RequestColumns, name: str) -> Upload:
    """The CSV file at ``path`` (uploaded as ``name``) for a model reading ``inputs``;
    ``UserInputError`` with one sentence when it cannot be scored as it is."""
    text = _decode(path.read_bytes(), name)
    delimiter = _delimiter(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows: list[list[str]] = []
    lines: list[int] = []
    header: list[str] | None = None
    line = 1
    try:
        for record in reader:
            if not record or (len(record) == 1 and not record[0].strip()):
                line = reader.line_num + 1  # a blank line: skipped
                continue
            if header is None:
                header = [h.strip() for h in record]
            elif len(record) != len(header):
                raise UserInputError(f"{name} line {line:,} has {len(record)} value(s) but the "
                                     f"header names {len(header)} column(s): every line needs "
                                     "one value per column")
            else:
                rows.append(record)
                lines.append(line)
            line = reader.line_num + 1
    except csv.Error as exc:
        raise UserInputError(f"{name} is not a readable CSV file (line {reader.line_num:,}: "
                             f"{exc})") from None
    if header is None:
        raise UserInputError(f"{name} is empty: upload a CSV file with a header line and rows")
    if len(header) > MAX_COLUMNS:
        raise UserInputError(f"{name} has {len(header):,} columns; at most {MAX_COLUMNS:,} are "
                             "read: keep the model's features and your key columns")
    twice = sorted(h for h, n in Counter(header).items() if n > 1)
    if twice:
        raise UserInputError(f"{name} names the column(s) {', '.join(twice)} more than once in "
                             "its header")
    missing = [f for f in inputs.features if f not in header]
    if missing:
        raise UserInputError(f"{name} lacks the column(s) {', '.join(missing)} that {inputs.ref} "
                             f"needs (its header has {', '.join(header[:12]) or 'nothing'}"
                             f"{', ...' if len(header) > 12 else ''})")
    if not rows:
        raise UserInputError(f"{name} has a header but no rows to score")
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    return Upload(frame, tuple(lines), delimiter)


# -- typing and sending ----------------------------------------------------------------------------
def _values(cells: Sequence[str], is_text: bool) -> list[Any]:
    """A column's cells typed as the prediction form types a field (``_forms.parse_value``):
    text stripped, empty as null; numbers in decimal notation only (``1_000`` or ``inf`` are sent
    as the text they are, for the endpoint to refuse at their row), ``NaN`` as null."""
    if is_text:
        return [c.strip() or None for c in cells]
    values: list[Any] = []
    for cell in cells:
        stripped = cell.strip()
        if not stripped or stripped.lower() == "nan":
            values.append(None)
        elif INTEGER.fullmatch(stripped):
            values.append(int(stripped))
        elif NUMBER.fullmatch(stripped) and math.isfinite(number := float(stripped)):
            values.append(number)
        else:
            values.append(cell)
    return values


def request_of(frame: pd.DataFrame, inputs: RequestColumns) -> dict[str, Any]:
    """The scoring request (split orientation: the column names once) for ``frame``'s rows."""
    columns = [_values(frame[f].tolist(), f in inputs.text) for f in inputs.features]
    return {"columns": list(inputs.features), "data": [list(r) for r in zip(*columns, strict=True)]}


def where_refused(message: str, first: int, count: int, upload: Upload) -> str:
    """The endpoint's sentence about ``data[i]`` of the chunk of ``count`` rows starting at row
    ``first`` (0-based), said of the CSV's line and row instead."""
    found = _ROW_REF.match(message)
    if found is None:
        last = min(first + count, upload.rows)
        return (f"the endpoint refused lines {upload.lines[first]:,} to "
                f"{upload.lines[last - 1]:,}: {message}")
    index = first + int(found.group(1))
    column = found.group(2) or found.group(3)
    rest = message[found.end():]
    said = f'column "{column}" {rest}' if column else rest
    if 0 <= index < upload.rows:
        return f"line {upload.lines[index]:,} (row {index + 1:,}): {said}"
    return f"row {index + 1:,}: {said}"


class ScoringFailed(Exception):
    """The endpoint refused a chunk or did not answer; the message is for the user."""


def _extras(answer: dict[str, Any], rows: int) -> dict[str, list[Any]]:
    """The per-row lists of an answer, ``predictions`` first, under their output column names."""
    found: dict[str, list[Any]] = {}
    for key, value in answer.items():
        if isinstance(value, list) and len(value) == rows and key != "explanations":
            column = "prediction" if key == "predictions" else key
            found[column] = value
    if "prediction" not in found:
        raise ScoringFailed("the endpoint answered without one prediction per row")
    return found


def _send(clients: queue.Queue[ScoringClient], body: bytes, deployment: str | None
          ) -> ScoreResponse:
    client = clients.get()
    try:
        answer = client.score(body, deployment=deployment)
        for attempt in range(_RETRIES):
            if answer.status not in _RETRY_STATUSES:
                break
            time.sleep(0.5 * (attempt + 1))
            answer = client.score(body, deployment=deployment)
        return answer
    finally:
        clients.put(client)


def _column_names(header: Sequence[str], extras: Sequence[str]) -> dict[str, str]:
    taken = set(header)
    names: dict[str, str] = {}
    for extra in extras:
        name = extra
        while name in taken:
            name = f"scored_{name}"
        names[extra] = name
        taken.add(name)
    return names


def score_upload(folder: Path, upload: Upload, inputs: RequestColumns,
                 clients: Sequence[ScoringClient], progress: Progress, *, chunk_rows: int,
                 deployment: str | None = None,
                 finish: Callable[[Progress], None] | None = None) -> Progress:
    """Score every row of ``upload`` through ``clients`` (one per concurrent chunk), appending
    to ``output.csv.partial`` in the file's order and renaming it to ``output.csv`` at the end;
    the progress after each chunk is saved in ``folder``. Returns the final progress (``failed``
    with the sentence when the endpoint refused a chunk), saved after ``finish`` had it (so a
    reader who sees the run ended sees what ``finish`` did too)."""
    pool: queue.Queue[ScoringClient] = queue.Queue()
    for client in clients:
        pool.put(client)
    partial = folder / f"{OUTPUT_FILE}.partial"
    started = time.perf_counter()
    header = list(upload.frame.columns)
    names: dict[str, str] | None = None
    starts = range(0, upload.rows, chunk_rows)
    progress.save(folder)
    saved = time.perf_counter()

    def send(first: int) -> ScoreResponse:
        body = orjson.dumps(request_of(upload.frame.iloc[first:first + chunk_rows], inputs))
        return _send(pool, body, deployment)

    try:
        with ThreadPoolExecutor(max(1, len(clients)), thread_name_prefix="csv-chunk") as workers, \
                partial.open("w", encoding="utf-8", newline="") as out:
            writer = csv.writer(out, lineterminator="\n")
            waiting: deque[tuple[int, Future[ScoreResponse]]] = deque()
            pending = iter(starts)
            for first in pending:
                waiting.append((first, workers.submit(send, first)))
                if len(waiting) >= 2 * len(clients):
                    break
            while waiting:
                first, future = waiting.popleft()
                answer = future.result()
                nxt = next(pending, None)
                if nxt is not None:
                    waiting.append((nxt, workers.submit(send, nxt)))
                chunk = upload.frame.iloc[first:first + chunk_rows]
                if not answer.ok:
                    for _, other in waiting:
                        other.cancel()
                    raise ScoringFailed(_refusal(answer, first, len(chunk), upload))
                try:
                    extras = _extras(answer.json(), len(chunk))
                except (ValueError, AttributeError):
                    raise ScoringFailed("the endpoint answered with something other than "
                                        "predictions") from None
                if names is None:
                    names = _column_names(header, list(extras))
                if first == 0:
                    writer.writerow([*header, *(names[k] for k in extras)])
                writer.writerows(zip(*(chunk[c].tolist() for c in header), *extras.values(),
                                     strict=True))
                progress = replace(progress, rows_done=first + len(chunk),
                                   seconds=time.perf_counter() - started,
                                   columns_added=tuple((names or {}).values()))
                if time.perf_counter() - saved >= PROGRESS_EVERY_S:
                    # Not after every chunk: each save is a rename, about 2 ms.
                    progress.save(folder)
                    saved = time.perf_counter()
        partial.replace(folder / OUTPUT_FILE)
        progress = replace(progress, state="done", seconds=time.perf_counter() - started)
    except (ScoringFailed, MlopsError) as exc:
        partial.unlink(missing_ok=True)
        message = exc.message if isinstance(exc, MlopsError) else str(exc)
        progress = replace(progress, state="failed", error=message,
                           seconds=time.perf_counter() - started)
    if finish is not None:
        finish(progress)
    progress.save(folder)
    return progress


def _refusal(answer: ScoreResponse, first: int, count: int, upload: Upload) -> str:
    refused = answer.refusal()
    if refused is not None:
        return where_refused(refused, first, count, upload)
    return f"the endpoint did not score line {upload.lines[first]:,} on ({answer.message()})"
