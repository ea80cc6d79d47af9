"""The Azure DevOps YAML under .azure-pipelines/: it parses, and every `mlops` line in it is a real command.

Pipelines only run in Azure DevOps, so a renamed option or a typo in a stage would otherwise surface
during a release. These tests walk the real click command tree with each `mlops` line instead.
"""

from __future__ import annotations

import functools
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from mlops_azure.cli.ci_lines import (
    PLACEHOLDER,
    SHELL_KEYS,
    MlopsLine,
    ShellText,
    logical_lines,
    mlops_lines_in,
    shell_texts,
    substitute_macros,
    walk,
)
from mlops_azure.cli.invocations import InvalidInvocation, validate_invocation
from mlops_azure.project_ci import PipelineValues, write_pipelines

REPO = Path(__file__).resolve().parents[2]
PIPELINES = REPO / ".azure-pipelines"
RELEASE = PIPELINES / "release.yml"
#: The pipelines `mlops init` writes into a project, rendered for a made-up one: every check of
#: this file holds for them too (the test session's temporary folder is removed at exit).
_PROJECT = tempfile.TemporaryDirectory(prefix="mlops-project-ci-")
PROJECT_PIPELINES = Path(_PROJECT.name) / ".azure-pipelines"
write_pipelines(PROJECT_PIPELINES, PipelineValues(name="churn", data_asset="churn-data",
                                                  data_path="data/churn.csv"))

SECRET_KEY = re.compile(r"pass(word|wd)|secret|token|key|credential|connection_?string", re.IGNORECASE)
SECRET_VALUE = re.compile(
    r"AccountKey=|SharedAccessKey=|SharedAccessSignature=|[?&]sig=[A-Za-z0-9%]{16,}"
    r"|-----BEGIN [A-Z ]*PRIVATE KEY-----|\bghp_[A-Za-z0-9]{20,}",
)
SECRET_ASSIGNMENT = re.compile(
    r"\b[A-Za-z_]*(PASSWORD|SECRET|TOKEN|KEY)[A-Za-z_]*=(?![\"']?\$)\S+", re.IGNORECASE
)
MACRO_ONLY = re.compile(r"^\s*(\$\(\s*[A-Za-z_][\w.]*\s*\)|\$\{\{.*\}\}|\$\[.*\])\s*$", re.DOTALL)
HAS_MACRO = re.compile(r"\$\(\s*[A-Za-z_][\w.]*\s*\)|\$\{\{|\$\[")
MASKED_EXIT = re.compile(r"\|\|\s*(true\b|:(?=[\s;)]|$)|exit\s+0\b)|^\s*set\s+\+e\b", re.MULTILINE)
ERREXIT = re.compile(r"^set\s+(-[A-Za-z]*e[A-Za-z]*\b|-o\s+errexit\b)")


# ---------------------------------------------------------------------------------------------
# Reading the YAML
# ---------------------------------------------------------------------------------------------


def pipeline_files() -> list[Path]:
    """Every YAML file under .azure-pipelines/, recursively."""
    return sorted(p for root in (PIPELINES, PROJECT_PIPELINES) for p in root.rglob("*")
                  if p.suffix in (".yml", ".yaml") and p.is_file())


def rel(path: Path) -> str:
    if path.is_relative_to(PROJECT_PIPELINES.parent):
        return "project:" + path.relative_to(PROJECT_PIPELINES.parent).as_posix()
    return path.relative_to(REPO).as_posix()


@functools.cache
def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


# ---------------------------------------------------------------------------------------------
# From shell text to `mlops` argument lists
# ---------------------------------------------------------------------------------------------


def _load_or_none(file: Path) -> Any:
    # At collection time a broken file must not hide the others; test_yaml_parses reports it.
    try:
        return load(file)
    except yaml.YAMLError:
        return None


def all_shell_texts() -> list[ShellText]:
    return [text for file in pipeline_files() for text in shell_texts(file, _load_or_none(file))]


def all_mlops_lines() -> list[MlopsLine]:
    return [found for text in all_shell_texts() for found in mlops_lines_in(text.text, text.file)]


# ---------------------------------------------------------------------------------------------
# Checking an argument list against the click command tree
# ---------------------------------------------------------------------------------------------


def where(found: MlopsLine) -> str:
    return f"{rel(found.file)}:{found.line_number or '?'}"


def check_line(found: MlopsLine) -> None:
    try:
        validate_invocation(list(found.args))
    except InvalidInvocation as exc:
        pytest.fail(f"{where(found)}: `{found.line}` is not a valid mlops invocation: {exc}")


# ---------------------------------------------------------------------------------------------
# The files
# ---------------------------------------------------------------------------------------------

FILES = pipeline_files()
MLOPS_LINES = all_mlops_lines()


def test_the_release_pipeline_exists() -> None:
    assert RELEASE in FILES
    assert any(found.file == RELEASE for found in MLOPS_LINES)


@pytest.mark.parametrize("file", FILES, ids=rel)
def test_yaml_parses(file: Path) -> None:
    assert isinstance(load(file), dict), f"{rel(file)}: expected a mapping at the top level"


@pytest.mark.parametrize("found", MLOPS_LINES, ids=lambda f: f"{rel(f.file)}::{' '.join(f.args)}")
def test_mlops_line_is_a_valid_invocation(found: MlopsLine, monkeypatch: pytest.MonkeyPatch) -> None:
    # Relative paths in the pipelines are relative to the checked-out repository.
    monkeypatch.chdir(REPO)
    check_line(found)


@pytest.mark.parametrize("found", MLOPS_LINES, ids=lambda f: f"{rel(f.file)}::{' '.join(f.args)}")
def test_mlops_line_never_uses_latest(found: MlopsLine) -> None:
    assert "latest" not in found.line.lower(), f"{where(found)}: `{found.line}` must name an explicit version"


@pytest.mark.parametrize("file", FILES, ids=rel)
def test_no_floating_model_reference_anywhere(file: Path) -> None:
    text = file.read_text(encoding="utf-8")
    assert not re.search(r"[:@]latest\b", text), f"{rel(file)}: a model reference must name a version"


@pytest.mark.parametrize("file", FILES, ids=rel)
def test_no_continue_on_error(file: Path) -> None:
    bad = [keys for keys, _ in walk(load(file)) if keys and keys[-1] == "continueOnError"]
    assert not bad, f"{rel(file)}: continueOnError hides failures: {bad}"


@pytest.mark.parametrize("text", [t for t in all_shell_texts() if not t.is_template_argument],
                         ids=lambda t: f"{rel(t.file)}::{'.'.join(map(str, t.keys))}")
def test_scripts_stop_at_the_first_failure(text: ShellText) -> None:
    # Without errexit a bash script returns the status of its last command, so a failing gate
    # followed by an `echo` would pass the step.
    assert not MASKED_EXIT.search(text.text), f"{rel(text.file)}: an exit status is masked"
    lines = [line.strip() for line in logical_lines(text.text)
             if line.strip() and not line.strip().startswith("#")]
    if len(lines) > 1 and text.keys[-1] in ("script", "bash", "inlineScript"):
        assert ERREXIT.match(lines[0]), f"{rel(text.file)}: a multi-line script must start with set -e"
        if any(re.search(r"(?<!\|)\|(?!\|)", line) for line in lines):
            assert "pipefail" in lines[0], f"{rel(text.file)}: a script with a pipe needs pipefail"


def _tasks(doc: Any, name: str) -> list[dict[str, Any]]:
    return [node for _, node in walk(doc) if isinstance(node, dict) and node.get("task") == name]


@pytest.mark.parametrize("file", FILES, ids=rel)
def test_azure_cli_tasks_take_the_service_connection_from_a_variable(file: Path) -> None:
    for task in _tasks(load(file), "AzureCLI@2"):
        inputs = task.get("inputs") or {}
        subscription = str(inputs.get("azureSubscription", ""))
        assert MACRO_ONLY.match(subscription), (
            f"{rel(file)}: azureSubscription must be a variable or parameter, got {subscription!r}")
        assert inputs.get("scriptType") == "bash" and inputs.get("scriptLocation") == "inlineScript"


@pytest.mark.parametrize("file", FILES, ids=rel)
def test_azure_cli_tasks_map_the_pipeline_token_for_long_waits(file: Path) -> None:
    # Without it mlops falls back on the az login, whose federated assertion lasts 10 minutes.
    for task in _tasks(load(file), "AzureCLI@2"):
        assert (task.get("env") or {}).get("SYSTEM_ACCESSTOKEN") == "$(System.AccessToken)", (
            f"{rel(file)}: an AzureCLI@2 step must map SYSTEM_ACCESSTOKEN: $(System.AccessToken)")


@pytest.mark.parametrize("file", FILES, ids=rel)
def test_no_secret_looking_values(file: Path) -> None:
    problems: list[str] = []
    for keys, value in walk(load(file)):
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            continue
        text = str(value)
        name = str(keys[-1]) if keys else ""
        if SECRET_KEY.search(name) and text.strip() and not HAS_MACRO.search(text):
            problems.append(f"{'.'.join(map(str, keys))} has a literal value")
        if SECRET_VALUE.search(text):
            problems.append(f"{'.'.join(map(str, keys))} looks like a credential")
        if keys and keys[-1] in SHELL_KEYS:
            problems += [f"{'.'.join(map(str, keys))}: {m.group(0)}"
                         for m in SECRET_ASSIGNMENT.finditer(substitute_macros(text))
                         if PLACEHOLDER not in m.group(0)]
    assert not problems, f"{rel(file)}: " + "; ".join(problems)


def _template_calls(doc: Any) -> Iterator[dict[str, Any]]:
    for _, node in walk(doc):
        if isinstance(node, dict) and isinstance(node.get("template"), str):
            yield node


@pytest.mark.parametrize("file", FILES, ids=rel)
def test_templates_exist_and_get_their_parameters(file: Path) -> None:
    for call in _template_calls(load(file)):
        # Azure DevOps resolves template paths from the including file; a leading / is the repo root.
        ref = call["template"]
        target = (REPO / ref.lstrip("/")) if ref.startswith("/") else (file.parent / ref)
        assert target.resolve().is_file(), f"{rel(file)}: template {ref} does not exist"
        declared = {p["name"]: p for p in load(target.resolve()).get("parameters") or []}
        passed = set(call.get("parameters") or {})
        assert passed <= set(declared), f"{rel(file)}: {ref} does not declare {passed - set(declared)}"
        required = {name for name, p in declared.items() if "default" not in p}
        assert required <= passed, f"{rel(file)}: {ref} needs {required - passed}"


# ---------------------------------------------------------------------------------------------
# The release pipeline's shape
# ---------------------------------------------------------------------------------------------


def _release() -> dict[str, Any]:
    doc = load(RELEASE)
    assert isinstance(doc, dict)
    return doc


def _stage(name: str) -> dict[str, Any]:
    stages = {s.get("stage"): s for s in _release()["stages"]}
    assert name in stages, f"release.yml has no {name} stage (has {sorted(stages)})"
    stage: dict[str, Any] = stages[name]
    return stage


def _stage_mlops_args(name: str) -> list[tuple[str, ...]]:
    return [found.args for text in shell_texts(RELEASE, _stage(name))
            for found in mlops_lines_in(text.text)]


def test_release_is_triggered_only_by_runs_that_registered_a_model() -> None:
    from mlops_azure.cli.commands_train import REGISTERED_BUILD_TAG

    (training,) = _release()["resources"]["pipelines"]
    assert training["trigger"] == {"tags": [REGISTERED_BUILD_TAG]}


def test_release_runs_only_after_training() -> None:
    doc = _release()
    assert doc.get("trigger") == "none" and doc.get("pr") == "none"
    resources = doc["resources"]["pipelines"]
    assert any(r.get("trigger") not in (None, False, "none") for r in resources)


def test_release_stages_run_in_order() -> None:
    assert [s["stage"] for s in _release()["stages"]] == ["Staging", "QA", "Production"]
    assert _stage("QA")["dependsOn"] in ("Staging", ["Staging"])
    production_needs = _stage("Production")["dependsOn"]
    assert "QA" in production_needs and "Staging" in production_needs


def test_the_model_ref_comes_from_model_json_and_staging_outputs() -> None:
    text = RELEASE.read_text(encoding="utf-8")
    assert "templates/read-model.yml" in text
    for stage in ("QA", "Production"):
        jobs = _stage(stage)["jobs"]
        assert all("stageDependencies.Staging.Deploy.outputs['model.ref']" in str(j.get("variables"))
                   for j in jobs), f"{stage} must take the model from the Staging stage"


def test_staging_deploys_the_explicit_version() -> None:
    assert ("deploy", PLACEHOLDER, "--stage", "staging") in _stage_mlops_args("Staging")


def test_qa_gate_reports_and_publishes_junit_even_on_failure() -> None:
    args = [a for a in _stage_mlops_args("QA") if a[:2] == ("gate", "qa")]
    assert args, "the QA stage must run mlops gate qa"
    gate = args[0]
    for option in ("--stage", "--model", "--report", "--junit"):
        assert option in gate
    assert gate[gate.index("--stage") + 1] == "staging"
    publish = _tasks(_stage("QA"), "PublishTestResults@2")
    assert publish and publish[0]["condition"] == "always()"
    assert publish[0]["inputs"]["testResultsFormat"] == "JUnit"
    artifacts = [n for _, n in walk(_stage("QA")) if isinstance(n, dict) and "publish" in n]
    assert artifacts and all(a.get("condition") == "always()" for a in artifacts)


def test_production_is_a_deployment_job_bound_to_an_environment() -> None:
    jobs = [j for j in _stage("Production")["jobs"] if "deployment" in j]
    assert jobs, "Production needs a deployment job so that the Environment's approvals gate it"
    job = jobs[0]
    environment = job.get("environment")
    assert environment and (isinstance(environment, str) or environment.get("name"))
    assert job["strategy"]["runOnce"]["deploy"]["steps"]


def test_production_records_the_approval_then_promotes() -> None:
    args = _stage_mlops_args("Production")
    approve = next(i for i, a in enumerate(args) if a[0] == "approve")
    promote = next(i for i, a in enumerate(args) if a[0] == "promote")
    assert approve < promote
    assert "--devops-environment" in args[approve]
    assert args[approve][args[approve].index("--stage") + 1] == "production"
    assert args[promote][args[promote].index("--stage") + 1] == "production"


# ---------------------------------------------------------------------------------------------
# The validator itself: it must reject broken lines, or the tests above prove nothing
# ---------------------------------------------------------------------------------------------


def _release_like_cli() -> Any:
    """A small stand-in with the release commands' shape (a group, a required --stage)."""
    demo = typer.Typer()
    gate = typer.Typer()

    @demo.callback()
    def main(backend: str | None = typer.Option(None, "--backend")) -> None:
        """Root."""

    @demo.command("deploy")
    def deploy(ref: str = typer.Argument(...), stage: str = typer.Option(..., "--stage")) -> None:
        """Deploy."""

    @gate.command("qa")
    def qa(stage: str = typer.Option(..., "--stage"), lines: int = typer.Option(10, "--lines")) -> None:
        """QA."""

    demo.add_typer(gate, name="gate")
    return typer.main.get_command(demo)


def _args(line: str) -> list[str]:
    found = mlops_lines_in(line)
    assert len(found) == 1, found
    return list(found[0].args)


@pytest.mark.parametrize("line", [
    "mlops train --model-json model.json --fail-if-not-better",
    "mlops train --data steel-purchases:3 -p n_estimators=40 --param seed=1",
    "mlops --backend azure --json status",
    "mlops -c mlops.yaml --debug history",
    "mlops data check data/purchases.csv",
    "mlops models show steel-purchase-forecast:3",
    'mlops models show "$(model.ref)"',
    "mlops models show ${{ parameters.model }}",
    "mlops models show $[ stageDependencies.Staging.Deploy.outputs['model.ref'] ]",
    'MLOPS_BACKEND=azure mlops models show "${MODEL_REF}"',
    "mlops models list 2>&1 > models.txt",
    "mlops train \\\n  --fail-if-not-better",
])
def test_validator_accepts_valid_lines(line: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    validate_invocation(_args(line))


@pytest.mark.parametrize("line", [
    "mlops promot x --stage y",
    "mlops train --no-such-option",
    "mlops models show",
    "mlops models",
    "mlops models frobnicate x:1",
    "mlops data upload data.csv",
    "mlops status extra",
    "mlops --backend",
    "mlops",
])
def test_validator_rejects_broken_lines(line: str) -> None:
    with pytest.raises(InvalidInvocation):
        validate_invocation(_args(line))


@pytest.mark.parametrize(("line", "accepted"), [
    ("mlops deploy m:1 --stage staging", True),
    ("mlops deploy $(modelRef) --stage $(stage)", True),
    ("mlops deploy m:1", False),
    ("mlops deploy --stage staging", False),
    ("mlops deploy m:1 --stage staging --canary", False),
    ("mlops gate qa --stage staging", True),
    ("mlops gate qa --stage staging --lines $(n)", True),
    ("mlops gate qa --stage staging --lines many", False),
    ("mlops gate qa", False),
    ("mlops gate", False),
    ("mlops gate qb --stage staging", False),
])
def test_validator_walks_groups_and_required_options(line: str, accepted: bool) -> None:
    root = _release_like_cli()
    if accepted:
        validate_invocation(_args(line), root)
    else:
        with pytest.raises(InvalidInvocation):
            validate_invocation(_args(line), root)


def test_validator_reports_file_and_line() -> None:
    found = MlopsLine(RELEASE, "mlops promot x --stage y", ("promot", "x", "--stage", "y"))
    with pytest.raises(pytest.fail.Exception, match=r"release\.yml.*mlops promot x"):
        check_line(found)


@pytest.mark.parametrize(("text", "expected"), [
    ("set -e\nmlops status\necho done", [("status",)]),
    ("if mlops status; then echo ok; fi", [("status",)]),
    ("true && mlops history || exit 1", [("history",)]),
    ("ref=$(mlops models list --json | jq -r .)", [("models", "list", "--json")]),
    ("echo mlops status\nmlopsx status", []),
    ("python - <<'PY'\nmlops status\nPY\nmlops history", [("history",)]),
    ("mlops gate qa --stage s \\\n  --junit $(qaDir)/j.xml",
     [("gate", "qa", "--stage", "s", "--junit", "MACRO/j.xml")]),
])
def test_mlops_lines_are_found_in_shell_text(text: str, expected: list[tuple[str, ...]]) -> None:
    assert [found.args for found in mlops_lines_in(text)] == expected
