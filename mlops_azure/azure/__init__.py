"""The Azure ML backend: ``AzureWorkspace`` over azure-ai-ml, azure-identity and azure-storage-blob.

Importing this package is cheap; ``azure.ai.ml`` is imported on the first operation.
"""

from mlops_azure.azure.client import AzureCoordinates, default_credential
from mlops_azure.azure.workspace import AzureWorkspace

__all__ = ["AzureCoordinates", "AzureWorkspace", "default_credential"]
