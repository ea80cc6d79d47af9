"""The whole of ``mlops.yaml`` (``ProjectConfig``) and reading it (``load_config``)."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from mlops_azure import _yaml
from mlops_azure.config._backends import AzureConfig, LocalConfig
from mlops_azure.config._base import _check_asset_name, _Strict
from mlops_azure.config._batch import BatchConfig
from mlops_azure.config._data import DataConfig
from mlops_azure.config._monitoring import MonitoringConfig
from mlops_azure.config._partitions import PartitionsConfig
from mlops_azure.config._problems import describe
from mlops_azure.config._release import (
    ACI_NOTE,
    ChampionPolicy,
    QaPolicy,
    RolloutPolicy,
    StageConfig,
    TrainingConfig,
)
from mlops_azure.config._responsible import ResponsibleConfig
from mlops_azure.config._tuning import TuningConfig
from mlops_azure.errors import UserInputError
from mlops_azure.metrics import DEFAULT_CHAMPION_METRIC

DEFAULT_CONFIG = Path("mlops.yaml")

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class ModelConfig(_Strict):
    name: str
    #: What the model does: predict a number, or a class (served with its probabilities).
    task: Literal["regression", "classification"] = "regression"
    description: str = ""
    #: What the model is for, and what it is not for: the model card's first section.
    intended_use: str = ""
    #: Known limitations the card lists before the ones its own analysis finds.
    limitations: list[str] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _model_name(cls, value: str) -> str:
        return _check_asset_name(value)


class ProjectConfig(_Strict):
    """The whole of ``mlops.yaml``."""

    project: str
    model: ModelConfig
    backend: Literal["local", "azure"] = "local"
    local: LocalConfig = LocalConfig()
    azure: AzureConfig = AzureConfig()
    data: DataConfig
    training: TrainingConfig = TrainingConfig()
    #: Always present after validation: its metric defaults by ``model.task`` (see ``_by_task``).
    champion: ChampionPolicy
    stages: dict[str, StageConfig] = Field(default_factory=dict)
    qa: QaPolicy = QaPolicy()
    rollout: RolloutPolicy = RolloutPolicy()
    monitoring: MonitoringConfig = MonitoringConfig()
    #: A hyper-parameter sweep of one training step; None trains once.
    tuning: TuningConfig | None = None
    #: Many models (one per partition); None trains one model.
    partitions: PartitionsConfig | None = None
    batch: BatchConfig = BatchConfig()
    #: Fairness, error cohorts and the responsible-ML gate; None skips responsible-ML analysis.
    responsible: ResponsibleConfig | None = None

    #: Folder holding the config file; relative paths are resolved against it.
    root: Path = Field(Path("."), exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _batch_keys(cls, data: Any) -> Any:
        """``batch.keys`` defaults to ``partitions.levels``, else ``data.id_columns``."""
        if not isinstance(data, dict):
            return data
        batch = data.get("batch")
        if batch is None:
            batch = {}
        if not isinstance(batch, dict) or batch.get("keys") is not None:
            return data
        partitions, source = data.get("partitions"), data.get("data")
        keys = (partitions.get("levels") if isinstance(partitions, dict) else None) or (
            source.get("id_columns") if isinstance(source, dict) else None)
        # A malformed source is refused where it is declared, not here.
        if isinstance(keys, list) and all(isinstance(k, str) for k in keys):
            return {**data, "batch": {**batch, "keys": keys}}
        return data

    @model_validator(mode="before")
    @classmethod
    def _by_task(cls, data: Any) -> Any:
        """Defaults that depend on ``model.task``: the champion metric (rmse for regression, auc
        for classification) and ``responsible.task``."""
        if not isinstance(data, dict):
            return data
        model = data.get("model")
        task = model.get("task", "regression") if isinstance(model, dict) else getattr(
            model, "task", "regression")
        if task not in DEFAULT_CHAMPION_METRIC:
            return data  # model.task is refused on its own
        out = dict(data)
        champion = out.get("champion")
        if champion is None:
            champion = {}
        if isinstance(champion, dict) and champion.get("metric") is None:
            champion = {**champion, "metric": DEFAULT_CHAMPION_METRIC[task]}
        out["champion"] = champion
        responsible = out.get("responsible")
        if isinstance(responsible, dict) and responsible.get("task") is None:
            out["responsible"] = {**responsible, "task": task}
        return out

    @model_validator(mode="after")
    def _partition_levels_are_columns(self) -> ProjectConfig:
        declared = self.data.data_schema.columns
        for level in self.partitions.levels if self.partitions else []:
            if level not in declared:
                raise ValueError(f"partitions.levels names '{level}', which is not a column of "
                                 "data.schema")
        return self

    @model_validator(mode="after")
    def _responsible_features_are_columns(self) -> ProjectConfig:
        if self.responsible is None:
            return self
        declared = self.data.data_schema.columns
        section = self.responsible
        named = [("sensitive", f) for f in section.sensitive]
        named += [("cohorts", f) for f in section.cohort_features]
        if section.mitigation and section.mitigation.reweight_by:
            named.append(("mitigation.reweight_by", section.mitigation.reweight_by))
        for key, feature in named:
            if feature not in declared:
                raise ValueError(f"responsible.{key} names '{feature}', which is not a column of "
                                 "data.schema")
            kind = declared[feature].type
            # Groups are compared by exact value: an integer code (sex 1/2) is a group label, but
            # a float has too many distinct values to form groups or cohorts without binning.
            if kind in ("float", "date"):
                raise ValueError(f"responsible.{key} names '{feature}', which is a {kind} column "
                                 "(bin it into a string or integer column to use it for groups)")
        return self

    @model_validator(mode="after")
    def _monitored_features_are_inputs(self) -> ProjectConfig:
        section = self.monitoring
        target = self.data.target
        for key, named in (("numeric", section.numeric), ("categorical", section.categorical)):
            if target is not None and target in (named or []):
                raise ValueError(f"monitoring.{key} names '{target}', the target (data.target), "
                                 "which inference requests do not carry: remove it")
        numeric, categorical = section.features(self.data)
        for feature in section.critical:
            if feature not in (*numeric, *categorical):
                raise ValueError(f"monitoring.critical names '{feature}', which is not a monitored "
                                 "feature (monitoring.numeric or monitoring.categorical)")
        return self

    def resolve(self, path: Path) -> Path:
        """``path`` made absolute against the project folder."""
        return path if path.is_absolute() else (self.root / path)

    @property
    def workspace_dir(self) -> Path:
        return self.resolve(self.local.workspace_dir)

    @property
    def production_stage(self) -> StageConfig | None:
        """The stage called ``production``, else the last stage declared (None without stages)."""
        if "production" in self.stages:
            return self.stages["production"]
        return list(self.stages.values())[-1] if self.stages else None

    def notes(self, backend: str | None = None) -> list[str]:
        """Things worth telling the user about how this config will be read (not errors)."""
        found = []
        for name, stage in self.stages.items():
            if stage.target == "aci":
                found.append(f"stages.{name}: {ACI_NOTE}")
            if (backend or self.backend) == "local" and stage.kind != "local":
                found.append(f"stages.{name}: target '{stage.target}' is served as a local endpoint "
                             "by the embedded workspace (set backend: azure to use Azure ML)")
        return found

    def stage(self, name: str) -> StageConfig:
        try:
            return self.stages[name]
        except KeyError:
            known = ", ".join(sorted(self.stages)) or "none"
            raise UserInputError(f"unknown stage '{name}' (stages in mlops.yaml: {known})") from None


def _expand(value: Any, where: str, file: Path) -> Any:
    """Replace ``${VAR}`` / ``${VAR:-default}`` in every string of the parsed document."""
    if isinstance(value, dict):
        return {k: _expand(v, f"{where}.{k}" if where else str(k), file) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, f"{where}[{i}]", file) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = os.environ.get(name)
        if found is not None:
            return found
        if default is not None:
            return default
        raise UserInputError(f"{file}: {where}: environment variable {name} is not set")

    return _ENV_REF.sub(substitute, value)


def load_config(path: Path | None = None) -> ProjectConfig:
    """Read and validate ``mlops.yaml``; raise ``UserInputError`` with one sentence on any problem."""
    file = Path(path) if path is not None else DEFAULT_CONFIG
    if not file.is_file():
        raise UserInputError(
            f"{file}: no such config file (run 'mlops init' to create a project, or pass --config)"
        )
    try:
        text = file.read_text(encoding="utf-8")
        raw = _yaml.load(text)
    except _yaml.AliasExpansionError as exc:
        raise UserInputError(f"{file}: refused: {exc.problem}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise UserInputError(f"{file}: not valid YAML{where}: {problem}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserInputError(f"{file}: cannot be read: {exc}") from None
    if not isinstance(raw, dict):
        raise UserInputError(f"{file}: expected a mapping of settings at the top level")
    raw = _expand(raw, "", file)
    raw["root"] = file.resolve().parent
    try:
        return ProjectConfig.model_validate(raw)
    except ValidationError as exc:
        raise UserInputError(describe(exc, file, text)) from None
