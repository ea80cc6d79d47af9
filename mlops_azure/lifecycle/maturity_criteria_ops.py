"""Criteria of levels 3 (automated model deployment) and 4 (full MLOps automated operations);
see :mod:`mlops_azure.lifecycle.maturity_criteria` for the model they come from."""

from __future__ import annotations

from mlops_azure import audit_events as ev
from mlops_azure.lifecycle.maturity_criteria import (
    Evidence,
    Verdict,
    _event,
    _events,
    _workspace_unknown,
    met,
    not_met,
    short_commit,
)
from mlops_azure.lifecycle.maturity_facts import Facts
from mlops_azure.workspace import ModelVersion


def _promotions(facts: Facts) -> list[ev.Recorded[ev.PromoteEvent]]:
    """Succeeded promotions to the production stage, newest first."""
    return [r for r in _events(facts, ev.PromoteEvent)
            if r.event.outcome == "succeeded" and r.event.stage == facts.production_stage]


def _no_promotion() -> Verdict:
    return not_met("no model was promoted to production",
                   "mlops approve NAME:VERSION --stage production --reason TEXT && mlops promote "
                   "NAME:VERSION --stage production")


# -- level 3 ---------------------------------------------------------------------------------
def release_pipeline(facts: Facts) -> Verdict:
    for ci in facts.ci_files:
        if ci.runs("promote") or ci.runs("deploy"):
            return met(Evidence("file", facts.rel(ci.path), "defines mlops deploy / promote"))
    return not_met("no CI/CD pipeline releases models",
                   "add a release pipeline (.azure-pipelines/release.yml) that runs mlops deploy, "
                   "gate qa, approve and promote")


def tests_each_release(facts: Facts) -> Verdict:
    if (gap := _workspace_unknown(facts)) is not None:
        return gap
    promotions = _promotions(facts)
    if not promotions:
        return _no_promotion()
    passed = [r for r in _events(facts, ev.QaGateEvent) if r.event.passed]
    found: list[Evidence] = []
    for promoted in promotions:
        gate = next((q for q in passed if q.event.subject == promoted.event.subject
                     and q.audit.id < promoted.audit.id), None)
        if gate is None:
            return not_met(f"{promoted.event.subject} reached production without a passed QA gate",
                           f"mlops gate qa --stage staging --model {promoted.event.subject} "
                           "before each promotion", _event(promoted))
        found.append(_event(gate, f"QA gate passed for {gate.event.subject} before promotion "
                                  f"{promoted.audit.id}"))
    return met(*found)


def staged_environments(facts: Facts) -> Verdict:
    if (gap := _workspace_unknown(facts)) is not None:
        return gap
    if len(facts.stages) < 2 or facts.production_stage is None:
        return not_met("fewer than two stages (test, production) in mlops.yaml",
                       "stages: {staging: {endpoint: ...}, production: {endpoint: ..., "
                       "requires_approval: true}} in mlops.yaml")
    if not facts.stages[facts.production_stage]:
        return not_met(f"stage {facts.production_stage} does not require approval",
                       f"stages.{facts.production_stage}.requires_approval: true in mlops.yaml")
    approvals = [r for r in _events(facts, ev.ApproveEvent) if r.event.stage == facts.production_stage]
    if not approvals:
        return not_met("no version was approved for production",
                       "mlops approve NAME:VERSION --stage production --reason TEXT")
    return met(Evidence("file", "mlops.yaml", f"stages {', '.join(facts.stages)}; "
                                              f"{facts.production_stage} requires approval"),
               _event(approvals[0], f"{approvals[0].event.subject} approved by "
                                    f"{approvals[0].audit.actor}"))


def ab_testing(facts: Facts) -> Verdict:
    if (gap := _workspace_unknown(facts)) is not None:
        return gap
    if not facts.canary_steps or facts.canary_steps[0] >= 100:
        return not_met("rollout sends all traffic at once",
                       "rollout.steps: [10, 50, 100] in mlops.yaml")
    # A first promotion has no deployment to share traffic with and goes straight to 100 %:
    # only a step between 0 and 100 % shows two models compared on live traffic.
    canaries = [r for r in _promotions(facts)
                if any(0 < int(step.get("share", 0)) < 100 for step in r.event.steps)]
    if not canaries:
        return not_met("no promotion shared traffic between two versions yet",
                       "release a second version: mlops promote NAME:VERSION --stage production")
    shares = [str(step.get("share")) for step in canaries[0].event.steps]
    return met(_event(canaries[0], f"{canaries[0].event.subject} probed at "
                                   f"{' → '.join(shares)} % beside {canaries[0].event.previous}"))


def _serving_model(facts: Facts) -> ModelVersion | None:
    for serving in facts.serving or ():
        if serving.traffic > 0:
            return next((m for m in facts.models or () if m.name == serving.model_name
                         and m.version == serving.model_version), None)
    return None


def traceability(facts: Facts) -> Verdict:
    if (gap := _workspace_unknown(facts)) is not None:
        return gap
    model = _serving_model(facts)
    if model is None:
        return not_met(f"nothing serves {facts.production_stage or 'production'}", "mlops promote "
                       "NAME:VERSION --stage production")
    lineage = model.lineage
    data = f"{lineage.data_asset}:{lineage.data_version}"
    upload = next((r for r in _events(facts, ev.DataUploadEvent) if r.event.subject == data), None)
    job = next((j for j in facts.jobs or () if j.id == lineage.job_id), None)
    found = [Evidence("model", model.ref, f"serves {facts.production_endpoint}")]
    if upload is None or upload.event.sha256 != lineage.data_sha256:
        return not_met(f"{model.ref}'s data {data} has no matching upload in the trail",
                       "train from a data asset version (mlops data upload, then mlops train)",
                       *found)
    if job is None:
        return not_met(f"{model.ref}'s training job {lineage.job_id} is not in the workspace",
                       "keep the training jobs (mlops jobs list)", *found)
    return met(*found, _event(upload, f"data {data} sha256 {upload.event.sha256[:12]}"),
               Evidence("job", job.id, f"commit {short_commit(lineage.code_commit)}"))


# -- level 4 ---------------------------------------------------------------------------------
def production_metrics(facts: Facts) -> Verdict:
    if (gap := _workspace_unknown(facts)) is not None:
        return gap
    if not facts.collect:
        return not_met("deployments do not record requests and predictions",
                       "monitoring.collect: true in mlops.yaml")
    checks = [r for r in _events(facts, ev.DriftCheckEvent) if r.event.stage is not None]
    monitors = _events(facts, ev.MonitorSetupEvent)
    if not checks and not monitors:
        return not_met("nothing compares production's recorded data with the training data",
                       "mlops monitor drift --stage production (or mlops monitor setup on Azure)")
    return met(*(_event(r, f"drift check of {r.event.subject} on {r.event.stage}: "
                           f"{'drift' if r.event.drifted else 'no drift'}") for r in checks[:1]),
               *(_event(r) for r in monitors[:1]))


def retraining_from_metrics(facts: Facts) -> Verdict:
    if (gap := _workspace_unknown(facts)) is not None:
        return gap
    drifted = {str(r.audit.id): r for r in _events(facts, ev.DriftCheckEvent) if r.event.drifted}
    for model in facts.models or ():
        extra = model.lineage.extra
        report = drifted.get(extra.get("drift_report", ""))
        if extra.get("trigger") == "drift" and report is not None:
            return met(Evidence("model", model.ref, f"lineage trigger=drift, drift_report="
                                                    f"{report.audit.id}"), _event(report))
    for job in facts.jobs or ():
        report = drifted.get(job.tags.get("drift_report", ""))
        if job.tags.get("trigger") == "drift" and report is not None:
            return met(Evidence("job", job.id, "retraining tagged trigger=drift (the champion "
                                               "gate kept the champion)"), _event(report))
    return not_met("no retraining was triggered by a drift report",
                   "mlops monitor drift --stage production --retrain")


def monitoring_automated(facts: Facts) -> Verdict:
    found = [Evidence("file", facts.rel(c.path), "defines a scheduled drift check")
             for c in facts.ci_files if c.scheduled and c.runs("monitor drift")]
    found += [Evidence("file", facts.rel(c.path), "defines a scheduled data watch")
              for c in facts.ci_files if c.scheduled and c.runs("watch data")]
    found += [_event(r, f"Azure ML monitor {r.event.subject}")
              for r in _events(facts, ev.MonitorSetupEvent)[:1]]
    if not found:
        return not_met("no scheduled drift check or monitor",
                       "a scheduled pipeline running mlops monitor drift --stage production "
                       "--retrain (or mlops monitor setup on Azure)")
    return met(*found)


def automated_training_testing(facts: Facts) -> Verdict:
    train = next((c for c in facts.ci_files if c.runs("train")), None)
    gate = next((c for c in facts.ci_files if c.runs("gate qa")), None)
    if train is None or gate is None:
        return not_met(f"no pipeline runs {'mlops train' if train is None else 'mlops gate qa'}",
                       "add .azure-pipelines/training.yml (mlops train) and a release pipeline "
                       "with mlops gate qa --junit")
    return met(Evidence("file", facts.rel(train.path), "defines mlops train"),
               Evidence("file", facts.rel(gate.path), "defines mlops gate qa"))


def policy_promotion(facts: Facts) -> Verdict:
    if (gap := _workspace_unknown(facts)) is not None:
        return gap
    approvals = {r.audit.id: r for r in _events(facts, ev.ApproveEvent)}
    for promoted in _promotions(facts):
        approval = approvals.get(promoted.event.approval or -1)
        if approval is not None and approval.event.evidence.get("qa_event") is not None:
            return met(_event(promoted, f"{promoted.event.subject} promoted on approval "
                                        f"{approval.audit.id}"),
                       _event(approval, f"evidence: QA gate {approval.event.evidence['qa_event']}"
                              + (f", policy {approval.event.policy_sha256[:12]}"
                                 if approval.event.policy_sha256 else "")))
    return not_met("no promotion went out on an approval backed by a QA report",
                   "mlops gate qa --stage staging, mlops approve, then mlops promote")


def zero_downtime(facts: Facts) -> Verdict:
    if (gap := _workspace_unknown(facts)) is not None:
        return gap
    if not facts.keep_previous:
        return not_met("the previous deployment is removed after a promotion",
                       "rollout.keep_previous: true in mlops.yaml")
    clean = [r for r in _promotions(facts) if r.event.previous and r.event.steps
             and all(not step.get("problem") for step in r.event.steps)]
    if not clean:
        return not_met("no promotion replaced a serving version yet (nothing to roll back to)",
                       "release a second version: mlops promote NAME:VERSION --stage production")
    return met(Evidence("file", "mlops.yaml", "rollout.keep_previous: true"),
               _event(clean[0], f"traffic moved step by step, every probe answered; "
                                f"{clean[0].event.previous} kept for instant rollback"))
