"""What the prediction form and the CSV page read of a model, read once per server.

A model version's files never change once registered, nor does a data asset version, so what is
read of them is kept per server process: on Azure ML that spares a registry call and a hash check
of the cached download per page, and the training table's parse per forecast chart.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from mlops_azure.config import ProjectConfig
from mlops_azure.contract import FEATURES_FILE, PARITY_FILE, ParityFile, find_in_model, read_document
from mlops_azure.errors import BackendError
from mlops_azure.lifecycle.refs import live_deployment
from mlops_azure.records import ModelVersion
from mlops_azure.webapp._cache import Lru
from mlops_azure.webapp._forms import FieldSpec, field_specs, rows_of
from mlops_azure.workspace import Workspace

if TYPE_CHECKING:
    pass

T = TypeVar("T")


_MODELS = Lru(64)


@dataclass(frozen=True)
class ModelInputs:
    """A model version, its real rows (``parity.json``) and its ``features.json`` (if any)."""

    model: ModelVersion
    rows: list[dict[str, Any]]
    features: dict[str, Any] | None

    def specs(self, config: ProjectConfig) -> list[FieldSpec]:
        return field_specs(self.rows, self.features, config.data.data_schema.columns)

    def series_keys(self, config: ProjectConfig) -> list[str]:
        """What identifies a forecast series: ``features.json`` ``keys`` less the time column,
        else ``batch.keys``."""
        keys = [str(k) for k in (self.features or {}).get("keys", []) or []]
        keys = [k for k in keys if k != config.data.time_column] or list(config.batch.keys)
        return keys

    @property
    def classes(self) -> list[str]:
        return [str(c) for c in (self.features or {}).get("classes", []) or []]


@dataclass(frozen=True)
class StageChoice:
    """A stage whose endpoint serves a model: where the form and a CSV can be scored."""

    name: str
    endpoint: str
    model_name: str
    model_version: int
    #: The deployment taking most traffic.
    deployment: str

    @property
    def model(self) -> str:
        return f"{self.model_name}:{self.model_version}"


def serving_stages(ws: Workspace, config: ProjectConfig) -> list[StageChoice]:
    """Every stage with a deployment taking traffic, in mlops.yaml's order."""
    found = []
    for name, stage in config.stages.items():
        live = live_deployment(ws, stage.endpoint)
        if live is not None:
            found.append(StageChoice(name, stage.endpoint, live.model_name, live.model_version,
                                     live.deployment))
    return found


def model_inputs(ws: Workspace, config: ProjectConfig, backend: str, name: str,
                 version: int) -> ModelInputs:
    """The model version's inputs, read once per server process."""
    return _MODELS.get((str(config.root), backend, name, version),
                       lambda: _read_inputs(ws, name, version))


def _read_inputs(ws: Workspace, name: str, version: int) -> ModelInputs:
    model = ws.models.get(name, version)
    folder = ws.models.local_path(name, version)
    parity_file = find_in_model(folder, PARITY_FILE)
    if parity_file is None:
        raise BackendError(f"model {model.ref} has no {PARITY_FILE}, so the form has no real "
                           "row to start from")
    parity = read_document(ParityFile, parity_file, f"the {PARITY_FILE} of {model.ref}",
                           BackendError)
    rows = rows_of(parity.request.model_dump(exclude_none=True))
    features_file = find_in_model(folder, FEATURES_FILE)
    features = None
    if features_file is not None:
        import json

        try:
            loaded = json.loads(features_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BackendError(f"the {FEATURES_FILE} of {model.ref} is unreadable ({exc})") from None
        features = loaded if isinstance(loaded, dict) else None
    if not rows:
        raise BackendError(f"the {PARITY_FILE} of {model.ref} holds no row")
    return ModelInputs(model, rows, features)
