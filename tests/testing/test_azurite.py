"""Azurite really works end to end: the session fixture starts it and a blob goes in and out."""

from __future__ import annotations

import pytest

from mlops_azure.testing.azurite import Azurite


def test_a_blob_round_trip_through_azurite(azurite: Azurite) -> None:
    from azure.storage.blob import BlobServiceClient

    assert azurite.account_url.startswith("http://127.0.0.1:")  # never anywhere else
    service = BlobServiceClient.from_connection_string(azurite.connection_string)
    container = service.get_container_client("round-trip")
    container.create_container()
    try:
        container.upload_blob("hello/world.txt", b"hello from mlops-azure")
        assert container.download_blob("hello/world.txt").readall() == b"hello from mlops-azure"
        assert [b.name for b in container.list_blobs()] == ["hello/world.txt"]
    finally:
        container.delete_container()


def test_a_missing_blob_is_reported_as_such(azurite: Azurite) -> None:
    from azure.core.exceptions import ResourceNotFoundError
    from azure.storage.blob import BlobClient

    blob = BlobClient.from_connection_string(azurite.connection_string, "nowhere", "nothing.txt")
    with pytest.raises(ResourceNotFoundError):
        blob.download_blob()
