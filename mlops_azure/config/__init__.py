"""The typed project configuration, read from ``mlops.yaml``.

Strings may use ``${VAR}`` or ``${VAR:-default}`` to read the environment, so secrets and
subscription ids stay out of the file. Relative paths are relative to the config file's folder.
Every problem is reported as one sentence naming the file, the key path and what is wrong.
"""

from __future__ import annotations

from mlops_azure.config._backends import AzureConfig, LocalConfig
from mlops_azure.config._batch import BatchConfig
from mlops_azure.config._data import ColumnSpec, DataConfig, DataSchema, OutlierRule
from mlops_azure.config._edit import set_settings
from mlops_azure.config._monitoring import MonitoringConfig
from mlops_azure.config._partitions import PartitionsConfig
from mlops_azure.config._project import DEFAULT_CONFIG, ModelConfig, ProjectConfig, load_config
from mlops_azure.config._release import (
    ACI_NOTE,
    ChampionPolicy,
    QaPolicy,
    RolloutPolicy,
    StageConfig,
    TrainingConfig,
)
from mlops_azure.config._responsible import (
    DisparityLimit,
    MitigationConfig,
    ResponsibleConfig,
    ResponsiblePolicy,
)
from mlops_azure.config._tuning import TuningConfig, TuningLimits

__all__ = [
    "ACI_NOTE",
    "DEFAULT_CONFIG",
    "AzureConfig",
    "BatchConfig",
    "ChampionPolicy",
    "ColumnSpec",
    "DataConfig",
    "DataSchema",
    "DisparityLimit",
    "LocalConfig",
    "MitigationConfig",
    "ModelConfig",
    "MonitoringConfig",
    "OutlierRule",
    "PartitionsConfig",
    "ProjectConfig",
    "QaPolicy",
    "ResponsibleConfig",
    "ResponsiblePolicy",
    "RolloutPolicy",
    "StageConfig",
    "TrainingConfig",
    "TuningConfig",
    "TuningLimits",
    "load_config",
    "set_settings",
]
