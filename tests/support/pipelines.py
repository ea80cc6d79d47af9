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


#: A trial of ``sweep_pipeline``: reports ``loss`` per step (it falls towards (x - 0.3)^2 + y / 10),
#: then writes its parameters to its output. ``FAIL_ABOVE`` makes trials with x above it exit 1.
_OBJECTIVE = '''
import argparse, json, os, pathlib, time
parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float)
parser.add_argument("--y", type=int)
parser.add_argument("--steps", type=int)
parser.add_argument("--out")
args = parser.parse_args()
final = (args.x - 0.3) ** 2 + args.y / 10
if args.x > float(os.environ.get("FAIL_ABOVE", "inf")):
    raise SystemExit(1)
with open(os.environ["MLOPS_METRICS_FILE"], "a") as metrics:
    for step in range(1, args.steps + 1):
        metrics.write(json.dumps({"name": "loss", "value": final + 1.0 / step, "step": step}) + "\\n")
        metrics.flush()
        time.sleep(float(os.environ.get("STEP_SECONDS", "0")))
out = pathlib.Path(args.out)
out.mkdir(parents=True, exist_ok=True)
(out / "params.json").write_text(json.dumps({"x": args.x, "y": args.y, "pid": os.getpid()}))
'''


def sweep_pipeline(folder: Path, *, trials: int = 4, concurrent: int = 2, steps: int = 3,
                   policy: str = "", sampling: str = "{type: random, seed: 1}",
                   command: str = "python -m trial.objective") -> Path:
    """A pipeline of one sweep step over x (uniform 0..1) and y (choice 0, 1) minimising ``loss``."""
    (folder / "code" / "trial").mkdir(parents=True, exist_ok=True)
    (folder / "code" / "trial" / "__init__.py").write_text("")
    (folder / "code" / "trial" / "objective.py").write_text(_OBJECTIVE)
    (folder / "objective.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/commandComponent.schema.json\n"
        "name: objective\nversion: '1'\ntype: command\ncode: code\n"
        "environment: azureml://registries/azureml/environments/sklearn-1.5/labels/latest\n"
        "inputs: {x: {type: number}, y: {type: integer}, steps: {type: integer}}\n"
        "outputs: {out: {type: uri_folder}}\n"
        f"command: {command} --x ${{{{inputs.x}}}} --y ${{{{inputs.y}}}} --steps ${{{{inputs.steps}}}} "
        "--out ${{outputs.out}}\n")
    (folder / "pipeline.yml").write_text(
        "$schema: https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json\n"
        f"type: pipeline\nexperiment_name: tune\ninputs: {{steps: {steps}}}\n"
        "outputs: {best: {type: uri_folder}}\n"
        "jobs:\n  search:\n    type: sweep\n    trial: ./objective.yml\n"
        "    inputs: {steps: '${{parent.inputs.steps}}'}\n"
        "    outputs: {out: '${{parent.outputs.best}}'}\n"
        f"    sampling_algorithm: {sampling}\n"
        "    search_space:\n      x: {type: uniform, min_value: 0.0, max_value: 1.0}\n"
        "      y: {type: choice, values: [0, 1]}\n"
        "    objective: {goal: minimize, primary_metric: loss}\n"
        f"    limits: {{max_total_trials: {trials}, max_concurrent_trials: {concurrent}}}\n"
        + (f"    early_termination: {policy}\n" if policy else ""))
    return folder / "pipeline.yml"
