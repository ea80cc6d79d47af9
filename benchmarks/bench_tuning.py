"""Local sweeps on the example's data, side by side in one run:

1. per trial: ``mlops``' sweep step (trial processes, the study on SQLite) against a plain
   in-process Optuna loop calling the same train component's ``main`` with the same parameters
   (target: overhead <= 1.3x);
2. two trials at a time against one (target: >= 1.7x on 2 cores);
3. a 40-trial study with median-stopping against the same 40 trials without (target: >= 25 %
   less total trial time, best value within 1 %).

Usage: python benchmarks/bench_tuning.py [TRIALS] [--json FILE]   (TRIALS for 1 and 2; default 12)
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from mlops_azure.config import load_config
from mlops_azure.example.scaffold import init_project
from mlops_azure.execution.definition import load_component
from mlops_azure.execution.runner import run_pipeline
from mlops_azure.execution.sweep_definition import parse_sweep
from mlops_azure.execution.sweep_study import distribution as _distribution
from mlops_azure.records_tuning import Study, TrialState

SPACE = {"n_estimators": {"type": "quniform", "min_value": 100, "max_value": 800, "q": 50},
         "learning_rate": {"type": "loguniform", "min_value": -4.6, "max_value": -1.6},
         "num_leaves": {"type": "choice", "values": [15, 31, 63, 127]},
         "min_data_in_leaf": {"type": "quniform", "min_value": 5, "max_value": 60, "q": 5}}
POLICY = {"type": "median_stopping", "evaluation_interval": 10, "delay_evaluation": 50}
SEED = 42


def prepared_data(project: Path, out: Path) -> Path:
    """The example's data checked and prepared once, by the components themselves."""
    config = load_config(project / "mlops.yaml")
    (out / "schema.json").write_text(config.data.data_schema.to_json())
    for name in ("report", "prepared"):
        (out / name).mkdir()
    code, data = project / "components", str(project / "data/purchases.csv")
    for args in (["-m", "data_check.data_check", "--data", data, "--schema", str(out / "schema.json"),
                  "--report", str(out / "report")],
                 ["-m", "prep.prep", "--raw_data", data, "--check_report", str(out / "report"),
                  "--holdout_months", "6", "--prepared", str(out / "prepared")]):
        subprocess.run([sys.executable, *args], cwd=code, check=True, stdout=subprocess.DEVNULL)
    return out / "prepared"


def sweep_file(project: Path, trials: int, concurrent: int, policy: bool) -> Path:
    step: dict[str, Any] = {
        "type": "sweep", "trial": "../components/train/train.yml",
        "inputs": {"prepared": "${{parent.inputs.prepared}}", "validation_metric": "wape", "seed": SEED},
        "outputs": {"model": "${{parent.outputs.model}}"}, "search_space": SPACE,
        "objective": {"goal": "minimize", "primary_metric": "wape"},
        "sampling_algorithm": {"type": "random", "seed": SEED},
        "limits": {"max_total_trials": trials, "max_concurrent_trials": concurrent}}
    if policy:
        step["early_termination"] = POLICY
    pipeline = {"type": "pipeline", "experiment_name": "bench",
                "inputs": {"prepared": {"type": "uri_folder"}},
                "outputs": {"model": {"type": "uri_folder"}}, "jobs": {"train": step}}
    path = project / "pipelines" / f"bench-{trials}-{concurrent}-{int(policy)}.yml"
    path.write_text(yaml.safe_dump(pipeline, sort_keys=False))
    return path


def run_sweep(project: Path, prepared: Path, work: Path, trials: int, concurrent: int,
              policy: bool) -> tuple[float, Study]:
    pipeline = sweep_file(project, trials, concurrent, policy)
    start = time.perf_counter()
    result = run_pipeline(pipeline, {"prepared": prepared}, work / "job", studies_dir=work / "studies")
    elapsed = time.perf_counter() - start
    if result.error:
        raise RuntimeError(result.error)
    study = Study.from_dict(json.loads((work / "job/steps/train/study.json").read_text()))
    return elapsed, study


def plain_loop(project: Path, prepared: Path, work: Path, trials: int) -> tuple[float, list[float]]:
    """The same objective in one process: Optuna's own loop (in-memory storage), the train
    component's main() called with the sampled parameters, the value its last round reported."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    code = project / "components"
    sys.path.insert(0, str(code))
    os.environ["OMP_NUM_THREADS"] = str(os.cpu_count() or 1)  # what the sweep gives one trial
    from train import train as trainer  # the component's module, imported once

    component = load_component(code / "train" / "train.yml")
    objective = {"goal": "minimize", "primary_metric": "wape"}
    settings = parse_sweep({"search_space": SPACE, "objective": objective,
                            "limits": {"max_total_trials": trials}}, component.inputs, "bench")
    distributions = {p.name: _distribution(p) for p in settings.search_space.values()}
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.RandomSampler(seed=SEED))
    values = []
    start = time.perf_counter()
    for number in range(trials):
        trial = study.ask(distributions)
        folder = work / f"plain-{number}"
        (folder / "model").mkdir(parents=True)
        os.environ["MLOPS_METRICS_FILE"] = str(folder / "metrics.jsonl")
        argv = ["--prepared", str(prepared), "--validation_metric", "wape", "--seed", str(SEED),
                "--model", str(folder / "model")]
        for name, value in trial.params.items():
            argv += [f"--{name}", str(value)]
        trainer.main(argv)
        value = json.loads((folder / "metrics.jsonl").read_text().splitlines()[-1])["value"]
        study.tell(trial, value)
        values.append(value)
    return time.perf_counter() - start, values


def trial_seconds(study: Study) -> float:
    return sum(t.duration_s or 0.0 for t in study.trials)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("trials", nargs="?", type=int, default=12)
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    figures: dict[str, Any] = {"cores": os.cpu_count()}
    with tempfile.TemporaryDirectory(prefix="bench-tuning-") as tmp:
        root = Path(tmp)
        project = root / "project"
        init_project(project)
        prepared = prepared_data(project, root)

        plain, plain_values = plain_loop(project, prepared, root / "plain", args.trials)
        serial, serial_study = run_sweep(project, prepared, root / "serial", args.trials, 1, False)
        same = [t.value for t in serial_study.trials] == plain_values
        figures["per_trial"] = {"trials": args.trials, "plain_optuna_s": plain / args.trials,
                                "mlops_sweep_s": serial / args.trials, "ratio": serial / plain,
                                "same_values": same}
        print(f"1. per trial ({args.trials} trials, one at a time): plain Optuna loop "
              f"{plain / args.trials:.3f} s, mlops sweep {serial / args.trials:.3f} s: "
              f"{serial / plain:.2f}x (target <= 1.3x); same parameters and values: {same}")

        parallel, _ = run_sweep(project, prepared, root / "parallel", args.trials, 2, False)
        figures["parallel"] = {"one_at_a_time_s": serial, "two_at_a_time_s": parallel,
                               "speedup": serial / parallel}
        print(f"2. {args.trials} trials: one at a time {serial:.1f} s, two at a time {parallel:.1f} s: "
              f"{serial / parallel:.2f}x (target >= 1.7x)")

        _, unpruned = run_sweep(project, prepared, root / "unpruned", 40, 1, False)
        _, pruned = run_sweep(project, prepared, root / "pruned", 40, 1, True)
        best_u = min(t.value for t in unpruned.trials if t.state is TrialState.COMPLETE)  # type: ignore[type-var]
        best_p = min(t.value for t in pruned.trials if t.state is TrialState.COMPLETE)  # type: ignore[type-var]
        saved = 1 - trial_seconds(pruned) / trial_seconds(unpruned)
        figures["pruning"] = {"trials": 40, "unpruned_trial_s": trial_seconds(unpruned),
                              "pruned_trial_s": trial_seconds(pruned), "saved": saved,
                              "pruned_trials": pruned.count(TrialState.PRUNED),
                              "best_unpruned": best_u, "best_pruned": best_p,
                              "best_gap": (best_p - best_u) / best_u}  # type: ignore[operator]
        print(f"3. 40 trials: without pruning {trial_seconds(unpruned):.1f} s of trials, best wape "
              f"{best_u:.4f}; median stopping {trial_seconds(pruned):.1f} s "
              f"({pruned.count(TrialState.PRUNED)} pruned), best {best_p:.4f}: {saved:.0%} less trial "
              f"time (target >= 25 %), best {100 * (best_p - best_u) / best_u:+.2f} % (target within 1 %)")  # type: ignore[operator]
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
