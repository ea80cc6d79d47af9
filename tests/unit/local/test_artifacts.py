"""The content-addressed artifact store: atomic puts, verification."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlops_azure._tree_hash import tree_hash
from mlops_azure.errors import BackendError, UserInputError
from mlops_azure.local.artifacts import ArtifactStore
from tests.unit.test_tree_hash import FILES, make_tree


def visible_artifacts(store: ArtifactStore) -> list[Path]:
    objects = store.root / "sha256"
    return sorted(objects.glob("*/*")) if objects.exists() else []


def test_put_copies_a_folder_under_its_digest(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store")
    source = make_tree(tmp_path / "src", FILES)
    stored = store.put(source)
    assert stored.sha256 == tree_hash(source).sha256
    assert stored.path == tmp_path / "store" / "sha256" / stored.sha256[:2] / stored.sha256
    assert (stored.path / "meta" / "z.bin").read_bytes() == FILES["meta/z.bin"]
    assert store.verify(stored.path, stored.sha256)


def test_put_of_a_file_keeps_its_name(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store")
    (tmp_path / "train.csv").write_bytes(b"a,b\n1,2\n")
    stored = store.put(tmp_path / "train.csv")
    assert stored.path.name == "train.csv"
    assert stored.path.parent == store.location(stored.sha256)
    assert stored.path.read_bytes() == b"a,b\n1,2\n"
    assert store.verify(stored.path, stored.sha256)


def test_identical_content_is_stored_once(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store")
    one = store.put(make_tree(tmp_path / "one", FILES))
    two = store.put(make_tree(tmp_path / "two", FILES))
    assert one == two
    assert len(visible_artifacts(store)) == 1
    other = store.put(make_tree(tmp_path / "three", {**FILES, "extra": b"!"}))
    assert other.sha256 != one.sha256
    assert len(visible_artifacts(store)) == 2
    assert list((store.root / "tmp").iterdir()) == []


def test_a_failure_between_copy_and_rename_leaves_nothing_visible(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ArtifactStore(tmp_path / "store")

    def crash(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)  # the rename that publishes a staged copy
    with pytest.raises(BackendError, match="cannot store"):
        store.put(make_tree(tmp_path / "src", FILES))
    assert visible_artifacts(store) == []
    assert list((store.root / "tmp").iterdir()) == []


def test_a_process_killed_between_copy_and_rename_leaves_nothing_visible(tmp_path: Path) -> None:
    source = make_tree(tmp_path / "src", FILES)
    child = textwrap.dedent(
        """
        import os, signal, sys
        from pathlib import Path
        from mlops_azure.local import artifacts

        def die(src, dst):
            os.kill(os.getpid(), signal.SIGKILL)

        artifacts.os.replace = die
        artifacts.ArtifactStore(Path(sys.argv[1])).put(Path(sys.argv[2]))
        """
    )
    done = subprocess.run([sys.executable, "-c", child, str(tmp_path / "store"), str(source)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == -9, done.stderr
    store = ArtifactStore(tmp_path / "store")
    leftovers = list((store.root / "tmp").iterdir())
    assert len(leftovers) == 1  # the staged copy was complete, but never published
    assert (leftovers[0] / "model.txt").read_bytes() == FILES["model.txt"]
    assert visible_artifacts(store) == []
    assert store.sweep() == 1
    assert list((store.root / "tmp").iterdir()) == []
    assert store.put(source).sha256 == tree_hash(source).sha256


def test_sweep_keeps_staging_folders_of_live_processes(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store")
    mine = store.root / "tmp" / f"{os.getpid()}-abcdef-{socket.gethostname()}"
    mine.mkdir(parents=True)
    assert store.sweep() == 0
    assert mine.exists()


@pytest.mark.parametrize("alteration", ["edit", "add", "delete", "remove-all"])
def test_verify_detects_altered_artifacts(tmp_path: Path, alteration: str) -> None:
    store = ArtifactStore(tmp_path / "store")
    stored = store.put(make_tree(tmp_path / "src", FILES))
    if alteration == "edit":
        (stored.path / "model.txt").write_bytes(b"weights 1 2 4\n")
    elif alteration == "add":
        (stored.path / "sneaky.txt").write_bytes(b"")
    elif alteration == "delete":
        (stored.path / "meta" / "params.json").unlink()
    else:
        shutil.rmtree(stored.path)
    assert not store.verify(stored.path, stored.sha256)


def test_verify_refuses_paths_outside_the_store(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store")
    source = make_tree(tmp_path / "src", FILES)
    assert not store.verify(source, tree_hash(source).sha256)


def test_put_repairs_an_altered_copy(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store")
    source = make_tree(tmp_path / "src", FILES)
    stored = store.put(source)
    (stored.path / "model.txt").write_bytes(b"tampered")
    again = store.put(source)
    assert again == stored
    assert store.verify(stored.path, stored.sha256)
    assert (stored.path / "model.txt").read_bytes() == FILES["model.txt"]


def test_missing_source_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="does not exist"):
        ArtifactStore(tmp_path / "store").put(tmp_path / "nope")


def test_a_moved_store_finds_its_artifacts_by_digest(tmp_path: Path) -> None:
    # Regression: workspaces recorded absolute paths, so a copied or moved project lost its models.
    old = ArtifactStore(tmp_path / "old")
    file_artifact = old.put(make_tree(tmp_path / "src", {"a.txt": b"x"}) / "a.txt")
    folder_artifact = old.put(make_tree(tmp_path / "dir", {"m/model.txt": b"y"}))
    shutil.copytree(tmp_path / "old", tmp_path / "new")
    shutil.rmtree(tmp_path / "old")
    new = ArtifactStore(tmp_path / "new")

    for artifact in (file_artifact, folder_artifact):
        moved = new.relocate(artifact.path, artifact.sha256)
        assert moved.is_relative_to(tmp_path / "new")
        assert new.verify(moved, artifact.sha256)
