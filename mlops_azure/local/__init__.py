"""The embedded workspace: SQLite metadata, content-addressed artifacts, local pipeline runs."""

from mlops_azure.local.workspace import LocalWorkspace

__all__ = ["LocalWorkspace"]
