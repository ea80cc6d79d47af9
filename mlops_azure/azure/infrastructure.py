"""What jobs and deployments run on: the training cluster and the project's environments.

Environments are the Azure ML environment YAML files in ``environments/`` (``*-environment.yml``:
a base image and a conda file). Each is registered once per content: its version is a hash of
the image and the conda file, so an unchanged environment is found, never rebuilt, and a
changed one gets a new version that old jobs and deployments do not see.
"""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from pathlib import Path
from typing import Any

from mlops_azure.azure.client import quiet_sdk
from mlops_azure.azure.connection import AzureConnection, AzurePart
from mlops_azure.errors import NotFoundError, UserInputError
from mlops_azure.workspace import Infrastructure

#: Azure ML's curated minimal inference environment, for a deployment that names no conda file.
CURATED_INFERENCE = "azureml://registries/azureml/environments/minimal-py311-inference/labels/latest"
#: The base image used for a conda file that no ``*-environment.yml`` describes.
DEFAULT_IMAGE = "mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest"


def environment_version(image: str, conda: Any) -> str:
    """A content version: the same image and conda file always give the same string."""
    canonical = json.dumps({"image": image, "conda": conda}, sort_keys=True, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class AzureInfrastructure(AzurePart, Infrastructure):
    """Get-or-create the compute cluster and the environments."""

    def __init__(self, conn: AzureConnection, *, compute: str = "cpu-cluster",
                 compute_size: str = "Standard_DS3_v2", compute_max_nodes: int = 4,
                 environments_dir: Path | None = None) -> None:
        super().__init__(conn)
        self.compute = compute
        self.compute_size = compute_size
        self.compute_max_nodes = compute_max_nodes
        self.environments_dir = environments_dir

    def ensure_compute(self) -> str:
        """The training cluster, created (0 nodes when idle) when missing; says which."""
        from azure.ai.ml.entities import AmlCompute

        try:
            with self.call(f"reading compute {self.compute}"):
                found = self.ml.compute.get(self.compute)
            return f"compute {self.compute}: exists ({getattr(found, 'type', 'amlcompute')})"
        except NotFoundError:
            pass
        cluster = AmlCompute(name=self.compute, size=self.compute_size, min_instances=0,
                             max_instances=self.compute_max_nodes,
                             idle_time_before_scale_down=1800)
        doing = f"creating compute {self.compute}"
        with self.call(doing):
            self.finish(self.ml.compute.begin_create_or_update(cluster), doing)
        return f"compute {self.compute}: created ({self.compute_size}, 0-{self.compute_max_nodes} nodes)"

    def _environment_files(self) -> list[Path]:
        folder = self.environments_dir
        return sorted(folder.glob("*-environment.yml")) if folder and folder.is_dir() else []

    @cached_property
    def _environments(self) -> dict[str, str]:
        from azure.ai.ml import load_environment

        quiet_sdk()
        found: dict[str, str] = {}
        for file in self._environment_files():
            try:
                env = load_environment(file)
            except Exception as exc:  # the SDK raises its own validation errors
                raise UserInputError(f"{file}: not a valid Azure ML environment ({exc})") from None
            found[str(env.name)] = self._ensure_environment(env)
        return found

    def ensure_environments(self) -> dict[str, str]:
        """Every ``environments/*-environment.yml`` registered at its content version."""
        return dict(self._environments)

    def _ensure_environment(self, env: Any) -> str:
        version = environment_version(str(env.image), env.conda_file)
        try:
            with self.call(f"reading environment {env.name}:{version}"):
                self.ml.environments.get(env.name, version=version)
            return version
        except NotFoundError:
            pass
        env.version = version
        with self.call(f"creating environment {env.name}:{version}"):
            self.ml.environments.create_or_update(env)
        return version

    def environment_for(self, conda_file: Path | None) -> str:
        """The ``azureml:<name>:<version>`` environment a deployment of ``conda_file`` runs in:
        the ``*-environment.yml`` that names that conda file, else the conda file on the default
        base image."""
        from azure.ai.ml.entities import Environment

        if conda_file is None:
            return CURATED_INFERENCE
        for file in self._environment_files():
            doc = _yaml_mapping(file) or {}
            if doc.get("conda_file") and \
                    (file.parent / str(doc["conda_file"])).resolve() == conda_file.resolve():
                name = str(doc["name"])
                return f"azureml:{name}:{self.ensure_environments()[name]}"
        conda = _yaml_mapping(conda_file)
        if conda is None:
            raise UserInputError(f"{conda_file}: not a readable conda file")
        name = str(conda.get("name") or conda_file.stem)
        env = Environment(name=name, image=DEFAULT_IMAGE, conda_file=conda)
        return f"azureml:{name}:{self._ensure_environment(env)}"

    def ensure(self) -> list[str]:
        """The compute and every environment, created where missing; one line per resource."""
        lines = [self.ensure_compute()]
        lines += [f"environment {name}:{version}: ready"
                  for name, version in self.ensure_environments().items()]
        return lines


def _yaml_mapping(file: Path) -> dict[str, Any] | None:
    """A YAML file's top-level mapping, or None when it cannot be read as one."""
    import yaml

    from mlops_azure import _yaml

    try:
        doc = _yaml.load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return None
    return doc if isinstance(doc, dict) else None
