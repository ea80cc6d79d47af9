"""Azurite really works end to end: the session fixture starts it and a blob goes in and out."""

from __future__ import annotations

from pathlib import Path

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


def test_azurite_stops_when_the_process_that_started_it_is_killed(tmp_path: Path) -> None:
    import socket
    import subprocess
    import sys
    import time

    script = ("import os, signal, sys; from pathlib import Path\n"
              "from mlops_azure.testing.azurite import start_azurite\n"
              f"a = start_azurite(Path({str(tmp_path)!r}))\n"
              "print(a.port, flush=True)\n"
              "os.kill(os.getpid(), signal.SIGKILL)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60)
    port = int(done.stdout.strip())
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) != 0:
                return  # the emulator went away with its parent
        time.sleep(0.2)
    raise AssertionError(f"Azurite on port {port} outlived the process that started it")
