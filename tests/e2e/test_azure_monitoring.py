"""Monitoring on ``--backend azure`` over the simulated service: deployments collect through
Azure ML's online data collector, `monitor drift --stage` reads what it wrote, and `monitor
setup` creates a MonitorSchedule with mlops.yaml's thresholds against the training data."""

from __future__ import annotations

from typing import Any

from mlops_azure.testing import SimulatedAzureML

MODEL = "steel-purchase-forecast"
TARGET = "quantity_tonnes"


def bodies(sim: SimulatedAzureML, method: str, pattern: str) -> list[dict[str, Any]]:
    return [c.body for c in sim.calls_to(method, pattern) if isinstance(c.body, dict)]


def test_collection_drift_and_a_monitor_schedule(cloud_project: Any, azure_sim: SimulatedAzureML,
                                                 mlops: Any) -> None:
    assert mlops("train", "-p", "n_estimators=40")["registered"] == f"{MODEL}:1"
    mlops("monitor", "setup", "--stage", "production", "--cron", "0 6 * * *", code=2)  # no model
    mlops("deploy", f"{MODEL}:1", "--stage", "staging")
    [put] = bodies(azure_sim, "PUT", r"/onlineEndpoints/steel-staging/deployments/[^/]+$")
    collections = put["properties"]["dataCollector"]["collections"]
    assert {k: v["dataCollectionMode"].lower() for k, v in collections.items()} == {
        "model_inputs": "enabled", "model_outputs": "enabled"}
    assert put["properties"]["environmentVariables"]["MLOPS_COLLECT_AZUREML"] == "true"

    assert mlops("gate", "qa", "--stage", "staging")["passed"]
    assert azure_sim.endpoints.flush_collected() == 0  # the gate's probes are not collected
    for _ in range(4):
        mlops("invoke", "--stage", "staging", "--file", "sample-request.json")
    assert azure_sim.endpoints.flush_collected() == 4  # as Azure's collector does, a bit later
    found = mlops("monitor", "drift", "--stage", "staging", "--window", "1h", code=None)
    assert found["current"] == "requests to stage staging in the last 1h"
    assert found["rows_current"] >= 4 * 3 and found["prediction"] is not None
    assert found["reference"] == "steel-purchases:1"

    setup = mlops("monitor", "setup", "--stage", "staging", "--cron", "0 6 * * *",
                  "--window", "3d")
    assert setup["monitor"]["name"] == "steel-staging-drift"
    [schedule] = bodies(azure_sim, "PUT", r"/schedules/steel-staging-drift$")
    action = schedule["properties"]["action"]
    assert action["actionType"] == "CreateMonitor"
    definition = action["monitorDefinition"]
    assert definition["monitoringTarget"]["deploymentId"].endswith(
        "/onlineEndpoints/steel-staging/deployments/" + setup["monitor"]["deployment"])
    signals = definition["signals"]
    assert set(signals) == {"drift-psi", "drift-js", "drift-wasserstein", "drift-tests",
                            "prediction-drift"}
    for name in ("drift-psi", "drift-js", "drift-wasserstein", "drift-tests"):
        assert signals[name]["referenceData"]["uri"].endswith(
            "/data/steel-purchases-mltable/versions/1")
        # the project's target, never taken for a feature of the training data
        assert signals[name]["referenceData"]["columns"] == {"target_column": TARGET}
    for name, collection in (("drift-psi", "model_inputs"), ("prediction-drift", "model_outputs")):
        production = signals[name]["productionData"]  # --window 3d, sent as Azure reads it
        assert (production["windowSize"], production["windowOffset"]) == ("P3D", "P0D")
        assert production["uri"].endswith(f"-{collection}/versions/1")
    assert definition["monitoringTarget"]["taskType"].lower() == "regression"
    thresholds = {name: {t["dataType"]: (t["metric"], t["threshold"]["value"])
                         for t in signals[name]["metricThresholds"]} for name in signals}
    assert thresholds["drift-psi"] == {"Numerical": ("populationStabilityIndex", 0.25),
                                       "Categorical": ("populationStabilityIndex", 0.25)}
    assert thresholds["drift-js"] == {"Numerical": ("jensenShannonDistance", 0.1),
                                      "Categorical": ("jensenShannonDistance", 0.1)}
    assert thresholds["drift-tests"] == {
        "Numerical": ("twoSampleKolmogorovSmirnovTest", 0.05),
        "Categorical": ("pearsonsChiSquaredTest", 0.05)}
    assert thresholds["drift-wasserstein"] == {
        "Numerical": ("normalizedWassersteinDistance", 0.1)}
    assert set(signals["drift-psi"]["features"]["features"]) == {
        "price_eur_per_tonne", "promotion", "segment", "region", "company_size"}
    assert set(signals["drift-wasserstein"]["features"]["features"]) == {
        "price_eur_per_tonne", "promotion"}
    assert mlops("schedule", "list") == []  # monitors are not training schedules


def _monitored(sim: SimulatedAzureML, name: str) -> str:
    stored = sim.resources[sim.arm_id(f"/schedules/{name}")]["properties"]
    return str(stored["action"]["monitorDefinition"]["monitoringTarget"]["deploymentId"])


def test_the_monitor_follows_production_traffic(cloud_project: Any, azure_sim: SimulatedAzureML,
                                                mlops: Any) -> None:
    import yaml

    config = yaml.safe_load((cloud_project / "mlops.yaml").read_text(encoding="utf-8"))
    config.setdefault("rollout", {})["keep_previous"] = False  # a promotion prunes the version it replaced
    (cloud_project / "mlops.yaml").write_text(yaml.safe_dump(config, sort_keys=False),
                                              encoding="utf-8")
    assert mlops("train", "-p", "n_estimators=40")["registered"] == f"{MODEL}:1"
    assert mlops("train")["registered"] == f"{MODEL}:2"
    for version in (1, 2):
        mlops("deploy", f"{MODEL}:{version}", "--stage", "staging")
        mlops("gate", "qa", "--stage", "staging", "--model", f"{MODEL}:{version}")
        mlops("approve", f"{MODEL}:{version}", "--stage", "production", "--by", "alice",
              "--reason", "ok")
        if version == 1:
            mlops("promote", f"{MODEL}:1", "--stage", "production")
            setup = mlops("monitor", "setup", "--stage", "production", "--cron", "0 6 * * *")
            assert setup["monitor"]["deployment"] == "v001"
    promoted = mlops("promote", f"{MODEL}:2", "--stage", "production")
    assert promoted["removed"] == ["v001"]
    assert _monitored(azure_sim, "steel-production-drift").endswith("/deployments/v002")
    moved = [e for e in mlops("history") if e["action"] == "monitor.retarget"]
    assert len(moved) == 1 and moved[0]["subject"] == "steel-production-drift"
