"""Stage settings of online deployments: the deployment wait, the instance limit and App Insights."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_azure.config import load_config
from mlops_azure.errors import UserInputError

MINIMAL = """
project: p
model: {name: m}
data:
  schema:
    columns:
      a: {type: float, min: 0}
"""


def write(tmp_path: Path, text: str) -> Path:
    file = tmp_path / "mlops.yaml"
    file.write_text(text, encoding="utf-8")
    return file


def test_azure_stages_wait_for_a_first_deployment_and_report_to_app_insights(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, MINIMAL + (
        "stages:\n  dev: {endpoint: ep-dev}\n  staging: {endpoint: ep-stg, target: managed}\n"
        "  prod: {endpoint: ep-prod, target: kubernetes, compute: aks,"
        " deployment_timeout_s: 2400, app_insights_enabled: false}\n")))
    dev, staging, prod = (config.stage(s) for s in ("dev", "staging", "prod"))
    # Azure documents up to 15 minutes for a first deployment (image build): twice that by default
    assert staging.deployment_wait_s == 1800 and prod.deployment_wait_s == 2400
    assert dev.deployment_wait_s == 60  # a local server starts in seconds, as before
    assert staging.app_insights_enabled and not prod.app_insights_enabled


@pytest.mark.parametrize("target", ["managed", "aci"])
def test_a_managed_stage_has_at_most_50_instances(tmp_path: Path, target: str) -> None:
    with pytest.raises(UserInputError) as caught:
        load_config(write(tmp_path, MINIMAL + (
            f"stages:\n  prod: {{endpoint: ep-prod, target: {target}, instance_count: 51}}\n")))
    message = caught.value.message
    assert "stages.prod" in message and "at most 50 instances" in message and "\n" not in message
    config = load_config(write(tmp_path, MINIMAL + (
        f"stages:\n  prod: {{endpoint: ep-prod, target: {target}, instance_count: 50}}\n")))
    assert config.stage("prod").instance_count == 50


def test_status_says_where_azure_stages_report(tmp_path: Path) -> None:
    from mlops_azure.lifecycle.status import APP_INSIGHTS, telemetry_of

    config = load_config(write(tmp_path, MINIMAL + (
        "stages:\n  dev: {endpoint: ep-dev}\n  staging: {endpoint: ep-stg, target: managed}\n"
        "  prod: {endpoint: ep-prod, target: managed, app_insights_enabled: false}\n")))
    assert telemetry_of(config.stage("dev")) is None
    assert telemetry_of(config.stage("staging")) == APP_INSIGHTS
    assert "app_insights_enabled is false" in str(telemetry_of(config.stage("prod")))
