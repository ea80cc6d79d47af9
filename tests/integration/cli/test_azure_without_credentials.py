"""Every ``--backend azure`` command without Azure: exit 3, one sentence, no traceback, no hang.

The credential chain is narrowed to the Azure CLI (not installed here), so
``DefaultAzureCredential`` fails at once and never probes the managed-identity address; a proxy on
a closed loopback port catches anything that would still try to leave the machine.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlops_azure.cli.main import app
from mlops_azure.cli.state import STATE
from mlops_azure.example.scaffold import init_project

MLOPS = str(Path(sys.executable).with_name("mlops"))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the socket is


@pytest.fixture
def offline_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    root = tmp_path / "proj"
    init_project(root)
    monkeypatch.chdir(root)
    proxy = f"http://127.0.0.1:{_closed_port()}"
    env = {
        "AZURE_TOKEN_CREDENTIALS": "AzureCliCredential",
        "HTTP_PROXY": proxy, "HTTPS_PROXY": proxy, "NO_PROXY": "",
        "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000",
        "AZURE_RESOURCE_GROUP": "rg-offline", "AZUREML_WORKSPACE_NAME": "mlw-offline",
        "PATH": os.path.dirname(sys.executable) + os.pathsep + "/usr/bin:/bin",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)
    yield env
    STATE.__init__()  # type: ignore[misc]  # the CLI keeps global state per process


COMMANDS = [
    ["status"],
    ["data", "upload", "data/purchases.csv", "--name", "steel-purchases"],
    ["data", "list"],
    ["data", "check", "azureml:steel-purchases:1"],
    ["train"],
    ["models", "list"],
    ["models", "show", "steel-purchase-forecast:1"],
    ["jobs", "list"],
    ["deploy", "steel-purchase-forecast:1", "--stage", "staging"],
    ["promote", "steel-purchase-forecast:1", "--stage", "production"],
    ["rollback", "--stage", "production"],
    ["endpoints", "list"],
    ["history"],
    ["infra", "ensure"],
]


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a[:2]))
def test_each_command_fails_with_one_sentence(offline_env: dict[str, str], args: list[str]) -> None:
    result = CliRunner().invoke(app, ["--backend", "azure", *args])
    assert result.exit_code == 3, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, result.stderr  # progress lines may come first; one error line
    assert "AzureCliCredential" in errors[0] and "az login" in errors[0]
    assert "Traceback" not in result.output


def test_as_a_real_process_within_seconds(offline_env: dict[str, str]) -> None:
    done = subprocess.run([MLOPS, "--backend", "azure", "status"], capture_output=True, text=True,
                          timeout=60, env={**os.environ, **offline_env})
    assert done.returncode == 3
    assert done.stderr.startswith("error: cannot sign in to Azure")
    assert "Traceback" not in done.stderr
