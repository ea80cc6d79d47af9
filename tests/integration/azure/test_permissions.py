"""A refused request names the role that operation needs, not one role for everything."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_azure.azure import AzureWorkspace
from mlops_azure.errors import BackendError
from mlops_azure.testing import SimulatedAzureML


def test_a_refused_blob_upload_asks_for_storage_blob_data_contributor(
        azure_sim: SimulatedAzureML, azure_workspace: AzureWorkspace, tmp_path: Path) -> None:
    rows = tmp_path / "rows.csv"
    rows.write_text("a,b\n1,2\n")
    azure_sim.inject("PUT", r"/mlops/data/sales/", 403, storage=True)
    with pytest.raises(BackendError) as caught:
        azure_workspace.data.upload("sales", rows)
    assert "Storage Blob Data Contributor" in caught.value.message
    assert "AzureML Data Scientist" not in caught.value.message


def test_a_refused_compute_creation_asks_for_compute_operator(
        azure_sim: SimulatedAzureML, azure_workspace: AzureWorkspace) -> None:
    azure_sim.inject("PUT", r"/computes/cpu-cluster$", 403)
    with pytest.raises(BackendError) as caught:
        azure_workspace.infrastructure.ensure_compute()
    assert "AzureML Compute Operator" in caught.value.message


def test_other_refusals_ask_for_data_scientist(
        azure_sim: SimulatedAzureML, azure_workspace: AzureWorkspace) -> None:
    azure_sim.inject("GET", r"/models$", 403)
    with pytest.raises(BackendError, match="AzureML Data Scientist"):
        azure_workspace.models.versions()
