"""Monitoring: drift between the data a model was trained on and what it sees in production."""

from mlops_azure.monitoring.drift import (
    DriftReport,
    DriftThresholds,
    FeatureDrift,
    compute_drift,
    js_distance,
    psi,
)

__all__ = ["DriftReport", "DriftThresholds", "FeatureDrift", "compute_drift", "js_distance", "psi"]
