"""How every component fails: one sentence on stderr and a meaningful exit code; and how it
writes its outputs (atomically, strict JSON)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: 1: the data or a check said no; 2: unusable input.
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


class StepError(Exception):
    """An expected failure of a step, reported without a traceback."""

    def __init__(self, message: str, exit_code: int = EXIT_BAD_INPUT) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def run_step(name: str, main: Callable[[Sequence[str] | None], None],
             argv: Sequence[str] | None = None) -> int:
    """Run ``main``; a ``StepError`` becomes ``name: message`` on stderr and its exit code."""
    try:
        main(argv)
    except StepError as exc:
        print(f"{name}: {exc.message}", file=sys.stderr)
        return exc.exit_code
    return 0


@contextmanager
def prefixed(prefix: str) -> Iterator[None]:
    """Put ``prefix`` before the message of a ``StepError`` raised inside (say, which model)."""
    try:
        yield
    except StepError as exc:
        raise StepError(f"{prefix}{exc.message}", exc.exit_code) from None


def require_passed_check(folder: Path) -> None:
    """Stop unless ``folder/report.json`` (the data check's report) says the data passed."""
    file = folder / "report.json"
    try:
        report = json.loads(file.read_text(encoding="utf-8"))
        passed = report["passed"]
    except FileNotFoundError:
        raise StepError(f"no data check report at {file}") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise StepError(f"data check report {file} is not readable ({exc})") from None
    if passed is not True:
        errors = report.get("errors") or [{"message": "no reason recorded"}]
        raise StepError(f"the data check did not pass ({len(errors)} error(s), first: "
                        f"{errors[0].get('message')}); refusing to prepare unchecked data", EXIT_FAILED)


def write_text(path: Path, text: str) -> None:
    """Write through a temporary file: a killed step never leaves half a file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StepError(f"cannot write {path}: {exc.strerror}", EXIT_FAILED) from None


def write_json(path: Path, document: Any) -> None:
    """Indented, key-sorted JSON; NaN is refused rather than written."""
    write_text(path, json.dumps(document, indent=2, sort_keys=True, allow_nan=False) + "\n")


def output_folder(path: Path, what: str) -> Path:
    """Create an output folder (Azure ML mounts it; locally it may not exist yet)."""
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StepError(f"{what} folder {path} cannot be created: {exc.strerror}", EXIT_FAILED) from None
    return path


def names(text: str) -> list[str]:
    """A comma-separated list of column names from a component input ("none" or "": empty)."""
    if text.strip().lower() in ("", "none"):
        return []
    return [part.strip() for part in text.split(",") if part.strip()]
