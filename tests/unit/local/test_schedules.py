"""Local schedules beyond the contract: stored files outlive their source, tags are kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_azure.errors import NotFoundError
from mlops_azure.local import LocalWorkspace
from mlops_azure.rules import check_cron
from mlops_azure.workspace import PipelineSubmission, ScheduleTrigger

PIPELINE = Path(__file__).resolve().parents[3] / "examples" / "steel" / "pipelines" / "training.yml"


def test_a_file_input_outlives_its_temporary_source(tmp_path: Path) -> None:
    schema = tmp_path / "tmp" / "schema.json"
    schema.parent.mkdir()
    schema.write_text('{"columns": {}}', encoding="utf-8")
    ws = LocalWorkspace(tmp_path / "ws")
    submission = PipelineSubmission(PIPELINE, {"schema": schema, "raw_data": "azureml:d@latest"},
                                    experiment="nightly", tags={"trigger": "schedule"})
    created = ws.schedules.create("nightly", submission, ScheduleTrigger(cron="0 2 * * *"))
    schema.unlink()
    kept = Path(created.inputs["schema"])
    assert kept.is_relative_to(ws.root) and kept.read_text(encoding="utf-8") == '{"columns": {}}'
    assert ws.schedules.schedule_tags("nightly") == {"trigger": "schedule"}
    with pytest.raises(NotFoundError):
        ws.schedules.schedule_tags("other")


def test_a_valid_cron_passes_silently() -> None:
    check_cron("0 0 * * 0")
