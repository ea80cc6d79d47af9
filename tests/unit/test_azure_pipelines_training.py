"""The shape of ci.yml and training.yml (+ templates/training-attach.yml), and their scripts run
for real in bash against a stand-in `mlops`. Every `mlops` line in them is validated against the
CLI by test_azure_pipelines.py, which walks every file under .azure-pipelines/ (`mlops infra
ensure` is a real command on this branch, so no allow-list is needed)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
PIPELINES = REPO / ".azure-pipelines"
TEMPLATES = PIPELINES / "templates"
BASH = shutil.which("bash")


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def steps_of(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job["steps"])


def task(steps: list[dict[str, Any]], name: str) -> dict[str, Any]:
    found = [s for s in steps if s.get("task") == name]
    assert len(found) == 1, f"expected one {name} step"
    return found[0]


def template_call(steps: list[dict[str, Any]], template: str, name: str | None = None) -> dict[str, Any]:
    found = [s for s in steps if str(s.get("template", "")).endswith(template)
             and (name is None or (s.get("parameters") or {}).get("name") == name)]
    assert found, f"no {template} step named {name}"
    return found[0]


# -- ci.yml ---------------------------------------------------------------------------------------
def test_ci_lints_tests_checks_data_and_publishes_junit() -> None:
    ci = load(PIPELINES / "ci.yml")
    assert ci["trigger"]["branches"]["include"] == ["main"] and ci["pr"]["branches"]["include"] == ["main"]
    (job,) = ci["jobs"]
    steps = steps_of(job)
    assert task(steps, "UsePythonVersion@0")["inputs"]["versionSpec"] == "3.11"
    assert task(steps, "UseNode@1")["inputs"]["version"].startswith("20")
    scripts = [s.get("script", "") for s in steps]
    assert "make lint" in scripts
    test = next(s for s in scripts if s.startswith("make test"))
    assert "--junitxml=$(testResults)" in test
    check = scripts.index("mlops data check data/purchases.csv")
    data = next(i for i, s in enumerate(steps) if s.get("template") == "templates/data.yml")
    assert scripts.index(test) < data < check
    publish = task(steps, "PublishTestResults@2")
    assert publish["condition"] == "always()"
    assert publish["inputs"]["testResultsFormat"] == "JUnit"
    assert publish["inputs"]["testResultsFiles"] == "$(testResults)"
    assert scripts.index("make docs") < scripts.index(test)  # the site is built on every change
    assert any(s.get("publish") == "site" for s in steps)
    screenshots = next(s for s in steps if "publish" in s and s["publish"] != "site")
    assert screenshots["condition"] == "always()"
    run = next(s for s in steps if s.get("script", "").startswith("make test"))
    assert run["env"]["MLOPS_TEST_ARTIFACTS"] == screenshots["publish"]


# -- training.yml -------------------------------------------------------------------------------
def _training() -> dict[str, Any]:
    doc = load(PIPELINES / "training.yml")
    assert isinstance(doc, dict)
    return doc


def test_training_runs_by_hand_and_on_a_schedule_only() -> None:
    doc = _training()
    assert doc["trigger"] == "none" and doc["pr"] == "none"
    (schedule,) = doc["schedules"]
    assert len(schedule["cron"].split()) == 5 and schedule["always"] is True
    attempts = next(p for p in doc["parameters"] if p["name"] == "attempts")
    assert attempts["type"] == "object"
    assert attempts["default"] == sorted(attempts["default"]) and len(attempts["default"]) >= 2


def test_submit_job_ensures_uploads_submits_and_outputs_the_job_id() -> None:
    (stage,) = _training()["stages"]
    submit = next(j for j in stage["jobs"] if isinstance(j, dict) and j.get("job") == "Submit")
    call = template_call(steps_of(submit), "templates/azure-mlops.yml", "submit")
    script = call["parameters"]["script"]
    order = [script.index(words) for words in
             ("mlops infra ensure", "mlops --json data upload", "mlops --json train --submit-only")]
    assert order == sorted(order)
    assert "variable=jobId;isOutput=true" in script


def test_attempts_are_generated_with_each_and_know_the_earlier_ones() -> None:
    (stage,) = _training()["stages"]
    loops = [j for j in stage["jobs"] if isinstance(j, dict) and len(j) == 1
             and next(iter(j)).startswith("${{ each attempt in parameters.attempts }}")]
    assert len(loops) == 1
    (call,) = next(iter(loops[0].values()))
    assert call["template"] == "templates/training-attach.yml"
    assert call["parameters"]["attempt"] == "${{ attempt }}"
    (inner,) = call["parameters"]["earlier"]
    assert next(iter(inner)) == "${{ each other in parameters.attempts }}"
    assert next(iter(next(iter(inner.values()))[0])) == "${{ if lt(other, attempt) }}"


def _attach_job() -> dict[str, Any]:
    (job,) = load(TEMPLATES / "training-attach.yml")["jobs"]
    assert isinstance(job, dict)
    return job


def _expand_condition(job: dict[str, Any], earlier: list[int]) -> str:
    """The job condition as Azure DevOps compiles it for these earlier attempts (if/else, join)."""
    first = job["${{ if eq(length(parameters.earlier), 0) }}"]["condition"]
    if not earlier:
        return str(first)
    text = str(job["${{ else }}"]["condition"])
    head, rest = text.split("${{ join('", 1)
    separator, tail = rest.split("', parameters.earlier) }}", 1)
    return head + separator.replace("''", "'").join(map(str, earlier)) + tail


def test_an_attempt_is_skipped_once_an_earlier_one_finished() -> None:
    job = _attach_job()
    assert job["dependsOn"][0] == "Submit"
    assert job["dependsOn"][1] == {"${{ each other in parameters.earlier }}": ["Attach${{ other }}"]}
    assert _expand_condition(job, []) == "succeeded()"
    assert _expand_condition(job, [1, 2]) == (
        "and(succeeded(), notIn('true', dependencies.Attach1.outputs['attach.finished'], "
        "dependencies.Attach2.outputs['attach.finished']))")
    assert job["variables"]["jobId"] == "$[ dependencies.Submit.outputs['submit.jobId'] ]"
    wait = next(p for p in load(TEMPLATES / "training-attach.yml")["parameters"]
                if p["name"] == "waitMinutes")["default"]
    assert job["timeoutInMinutes"] > wait


def test_the_finishing_attempt_publishes_what_release_reads() -> None:
    steps = steps_of(_attach_job())
    attach = template_call(steps, "azure-mlops.yml", "attach")["parameters"]["script"]
    assert "--model-json \"$(modelDir)/model.json\"" in attach
    (publish,) = [s for s in steps if "publish" in s]
    assert publish["publish"] == "$(modelDir)"
    assert "eq(variables['attach.registered'], 'true')" in publish["condition"]
    read_model = {p["name"]: p.get("default") for p in load(TEMPLATES / "read-model.yml")["parameters"]}
    assert publish["artifact"] == read_model["artifact"] == "model"
    release = (PIPELINES / "release.yml").read_text(encoding="utf-8")
    assert "source: steel-training" in release and "steel-training" in (
        PIPELINES / "training.yml").read_text(encoding="utf-8")
    assert "artifact:" not in release.split("templates/read-model.yml", 1)[1].split("- template", 1)[0]


# -- the scripts, run in bash against a stand-in mlops ------------------------------------------
def _run(
    script: str, tmp_path: Path, stub: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    # What templates/azure-mlops.yml wraps every script in, minus the Azure CLI login.
    text = f"set -euo pipefail\n{stub}\n{script}"
    return subprocess.run([str(BASH), "-c", text], cwd=tmp_path, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", **(env or {})}, timeout=30, check=False)


def _macros(script: str, tmp_path: Path) -> str:
    return (script.replace("${{ parameters.waitMinutes }}", "50")
            .replace("$(modelDir)", str(tmp_path / "model"))
            .replace("$(dataPath)", "data/purchases.csv").replace("$(dataAsset)", "steel-purchases"))


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
@pytest.mark.parametrize(("exit_code", "finished"), [(0, "true"), (75, "false"), (3, None), (1, None)])
def test_attach_script_turns_75_into_not_yet(tmp_path: Path, exit_code: int, finished: str | None) -> None:
    steps = steps_of(_attach_job())
    script = _macros(template_call(steps, "azure-mlops.yml", "attach")["parameters"]["script"], tmp_path)
    ran = _run(script, tmp_path, f'mlops() {{ echo "$*" > args.txt; return {exit_code}; }}',
               {"JOBID": "steel-forecast-1"})
    args = (tmp_path / "args.txt").read_text().split()
    assert args[:5] == ["train", "--attach", "steel-forecast-1", "--wait-minutes", "50"]
    if finished is None:
        assert ran.returncode == exit_code and "setvariable" not in ran.stdout
    else:
        assert ran.returncode == 0, ran.stderr
        assert f"##vso[task.setvariable variable=finished;isOutput=true]{finished}" in ran.stdout


@pytest.mark.skipif(BASH is None, reason="bash is not installed")
def test_submit_script_passes_the_uploaded_version_and_outputs_the_job_id(tmp_path: Path) -> None:
    (stage,) = _training()["stages"]
    submit = next(j for j in stage["jobs"] if isinstance(j, dict) and j.get("job") == "Submit")
    script = _macros(template_call(steps_of(submit), "templates/azure-mlops.yml", "submit")
                     ["parameters"]["script"], tmp_path)
    python = shutil.which("python3") or shutil.which("python")
    assert python is not None
    stub = (f'python() {{ "{python}" "$@"; }}\n'
            'mlops() { echo "$*" >> calls.txt; case "$*" in\n'
            '  *"data upload"*) echo \'{"name": "steel-purchases", "version": 3}\' ;;\n'
            '  *"train --submit-only"*) echo \'{"job_id": "steel-forecast-9", "status": "Running"}\' ;;\n'
            'esac; }')
    ran = _run(script, tmp_path, stub)
    assert ran.returncode == 0, ran.stderr
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    assert calls == ["infra ensure",
                     "--json data upload data/purchases.csv --name steel-purchases",
                     "--json train --submit-only --data steel-purchases:3"]
    assert "##vso[task.setvariable variable=jobId;isOutput=true]steel-forecast-9" in ran.stdout
    assert json.loads((tmp_path / "job.json").read_text())["job_id"] == "steel-forecast-9"


def test_a_run_whose_attempts_all_said_not_yet_fails() -> None:
    jobs = load(PIPELINES / "training.yml")["stages"][0]["jobs"]
    final = next(j for j in jobs if isinstance(j, dict) and j.get("job") == "OutOfAttempts")
    assert final["dependsOn"] == [
        "Submit", {"${{ each attempt in parameters.attempts }}": ["Attach${{ attempt }}"]}]
    text = str(final["condition"])
    head, rest = text.split("${{ join('", 1)
    separator, tail = rest.split("', parameters.attempts) }}", 1)
    compiled = head + separator.replace("''", "'").join(["1", "2"]) + tail
    assert compiled == ("and(succeeded(), notIn('true', dependencies.Attach1.outputs"
                        "['attach.finished'], dependencies.Attach2.outputs['attach.finished']))")
    script = steps_of(final)[-1]["bash"]
    assert "exit 1" in script and "mlops train --attach" in script
