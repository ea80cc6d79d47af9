"""Compute and environments on the Azure workspace over the simulated service: created once,
found afterwards, and a changed conda file is a new environment version."""

from __future__ import annotations

import shutil
from pathlib import Path

from mlops_azure.azure import AzureWorkspace
from mlops_azure.testing import SimulatedAzureML

PROJECT_ENVIRONMENTS = Path(__file__).resolve().parents[3] / "examples" / "steel" / "environments"


def test_infrastructure_is_created_once_and_versioned_by_content(
    azure_sim: SimulatedAzureML, azure_workspace: AzureWorkspace, tmp_path: Path
) -> None:
    environments = tmp_path / "environments"
    shutil.copytree(PROJECT_ENVIRONMENTS, environments)
    azure_workspace.infrastructure.environments_dir = environments
    first = azure_workspace.infrastructure.ensure()
    assert first[0].startswith("compute cpu-cluster: created")
    put = azure_sim.calls_to("PUT", r"/computes/cpu-cluster$")[0].body["properties"]
    assert put["computeType"] == "AmlCompute"
    assert put["properties"]["scaleSettings"]["minNodeCount"] == 0

    again = AzureWorkspace(azure_workspace.conn.coords, tmp_path / "cache2",
                           credential=azure_workspace.conn.credential, environments_dir=environments)
    puts = len(azure_sim.calls_to("PUT", r"/(computes|environments)/"))
    assert again.infrastructure.ensure()[0] == "compute cpu-cluster: exists (amlcompute)"
    assert again.infrastructure.ensure() and len(
        azure_sim.calls_to("PUT", r"/(computes|environments)/")) == puts  # nothing re-created

    conda = environments / "training.yml"
    conda.write_text(conda.read_text() + "      - scipy>=1.11\n")
    changed = AzureWorkspace(azure_workspace.conn.coords, tmp_path / "cache3",
                             credential=azure_workspace.conn.credential, environments_dir=environments)
    before, after = (again.infrastructure.ensure_environments(),
                     changed.infrastructure.ensure_environments())
    assert before["steel-inference"] == after["steel-inference"]
    assert before["steel-training"] != after["steel-training"]
