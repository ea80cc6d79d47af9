"""Fixtures shared by every test folder: Azurite (the real Azure Storage emulator), the simulated
Azure ML service over it, an ``AzureWorkspace`` that talks to that service, a throwaway
PostgreSQL cluster and a headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import pytest

from mlops_azure.testing.azurite import Azurite, start_azurite

if TYPE_CHECKING:
    from mlops_azure.azure import AzureWorkspace
    from mlops_azure.testing import SimulatedAzureML
    from tests.support.chromium import Chromium
    from tests.support.postgres import Postgres


@pytest.fixture(scope="session", autouse=True)
def no_managed_identity_probe() -> Iterator[None]:
    """Whatever a test builds, DefaultAzureCredential may only try the Azure CLI (absent here),
    so it never probes the managed-identity address 169.254.169.254."""
    import os

    before = os.environ.get("AZURE_TOKEN_CREDENTIALS")
    os.environ["AZURE_TOKEN_CREDENTIALS"] = "AzureCliCredential"
    yield
    if before is None:
        os.environ.pop("AZURE_TOKEN_CREDENTIALS", None)
    else:
        os.environ["AZURE_TOKEN_CREDENTIALS"] = before


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """One Azurite blob service on 127.0.0.1 for the session (in memory, no telemetry)."""
    started = start_azurite(Path(tmp_path_factory.mktemp("azurite")))
    try:
        yield started
    finally:
        started.stop()


def _skip_loudly(message: str) -> NoReturn:
    """Skip with ``message`` as a warning in the summary too: a green run must not hide that a
    whole group of tests did not run."""
    import warnings

    warnings.warn(message, pytest.PytestWarning, stacklevel=2)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Postgres]:
    """One throwaway PostgreSQL cluster on 127.0.0.1 for the session (fsync off, password auth).

    Without the server binaries the tests that need it are skipped, loudly: a warning in the
    summary as well as the skip reason, so a green run cannot hide that they did not run."""
    from tests.support.postgres import PostgresNotFound, start_postgres

    try:
        started = start_postgres(Path(tmp_path_factory.mktemp("postgres")))
    except PostgresNotFound as exc:
        _skip_loudly(f"POSTGRESQL TESTS SKIPPED: {exc} (as root, `make test` installs it with "
                     "apt-get install postgresql)")
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def azure_sim(
    azurite: Azurite, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[SimulatedAzureML]:
    """A fresh simulated Azure ML workspace whose storage is the session's Azurite."""
    from mlops_azure.testing import SimulatedAzureML

    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    monkeypatch.setenv("AZUREML_CURRENT_CLOUD", "AzureCloud")  # MLClient sets it; restore after
    with SimulatedAzureML(azurite.connection_string, tmp_path / "azure-sim") as sim:
        yield sim


@pytest.fixture
def azure_workspace(azure_sim: SimulatedAzureML, tmp_path: Path) -> AzureWorkspace:
    """An AzureWorkspace over the simulated service, with a fake credential and quick polling."""
    from mlops_azure.azure import AzureCoordinates, AzureWorkspace
    from mlops_azure.testing import FakeCredential

    coords = AzureCoordinates(azure_sim.subscription, azure_sim.resource_group,
                              azure_sim.workspace, retries=3, retry_backoff_s=0.01,
                              operation_timeout_s=120)
    return AzureWorkspace(coords, tmp_path / "azure-cache", credential=FakeCredential(),
                          poll_interval_s=0.05)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Chromium]:
    """One headless Chromium for the session (fresh profile, no network, DevTools over a pipe).

    Without Debian's ``chromium`` package the tests that need it are skipped, loudly: a warning in
    the summary as well as the skip reason, so a green run cannot hide that no page was rendered."""
    from tests.support.chromium import Chromium, ChromiumNotFound

    try:
        started = Chromium()
    except ChromiumNotFound as exc:
        _skip_loudly(f"CHROMIUM TESTS SKIPPED (model card rendering not checked in a browser): "
                     f"{exc} (as root, `make test` installs it with apt-get install chromium)")
    try:
        yield started
    finally:
        started.close()
