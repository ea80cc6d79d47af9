"""The scoring script's side of a batch: loaded once, one chunk scored into its part file, and
what the scoring processes keep out (``batch.block_imports``). The processes themselves are a
:class:`mlops_azure.execution.forked_pool.ForkedPool`: workers forked from a zygote that loaded
the script and its model (why, there).

The zygote refuses the modules ``batch.block_imports`` names (scikit-learn, which LightGBM
imports for an API a ``Booster`` script never uses, is half of its start-up).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

from mlops_azure._files import atomic_write
from mlops_azure.errors import UserInputError
from mlops_azure.execution.forked_pool import ForkedPool
from mlops_azure.lifecycle._scripts import load_scoring_script

_script: ModuleType | None = None
#: Modules this process refuses to import (``batch.block_imports``; set in the zygote only).
_blocked: tuple[str, ...] = ()


@dataclass(frozen=True)
class Task:
    """Score chunk ``number`` into ``part``: the rows are bytes ``[start, end)`` of ``source``
    under ``header``, or ``frame`` itself (an input only pandas can split)."""

    number: int
    part: Path
    keep: bool
    source: Path
    text: tuple[str, ...]
    header: bytes = b""
    start: int = 0
    end: int = 0
    frame: Any = None


def load_script(script: Path, model_dir: Path) -> ModuleType:
    """The batch scoring script, imported by path with its model loaded (``init()``)."""
    return load_scoring_script(script, model_dir, module_name="mlops_batch_score",
                               needs=("init", "score_frame"), what="batch scoring script")


def start(script: Path, model_dir: Path, *, preload: bool = False) -> None:
    """Load the scoring script in this process; with ``preload``, also everything it would
    load lazily (its optional ``preload()``), before workers are forked to share it."""
    global _script
    with _naming_blocked(script):
        _script = load_script(script, model_dir)
        if preload and callable(getattr(_script, "preload", None)):
            _script.preload()


def block(modules: Sequence[str]) -> None:
    """Make ``modules`` unimportable in this process (and the workers it forks)."""
    global _blocked
    _blocked = tuple(modules)
    for name in _blocked:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None: "halted"


@contextmanager
def _naming_blocked(script: Path) -> Iterator[None]:
    """An import refused by :func:`block` as one sentence naming the setting."""
    try:
        yield
    except ImportError as exc:
        name = exc.name or ""
        refused = [b for b in _blocked if name == b or name.startswith(b + ".")]
        if not refused:
            raise
        raise UserInputError(f"the batch scoring script {script} imports {refused[0]}, which "
                             "batch.block_imports in mlops.yaml keeps out of the scoring "
                             "processes: remove it from the list") from None


def read_rows(task: Task) -> Any:
    """The chunk's rows as pandas reads them (key and categorical columns as text)."""
    import pandas as pd

    if task.frame is not None:
        return task.frame
    try:
        with task.source.open("rb") as handle:
            handle.seek(task.start)
            body = handle.read(task.end - task.start)
        return pd.read_csv(io.BytesIO(task.header + body), dtype={c: str for c in task.text})
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise UserInputError(f"input {task.source} is not a readable CSV file: {exc}") from None


def score(task: Task) -> tuple[int, Any]:
    """Score a chunk and write its part file here, in the worker; the frame goes back only
    if wanted (a sink stages it)."""
    assert _script is not None, "the worker was started without its scoring script"
    with _naming_blocked(Path(_script.__file__ or "?")):
        scored = _script.score_frame(read_rows(task))
    atomic_write(task.part, frame_csv(scored))
    return len(scored), scored if task.keep else None


# -- CSV out ---------------------------------------------------------------------------------------
_SPECIAL = (",", '"', "\n", "\r")


def frame_csv(frame: Any) -> bytes:
    """``frame.to_csv(index=False, lineterminator="\\n")``, byte for byte, about three times as
    fast for what scoring returns (text keys and float predictions): pandas goes through the csv
    module row by row. Anything else (a field to quote, other dtypes) is left to pandas."""
    import pandas as pd

    names = [str(c) for c in frame.columns]
    columns: list[list[str]] = []
    fast = len(names) > 1 and all(isinstance(c, str) and not _needs_quotes(c)
                                   for c in frame.columns)
    for name in frame.columns if fast else ():
        series = frame[name]
        if series.dtype.kind == "f":
            values = series.to_numpy(dtype="float64")
            # repr is the shortest round-trip text, as numpy's astype(str) that pandas uses.
            text = list(map(float.__repr__, values.tolist()))
            for i in (values != values).nonzero()[0].tolist():  # NaN: pandas' na_rep ""
                text[i] = ""
        elif series.dtype.kind in "OT" and pd.api.types.infer_dtype(series, skipna=True) in (
                "string", "empty"):
            text = series.to_numpy(dtype=object, na_value="").tolist()
            if _needs_quotes("\x00".join(text)):
                fast = False
                break
        else:
            fast = False
            break
        columns.append(text)
    if not fast:
        return str(frame.to_csv(index=False, lineterminator="\n")).encode()
    lines = [",".join(names), *map(",".join, zip(*columns, strict=True))]
    return ("\n".join(lines) + "\n").encode()


def _needs_quotes(text: str) -> bool:
    return any(c in text for c in _SPECIAL)


# -- the pool ------------------------------------------------------------------------------------
def scoring_pool(workers: int, block_imports: Sequence[str]) -> ForkedPool[Task, tuple[int, Any]]:
    """``workers`` processes that :func:`score` chunks, forked from a zygote that refuses
    ``block_imports``; give it the script and model with :func:`scoring_loader`."""
    return ForkedPool(workers, score, prepare=partial(_prepare_zygote, tuple(block_imports)),
                      what="the batch scoring processes")


def scoring_loader(script: Path, model_dir: Path) -> Callable[[], None]:
    """What :meth:`ForkedPool.load` runs in the zygote: the script with its model loaded and all
    it would load lazily."""
    return partial(start, script, model_dir, preload=True)


def _prepare_zygote(blocked: tuple[str, ...]) -> None:
    """The zygote's start, while the caller finds the model: refuse ``blocked`` and import what
    the workers read chunks with."""
    block(blocked)
    import pandas  # noqa: F401


__all__ = ["Task", "block", "frame_csv", "load_script", "read_rows", "score", "scoring_loader",
           "scoring_pool", "start"]
