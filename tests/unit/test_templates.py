"""How mlops init puts a project in place: all or nothing, and the files it wrote marked so that
--force can tell whether anyone changed them."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_azure.templates import mark_written, staged_project, unchanged_since_written


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


def test_an_init_that_fails_leaves_the_folder_as_it_was(tmp_path: Path) -> None:
    fresh = tmp_path / "fresh"
    with pytest.raises(RuntimeError), staged_project(fresh) as staging:
        (staging / "mlops.yaml").write_text("new\n")
        raise RuntimeError("interrupted")
    assert not fresh.exists()  # made by the init, so gone with it
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "mlops.yaml").write_text("mine\n")
    with pytest.raises(RuntimeError), staged_project(existing) as staging:
        (staging / "mlops.yaml").write_text("new\n")
        raise RuntimeError("interrupted")
    assert [p.name for p in existing.iterdir()] == ["mlops.yaml"]
    assert (existing / "mlops.yaml").read_text() == "mine\n"


def test_a_failure_while_putting_the_project_in_place_puts_the_old_one_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "project"
    (root / "components").mkdir(parents=True)
    (root / "components" / "train.py").write_text("mine\n")
    (root / "mlops.yaml").write_text("mine\n")
    real_replace = Path.replace

    def failing(self: Path, target: Path) -> Path:
        if self.name == "mlops.yaml" and ".mlops-init-" in str(self):
            raise OSError(18, "Invalid cross-device link")
        return real_replace(self, target)

    monkeypatch.setattr(Path, "replace", failing)
    with pytest.raises(OSError), staged_project(root) as staging:
        (staging / "components").mkdir()
        (staging / "components" / "train.py").write_text("new\n")
        (staging / "mlops.yaml").write_text("new\n")
    assert sorted(p.name for p in root.iterdir()) == ["components", "mlops.yaml"]
    assert (root / "components" / "train.py").read_text() == "mine\n"
    assert (root / "mlops.yaml").read_text() == "mine\n"


def test_the_project_replaces_what_was_there(tmp_path: Path) -> None:
    root = tmp_path / "project"
    (root / "components").mkdir(parents=True)
    (root / "components" / "old.py").write_text("old\n")
    (root / ".gitignore").write_text("mine\n")
    with staged_project(root) as staging:
        (staging / "components").mkdir()
        (staging / "components" / "new.py").write_text("new\n")
    assert sorted(p.name for p in root.iterdir()) == [".gitignore", "components"]
    assert [p.name for p in (root / "components").iterdir()] == ["new.py"]
    assert (root / ".gitignore").read_text() == "mine\n"
