"""``mlops watch data --once`` through the CLI against Azurite."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from azure.storage.blob import ContainerClient
from typer.testing import CliRunner

from mlops_azure.cli.main import app
from mlops_azure.testing.azurite import Azurite


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_once_trains_on_a_new_blob_then_finds_nothing(
        project_dir: Path, azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    name = f"landing-{secrets.token_hex(4)}"
    container = ContainerClient.from_connection_string(azurite.connection_string, name)
    container.create_container()
    container.upload_blob("extracts/2024-12.csv", Path("data/purchases.csv").read_bytes())
    code, out, err = invoke("--json", "watch", "data", "--container", name, "--prefix",
                            "extracts/", "--once")
    assert code == 0, err
    [result] = json.loads(out)
    assert result["phase"] == "done" and result["registered"] == "steel-purchase-forecast:1"
    code, out, _ = invoke("watch", "data", "--container", name, "--once")
    assert code == 0 and "no new blobs" in out

    container.upload_blob("extracts/broken.csv", b"period,quantity_tonnes\n2024-01-01,1\n")
    code, _, err = invoke("watch", "data", "--container", name, "--once")
    assert code == 1 and "1 of 1 new blobs failed training" in err
    container.delete_container()


def test_bad_input_is_one_sentence(project_dir: Path, azurite: Azurite,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    code, _, err = invoke("watch", "data", "--container", "c", "--once")
    assert code == 2 and "--account-url" in err and len(err.strip().splitlines()) == 1
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    code, _, err = invoke("watch", "data", "--container", "missing", "--once")
    assert code == 2 and "does not exist" in err and len(err.strip().splitlines()) == 1
    code, _, err = invoke("watch", "data", "--container", "c", "--interval", "0")
    assert code == 2 and "--interval" in err
