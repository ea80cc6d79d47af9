"""Which model a candidate must beat: the one production serves, else the latest version.

A champion that should exist but cannot be loaded stops training: a challenger must never be
registered against a champion nobody could evaluate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from mlops_azure.config import ProjectConfig
from mlops_azure.errors import BackendError, BaselineMissingError, NotFoundError
from mlops_azure.workspace import ModelVersion, Workspace


@dataclass(frozen=True)
class Baseline:
    """The champion the candidate must beat, and where it was found."""

    model: ModelVersion
    source: Literal["production", "latest"]
    #: Its local files; None when rebuilt from a job's tags (the job already scored it).
    path: Path | None = None


def find_baseline(ws: Workspace, config: ProjectConfig) -> Baseline | None:
    """The model serving in production, else the latest registered version, else None.

    Raises ``BaselineMissingError`` when a champion should exist but cannot be loaded: a
    challenger must never be registered against a champion nobody could evaluate.
    """
    name = config.model.name
    model: ModelVersion | None = None
    source: Literal["production", "latest"] = "latest"
    production = config.production_stage
    if production is not None:
        live = [
            d for d in ws.endpoints.traffic(production.endpoint)
            if d.traffic > 0 and d.model_name == name
        ]
        if live:
            serving = max(live, key=lambda d: d.traffic)
            try:
                model = ws.models.get(serving.model_name, serving.model_version)
            except NotFoundError:
                raise BaselineMissingError(
                    f"production endpoint '{production.endpoint}' serves "
                    f"{serving.model_name}:{serving.model_version}, which is not in the registry: "
                    "refusing to judge a candidate against a champion that cannot be found"
                ) from None
            source = "production"
    if model is None:
        versions = ws.models.versions(name)
        if not versions:
            return None
        model = versions[0]
    try:
        path = ws.models.local_path(model.name, model.version)
    except (BackendError, NotFoundError) as exc:
        raise BaselineMissingError(
            f"champion {model.ref} ({source}) cannot be loaded, so the candidate cannot be "
            f"judged: {exc.message}"
        ) from None
    return Baseline(model, source, path)


__all__ = ["Baseline", "find_baseline"]
