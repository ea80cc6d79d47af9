"""A tiny Azure ML pipeline for tests of jobs and schedules."""

from __future__ import annotations

from pathlib import Path


def one_step_pipeline(folder: Path) -> Path:
    """A pipeline of one command step writing the time into its output ``result``: each
    run's output differs, so a reused run shows."""
    (folder / "step.py").write_text(
        "import sys, pathlib, time\n"
        "out = pathlib.Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True)\n"
        "(out / 'done.txt').write_text(str(time.time_ns()))\n")
    (folder / "step.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json\n"
        "name: step\nversion: '1'\ntype: command\ncode: .\n"
        "environment: azureml://registries/azureml/environments/sklearn-1.5/labels/latest\n"
        "outputs: {out: {type: uri_folder}}\ncommand: python step.py ${{outputs.out}}\n")
    (folder / "pipeline.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json\n"
        "type: pipeline\nexperiment_name: nightly\noutputs: {result: {type: uri_folder}}\n"
        "jobs:\n  only:\n    type: command\n    component: ./step.yml\n"
        "    outputs: {out: '${{parent.outputs.result}}'}\n")
    return folder / "pipeline.yml"
