"""The ``mlops-tree-v1`` hash both backends name content by."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from mlops_azure._tree_hash import tree_hash
from mlops_azure.errors import UserInputError


def make_tree(root: Path, files: dict[str, bytes]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content)
    return root


FILES = {"model.txt": b"weights 1 2 3\n", "meta/params.json": b'{"a": 1}', "meta/z.bin": bytes(range(256))}


def test_tree_hash_does_not_depend_on_creation_order(tmp_path: Path) -> None:
    first = make_tree(tmp_path / "a", FILES)
    second = make_tree(tmp_path / "b", dict(reversed(list(FILES.items()))))
    assert tree_hash(first) == tree_hash(second)
    assert tree_hash(first).files == 3
    assert tree_hash(first).size_bytes == sum(len(c) for c in FILES.values())


def test_tree_hash_follows_the_documented_scheme(tmp_path: Path) -> None:
    folder = make_tree(tmp_path / "a", FILES)
    lines = "".join(
        f"{rel}\0{len(content)}\0{hashlib.sha256(content).hexdigest()}\n"
        for rel, content in sorted(FILES.items(), key=lambda item: item[0].encode())
    )
    expected = hashlib.sha256(f"mlops-tree-v1 folder\n{lines}".encode()).hexdigest()
    assert tree_hash(folder).sha256 == expected


def test_tree_hash_changes_with_any_byte(tmp_path: Path) -> None:
    folder = make_tree(tmp_path / "a", FILES)
    before = tree_hash(folder).sha256
    (folder / "meta" / "z.bin").write_bytes(bytes(range(255)) + b"\x00")
    assert tree_hash(folder).sha256 != before


def test_tree_hash_includes_relative_paths(tmp_path: Path) -> None:
    folder = make_tree(tmp_path / "a", FILES)
    before = tree_hash(folder).sha256
    (folder / "model.txt").rename(folder / "meta" / "model.txt")  # same bytes, other place
    moved = tree_hash(folder).sha256
    assert moved != before
    (folder / "meta" / "model.txt").rename(folder / "meta" / "renamed.txt")
    assert tree_hash(folder).sha256 not in (before, moved)


def test_a_file_and_a_folder_holding_it_hash_differently(tmp_path: Path) -> None:
    folder = make_tree(tmp_path / "a", {"data.csv": b"x,y\n1,2\n"})
    assert tree_hash(folder).sha256 != tree_hash(folder / "data.csv").sha256


def test_a_file_hash_includes_its_name(tmp_path: Path) -> None:
    (tmp_path / "one.csv").write_bytes(b"x\n1\n")
    (tmp_path / "two.csv").write_bytes(b"x\n1\n")
    assert tree_hash(tmp_path / "one.csv").sha256 != tree_hash(tmp_path / "two.csv").sha256


def test_empty_folders_do_not_count(tmp_path: Path) -> None:
    folder = make_tree(tmp_path / "a", FILES)
    before = tree_hash(folder).sha256
    (folder / "empty" / "deeper").mkdir(parents=True)
    assert tree_hash(folder).sha256 == before


def test_links_to_folders_are_refused(tmp_path: Path) -> None:
    folder = make_tree(tmp_path / "a", FILES)
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    with pytest.raises(UserInputError, match="link to a folder"):
        tree_hash(folder)
