"""The local pipeline runner on toy Azure ML components: real YAML, real subprocesses, real files."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops_azure.errors import UserInputError
from mlops_azure.execution.runner import run_pipeline
from mlops_azure.workspace import JobStatus

# Each toy component: its YAML (as a dict) and the script its command runs.
MAKE: dict[str, Any] = {
    "yaml": {
        "type": "command", "name": "make", "version": "1",
        "inputs": {"start": {"type": "integer", "default": 1}, "seed_file": {"type": "uri_file"}},
        "outputs": {"out": {"type": "uri_folder"}},
        "code": "./src",
        "command": "python make.py ${{inputs.seed_file}} ${{inputs.start}} ${{outputs.out}}",
    },
    "script": ("make.py", """\
import json, os, pathlib, sys
seed = int(pathlib.Path(sys.argv[1]).read_text())
out = pathlib.Path(sys.argv[3])
(out / "value.txt").write_text(str(seed + int(sys.argv[2])))
print(json.dumps({"cwd": os.getcwd(), "python": sys.executable, "run": os.environ["AZUREML_RUN_ID"],
                  "step": os.environ["AZUREML_PIPELINE_STEP"], "extra": os.environ.get("EXTRA")}))
"""),
}
ADD: dict[str, Any] = {
    "yaml": {
        "type": "command", "name": "add", "version": "1",
        "inputs": {"source": {"type": "uri_folder"}, "amount": {"type": "integer", "min": 0},
                   "label": {"type": "string", "optional": True}},
        "outputs": {"out": {"type": "uri_folder"}},
        "code": "./src",
        "command": ("python add.py --source ${{inputs.source}} --amount ${{inputs.amount}} "
                    "$[[--label ${{inputs.label}}]] --out ${{outputs.out}}"),
    },
    "script": ("add.py", """\
import argparse, pathlib
p = argparse.ArgumentParser()
p.add_argument("--source"); p.add_argument("--amount", type=int); p.add_argument("--label")
p.add_argument("--out")
a = p.parse_args()
value = int((pathlib.Path(a.source) / "value.txt").read_text()) + a.amount
(pathlib.Path(a.out) / "value.txt").write_text(str(value))
if a.label is not None:
    (pathlib.Path(a.out) / "label.txt").write_text(a.label)
print(f"add: {value}")
"""),
}
FAIL: dict[str, Any] = {
    "yaml": {
        "type": "command", "name": "fail", "version": "1",
        "inputs": {"source": {"type": "uri_folder"}}, "outputs": {"out": {"type": "uri_folder"}},
        "code": "./src", "command": "python fail.py ${{inputs.source}}",
    },
    "script": ("fail.py", """\
import sys
for i in range(30):
    print(f"line {i}")
print("boom: the data is bad", file=sys.stderr)
sys.exit(3)
"""),
}
SLEEP: dict[str, Any] = {
    "yaml": {
        "type": "command", "name": "sleeper", "version": "1", "outputs": {"out": {"type": "uri_folder"}},
        "command": "sleep 60 & echo $! > ${{outputs.out}}/child.tmp; echo $$ > ${{outputs.out}}/shell; "
                   "mv ${{outputs.out}}/child.tmp ${{outputs.out}}/child; wait",
    },
}


def chain(*, middle: str = "add") -> dict[str, Any]:
    """make -> <middle> -> add, with the last step's output promoted."""
    return {
        "$schema": "https://azuremlschemas.azureedge.net/latest/pipelineJob.schema.json",
        "type": "pipeline", "experiment_name": "toy", "display_name": "toy chain",
        "settings": {"default_compute": "azureml:cpu-cluster"},
        "inputs": {"seed_file": {"type": "uri_file"}, "amount": 10, "label": "none"},
        "outputs": {"final": {"type": "uri_folder"}},
        "jobs": {
            "make": {"type": "command", "component": "file:./components/make.yml",
                     "inputs": {"seed_file": "${{parent.inputs.seed_file}}", "start": 2}},
            "middle": {"type": "command", "component": f"./components/{middle}.yml",
                       "inputs": {"source": "${{parent.jobs.make.outputs.out}}",
                                  **({"amount": "${{parent.inputs.amount}}"} if middle == "add" else {})}},
            "last": {"type": "command", "component": "./components/add.yml", "compute": "azureml:gpu",
                     "inputs": {"source": "${{parent.jobs.middle.outputs.out}}", "amount": 100,
                                "label": "${{parent.inputs.label}}"},
                     "outputs": {"out": "${{parent.outputs.final}}"}},
        },
    }


Project = Callable[..., Path]  # (pipeline dict, root folder=tmp_path/project) -> pipeline file


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """Write the toy components and a pipeline (given as a dict) into one folder; returns the file."""

    def write(pipeline: dict[str, Any], root: Path = tmp_path / "project") -> Path:
        (root / "components" / "src").mkdir(parents=True, exist_ok=True)
        for name, component in {"make": MAKE, "add": ADD, "fail": FAIL, "sleeper": SLEEP}.items():
            (root / "components" / f"{name}.yml").write_text(yaml.safe_dump(component["yaml"]))
            if "script" in component:
                script, text = component["script"]
                (root / "components" / "src" / script).write_text(text)
        file = root / "pipeline.yml"
        file.write_text(yaml.safe_dump(pipeline, sort_keys=False))
        return file

    return write


@pytest.fixture
def seed(tmp_path: Path) -> Path:
    path = tmp_path / "seed.txt"
    path.write_text("5")
    return path


def test_a_three_step_chain_passes_data_between_steps(project: Project, seed: Path, tmp_path: Path) -> None:
    events: list[tuple[str, JobStatus, str]] = []
    job_dir = tmp_path / "jobs" / "job-1"
    result = run_pipeline(project(chain()), {"seed_file": seed}, job_dir,
                          on_step=lambda *event: events.append(event), env={"EXTRA": "x"})

    assert result.status is JobStatus.COMPLETED and result.error is None
    assert [s.name for s in result.steps] == ["make", "middle", "last"]
    assert all(s.status is JobStatus.COMPLETED and s.exit_code == 0 for s in result.steps)
    assert all(s.started_at and s.ended_at and s.started_at <= s.ended_at for s in result.steps)
    assert result.outputs == {"final": job_dir / "steps" / "last" / "outputs" / "out"}
    assert (result.outputs["final"] / "value.txt").read_text() == "117"  # 5 + 2 + 10 + 100
    assert [(step, status) for step, status, _ in events] == [
        ("make", JobStatus.RUNNING), ("make", JobStatus.COMPLETED), ("middle", JobStatus.RUNNING),
        ("middle", JobStatus.COMPLETED), ("last", JobStatus.RUNNING), ("last", JobStatus.COMPLETED)]

    make = result.steps[0]
    assert make.log_path == job_dir / "steps" / "make" / "user_logs" / "std_log.txt"
    seen = json.loads(make.log_path.read_text())
    assert Path(seen["cwd"]) == (tmp_path / "project" / "components" / "src").resolve()
    assert Path(seen["python"]).parent == Path(sys.executable).parent  # `python` is this interpreter
    assert seen | {"cwd": None, "python": None} == {
        "cwd": None, "python": None, "run": "job-1_make", "step": "make", "extra": "x"}
    assert result.steps[1].log_path.read_text() == "add: 17\n"


@pytest.mark.parametrize(("label", "expected"), [("a label with 'quotes' & spaces", True), (None, False)])
def test_an_optional_input_is_passed_only_when_given(project: Project, seed: Path, tmp_path: Path,
                                                     label: str | None, expected: bool) -> None:
    pipeline = chain()
    if label is None:  # Azure ML has no unbound primitive pipeline input: the step leaves it out
        del pipeline["inputs"]["label"], pipeline["jobs"]["last"]["inputs"]["label"]
    given = {"seed_file": seed} if label is None else {"seed_file": seed, "label": label}
    result = run_pipeline(project(pipeline), given, tmp_path / "job")
    assert result.status is JobStatus.COMPLETED, result.error
    label_file = result.outputs["final"] / "label.txt"
    assert label_file.exists() is expected
    if expected:
        assert label_file.read_text() == label


def test_a_failing_step_fails_the_pipeline_and_skips_the_rest(project: Project, seed: Path,
                                                              tmp_path: Path) -> None:
    events: list[tuple[str, JobStatus, str]] = []
    job_dir = tmp_path / "job"
    result = run_pipeline(project(chain(middle="fail")), {"seed_file": seed}, job_dir,
                          on_step=lambda *event: events.append(event))

    assert result.status is JobStatus.FAILED
    make, middle, last = result.steps
    assert make.status is JobStatus.COMPLETED
    assert (middle.status, middle.exit_code) == (JobStatus.FAILED, 3)
    assert middle.error is not None and middle.error.startswith("step 'middle' failed with exit code 3: ")
    assert "boom: the data is bad" in middle.error and "line 29" in middle.error
    assert "line 10" not in middle.error  # only the tail of the log
    assert result.error == middle.error
    assert (last.status, last.started_at, last.exit_code, last.error) == (JobStatus.SKIPPED, None, None, None)
    last_dir = job_dir / "steps" / "last"
    assert not last_dir.exists() or not any(p.is_file() for p in last_dir.rglob("*"))
    assert result.outputs == {}  # the promoted output was never produced
    assert events[-1][:2] == ("last", JobStatus.SKIPPED)
    assert (job_dir / "steps" / "make" / "outputs" / "out" / "value.txt").read_text() == "7"


def test_paths_with_spaces_and_quotes_work_everywhere(project: Project, tmp_path: Path) -> None:
    odd = tmp_path / "it's a \"dir\" $HOME"
    odd.mkdir()
    seed = odd / "seed file.txt"
    seed.write_text("1")
    pipeline_file = project(chain(), odd / "my project")
    result = run_pipeline(pipeline_file, {"seed_file": seed}, odd / "job dir")
    assert result.status is JobStatus.COMPLETED, result.error
    assert (result.outputs["final"] / "value.txt").read_text() == "113"


def test_relative_paths_in_the_yaml_are_relative_to_the_pipeline_file(
    project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pipeline = chain()
    pipeline["inputs"]["seed_file"] = {"type": "uri_file", "path": "./data/seed.txt"}
    file = project(pipeline)
    (file.parent / "data").mkdir()
    (file.parent / "data" / "seed.txt").write_text("0")
    monkeypatch.chdir(tmp_path)
    result = run_pipeline(file, {"amount": "1"}, Path("relative-job"))  # "1" as typed on a command line
    assert result.status is JobStatus.COMPLETED, result.error
    assert (result.outputs["final"] / "value.txt").read_text() == "103"
    assert result.outputs["final"].is_absolute()


def test_a_uri_file_output_is_a_file_inside_its_folder(project: Project, tmp_path: Path) -> None:
    component = {"type": "command", "name": "one_file", "outputs": {"report": {"type": "uri_file"}},
                 "command": "echo hello > ${{outputs.report}}"}
    file = project({"type": "pipeline", "outputs": {"report": None},
                    "jobs": {"write": {"component": "./components/one_file.yml",
                                       "outputs": {"report": "${{parent.outputs.report}}"}}}})
    (file.parent / "components" / "one_file.yml").write_text(yaml.safe_dump(component))
    result = run_pipeline(file, {}, tmp_path / "job")
    assert result.status is JobStatus.COMPLETED, result.error
    assert result.outputs["report"].is_dir()
    assert (result.outputs["report"] / "report").read_text() == "hello\n"


@pytest.mark.parametrize(
    ("inputs", "message"),
    [
        ({"nope": 1}, r"there is no pipeline input named 'nope' \(inputs: seed_file, amount, label\)"),
        ({"seed_file": None}, r"input 'seed_file' is required but has no value and no default"),
        ({"amount": "abc"}, r"input 'amount': 'abc' is not an integer"),
        ({"amount": -5}, r"input 'amount' \(bound to jobs.middle.inputs.amount\): -5 is below the minimum 0"),
        ({"seed_file": "missing.txt"}, r"input 'seed_file': .*missing.txt does not exist"),
        ({"seed_file": "."}, r"input 'seed_file': .* is not a file \(the input's type is uri_file\)"),
        ({"seed_file": "azureml:seed:1"}, r"input 'seed_file': azureml:seed:1 is a remote location"),
    ],
)
def test_bad_inputs_are_rejected_before_anything_runs(
    project: Project, seed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    inputs: dict[str, Any], message: str,
) -> None:
    file = project(chain())
    monkeypatch.chdir(tmp_path)  # given relative paths are relative to the working directory
    with pytest.raises(UserInputError, match=rf"^{re.escape(str(file))}: {message}"):
        run_pipeline(file, {"seed_file": seed, **inputs}, tmp_path / "job")
    assert not (tmp_path / "job").exists()


def test_bad_definitions_are_rejected_before_anything_runs(project: Project, seed: Path,
                                                           tmp_path: Path) -> None:
    pipeline = chain()
    pipeline["jobs"]["last"]["inputs"]["source"] = "${{parent.jobs.prepp.outputs.out}}"
    with pytest.raises(UserInputError, match=r"jobs.last.inputs.source refers to unknown step 'prepp'"):
        run_pipeline(project(pipeline), {"seed_file": seed}, tmp_path / "job")
    assert not (tmp_path / "job").exists()


def test_a_job_folder_is_never_reused(project: Project, seed: Path, tmp_path: Path) -> None:
    file = project(chain())
    assert run_pipeline(file, {"seed_file": seed}, tmp_path / "job").status is JobStatus.COMPLETED
    with pytest.raises(UserInputError, match="already holds a run's steps"):
        run_pipeline(file, {"seed_file": seed}, tmp_path / "job")


def test_a_command_that_cannot_start_fails_its_step(project: Project, seed: Path, tmp_path: Path) -> None:
    # With this PATH there is no bash to start the command with.
    result = run_pipeline(project(chain()), {"seed_file": seed}, tmp_path / "job",
                          env={"PATH": str(tmp_path / "no-bin")})
    assert result.status is JobStatus.FAILED
    assert [s.status for s in result.steps] == [JobStatus.FAILED, JobStatus.SKIPPED, JobStatus.SKIPPED]
    assert result.steps[0].exit_code is None
    assert result.error is not None and result.error.startswith("step 'make' could not be started")
    assert "cannot start" in result.steps[0].log_path.read_text()


def _gone(pid: int) -> bool:
    """True when ``pid`` no longer runs (a zombie waiting for a reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def _wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _reap(pids: list[int]) -> None:
    """Kill what a broken runner left behind, so a failing test does not leak processes."""
    for pid in pids:
        if not _gone(pid):
            os.kill(pid, signal.SIGKILL)


def test_background_processes_left_by_a_step_are_ended(project: Project, tmp_path: Path) -> None:
    component = {"type": "command", "name": "leaky", "outputs": {"out": {"type": "uri_folder"}},
                 "command": "sleep 60 & echo $! > ${{outputs.out}}/child"}
    file = project({"type": "pipeline", "jobs": {"leak": {"component": "./components/leaky.yml"}}})
    (file.parent / "components" / "leaky.yml").write_text(yaml.safe_dump(component))
    result = run_pipeline(file, {}, tmp_path / "job")
    assert result.status is JobStatus.COMPLETED
    child = int((tmp_path / "job" / "steps" / "leak" / "outputs" / "out" / "child").read_text())
    try:
        assert _wait_until(lambda: _gone(child), 5)
    finally:
        _reap([child])


#: The runner as a process of its own. Ctrl-C is made to raise KeyboardInterrupt whatever the
#: test run inherited: a suite started in the background of a shell without job control (e.g.
#: ``nohup make test &``) passes SIGINT on as ignored, and Python then leaves it ignored.
RUNNER = """\
import signal
import sys
from pathlib import Path
from mlops_azure.execution.runner import run_pipeline
signal.signal(signal.SIGINT, signal.default_int_handler)
run_pipeline(Path(sys.argv[1]), {}, Path(sys.argv[2]))
"""


def _watchdogs(step_shell: int) -> list[int]:
    """The runner's watchdog processes that guard the step whose first process is ``step_shell``."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"mlops-step-watchdog" in argv and str(step_shell).encode() in argv and not _gone(int(proc.name)):
            found.append(int(proc.name))
    return found


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL])
def test_an_interrupted_run_kills_the_running_step(project: Project, tmp_path: Path, signum: int) -> None:
    """Whether the runner is interrupted or killed outright (kill -9), the step's processes end."""
    file = project({"type": "pipeline", "jobs": {"nap": {"component": "./components/sleeper.yml"},
                                                 "after": {"component": "./components/sleeper.yml"}}})
    job_dir = tmp_path / "job"
    out = job_dir / "steps" / "nap" / "outputs" / "out"
    runner = subprocess.Popen([sys.executable, "-c", RUNNER, str(file), str(job_dir)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    step_pids: list[int] = []
    try:
        assert _wait_until(lambda: (out / "child").exists(), 20), "the step never started"
        step_pids = [int((out / "child").read_text()), int((out / "shell").read_text())]
        assert not any(_gone(pid) for pid in step_pids)
        assert _wait_until(lambda: len(_watchdogs(step_pids[1])) == 1, 20)  # started just after the step
        runner.send_signal(signum)
        _, stderr = runner.communicate(timeout=20)
        assert runner.returncode != 0
        if signum != signal.SIGKILL:  # a killed runner says nothing: its watchdog does the work
            assert ("PipelineInterrupted" if signum == signal.SIGTERM else "KeyboardInterrupt") in stderr
        assert _wait_until(lambda: all(_gone(pid) for pid in step_pids), 20)
        assert _wait_until(lambda: not _watchdogs(step_pids[1]), 20)
        assert not (job_dir / "steps" / "after").exists()  # the next step never started
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.communicate()
        _reap(step_pids)
