"""Fixtures shared by every test folder: Azurite, the real Azure Storage emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from mlops_azure.testing.azurite import Azurite, start_azurite


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """One Azurite blob service on 127.0.0.1 for the session (in memory, no telemetry)."""
    started = start_azurite(Path(tmp_path_factory.mktemp("azurite")))
    try:
        yield started
    finally:
        started.stop()
