"""YAML reading shared by the config and the pipeline executor.

Every YAML file mlops reads goes through :func:`load`, which refuses a document whose aliases
would expand without bound. Parsing such a file is cheap (an alias is a shared reference), but
everything that walks the result afterwards (``${VAR}`` expansion, validation, JSON) sees the
expanded tree: nine lines of nested aliases ("billion laughs") expand to half a million values
and took 36 s and 1.2 GB before this check.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

#: libyaml's safe loader when PyYAML was built with it (about 5x faster), else the pure one.
SAFE_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

#: Most values aliases may add to a document once expanded. Real configs and pipeline files reuse
#: a few anchors (``<<: *defaults``) and stay far below; a hostile one is refused after composing.
MAX_ALIAS_EXPANSION = 100_000

Location = tuple[str | int, ...]


class AliasExpansionError(yaml.YAMLError):
    """A document whose aliases expand beyond :data:`MAX_ALIAS_EXPANSION` values, or into themselves."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def check_expansion(root: Node, limit: int = MAX_ALIAS_EXPANSION) -> None:
    """Raise :class:`AliasExpansionError` when aliases in ``root`` add more than ``limit`` values.

    The expanded size of each node is computed once (memoised by identity), so the check costs
    one pass over the nodes as written, however far they would expand. Iterative, because a
    deeply nested document must not hit Python's recursion limit here.
    """
    sizes: dict[int, int] = {}
    ancestors: set[int] = set()
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            ancestors.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            continue
        if key in sizes:
            continue
        if key in ancestors:
            line = node.start_mark.line + 1 if node.start_mark is not None else 0
            raise AliasExpansionError(f"an alias refers to the collection that contains it (line {line})")
        ancestors.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    added = sizes[id(root)] - len(sizes)
    if added > limit:
        raise AliasExpansionError(
            f"its aliases would add {added:,} values to it (at most {limit:,} are allowed)")


def compose(text: str) -> Node | None:
    """The node graph of the one YAML document in ``text`` (None when empty), checked for expansion."""
    loader = SAFE_LOADER(text)
    try:
        node = loader.get_single_node()
    finally:
        loader.dispose()
    if node is not None:
        check_expansion(node)
    return node


def load(text: str) -> Any:
    """The one YAML document in ``text``, read with the safe loader (``yaml.safe_load``'s result).

    Raises ``yaml.YAMLError`` for invalid YAML and its subclass :class:`AliasExpansionError` for a
    document whose aliases would expand beyond :data:`MAX_ALIAS_EXPANSION` values.
    """
    loader = SAFE_LOADER(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        check_expansion(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def key_lines(text: str) -> dict[Location, tuple[int, int]]:
    """(line, column), 1-based, of every mapping key and sequence item by path (``{}``: bad YAML).

    Used to list validation problems in the order the file has them.
    """
    try:
        root = compose(text)
    except yaml.YAMLError:
        return {}
    lines: dict[Location, tuple[int, int]] = {}
    seen: set[int] = set()
    stack: list[tuple[Node, Location]] = [(root, ())] if root is not None else []
    while stack:
        node, where = stack.pop()
        if id(node) in seen:
            continue  # an alias: its keys are listed where its anchor is
        seen.add(id(node))
        if isinstance(node, MappingNode):
            for key, value in node.value:
                path = (*where, str(key.value))
                lines.setdefault(path, (key.start_mark.line + 1, key.start_mark.column + 1))
                stack.append((value, path))
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                path = (*where, index)
                lines.setdefault(path, (item.start_mark.line + 1, item.start_mark.column + 1))
                stack.append((item, path))
    return lines
