"""``mlops maturity``: where a project stands on Microsoft's MLOps maturity model, from evidence.

The model is "Machine Learning operations maturity model" (Azure Architecture Center,
https://learn.microsoft.com/azure/architecture/ai-ml/guide/mlops-maturity-model): level 0 "No
MLOps", 1 "DevOps but no MLOps", 2 "Automated training", 3 "Automated model deployment", 4 "Full
MLOps automated operations", each described for people, model creation, model release and
application integration. Teams usually assess it by questionnaire; here each criterion is judged
from what the project and its workspace show (files, git, CI definitions, registered versions
and their lineage, the audit trail, a JUnit file), as met, not met or unknown, with the evidence
or with what is missing and the command or setting that would provide it.

The level reached is the highest level whose criteria, and those of every level below, are all
met (an unknown counts as not met); level 0 needs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_azure.lifecycle import maturity_criteria as c
from mlops_azure.lifecycle import maturity_criteria_ops as o
from mlops_azure.lifecycle.maturity_criteria import LEVELS, Criterion, Status, Verdict
from mlops_azure.lifecycle.maturity_facts import Facts, gather

if TYPE_CHECKING:
    from mlops_azure.config import ProjectConfig
    from mlops_azure.workspace import Workspace

MODEL_URL = "https://learn.microsoft.com/azure/architecture/ai-ml/guide/mlops-maturity-model"

_MC, _MR, _AI = "model creation", "model release", "application integration"
CRITERIA: tuple[Criterion, ...] = (
    Criterion("code-versioned", 1, _MR, "Code is under version control",
              "Level 1 technology: version control for code", c.code_versioned),
    Criterion("ci-tests", 1, _AI, "Builds and tests run automatically on each change",
              "Level 1 technology: automated builds, automated tests for application code",
              c.ci_tests),
    Criterion("unit-tests", 1, _AI, "Application code has unit tests",
              "Level 1 application integration", c.unit_tests),
    Criterion("data-versioned", 1, _MC, "Data is gathered by a pipeline and versioned",
              "Level 1 model creation: data pipeline gathers data automatically", c.data_versioned),
    Criterion("model-integration-tests", 1, _AI, "Basic integration tests exist for the model",
              "Level 1 application integration", c.model_integration_tests),
    Criterion("training-pipeline", 2, _MC, "Training is a repeatable pipeline in a managed "
              "environment", "Level 2 technology: automated model training, managed "
              "environments", c.training_pipeline),
    Criterion("experiments-tracked", 2, _MC, "Experiment results are tracked",
              "Level 2 model creation", c.experiments_tracked),
    Criterion("models-versioned", 2, _MC, "Training code and resulting models are version "
              "controlled", "Level 2 model creation", c.models_versioned),
    Criterion("champion-gate", 2, _MC, "Model management: each candidate is judged against the "
              "champion", "Level 2 technology: model management", c.champion_gate),
    Criterion("recurring-training", 2, _MC, "Scheduled or event-driven jobs retrain the model",
              "Level 2 technology: scheduled or event-driven jobs for recurring training",
              c.recurring_training),
    Criterion("scoring-tested", 2, _MR, "Scoring script is version controlled with tests",
              "Level 2 model release", c.scoring_tested),
    Criterion("release-pipeline", 3, _MR, "Release is managed by a CI/CD pipeline",
              "Level 3 model release: automatic release", o.release_pipeline),
    Criterion("tests-each-release", 3, _AI, "Each model release is tested before production",
              "Level 3 application integration: unit and integration tests for each model "
              "release", o.tests_each_release),
    Criterion("staged-environments", 3, _MR, "The environment is managed: train, test, approve, "
              "production", "Level 3 highlights: entire environment managed", o.staged_environments),
    Criterion("ab-testing", 3, _MR, "A/B testing: a new model takes traffic step by step, probed",
              "Level 3 technology: integrated A/B testing of model performance",
              o.ab_testing),
    Criterion("traceability", 3, _MC, "What serves production traces back to its data, code and "
              "job", "Level 3 highlights: full traceability from deployment back to original "
              "data", o.traceability),
    Criterion("production-metrics", 4, _AI, "Metrics from the deployed model are centralized and "
              "compared with training", "Level 4 technology: verbose, centralized metrics from "
              "the deployed model", o.production_metrics),
    Criterion("retraining-from-metrics", 4, _MC, "Production metrics trigger retraining",
              "Level 4 model creation: retraining triggered automatically based on production "
              "metrics", o.retraining_from_metrics),
    Criterion("monitoring-automated", 4, _MC, "Monitoring runs unattended, on a schedule",
              "Level 4 highlights: full system automated and easily monitored",
              o.monitoring_automated),
    Criterion("automated-training-testing", 4, _MR, "Pipelines train and test each model",
              "Level 4 technology: automated model training and testing",
              o.automated_training_testing),
    Criterion("policy-promotion", 4, _MR, "Promotion follows policy: gates and approval on "
              "evidence", "Level 4 technology: policy-based automated model promotion",
              o.policy_promotion),
    Criterion("zero-downtime", 4, _MR, "Releases approach zero downtime (canary, instant "
              "rollback)", "Level 4 highlights: approaching a zero-downtime system",
              o.zero_downtime),
)


@dataclass(frozen=True)
class Judged:
    """One criterion with its verdict."""

    criterion: Criterion
    verdict: Verdict

    @property
    def met(self) -> bool:
        """Met; an unknown counts as not met."""
        return self.verdict.status == Status.MET

    def to_dict(self) -> dict[str, Any]:
        """The criterion and its verdict as JSON values."""
        k, v = self.criterion, self.verdict
        return {"id": k.id, "level": k.level, "aspect": k.aspect, "text": k.text,
                "source": k.source, "status": v.status.value,
                "evidence": [{"kind": e.kind, "ref": e.ref, "note": e.note} for e in v.evidence],
                "missing": v.missing or None, "fix": v.fix or None}


@dataclass(frozen=True)
class Maturity:
    """The project judged: every criterion, the level reached and what the next level needs."""

    project: str
    backend: str
    judged: tuple[Judged, ...]
    junit: str | None = None

    @property
    def level(self) -> int:
        """The highest level whose criteria, and those of every level below, are all met."""
        reached = 0
        for level in sorted(LEVELS)[1:]:
            if not all(j.met for j in self.judged if j.criterion.level == level):
                break
            reached = level
        return reached

    @property
    def next_level(self) -> int | None:
        """The level above the one reached; None at the top."""
        return None if self.level == max(LEVELS) else self.level + 1

    def gaps(self, level: int | None = None) -> list[Judged]:
        """What is not met up to ``level`` (default: the next level), lowest level first."""
        top = self.next_level if level is None else level
        if top is None:
            return []
        return [j for j in self.judged if j.criterion.level <= top and not j.met]

    def sentence(self, required: int | None = None) -> str:
        """The level in one sentence, with what ``required`` (default: the next level) lacks."""
        target = self.next_level if required is None else required
        said = f"level {self.level} ({LEVELS[self.level]})"
        missing = self.gaps(target) if target is not None and target > self.level else []
        if not missing:
            return f"{self.project} is at {said}."
        return (f"{self.project} is at {said}; level {target} needs "
                + "; ".join(f"{j.criterion.id}: {j.verdict.missing}" for j in missing) + ".")

    def to_dict(self) -> dict[str, Any]:
        """What ``mlops maturity --json`` prints."""
        return {"project": self.project, "backend": self.backend, "model": MODEL_URL,
                "level": self.level, "level_name": LEVELS[self.level],
                "next_level": self.next_level, "junit": self.junit,
                "criteria": [j.to_dict() for j in self.judged],
                "gaps": [{"id": j.criterion.id, "level": j.criterion.level,
                          "missing": j.verdict.missing, "fix": j.verdict.fix}
                         for j in self.gaps()]}


def judge(facts: Facts, *, project: str = "", backend: str = "") -> Maturity:
    """Every criterion judged on ``facts``."""
    judged = tuple(Judged(k, k.check(facts)) for k in CRITERIA)
    return Maturity(project, backend, judged,
                    None if facts.junit is None else str(facts.junit.path))


def assess(config: ProjectConfig, ws: Workspace | None, *, junit: Path | None = None,
           workspace_error: str | None = None) -> Maturity:
    """Judge the project ``config`` describes on ``ws`` (None: files only, the workspace's
    criteria unknown because of ``workspace_error``); ``junit`` is a test report to count."""
    facts = gather(config, ws, junit=junit, workspace_error=workspace_error)
    return judge(facts, project=config.project, backend=ws.backend if ws is not None else "")
