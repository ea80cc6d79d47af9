"""Offline test doubles for Azure, for this project's tests and for yours.

- ``start_azurite`` runs Azurite, the real Azure Storage emulator (npm), on 127.0.0.1.
- ``SimulatedAzureML`` is an Azure ML workspace the real ``azure-ai-ml`` SDK talks to without a
  network: jobs run, deployments serve, faults can be injected (docs/simulated-azure-ml.md).
- ``FakeCredential`` stands in for ``DefaultAzureCredential``.
"""

from mlops_azure.testing.azurite import ACCOUNT, ACCOUNT_KEY, Azurite, AzuriteNotFound, start_azurite
from mlops_azure.testing.credential import FakeCredential
from mlops_azure.testing.simulator import RecordedCall, SimulatedAzureML

__all__ = [
    "ACCOUNT",
    "ACCOUNT_KEY",
    "Azurite",
    "AzuriteNotFound",
    "FakeCredential",
    "RecordedCall",
    "SimulatedAzureML",
    "start_azurite",
]
