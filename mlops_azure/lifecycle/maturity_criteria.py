"""The criteria of Microsoft's MLOps maturity model, each judged from :class:`Facts`.

Levels and aspects follow "Machine Learning operations maturity model" (Azure Architecture
Center, https://learn.microsoft.com/azure/architecture/ai-ml/guide/mlops-maturity-model); each
criterion's text paraphrases a cell of that page's tables, and ``source`` names the cell. The
"People" column (who talks to whom) leaves no file or event behind, so it is not judged here.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from mlops_azure import audit_events as ev
from mlops_azure.lifecycle.maturity_facts import Facts
from mlops_azure.workspace import JobStatus, ModelVersion

E = TypeVar("E", bound=ev.AuditRecord)

LEVELS = {0: "No MLOps", 1: "DevOps but no MLOps", 2: "Automated training",
          3: "Automated model deployment", 4: "Full MLOps automated operations"}
ASPECTS = ("people", "model creation", "model release", "application integration")


class Status(enum.StrEnum):
    MET = "met"
    NOT_MET = "not met"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Evidence:
    """One thing seen: ``kind`` is file, commit, event, model, job, schedule, endpoint or junit;
    ``ref`` names it (a path, an audit event id, ``NAME:VERSION``, a job id)."""

    kind: str
    ref: str
    note: str = ""

    def __str__(self) -> str:
        return f"{self.kind} {self.ref}" + (f" ({self.note})" if self.note else "")


@dataclass(frozen=True)
class Verdict:
    """A criterion judged: its evidence, or what is missing and the command or setting to add."""

    status: Status
    evidence: tuple[Evidence, ...] = ()
    missing: str = ""
    fix: str = ""


def short_commit(commit: str) -> str:
    """A git commit as people quote it (12 hex digits); anything else (say, "not a git
    checkout") as it is."""
    return commit[:12] if re.fullmatch(r"[0-9a-f]{13,}(-dirty)?", commit) else commit


def met(*evidence: Evidence) -> Verdict:
    return Verdict(Status.MET, evidence)


def not_met(missing: str, fix: str, *evidence: Evidence) -> Verdict:
    return Verdict(Status.NOT_MET, evidence, missing, fix)


def unknown(missing: str, fix: str = "") -> Verdict:
    return Verdict(Status.UNKNOWN, (), missing, fix)


@dataclass(frozen=True)
class Criterion:
    """One cell of the model: ``check`` judges it from the facts."""

    id: str
    level: int
    aspect: str
    text: str
    source: str
    check: Callable[[Facts], Verdict]


def _events(facts: Facts, kind: type[E]) -> list[ev.Recorded[E]]:
    """Events of ``kind``, newest first."""
    return list(reversed(ev.typed(facts.events or (), kind)))


def _event(found: ev.Recorded[E], note: str = "") -> Evidence:
    return Evidence("event", str(found.audit.id), note or f"{found.audit.action} {found.event.subject}")


def _workspace_unknown(facts: Facts) -> Verdict | None:
    if facts.events is None or facts.models is None:
        return unknown(facts.workspace_error or "the workspace was not read")
    return None


# -- level 1 ---------------------------------------------------------------------------------
def code_versioned(facts: Facts) -> Verdict:
    if not facts.git_available:
        return unknown("git could not be run", "install git")
    if facts.git_top is None:
        return not_met("the project is not in a git repository",
                       "git init && git add -A && git commit -m 'the project'")
    if facts.commit is None:
        return not_met("the repository has no commit yet", "git add -A && git commit -m 'the project'")
    return met(Evidence("commit", facts.commit, f"repository {facts.git_top}"))


def ci_tests(facts: Facts) -> Verdict:
    for ci in facts.ci_files:
        if ci.runs_tests and not ci.manual_only:
            return met(Evidence("file", facts.rel(ci.path), "defines a test run on every change"))
    return not_met("no CI pipeline runs the tests on each change",
                   "add .azure-pipelines/ci.yml (trigger: main) running pytest and mlops data check")


def unit_tests(facts: Facts) -> Verdict:
    fix = "add pytest tests of the components' code under tests/"
    if facts.junit is not None:
        j = facts.junit
        counted = Evidence("junit", str(j.path), f"{j.tests} tests, {j.failures} failures, "
                                                 f"{j.errors} errors, {j.skipped} skipped")
        if j.tests == 0:
            return not_met("the JUnit file holds no test", fix, counted)
        if j.failures or j.errors:
            return not_met("tests fail", "fix the failing tests and run them again", counted)
        return met(counted)
    if not facts.test_files:
        return not_met("no test files (test_*.py)", fix)
    return met(Evidence("file", facts.rel(facts.test_files[0]),
                        f"{len(facts.test_files)} test file(s); pass --junit FILE to count results"))


def data_versioned(facts: Facts) -> Verdict:
    if (gap := _workspace_unknown(facts)) is not None:
        return gap
    uploads = _events(facts, ev.DataUploadEvent)
    if not uploads:
        return not_met("no data asset version was recorded",
                       "mlops data upload PATH --name NAME (mlops train uploads data.path itself)")
    first = uploads[0]
    return met(_event(first, f"data asset {first.event.subject}, sha256 {first.event.sha256[:12]}"))


def model_integration_tests(facts: Facts) -> Verdict:
    if (gap := _workspace_unknown(facts)) is not None:
        return gap
    passed = [r for r in _events(facts, ev.QaGateEvent) if r.event.passed]
    if not passed:
        return not_met("no QA gate passed on a deployed model",
                       "mlops deploy NAME:VERSION --stage staging && mlops gate qa --stage staging")
    return met(_event(passed[0], f"QA gate passed for {passed[0].event.subject} on "
                                 f"{passed[0].event.stage}"))


# -- level 2 ---------------------------------------------------------------------------------
def training_pipeline(facts: Facts) -> Verdict:
    pipeline = facts.training_pipeline
    if pipeline is None or not pipeline.is_file():
        return not_met("no training pipeline file",
                       "write pipelines/training.yml and set training.pipeline in mlops.yaml")
    if not facts.environments:
        return not_met("no environment definition (environments/*.yml)",
                       "add environments/training.yml and environments/inference.yml (conda files)",
                       Evidence("file", facts.rel(pipeline)))
    return met(Evidence("file", facts.rel(pipeline), "training pipeline"),
               *(Evidence("file", facts.rel(p), "environment") for p in facts.environments))


def experiments_tracked(facts: Facts) -> Verdict:
    if (gap := _workspace_unknown(facts)) is not None or facts.jobs is None:
        return gap or unknown("the workspace's jobs were not read")
    done = [j for j in facts.jobs if j.status == JobStatus.COMPLETED]
    gates = _events(facts, ev.ChampionGateEvent)
    if not done or not gates:
        return not_met("no completed training job with its metrics judged", "mlops train")
    return met(Evidence("job", done[0].id, f"experiment {done[0].experiment}"),
               _event(gates[0], f"{gates[0].event.metric} {gates[0].event.candidate}"))


def _traced(model: ModelVersion) -> bool:
    lineage = model.lineage
    return bool(lineage.code_commit and lineage.data_sha256 and lineage.job_id) and (
        lineage.code_commit != "not a git checkout")


def models_versioned(facts: Facts) -> Verdict:
    if (gap := _workspace_unknown(facts)) is not None:
        return gap
    if not facts.models:
        return not_met("no registered model version", "mlops train")
    traced = [m for m in facts.models or () if _traced(m)]
    if not traced:
        return not_met(f"{facts.models[0].ref} was trained outside a git commit",
                       "commit the project in git, then mlops train",
                       Evidence("model", facts.models[0].ref))
    model = traced[0]
    return met(Evidence("model", model.ref, f"commit {short_commit(model.lineage.code_commit)}, job "
                                            f"{model.lineage.job_id}"))


def champion_gate(facts: Facts) -> Verdict:
    if (gap := _workspace_unknown(facts)) is not None:
        return gap
    gates = _events(facts, ev.ChampionGateEvent)
    if not any(r.event.verdict in ("better", "not_better") for r in gates):
        return not_met("no candidate was judged against a champion yet",
                       "mlops train again (the second model meets the champion gate)",
                       *(_event(r) for r in gates[:1]))
    judged = next(r for r in gates if r.event.verdict in ("better", "not_better"))
    return met(_event(judged, f"{judged.event.verdict} than {judged.event.champion}"))


def recurring_training(facts: Facts) -> Verdict:
    if (gap := _workspace_unknown(facts)) is not None:
        return gap
    found = [Evidence("schedule", s.name, s.trigger.describe()) for s in facts.schedules or ()]
    found += [Evidence("file", facts.rel(c.path), "defines scheduled training")
              for c in facts.ci_files if c.scheduled and c.runs("train")]
    found += [_event(r) for kind in (ev.ScheduleRunEvent, ev.WatchEvent, ev.ScheduleSettleEvent)
              for r in _events(facts, kind)[:1]]
    found += [Evidence("model", m.ref, f"trained on trigger {m.lineage.extra['trigger']}")
              for m in facts.models or () if m.lineage.extra.get("trigger")][:1]
    if not found:
        return not_met("training runs only when someone starts it",
                       "mlops schedule create (or a scheduled training pipeline, or mlops watch "
                       "data, or mlops monitor drift --retrain)")
    return met(*found)


def scoring_tested(facts: Facts) -> Verdict:
    if (gap := _workspace_unknown(facts)) is not None:
        return gap
    scripts = [s for s in facts.scoring_scripts if s.is_file()]
    if not scripts:
        return not_met("no scoring script", "write components/score/score.py (init() and run())")
    evidence = [Evidence("file", facts.rel(s), "scoring script") for s in scripts]
    if facts.tracked is not None:
        untracked = [facts.rel(s) for s in scripts if facts.rel(s) not in facts.tracked]
        if untracked:
            return not_met(f"{untracked[0]} is not committed", f"git add {untracked[0]} && git "
                           "commit", *evidence)
    elif facts.git_available:
        return not_met("the scoring script is not under version control", "git init && git add -A "
                       "&& git commit", *evidence)
    gate = model_integration_tests(facts)
    if gate.status != Status.MET:
        return not_met("the scoring script was never tested through an endpoint", gate.fix, *evidence)
    return met(*evidence, *gate.evidence)
