"""Changing settings in ``mlops.yaml`` without losing what the user wrote: comments, key order,
quoting and layout stay, and every line a change does not touch stays byte for byte.

ruamel.yaml reads the file in round-trip mode (positions of every key, comments; PyYAML drops
both). Re-emitting a whole document would still re-flow long plain scalars and normalise
indentation, so each change is a text edit: the changed key's own lines are replaced by the
key emitted alone at its indentation (its end-of-line comment and the comments after it kept),
and a new key is inserted after the last line of its section. The result must load
(``load_config``) before it replaces the file, and it replaces it atomically.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from mlops_azure._files import atomic_write
from mlops_azure.errors import UserInputError

_KEY_LINE = re.compile(r"^( +)[^\s#-][^:]*:(\s|$)")


def set_settings(path: Path, settings: Mapping[str, Any]) -> None:
    """Set ``settings`` in the config file at ``path``, keeping its comments and order.

    Keys are dotted paths (``"training.pipeline"``); missing sections are created (new top-level
    ones at the end of the file). A mapping value is merged key by key into what is there; any
    other value replaces it. Lists of plain values are written in flow style (``[a, b]``). If the
    result would not be a valid config, ``UserInputError`` says why and the file is unchanged.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserInputError(f"{path}: cannot be read: {exc}") from None
    for parts, value in _leaves(settings, []):
        text = _set_one(path, text, parts, value)
    _check(path, text)
    mode = path.stat().st_mode & 0o777
    atomic_write(path, text.encode("utf-8"))
    os.chmod(path, mode)  # atomic_write's file is private; the user's file keeps its mode


def _leaves(settings: Mapping[str, Any], prefix: list[str]) -> Iterator[tuple[list[str], Any]]:
    """(path, value) for every non-mapping value, and for empty mappings."""
    for dotted, value in settings.items():
        parts = [*prefix, *str(dotted).split(".")]
        if not all(part.strip() for part in parts):
            raise UserInputError(f"'{dotted}' is not a setting path (e.g. training.pipeline)")
        if isinstance(value, Mapping) and value:
            yield from _leaves(value, parts)
        else:
            yield parts, value


def _set_one(path: Path, text: str, parts: list[str], value: Any) -> str:
    from ruamel.yaml.comments import CommentedMap
    from ruamel.yaml.error import YAMLError

    yaml = _yaml(text)
    try:
        document = yaml.load(text)
    except YAMLError as exc:
        raise UserInputError(f"{path}: not valid YAML, so it is left as it is: "
                             f"{str(exc).splitlines()[0]}") from None
    if not isinstance(document, CommentedMap):
        raise UserInputError(f"{path}: expected a mapping of settings at the top level")
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    # The deepest section of the path that exists, and the key of it to set.
    node, depth, section_key = document, 0, None
    while depth < len(parts) - 1 and isinstance(node.get(parts[depth]), CommentedMap):
        section_key = (node, parts[depth])
        node, depth = node[parts[depth]], depth + 1
    key = parts[depth]
    if depth < len(parts) - 1 and node.get(key) is not None:
        where = ".".join(parts[:depth + 1])
        raise UserInputError(f"cannot set {'.'.join(parts)}: {where} is not a section of settings")
    new = _nest(parts[depth + 1:], value)
    if key in node:
        return "".join(_replace(yaml, document, lines, node, key, new))
    if node is document:
        block = _emit(yaml, key, new, 0)
        return "".join([*lines, *(["\n"] if lines and lines[-1].strip() else []), *block])
    assert section_key is not None
    parent, name = section_key
    if not node or node.fa.flow_style():
        # Lines cannot go inside `{...}`: the section is written again, in its own style.
        merged = CommentedMap(node)
        if node.fa.flow_style():
            merged.fa.set_flow_style()
        merged[key] = _styled(new)
        return "".join(_replace(yaml, document, lines, parent, name, merged))
    child_col = node.lc.key(next(iter(node)))[1]
    line, col = parent.lc.key(name)
    end = _content_end(lines, line, _range_end(document, line, col, len(lines)))
    lines[end:end] = _emit(yaml, key, new, child_col)
    return "".join(lines)


def _replace(yaml: Any, document: Any, lines: list[str], node: Any, key: str,
             value: Any) -> list[str]:
    """``lines`` with ``node[key]``'s own lines replaced by ``key: value``."""
    line, col = node.lc.key(key)
    end = _range_end(document, line, col, len(lines))
    content_end = _content_end(lines, line, end)
    block = _emit(yaml, key, value, col)
    comment = node.ca.items.get(key, [None] * 4)[2]
    if comment is not None and comment.start_mark.line == line and len(block) == 1:
        # The end-of-line comment of a one-line value, at its column when there is room.
        kept = lines[line][comment.start_mark.column:].rstrip("\n")
        body = block[0].rstrip("\n")
        block = [body.ljust(max(comment.start_mark.column, len(body) + 2)) + kept + "\n"]
    return [*lines[:line], *block, *lines[content_end:]]


def _range_end(document: Any, line: int, col: int, total: int) -> int:
    """The first line after ``line`` holding a key at column ``col`` or left of it (else EOF):
    where the value of the key at (line, col), and the comments after it, end."""
    after = [at for at, at_col in _key_positions(document) if at > line and at_col <= col]
    return min(after, default=total)


def _content_end(lines: list[str], line: int, end: int) -> int:
    """``end`` moved up past the blank and comment lines that close the range."""
    while end > line + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1
    return end


def _key_positions(node: Any) -> Iterator[tuple[int, int]]:
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(node, CommentedMap):
        for key, value in node.items():
            yield node.lc.key(key)
            yield from _key_positions(value)
    elif isinstance(node, CommentedSeq):
        for value in node:
            yield from _key_positions(value)


def _nest(parts: list[str], value: Any) -> Any:
    for part in reversed(parts):
        value = {part: value}
    return value


def _yaml(text: str) -> Any:
    """A round-trip YAML that writes in the file's own indentation and line width."""
    from ruamel.yaml import YAML
    from ruamel.yaml.util import load_yaml_guess_indent

    yaml = YAML()
    yaml.preserve_quotes = True
    mapping = min((len(m.group(1)) for m in map(_KEY_LINE.match, text.splitlines()) if m),
                  default=2)
    _, sequence, offset = load_yaml_guess_indent(text)
    if offset is None or sequence is None or sequence <= offset:
        sequence, offset = mapping, 0
    yaml.indent(mapping=mapping, sequence=sequence, offset=offset)
    yaml.width = max([80, *(len(line) for line in text.splitlines())])
    return yaml


def _styled(value: Any) -> Any:
    """Plain Python values as ruamel nodes: mappings in block style, scalar lists in flow style."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq

    if isinstance(value, CommentedMap | CommentedSeq):
        return value  # read from the file: it keeps its own style
    if isinstance(value, Mapping):
        out = CommentedMap()
        for key, inner in value.items():
            out[str(key)] = _styled(inner)
        return out
    if isinstance(value, list | tuple):
        seq = CommentedSeq(_styled(v) for v in value)
        if not any(isinstance(v, Mapping | list | tuple) for v in value):
            seq.fa.set_flow_style()
        return seq
    return value


def _emit(yaml: Any, key: str, value: Any, col: int) -> list[str]:
    """``key: value`` as YAML lines indented by ``col``."""
    from ruamel.yaml.comments import CommentedMap

    single = CommentedMap()
    single[key] = _styled(value)
    out = io.StringIO()
    yaml.dump(single, out)
    return [(" " * col + line) if line.strip() else line
            for line in out.getvalue().splitlines(keepends=True)]


def _check(path: Path, text: str) -> None:
    """Refuse ``text`` unless it loads as a config, read from beside ``path`` (so relative paths
    and ``${VAR}`` resolve as they will)."""
    from mlops_azure.config._project import load_config

    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".check")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        load_config(Path(tmp))
    except UserInputError as exc:
        reason = str(exc).replace(tmp, str(path))
        raise UserInputError(f"{reason} (after the change; {path} is left as it was)") from None
    finally:
        Path(tmp).unlink(missing_ok=True)
