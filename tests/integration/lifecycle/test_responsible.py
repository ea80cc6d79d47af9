"""The responsible-ML gate in the lifecycle: judged at registration (warn or block), stored with
the version with its model card, and judged again, always blocking, at promotion to production."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from mlops_azure.audit_events import ApproveEvent, policy_in_force, read, summary_of
from mlops_azure.backends import open_workspace
from mlops_azure.config import ProjectConfig, load_config
from mlops_azure.errors import GateFailed
from mlops_azure.example.generator import Bias, write_purchases
from mlops_azure.example.scaffold import init_project
from mlops_azure.lifecycle.approval import approve
from mlops_azure.lifecycle.model_card import build_card
from mlops_azure.lifecycle.responsible import CARD_HTML, CARD_MARKDOWN, REPORT_DOC, check_promotion
from mlops_azure.lifecycle.training import train
from mlops_azure.workspace import Workspace
from tests.support.chromium import Chromium

PARAMS = {"n_estimators": 150}


@pytest.fixture(scope="module")
def biased_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project whose data has a rare segment that behaves differently (energy); untrained."""
    root = tmp_path_factory.mktemp("biased") / "proj"
    init_project(root, customers=25)
    config = load_config(root / "mlops.yaml")
    write_purchases(config.resolve(config.data.path), organisations=4,
                    customers_per_organisation=25, bias=Bias())
    return root


@pytest.fixture
def biased(biased_template: Path, tmp_path: Path) -> Path:
    """A fresh copy of the biased project, nothing registered."""
    shutil.copytree(biased_template, tmp_path / "proj", symlinks=True)
    return tmp_path / "proj"


def _passed_qa(ws: Workspace, ref: str) -> None:
    # What `mlops gate qa` records when every check passes; the gate itself is tested elsewhere.
    ws.record_event("gate.qa", ref, {"stage": "staging", "passed": True, "failed": []},
                    actor="tester")


def _with_policy(config: ProjectConfig, **changes: object) -> ProjectConfig:
    assert config.responsible is not None
    policy = config.responsible.policy.model_copy(update=changes)
    return config.model_copy(update={
        "responsible": config.responsible.model_copy(update={"policy": policy})})


def test_an_unfair_model_is_registered_with_a_warning_and_cannot_reach_production(
        biased: Path) -> None:
    config = load_config(biased / "mlops.yaml")
    ws = open_workspace(config)
    outcome = train(ws, config, params=PARAMS, actor="tester")
    assert outcome.model is not None  # on_registration: warn
    assert outcome.responsible is not None and outcome.responsible["status"] == "warn"
    messages = " ".join(f["message"] for f in outcome.responsible["findings"])
    assert "segment" in messages and "energy" in messages
    event = ws.list_events(1, action="gate.responsible")[0]
    assert (event.subject, event.details["status"]) == (outcome.job.id, "warn")

    model = outcome.model
    report = json.loads(ws.get_model_document(model.name, model.version, REPORT_DOC))
    segments = {g["group"]: g for g in report["groups"]["segment"]["by_group"]}
    worst = report["groups"]["segment"]["worst_group"]
    assert worst == "energy" and segments["energy"]["trusted"]
    assert report["groups"]["segment"]["difference"]["wape"] > 0.10
    # The mitigation's evidence travels with it: reweighting by segment, before and after.
    assert report["mitigation"]["by"] == "segment"
    assert report["explanations"]["mean_abs_shap"]["lag_1"] > 0
    card = ws.get_model_document(model.name, model.version, CARD_MARKDOWN).decode()
    assert "energy" in card and "responsible ML" in card
    assert b'data-plot="' in ws.get_model_document(model.name, model.version, CARD_HTML)

    with pytest.raises(GateFailed) as blocked:
        check_promotion(ws, config, model)
    message = blocked.value.message
    difference = report["groups"]["segment"]["difference"]["wape"]
    assert "at promotion" in message and "energy" in message and f"{difference:.2f}" in message

    _passed_qa(ws, model.ref)
    with pytest.raises(GateFailed, match="energy"):
        approve(ws, config, model.ref, "production", reason="looks fine", by="reviewer")
    assert not ws.list_events(5, action="approve")
    # Staging needs no approval: the model can still be tried out there.
    approve(ws, config, model.ref, "staging", reason="try it", by="reviewer")


def test_a_blocking_registration_policy_registers_nothing(biased: Path) -> None:
    config = _with_policy(load_config(biased / "mlops.yaml"), on_registration="block")
    ws = open_workspace(config)
    before = len(ws.list_models())
    outcome = train(ws, config, params=PARAMS, actor="tester")
    assert outcome.model is None and outcome.decision.register  # the champion gate said yes
    assert outcome.responsible is not None and outcome.responsible["status"] == "block"
    assert "energy" in outcome.responsible["message"]
    assert len(ws.list_models()) == before


def test_a_fair_model_passes_and_its_verdict_is_approval_evidence(
        released_project: ProjectConfig) -> None:
    ws = open_workspace(released_project)
    model = ws.get_model(released_project.model.name, 2)
    _passed_qa(ws, model.ref)
    approval = approve(ws, released_project, model.ref, "production", reason="fair",
                       by="reviewer")
    assert approval.evidence["responsible"]["status"] in ("pass", "warn")
    assert approval.evidence["responsible"]["document"] == REPORT_DOC
    stored = ws.get_model_document(model.name, model.version, REPORT_DOC)
    assert approval.evidence["responsible"]["sha256"] == hashlib.sha256(stored).hexdigest()
    # A tightened policy blocks the same model at promotion, naming the group and the number.
    strict = _with_policy(released_project, worst_cohort_metric=0.05)
    with pytest.raises(GateFailed, match=r"above the limit 0\.05"):
        check_promotion(ws, strict, model)


def test_loosening_the_policy_to_approve_leaves_a_trace(released_project: ProjectConfig) -> None:
    ws = open_workspace(released_project)
    model = ws.get_model(released_project.model.name, 2)
    _passed_qa(ws, model.ref)
    first = approve(ws, released_project, model.ref, "production", reason="fair", by="reviewer")
    loose = _with_policy(released_project, worst_cohort_metric=5.0)
    second = approve(ws, loose, model.ref, "production", reason="again", by="reviewer")
    [(_, later), (_, earlier)] = read(ws, ApproveEvent, subject=model.ref)
    assert earlier.policy is not None and later.policy is not None
    assert earlier.policy["policy"]["worst_cohort_metric"] == 0.9
    assert later.policy["policy"]["worst_cohort_metric"] == 5.0
    assert earlier.policy_sha256 == first.policy_sha256 != later.policy_sha256 == second.policy_sha256
    # The same policy read again hashes the same: only a change shows.
    assert policy_in_force(load_config(released_project.root / "mlops.yaml").responsible)[1] \
        == earlier.policy_sha256
    assert f"(policy {later.policy_sha256[:12]})" in summary_of(ws.list_events(1)[0]).note
    card = build_card(ws, loose, model)
    approvals = [g.detail for g in card.gates if g.gate == "approval"]
    assert approvals == [f"stage: production, reason: fair, policy sha256: {earlier.policy_sha256[:12]}",
                         f"stage: production, reason: again, policy sha256: {later.policy_sha256[:12]}"]
    assert [g.verdict for g in card.gates if g.gate == "QA gate"] == ["passed"]


def test_the_stored_card_of_a_trained_model_renders_clean_in_chromium(
        released_project: ProjectConfig, chromium: Chromium, tmp_path: Path) -> None:
    ws = open_workspace(released_project)
    page = tmp_path / "card.html"
    page.write_bytes(ws.get_model_document(released_project.model.name, 2, CARD_HTML))
    loaded = chromium.load(page)
    assert loaded.errors == []
    assert loaded.requests == (loaded.url,)  # nothing but the file itself
    plots = {plot["id"]: plot for plot in loaded.facts}
    # One per sensitive feature, the cohorts, importance, the SHAP summary and the mitigation.
    assert {p["plot"] for p in plots.values()} == {"groups", "cohorts", "importance",
                                                   "shap-summary", "mitigation"}
    assert sum(p["plot"] == "groups" for p in plots.values()) == 3
    for plot in plots.values():
        assert plot["drawn"] > 0, plot


def test_a_model_without_a_report_cannot_be_promoted_once_a_policy_exists(
        released_project: ProjectConfig) -> None:
    ws = open_workspace(released_project)
    model = ws.get_model(released_project.model.name, 1)
    docs = released_project.workspace_dir / "model-docs" / model.name / str(model.version)
    (docs / REPORT_DOC).unlink()
    with pytest.raises(GateFailed, match="has no responsible-ML report"):
        check_promotion(ws, released_project, model)
