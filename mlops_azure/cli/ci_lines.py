"""The ``mlops`` command lines of CI/CD definitions (Azure DevOps and GitHub Actions YAML): each
script body found, its logical lines (continuations joined, heredoc bodies left out), macros and
shell variables replaced by :data:`PLACEHOLDER`, and split into simple commands."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The keys whose values are shell text.
SHELL_KEYS = frozenset({"script", "bash", "inlineScript", "pwsh", "powershell", "run"})
#: Azure DevOps macros and shell variables become this token before shlex sees the line.
PLACEHOLDER = "MACRO"
# Separators between simple commands, as shlex(punctuation_chars=True) emits them.
COMMAND_SEPARATORS = frozenset({"&&", "||", ";", ";;", "|", "|&", "&", "(", ")", "{", "}"})
REDIRECTIONS = frozenset({">", ">>", "<", "<<", "<<<", ">&", "<&", "&>", "&>>", ">|", "<>"})
# Words that may precede a command without being it.
SHELL_PREFIXES = frozenset({"if", "then", "elif", "else", "while", "until", "do", "!", "time", "exec"})
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# Not a here-string (<<<) nor a shift (1<<N).
HEREDOC = re.compile(r"(?<![<\w])<<-?(?!<)\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")
_RUNS_MLOPS = re.compile(r"(^|[\s/;&|(`!])mlops(\s|$)")


def walk(node: Any, keys: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], Any]]:
    """(key path, value) for every node of a parsed YAML document, depth first, in document order."""
    yield keys, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from walk(value, (*keys, str(key)))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, (*keys, index))


@dataclass(frozen=True)
class ShellText:
    """One script body found in a pipeline document."""

    file: Path
    keys: tuple[str | int, ...]
    text: str

    @property
    def is_template_argument(self) -> bool:
        """A value passed to a template's `parameters:`; the template decides how it runs."""
        return "parameters" in self.keys[:-1]


def shell_texts(file: Path, doc: Any) -> list[ShellText]:
    """Every shell script body of the parsed pipeline ``doc`` (read from ``file``): not
    PowerShell (``pwsh``, ``powershell``, an AzureCLI@2 ``scriptType`` ps or pscore), nor an
    action's ``with:`` input (``actions/github-script`` takes JavaScript there)."""
    found = []
    for keys, node in walk(doc):
        if not isinstance(node, dict) or "with" in keys[-1:]:
            continue
        powershell = str(node.get("scriptType", "")).lower() in ("ps", "pscore", "powershell")
        for key, value in node.items():
            if key in SHELL_KEYS and isinstance(value, str) and not (
                    key in ("pwsh", "powershell") or (powershell and key == "inlineScript")):
                found.append(ShellText(file, (*keys, str(key)), value))
    return found


def logical_lines_with_start(text: str) -> list[tuple[str, str]]:
    """(logical line, its first physical line): continuations joined, heredoc bodies left out."""
    lines: list[tuple[str, str]] = []
    pending, first = "", ""
    heredoc_end: str | None = None
    for raw in text.splitlines():
        if heredoc_end is not None:
            if raw.strip() == heredoc_end:
                heredoc_end = None
            continue
        first = first or raw
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        line = pending + raw
        lines.append((line, first))
        pending, first = "", ""
        marker = HEREDOC.search(line)
        if marker:
            heredoc_end = marker.group(2)
    if pending:
        lines.append((pending, first))
    return lines


def logical_lines(text: str) -> list[str]:
    return [line for line, _ in logical_lines_with_start(text)]


def _replace_balanced(text: str, opener: str, close: str, closer: str) -> str:
    """Replace every ``opener ... closer`` span (with nested ``close`` brackets) by PLACEHOLDER,
    but those that run mlops themselves (``ref=$(mlops ...)``: its line is checked too)."""
    out: list[str] = []
    index = 0
    while (start := text.find(opener, index)) != -1:
        out.append(text[index:start])
        depth, cursor = 1, start + len(opener)
        while cursor < len(text) and depth:
            if text.startswith(closer, cursor) and depth == 1:
                cursor += len(closer)
                depth = 0
                break
            if text[cursor] == opener[-1]:
                depth += 1
            elif text[cursor] == close:
                depth -= 1
            cursor += 1
        span = text[start:cursor]
        out.append(span if _RUNS_MLOPS.search(span) else PLACEHOLDER)
        index = cursor
    out.append(text[index:])
    return "".join(out)


def substitute_macros(line: str) -> str:
    """Azure DevOps macros, template and runtime expressions, and shell variables -> PLACEHOLDER."""
    line = re.sub(r"\$\{\{.*?\}\}", PLACEHOLDER, line)
    line = _replace_balanced(line, "$[", "]", "]")
    # $(macro), $(command args) and $((arithmetic)): a value known when the pipeline runs.
    line = _replace_balanced(line, "$(", ")", ")")
    line = re.sub(r"`[^`]*`", lambda m: m.group(0) if _RUNS_MLOPS.search(m.group(0))
                  else PLACEHOLDER, line)
    line = re.sub(r"\$\{[^}]*\}", PLACEHOLDER, line)
    return re.sub(r"\$[A-Za-z_][A-Za-z0-9_]*|\$[0-9@*#?$!-]", PLACEHOLDER, line)


def simple_commands(line: str) -> list[list[str]]:
    """The simple commands of one shell line, without redirections (raises ValueError on bad quoting)."""
    # A digit glued to a redirection is a file descriptor (2>&1), not an argument.
    line = re.sub(r"(?<!\S)\d+(?=[<>])", " ", line)
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    skip_next = False
    for token in lexer:
        if skip_next:
            skip_next = False
        elif token in COMMAND_SEPARATORS:
            commands.append([])
        elif token in REDIRECTIONS:
            skip_next = True
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


def mlops_args(command: list[str]) -> list[str] | None:
    """The arguments after `mlops` when this simple command runs mlops (itself, or through
    ``env``, ``sudo``, ``timeout N``, ``poetry run``, ``uv run``), else None."""
    words = list(command)
    while words:
        if words[0] in SHELL_PREFIXES or ASSIGNMENT.match(words[0]):
            words.pop(0)
        elif words[0] in ("env", "sudo", "nice"):
            words.pop(0)
            while words and (words[0].startswith("-") or ASSIGNMENT.match(words[0])):
                words.pop(0)
        elif words[0] == "timeout":
            words.pop(0)
            while words and words[0].startswith("-"):
                words.pop(0)
            words = words[1:]  # the duration
        elif words[:2] in (["poetry", "run"], ["uv", "run"], ["pipx", "run"]):
            words = words[2:]
        else:
            break
    if words and (words[0] == "mlops" or words[0].endswith("/mlops")):
        return words[1:]
    return None


@dataclass(frozen=True)
class MlopsLine:
    """One `mlops` invocation found in a pipeline file."""

    file: Path
    line: str
    args: tuple[str, ...]
    start: str = ""

    @property
    def line_number(self) -> int | None:
        """The first physical line's number (YAML loaders forget them; it is searched for)."""
        start = (self.start or self.line).strip()
        return next((n for n, text in enumerate(self.file.read_text(encoding="utf-8").splitlines(), 1)
                     if start and start in text), None)


def mlops_lines_in(text: str, file: Path = Path("-")) -> list[MlopsLine]:
    """The ``mlops`` invocations of a shell text (a script of ``file``)."""
    found: list[MlopsLine] = []
    for line, start in logical_lines_with_start(text):
        if not re.search(r"(^|[\s/;&|(!])mlops(\s|$)", line):
            continue
        try:
            commands = simple_commands(substitute_macros(line))
        except ValueError as exc:
            # A line naming mlops that shlex cannot split cannot be checked: say so rather than skip it.
            found.append(MlopsLine(file, line, ("<unparseable>", str(exc)), start))
            continue
        for command in commands:
            args = mlops_args(command)
            if args is not None:
                found.append(MlopsLine(file, " ".join(line.split()), tuple(args), start))
    return found
