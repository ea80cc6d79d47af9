"""The maturity criteria judged on hand-built facts: what each one takes as evidence, and what
it names as missing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mlops_azure import audit_events as ev
from mlops_azure.errors import UserInputError
from mlops_azure.lifecycle.maturity import CRITERIA, judge
from mlops_azure.lifecycle.maturity_criteria import LEVELS, Status
from mlops_azure.lifecycle.maturity_facts import (
    CiFile,
    Facts,
    mlops_commands,
    read_ci_file,
    read_junit,
)
from mlops_azure.lifecycle.maturity_html import render_html
from mlops_azure.workspace import (
    AuditEvent,
    Job,
    JobStatus,
    Lineage,
    ModelVersion,
    Schedule,
    ScheduleTrigger,
    ServingDeployment,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
SHA = "a" * 64


def entry(number: int, event: ev.AuditRecord, actor: str = "ann@example.com") -> AuditEvent:
    return AuditEvent(number, NOW, actor, event.ACTION, event.subject, event.details())


def model(version: int, *, commit: str = "c0ffee1234567", extra: dict[str, str] | None = None,
          job: str = "job-1") -> ModelVersion:
    lineage = Lineage("sales", 1, SHA, commit, job, {}, "env", "ann", "pipelines/training.yml",
                      extra or {})
    return ModelVersion("demand", version, f"models/{version}", SHA, NOW, {"rmse": 1.0}, lineage)


def ci(name: str, *commands: str, tests: bool = False, scheduled: bool = False) -> CiFile:
    return CiFile(Path("/p/.azure-pipelines") / name,
                  tuple((c, frozenset[str]()) for c in commands), tests, scheduled)


STEPS = ({"share": 0, "requests": 20, "errors": 0, "p95_ms": 3.0, "problem": ""},
         {"share": 10, "requests": 50, "errors": 0, "p95_ms": 3.0, "problem": ""},
         {"share": 100, "requests": 50, "errors": 0, "p95_ms": 3.0, "problem": ""})


def full_facts(tmp_path: Path) -> Facts:
    """A project that does everything: every criterion has its evidence."""
    score = tmp_path / "components" / "score" / "score.py"
    score.parent.mkdir(parents=True)
    score.write_text("def init(): ...\n")
    pipeline = tmp_path / "pipelines" / "training.yml"
    pipeline.parent.mkdir()
    pipeline.write_text("jobs: {}\n")
    env = tmp_path / "environments" / "training.yml"
    env.parent.mkdir()
    env.write_text("name: t\n")
    events = [
        entry(1, ev.DataUploadEvent(subject="sales:1", source="/d.csv", sha256=SHA)),
        entry(2, ev.ChampionGateEvent(subject="job-1", verdict="first", metric="rmse",
                                      direction="minimize", candidate=1.0)),
        entry(3, ev.ChampionGateEvent(subject="job-2", verdict="better", metric="rmse",
                                      direction="minimize", candidate=0.9, champion="demand:1")),
        entry(4, ev.QaGateEvent(subject="demand:2", stage="staging", passed=True)),
        entry(5, ev.ApproveEvent(subject="demand:2", stage="production",
                                 evidence={"qa_event": 4}, policy_sha256="b" * 64), "bob"),
        entry(6, ev.PromoteEvent(subject="demand:2", stage="production", endpoint="ep-prod",
                                 outcome="succeeded", deployment="v2", previous="v1", steps=STEPS,
                                 approval=5)),
        entry(7, ev.DriftCheckEvent(subject="demand:2", drifted=True, stage="production")),
    ]
    return Facts(
        root=tmp_path, git_top=tmp_path, commit="c0ffee1234567",
        tracked=frozenset({"components/score/score.py", "pipelines/training.yml"}),
        ci_files=(ci("ci.yml", "data check", tests=True),
                  ci("training.yml", "train", scheduled=True),
                  ci("release.yml", "deploy", "gate qa", "approve", "promote"),
                  ci("monitoring.yml", "monitor drift", scheduled=True)),
        test_files=(tmp_path / "tests" / "test_prep.py",),
        training_pipeline=pipeline, environments=(env,), scoring_scripts=(score,),
        stages={"staging": False, "production": True}, production_stage="production",
        production_endpoint="ep-prod", canary_steps=(10, 50, 100),
        events=tuple(events),
        models=(model(3, extra={"trigger": "drift", "drift_report": "7"}, job="job-3"),
                model(2, job="job-2"), model(1)),
        jobs=tuple(Job(f"job-{n}", "training", JobStatus.COMPLETED, NOW, "pipelines/training.yml")
                   for n in (3, 2, 1)),
        schedules=(), serving=(ServingDeployment("ep-prod", "v2", "demand", 2, 100),))


def statuses(facts: Facts) -> dict[str, Status]:
    return {j.criterion.id: j.verdict.status for j in judge(facts).judged}


def test_criteria_cover_levels_1_to_4_with_unique_ids() -> None:
    assert len({c.id for c in CRITERIA}) == len(CRITERIA)
    assert {c.level for c in CRITERIA} == set(LEVELS) - {0}
    assert all(c.text and c.source.startswith(f"Level {c.level}") for c in CRITERIA)


def test_a_project_with_every_piece_of_evidence_is_at_level_4(tmp_path: Path) -> None:
    result = judge(full_facts(tmp_path), project="p")
    assert {j.criterion.id: j.verdict.missing for j in result.judged if not j.met} == {}
    assert result.level == 4 and result.next_level is None and result.gaps() == []
    assert all(j.verdict.evidence for j in result.judged)
    found = {j.criterion.id: [str(e) for e in j.verdict.evidence] for j in result.judged}
    assert "model demand:3 (lineage trigger=drift, drift_report=7)" in found["retraining-from-metrics"]
    assert any(e.startswith("event 4 ") for e in found["tests-each-release"])
    assert any(e.startswith("event 6 ") and "0 → 10 → 100 % beside v1" in e for e in found["ab-testing"])
    assert found["traceability"][0] == "model demand:2 (serves ep-prod)"
    assert result.sentence() == "p is at level 4 (Full MLOps automated operations)."


def test_nothing_seen_is_level_0_and_the_workspace_criteria_are_unknown(tmp_path: Path) -> None:
    result = judge(Facts(root=tmp_path, workspace_error="the azure workspace could not be read: "
                                                       "no credential"), project="p")
    assert result.level == 0 and result.next_level == 1
    gaps = {j.criterion.id: j.verdict for j in result.gaps()}
    assert set(gaps) == {c.id for c in CRITERIA if c.level == 1}
    assert gaps["code-versioned"].fix.startswith("git init")
    assert gaps["data-versioned"].status == Status.UNKNOWN
    assert "no credential" in gaps["data-versioned"].missing
    assert result.sentence().startswith("p is at level 0 (No MLOps); level 1 needs code-versioned: ")


def test_git_missing_makes_version_control_unknown(tmp_path: Path) -> None:
    found = statuses(replace(full_facts(tmp_path), git_available=False, git_top=None, commit=None))
    assert found["code-versioned"] == Status.UNKNOWN


def test_a_promotion_without_a_qa_gate_before_it_stops_at_level_2(tmp_path: Path) -> None:
    facts = full_facts(tmp_path)
    late_gate = tuple(replace(e, id=8) if e.action == "gate.qa" else e for e in facts.events or ())
    result = judge(replace(facts, events=late_gate))
    by_id = {j.criterion.id: j.verdict for j in result.judged}
    assert by_id["tests-each-release"].status == Status.NOT_MET
    assert "demand:2 reached production without a passed QA gate" in by_id["tests-each-release"].missing
    assert result.level == 2


def test_models_trained_outside_git_are_not_version_controlled(tmp_path: Path) -> None:
    facts = replace(full_facts(tmp_path), models=(model(1, commit="not a git checkout"),))
    verdict = next(j.verdict for j in judge(facts).judged if j.criterion.id == "models-versioned")
    assert verdict.status == Status.NOT_MET and "git" in verdict.fix


def test_an_untracked_scoring_script_is_not_version_controlled(tmp_path: Path) -> None:
    facts = replace(full_facts(tmp_path), tracked=frozenset({"pipelines/training.yml"}))
    verdict = next(j.verdict for j in judge(facts).judged if j.criterion.id == "scoring-tested")
    assert verdict.missing == "components/score/score.py is not committed"


def test_traceability_needs_the_upload_of_the_data_trained_on(tmp_path: Path) -> None:
    facts = full_facts(tmp_path)
    other = tuple(replace(e, details={**e.details, "sha256": "f" * 64})
                  if e.action == "data.upload" else e for e in facts.events or ())
    found = statuses(replace(facts, events=other))
    assert found["traceability"] == Status.NOT_MET


def test_a_retraining_the_champion_gate_refused_still_counts_by_its_job(tmp_path: Path) -> None:
    facts = full_facts(tmp_path)
    tagged = Job("job-9", "training", JobStatus.COMPLETED, NOW, "p",
                 tags={"trigger": "drift", "drift_report": "7"})
    result = judge(replace(facts, models=facts.models[1:] if facts.models else (),
                           jobs=(tagged, *(facts.jobs or ()))))
    verdict = next(j.verdict for j in result.judged if j.criterion.id == "retraining-from-metrics")
    assert verdict.status == Status.MET and verdict.evidence[0].ref == "job-9"


def test_a_drift_check_that_found_nothing_triggers_no_retraining_evidence(tmp_path: Path) -> None:
    facts = full_facts(tmp_path)
    calm = tuple(replace(e, details={**e.details, "drifted": False})
                 if e.action == "monitor.drift" else e for e in facts.events or ())
    assert statuses(replace(facts, events=calm))["retraining-from-metrics"] == Status.NOT_MET


def test_recurring_training_takes_a_schedule(tmp_path: Path) -> None:
    facts = replace(full_facts(tmp_path), ci_files=(), models=(model(1),), schedules=(
        Schedule("weekly", ScheduleTrigger(cron="0 3 * * 1"), "pipelines/training.yml",
                 "training", True, NOW),))
    verdict = next(j.verdict for j in judge(facts).judged if j.criterion.id == "recurring-training")
    assert [str(e) for e in verdict.evidence] == ["schedule weekly (cron '0 3 * * 1' (UTC))"]


def test_a_first_promotion_straight_to_100_is_no_canary_nor_zero_downtime(tmp_path: Path) -> None:
    facts = full_facts(tmp_path)
    first = tuple(replace(e, details={**e.details, "previous": None, "steps": [
        STEPS[0], STEPS[2]]}) if e.action == "promote" else e for e in facts.events or ())
    found = statuses(replace(facts, events=first))
    assert (found["ab-testing"], found["zero-downtime"]) == (Status.NOT_MET, Status.NOT_MET)
    assert judge(replace(facts, events=first)).level == 2


def test_all_at_once_rollout_is_no_ab_testing(tmp_path: Path) -> None:
    verdict = next(j.verdict for j in judge(replace(full_facts(tmp_path), canary_steps=(100,))).judged
                   if j.criterion.id == "ab-testing")
    assert verdict.status == Status.NOT_MET and "rollout.steps" in verdict.fix


def test_junit_results_decide_unit_tests(tmp_path: Path) -> None:
    report = tmp_path / "pytest.xml"
    report.write_text('<testsuites><testsuite name="s"><testcase name="a"/><testcase name="b">'
                      '<failure message="no"/></testcase><testcase name="c"><skipped/></testcase>'
                      "</testsuite></testsuites>")
    counted = read_junit(report)
    assert (counted.tests, counted.failures, counted.errors, counted.skipped) == (3, 1, 0, 1)
    facts = replace(full_facts(tmp_path), junit=counted)
    verdict = next(j.verdict for j in judge(facts).judged if j.criterion.id == "unit-tests")
    assert verdict.status == Status.NOT_MET and verdict.missing == "tests fail"
    report.write_text('<testsuite name="s"><testcase name="a"/></testsuite>')
    assert statuses(replace(facts, junit=read_junit(report)))["unit-tests"] == Status.MET


def test_a_junit_file_that_is_not_one_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "x.xml"
    bad.write_text("<html/>")
    with pytest.raises(UserInputError, match="not a JUnit XML file"):
        read_junit(bad)


def test_mlops_commands_skip_global_options_comments_and_join_continued_lines() -> None:
    text = """
steps:
  # mlops promote is not run here
  - script: |
      mlops --json --config a/mlops.yaml gate qa --stage staging \\
        --junit qa.xml
      mlops --backend azure monitor drift --stage production --retrain
      mlops train --data "azureml:sales:3" && mlops rollback --stage production
"""
    assert mlops_commands(text) == [
        ("gate qa", frozenset({"--stage", "--junit"})),
        ("monitor drift", frozenset({"--stage", "--retrain"})),
        ("train", frozenset({"--data"})),
        ("rollback", frozenset({"--stage"})),
    ]


def test_ci_files_say_when_they_run(tmp_path: Path) -> None:
    scheduled = tmp_path / "monitoring.yml"
    scheduled.write_text("schedules:\n  - cron: '0 6 * * *'\ntrigger: none\npr: none\nsteps:\n"
                         "  - script: mlops monitor drift --stage production\n")
    read = read_ci_file(scheduled)
    assert read.scheduled and read.manual_only and read.runs("monitor drift")
    github = tmp_path / "ci.yml"
    github.write_text("on:\n  push: {}\n  schedule:\n    - cron: '0 6 * * *'\njobs:\n  t:\n"
                      "    steps:\n      - run: python -m pytest -q\n")
    read = read_ci_file(github)
    assert read.scheduled and read.runs_tests and not read.manual_only


def test_the_html_report_is_self_contained_and_lists_every_criterion(tmp_path: Path) -> None:
    facts = replace(full_facts(tmp_path), keep_previous=False)
    page = render_html(judge(facts, project="p <&>", backend="local"))
    assert "<script" not in page and "Content-Security-Policy" in page
    assert "p &lt;&amp;&gt;" in page and "rollout.keep_previous: true in mlops.yaml" in page
    assert all(c.id in page for c in CRITERIA)


def test_a_commit_is_quoted_short_and_anything_else_whole() -> None:
    from mlops_azure.lifecycle.maturity_criteria import short_commit

    assert short_commit("a" * 40) == "a" * 12
    assert short_commit("b" * 40 + "-dirty") == "b" * 12
    assert short_commit("not a git checkout") == "not a git checkout"
