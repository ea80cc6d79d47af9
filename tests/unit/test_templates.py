"""The files mlops init writes, marked so that --force can tell whether anyone changed them."""

from __future__ import annotations

from pathlib import Path

from mlops_azure.templates import mark_written, unchanged_since_written


def test_a_marked_file_is_unchanged_until_someone_edits_it(tmp_path: Path) -> None:
    path = tmp_path / "ci.yml"
    path.write_text(mark_written("trigger: none\n"), encoding="utf-8")
    assert len(path.read_text().splitlines()[0]) <= 88  # the project's own linters read it
    assert unchanged_since_written(path)
    path.write_text(path.read_text() + "pool: mine\n", encoding="utf-8")
    assert not unchanged_since_written(path)


def test_files_mlops_never_wrote_are_not_its_to_replace(tmp_path: Path) -> None:
    plain = tmp_path / "plain.yml"
    plain.write_text("trigger: none\n", encoding="utf-8")
    binary = tmp_path / "blob.bin"
    binary.write_bytes(b"\xff\xfe\x00")
    assert not unchanged_since_written(plain)
    assert not unchanged_since_written(binary)
    assert not unchanged_since_written(tmp_path / "missing.yml")
