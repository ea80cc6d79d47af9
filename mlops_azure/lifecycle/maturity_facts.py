"""What ``mlops maturity`` looks at, gathered once: the project's files, git, CI definitions, the
workspace's records and an optional JUnit file. The criteria judge these :class:`Facts` only, so
they can be tested on hand-built facts without a workspace."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from mlops_azure.errors import MlopsError, UserInputError

if TYPE_CHECKING:
    from mlops_azure.config import ProjectConfig
    from mlops_azure.workspace import (
        AuditEvent,
        Job,
        ModelVersion,
        Schedule,
        ServingDeployment,
        Workspace,
    )

#: Where CI/CD definitions live (Azure DevOps, GitHub Actions), relative to a folder searched.
CI_GLOBS = (".azure-pipelines/**/*.yml", ".azure-pipelines/**/*.yaml", "azure-pipelines.yml",
            ".github/workflows/*.yml", ".github/workflows/*.yaml")
#: Folders never searched for tests (environments, caches, the embedded workspace).
SKIPPED_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".mlops", ".tox"}
#: ``mlops`` global options that take a value, skipped to find the command.
_VALUED_OPTIONS = {"--config", "-c", "--backend", "--actor"}
#: Commands recognised after ``mlops`` (two words first).
_COMMANDS = ("gate qa", "monitor drift", "monitor setup", "watch data", "schedule create",
             "schedule run-due", "schedule settle", "data check", "data upload", "train",
             "deploy", "promote", "approve", "rollback", "run")
#: Steps that run a test suite.
_TEST_RUNNERS = re.compile(r"\b(pytest|python -m unittest|make test|tox|nox)\b|PublishTestResults")
#: Events read back per type: enough for a project's history, bounded for a remote trail.
EVENT_LIMIT = 500


@dataclass(frozen=True)
class CiFile:
    """One CI/CD definition and what it runs."""

    path: Path
    #: ``mlops`` commands it runs (``train``, ``gate qa``, ...) with their flags.
    commands: tuple[tuple[str, frozenset[str]], ...] = ()
    runs_tests: bool = False
    #: It runs on a timetable (``schedules:`` / ``on: schedule``).
    scheduled: bool = False
    #: ``trigger: none`` and no ``pr:``: it runs only when started by hand or by another pipeline.
    manual_only: bool = False

    def runs(self, command: str, flag: str | None = None) -> bool:
        return any(c == command and (flag is None or flag in flags) for c, flags in self.commands)


@dataclass(frozen=True)
class JunitSummary:
    """Counts of a JUnit XML file (``--junit``)."""

    path: Path
    tests: int
    failures: int
    errors: int
    skipped: int


@dataclass(frozen=True)
class Facts:
    """Everything the criteria judge. ``None`` means the source could not be read (unknown)."""

    root: Path
    #: The git checkout's top folder; None when the project is not in one.
    git_top: Path | None = None
    #: False when git itself could not be run (the version-control criteria are unknown then).
    git_available: bool = True
    #: The commit checked out (``-dirty`` suffixed), None outside git.
    commit: str | None = None
    #: Files git tracks, relative to ``root`` (None outside git).
    tracked: frozenset[str] | None = None
    ci_files: tuple[CiFile, ...] = ()
    test_files: tuple[Path, ...] = ()
    junit: JunitSummary | None = None
    #: mlops.yaml, as the criteria need it.
    training_pipeline: Path | None = None
    environments: tuple[Path, ...] = ()
    scoring_scripts: tuple[Path, ...] = ()
    stages: dict[str, bool] = field(default_factory=dict)  # name -> requires_approval
    production_stage: str | None = None
    production_endpoint: str | None = None
    canary_steps: tuple[int, ...] = ()
    keep_previous: bool = True
    collect: bool = True
    responsible: bool = False
    #: The workspace; all None when it could not be read (``workspace_error`` says why).
    workspace_error: str | None = None
    events: tuple[AuditEvent, ...] | None = None
    models: tuple[ModelVersion, ...] | None = None
    jobs: tuple[Job, ...] | None = None
    schedules: tuple[Schedule, ...] | None = None
    serving: tuple[ServingDeployment, ...] | None = None

    def rel(self, path: Path) -> str:
        """``path`` as the report shows it: relative to the project when inside it."""
        try:
            return path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return str(path)


def mlops_commands(text: str) -> list[tuple[str, frozenset[str]]]:
    """The ``mlops`` commands a CI definition runs, each with the flags given on its line
    (a shell line continued with ``\\`` counts as one line; YAML comments are not run)."""
    found = []
    for line in text.replace("\\\n", " ").splitlines():
        if line.lstrip().startswith("#"):
            continue
        # Up to the next shell separator: `mlops a && mlops b` runs two commands.
        for match in re.finditer(r"(?<![\w.-])mlops\s+([^;&|`]*)", line):
            try:
                words = shlex.split(match.group(1), comments=True)
            except ValueError:
                words = match.group(1).split()
            i = 0
            while i < len(words) and words[i].startswith("-"):
                i += 2 if words[i] in _VALUED_OPTIONS else 1
            rest = " ".join(words[i:i + 2])
            for command in _COMMANDS:
                if rest == command or rest.startswith(command + " "):
                    flags = frozenset(w.split("=")[0] for w in words[i:] if w.startswith("--"))
                    found.append((command, flags))
                    break
    return found


def read_ci_file(path: Path) -> CiFile:
    text = path.read_text(encoding="utf-8", errors="replace")
    scheduled = bool(re.search(r"^schedules\s*:", text, re.M)) or bool(
        re.search(r"^\s+schedule\s*:\s*$", text, re.M))
    manual = bool(re.search(r"^trigger\s*:\s*none\s*$", text, re.M)) and not re.search(
        r"^pr\s*:(?!\s*none\b)", text, re.M)
    return CiFile(path, tuple(mlops_commands(text)), bool(_TEST_RUNNERS.search(text)),
                  scheduled, manual)


def ci_paths(folders: Sequence[Path]) -> list[Path]:
    """The CI/CD definitions (:data:`CI_GLOBS`) under each of ``folders``, each file once."""
    seen: dict[Path, Path] = {}
    for folder in folders:
        for pattern in CI_GLOBS:
            for path in sorted(folder.glob(pattern)):
                if path.is_file():
                    seen.setdefault(path.resolve(), path)
    return list(seen.values())


def find_ci_files(folders: Sequence[Path]) -> list[CiFile]:
    return [read_ci_file(path) for path in ci_paths(folders)]


def find_test_files(folders: Sequence[Path], limit: int = 5000) -> list[Path]:
    """``test_*.py`` / ``*_test.py`` files under the folders (not in environments or caches)."""
    found: dict[Path, None] = {}
    for folder in folders:
        for here, dirs, files in os.walk(folder):
            dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS and not d.startswith(".")]
            for name in files:
                if name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py")):
                    found[Path(here, name).resolve()] = None
            if len(found) >= limit:
                return list(found)
    return list(found)


def read_junit(path: Path) -> JunitSummary:
    """Test counts of a JUnit XML file (``testsuites`` or a single ``testsuite``)."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as exc:
        raise UserInputError(f"--junit {path}: not a readable JUnit XML file ({exc})") from None
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
    if root.tag not in ("testsuite", "testsuites"):
        raise UserInputError(f"--junit {path}: not a JUnit XML file (its root is <{root.tag}>)")
    cases = [case for suite in suites for case in suite.iter("testcase")]
    return JunitSummary(path, len(cases),
                        sum(1 for c in cases if c.find("failure") is not None),
                        sum(1 for c in cases if c.find("error") is not None),
                        sum(1 for c in cases if c.find("skipped") is not None))


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                          timeout=20)


def git_facts(root: Path) -> tuple[bool, Path | None, str | None, frozenset[str] | None]:
    """(git available, top folder, commit, files tracked relative to ``root``)."""
    from mlops_azure.lifecycle.provenance import NOT_A_GIT_CHECKOUT, git_commit

    try:
        top = _git(root, "rev-parse", "--show-toplevel")
    except (OSError, subprocess.SubprocessError):
        return False, None, None, None
    if top.returncode != 0:
        return True, None, None, None
    commit = git_commit(root)
    listed = _git(root, "ls-files", "-z")
    tracked = frozenset(p for p in listed.stdout.split("\0") if p) if listed.returncode == 0 else None
    return True, Path(top.stdout.strip()), None if commit == NOT_A_GIT_CHECKOUT else commit, tracked


def gather(config: ProjectConfig, ws: Workspace | None, *, junit: Path | None = None,
           workspace_error: str | None = None) -> Facts:
    """The facts of the project ``config`` describes, on ``ws`` (None: the workspace is not read,
    because of ``workspace_error``)."""
    root = config.root
    available, top, commit, tracked = git_facts(root)
    folders = [root] + ([top] if top is not None and top.resolve() != root.resolve() else [])
    production = config.production_stage
    production_name = next((n for n, s in config.stages.items() if s is production), None)
    scripts = {config.resolve(s.code) / s.scoring_script for s in config.stages.values()}
    environments = {config.resolve(s.environment) for s in config.stages.values()}
    environments |= set(config.resolve(Path("environments")).glob("*.yml"))
    facts = Facts(
        root=root, git_top=top, git_available=available, commit=commit, tracked=tracked,
        ci_files=tuple(find_ci_files(folders)),
        test_files=tuple(find_test_files(folders)),
        junit=None if junit is None else read_junit(junit),
        training_pipeline=config.resolve(config.training.pipeline),
        environments=tuple(sorted(p for p in environments if p.is_file())),
        scoring_scripts=tuple(sorted(scripts)),
        stages={name: stage.requires_approval for name, stage in config.stages.items()},
        production_stage=production_name,
        production_endpoint=production.endpoint if production else None,
        canary_steps=tuple(config.rollout.steps), keep_previous=config.rollout.keep_previous,
        collect=config.monitoring.collect, responsible=config.responsible is not None,
        workspace_error=workspace_error)
    if ws is None:
        return facts
    return _with_workspace(facts, ws)


def _with_workspace(facts: Facts, ws: Workspace) -> Facts:
    from dataclasses import replace

    from mlops_azure import audit_events as ev

    kinds: tuple[type[ev.AuditRecord], ...] = (
        ev.DataUploadEvent, ev.ChampionGateEvent, ev.RegisterEvent, ev.QaGateEvent,
        ev.ApproveEvent, ev.DeployEvent, ev.PromoteEvent, ev.RollbackEvent, ev.DriftCheckEvent,
        ev.MonitorSetupEvent, ev.ScheduleRunEvent, ev.ScheduleSettleEvent, ev.WatchEvent)
    try:
        events: list[AuditEvent] = []
        for kind in kinds:
            events.extend(ws.events.recent(EVENT_LIMIT, action=kind.ACTION))
        serving = (ws.endpoints.traffic(facts.production_endpoint)
                   if facts.production_endpoint else [])
        return replace(facts, events=tuple(sorted(events, key=lambda e: e.id)),
                       models=tuple(ws.models.versions()), jobs=tuple(ws.jobs.recent(100)),
                       schedules=tuple(ws.schedules.all()), serving=tuple(serving))
    except MlopsError as exc:
        return replace(facts, workspace_error=f"the {ws.backend} workspace could not be read: "
                                              f"{exc.message}")
