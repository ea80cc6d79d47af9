"""Turning pydantic's validation errors on ``mlops.yaml`` into one sentence that lists them all.

Each problem is named by its key path (``stages.prod.endpoint``) and listed in the order the
file has it, so fixing them top to bottom works; settings that are missing altogether come
after the ones that are there, in path order.
"""

from __future__ import annotations

import math
from pathlib import Path

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from mlops_azure._yaml import Location, key_lines

#: Longest offending value quoted back in a message, in characters.
_SHOWN_VALUE = 40


def location(loc: Location) -> str:
    """A key path as written in YAML terms: ``stages.prod.endpoint``, ``batch.block_imports[1]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _what(error: ErrorDetails) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown setting"
    if error["type"] == "missing":
        return "required setting is missing"
    message = str(error["msg"]).removeprefix("Value error, ")
    if message.startswith("Input should "):
        message = "must " + message.removeprefix("Input should ")
        value = error.get("input")
        if isinstance(value, str | int | float | bool):
            shown = repr(value)
            if len(shown) > _SHOWN_VALUE:
                shown = shown[:_SHOWN_VALUE - 4] + "...'"
            message += f", got {shown}"
    return message


def _place(loc: Location, places: dict[Location, tuple[int, int]]) -> tuple[float, float]:
    """Where ``loc`` or its nearest ancestor is in the file; missing sections sort last."""
    for end in range(len(loc), 0, -1):
        if loc[:end] in places:
            return places[loc[:end]]
    return math.inf, math.inf


def describe(exc: ValidationError, file: Path, text: str) -> str:
    """One sentence naming ``file`` and every problem in ``exc`` with its key path."""
    places = key_lines(text)
    problems: dict[str, tuple[tuple[float, float], str]] = {}
    for error in exc.errors():
        loc = tuple(error["loc"])
        problem = f"{location(loc)}: {_what(error)}"
        problems.setdefault(problem, (_place(loc, places), location(loc)))  # a union repeats itself
    ordered = sorted(problems, key=lambda problem: problems[problem])
    if len(ordered) == 1:
        return f"{file}: {ordered[0]}"
    return f"{file} has {len(ordered)} problems: {'; '.join(ordered)}"
