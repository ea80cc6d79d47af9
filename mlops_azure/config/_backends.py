"""``local:`` and ``azure:``: where the workspace is."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import Field

from mlops_azure.config._base import _Strict
from mlops_azure.errors import UserInputError


class AzureConfig(_Strict):
    """Azure ML workspace coordinates; blanks fall back to config.json or ``AZURE_*`` variables."""

    subscription_id: str | None = None
    resource_group: str | None = None
    workspace_name: str | None = None
    config_file: Path | None = None
    #: The training cluster (AmlCompute, scales to 0 nodes when idle) and its VM size.
    compute: str = "cpu-cluster"
    compute_size: str = "Standard_DS3_v2"
    compute_max_nodes: int = Field(4, ge=1, le=100)
    #: The attached AKS compute that hosts ``kubernetes`` endpoints (a stage's ``compute`` wins).
    kubernetes_compute: str | None = None
    #: Transient faults (429, 5xx, dropped connections) are retried this many times.
    retries: int = Field(4, ge=0, le=10)
    retry_backoff_s: float = Field(0.8, ge=0, le=60)
    #: Longest wait for a long-running operation (endpoint, deployment, compute).
    operation_timeout_s: float = Field(1800.0, gt=0)
    #: How often a running job's status is asked for.
    poll_interval_s: float = Field(10.0, gt=0, le=600)

    def coordinates(self, root: Path) -> tuple[str, str, str]:
        """(subscription, resource group, workspace) from this section, else ``config.json``
        (the file ``MLClient.from_config`` reads), else ``AZURE_SUBSCRIPTION_ID``,
        ``AZURE_RESOURCE_GROUP`` and ``AZUREML_WORKSPACE_NAME``."""
        found = {
            "subscription_id": self.subscription_id,
            "resource_group": self.resource_group,
            "workspace_name": self.workspace_name,
        }
        candidates = [self.config_file] if self.config_file else [
            Path("config.json"), Path(".azureml/config.json")
        ]
        for candidate in candidates:
            file = candidate if candidate.is_absolute() else root / candidate
            if file.is_file():
                try:
                    data = json.loads(file.read_text(encoding="utf-8"))
                except (OSError, ValueError) as exc:
                    raise UserInputError(f"{file}: not a readable JSON file: {exc}") from None
                for key in found:
                    found[key] = found[key] or data.get(key)
                break
            if self.config_file:
                raise UserInputError(f"{file}: azure.config_file does not exist")
        env = {
            "subscription_id": "AZURE_SUBSCRIPTION_ID",
            "resource_group": "AZURE_RESOURCE_GROUP",
            "workspace_name": "AZUREML_WORKSPACE_NAME",
        }
        for key, var in env.items():
            found[key] = found[key] or os.environ.get(var)
        missing = [k for k, v in found.items() if not v]
        if missing:
            raise UserInputError(
                f"azure.{missing[0]} is not set in mlops.yaml, config.json or ${env[missing[0]]}"
            )
        return (str(found["subscription_id"]), str(found["resource_group"]),
                str(found["workspace_name"]))


class LocalConfig(_Strict):
    workspace_dir: Path = Path(".mlops")
