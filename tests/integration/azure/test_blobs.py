"""Our own blob code against Azurite, the real storage emulator."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from mlops_azure.azure.blobs import BlobFolder, datastore_uri, parse_datastore_uri
from mlops_azure.errors import BackendError
from mlops_azure.testing.azurite import Azurite


@pytest.fixture
def folder(azurite: Azurite) -> BlobFolder:
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    made = BlobFolder(service.get_container_client(f"c{secrets.token_hex(6)}"))
    made.ensure()
    made.ensure()  # idempotent
    return made


def test_a_folder_round_trips_with_its_layout(folder: BlobFolder, tmp_path: Path) -> None:
    source = tmp_path / "model"
    (source / "sub").mkdir(parents=True)
    (source / "model.txt").write_text("tree 1\n")
    (source / "sub" / "features.json").write_text("[]")
    assert folder.upload(source, "runs/1") == "runs/1/model"
    got = folder.download("runs/1/model", tmp_path / "back")
    assert (got / "model.txt").read_text() == "tree 1\n"
    assert (got / "sub" / "features.json").read_text() == "[]"
    assert not list(got.rglob("*.partial"))


def test_a_file_round_trips_as_a_file(folder: BlobFolder, tmp_path: Path) -> None:
    source = tmp_path / "purchases.csv"
    source.write_bytes(b"a,b\n1,2\n")
    blob = folder.upload(source, "data/x")
    assert folder.exists(blob) and not folder.exists("data/y")
    got = folder.download(blob, tmp_path / "back")
    assert got.is_file() and got.read_bytes() == b"a,b\n1,2\n"


def test_a_prefix_does_not_match_a_longer_sibling(folder: BlobFolder, tmp_path: Path) -> None:
    (tmp_path / "model10").mkdir()
    (tmp_path / "model10" / "f").write_text("other")
    folder.upload(tmp_path / "model10", "p")
    with pytest.raises(BackendError, match="nothing stored at 'p/model1'"):
        folder.download("p/model1", tmp_path / "back")


def test_written_blobs_are_never_replaced(folder: BlobFolder) -> None:
    from azure.core.exceptions import ResourceExistsError

    folder.write("events/1.json", b"{}", metadata={"action": "x"})
    with pytest.raises(ResourceExistsError):
        folder.write("events/1.json", b"{changed}")
    assert folder.read("events/1.json") == b"{}"


def test_datastore_uris_short_and_long() -> None:
    assert parse_datastore_uri(datastore_uri("workspaceblobstore", "a/b/")) == (
        "workspaceblobstore", "a/b/")
    long = ("azureml://subscriptions/s/resourcegroups/rg/workspaces/w/datastores/"
            "workspaceblobstore/paths/azureml/job1/model/")
    assert parse_datastore_uri(long) == ("workspaceblobstore", "azureml/job1/model/")
    with pytest.raises(BackendError):
        parse_datastore_uri("https://example.invalid/x")
