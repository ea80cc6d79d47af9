"""What Azure ML checks in an online deployment PUT before provisioning it, and what provisioning
costs in time, for the simulated service (:mod:`._sim_endpoints_deploy` applies them).

Each rule follows a documented behaviour:

- the VM sizes a managed deployment may use: "Managed online endpoints SKU list"
  (https://learn.microsoft.com/azure/machine-learning/reference-managed-online-endpoints-vm-sku-list);
- at most 50 instances per managed deployment by default, and a Kubernetes endpoint name plus
  deployment name of 6-62 characters: "Manage and increase quotas and limits for resources with
  Azure Machine Learning" (https://learn.microsoft.com/azure/machine-learning/how-to-manage-quotas);
- an environment's image is built by the first deployment that uses it and reused by later ones
  (the hash of base image, Docker steps and packages, not the name, identifies it): "What are
  Azure Machine Learning environments?", *Image caching and reuse*
  (https://learn.microsoft.com/azure/machine-learning/concept-environments); curated
  environments from the ``azureml`` registry come prebuilt;
- ``appInsightsEnabled`` is a boolean of the deployment body, false when left out
  (REST ``OnlineDeploymentProperties``; "Monitor online endpoints",
  https://learn.microsoft.com/azure/machine-learning/how-to-monitor-online-endpoints).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from mlops_azure.errors import DeploymentFailed
from mlops_azure.rules import MANAGED_INSTANCE_TYPES

#: "Managed online endpoints SKU list", kept once beside the tool's other Azure rules.
MANAGED_SKUS = MANAGED_INSTANCE_TYPES

#: A Kubernetes endpoint's name plus a deployment's name, in characters.
KUBERNETES_NAMES = (6, 62)


class OperationError(DeploymentFailed):
    """A provisioning failure with Azure's error code (``OutOfQuota``, ``ImageBuildFailure``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def check_put(endpoint: str, name: str, props: dict[str, Any], sku: dict[str, Any], *,
              kubernetes: bool) -> str | None:
    """The first rule a deployment PUT breaks before anything is provisioned, as a sentence."""
    if kubernetes:
        low, high = KUBERNETES_NAMES
        total = len(endpoint) + len(name)
        if not low <= total <= high:
            return (f"Kubernetes online endpoint '{endpoint}' and deployment '{name}' have "
                    f"{total} characters together: the two names must total {low}-{high}")
    else:
        size = str(props.get("instanceType") or "")
        if size.upper() not in MANAGED_SKUS:
            return (f"instance type '{size}' is not supported for managed online deployments: "
                    "use a VM size of the managed online endpoints SKU list")
    insights = props.get("appInsightsEnabled", False)
    if not isinstance(insights, bool):
        return f"appInsightsEnabled must be true or false, not {insights!r}"
    return None


def check_quota(sku: dict[str, Any], limit: int, *, kubernetes: bool) -> None:
    """``OutOfQuota`` (reported by the operation, as Azure does) for a managed deployment with
    more instances than the per-deployment limit."""
    count = sku.get("capacity") or 1
    if not kubernetes and isinstance(count, int) and count > limit:
        raise OperationError("OutOfQuota", f"instance count {count} exceeds the limit of {limit} "
                                           "instances per managed online deployment")


def image_key(sim: Any, environment_id: str) -> str | None:
    """What identifies the image a deployment runs on: None for a prebuilt curated environment,
    else the hash of the workspace environment's image, Docker build and conda file (its id when
    the simulated workspace does not hold it)."""
    if not environment_id or "/registries/azureml/" in environment_id.lower():
        return None
    wanted = environment_id.lower().rsplit("/providers/microsoft.machinelearningservices/", 1)[-1]
    resources = getattr(sim, "resources", {})
    found = next((doc for key, doc in resources.items()
                  if key.lower().endswith("/" + wanted) or key.lower() == wanted), None)
    if found is None:
        return environment_id.lower()
    props = found.get("properties") or {}
    basis = {k: props.get(k) for k in ("image", "build", "condaFile", "inferenceConfig")}
    return hashlib.sha256(json.dumps(basis, sort_keys=True).encode()).hexdigest()
