"""The Workspace contract: every backend must pass these, through the interface only.

Fixtures (``workspace``, ``submission``, ``completed_job``, ``tamper``...) come from conftest.py,
the one place that knows which backend is under test.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_azure.errors import BackendError, NotFoundError, UserInputError
from mlops_azure.workspace import Job, JobEvent, JobStatus, Lineage, PipelineSubmission, Workspace

SubmitFn = Callable[..., PipelineSubmission]
RAW_SUM = 31  # sum of the numbers conftest writes into the raw file

# -- data assets --------------------------------------------------------------------------------


def test_upload_a_file_then_new_content_makes_version_2(workspace: Workspace, tmp_path: Path) -> None:
    source = tmp_path / "train.csv"
    source.write_text("x,y\n1,2\n", encoding="utf-8")
    first = workspace.upload_data("train", source, description="first cut")
    assert (first.name, first.version, first.description) == ("train", 1, "first cut")
    assert first.size_bytes == len("x,y\n1,2\n")
    assert len(first.sha256) == 64
    assert workspace.data_local_path(first).read_text(encoding="utf-8") == "x,y\n1,2\n"

    source.write_text("x,y\n1,2\n3,4\n", encoding="utf-8")
    second = workspace.upload_data("train", source)
    assert second.version == 2
    assert second.sha256 != first.sha256
    assert workspace.data_local_path(first).read_text(encoding="utf-8") == "x,y\n1,2\n"
    assert workspace.get_data("train") == second
    assert workspace.get_data("train", 1) == first
    assert [a.ref for a in workspace.list_data("train")] == ["train:2", "train:1"]


def test_uploading_unchanged_content_returns_the_latest_version(
    workspace: Workspace, tmp_path: Path
) -> None:
    source = tmp_path / "raw"
    (source / "part").mkdir(parents=True)
    (source / "a.csv").write_text("a\n1\n", encoding="utf-8")
    (source / "part" / "b.csv").write_text("a\n2\n", encoding="utf-8")
    first = workspace.upload_data("raw", source)
    again = workspace.upload_data("raw", source)
    assert again == first
    assert [a.version for a in workspace.list_data("raw")] == [1]
    folder = workspace.data_local_path(first)
    assert (folder / "part" / "b.csv").read_text(encoding="utf-8") == "a\n2\n"


def test_list_data_across_names_is_newest_first(workspace: Workspace, tmp_path: Path) -> None:
    for name, text in [("a", "1"), ("b", "2"), ("a", "3")]:
        (tmp_path / "f.txt").write_text(text, encoding="utf-8")
        workspace.upload_data(name, tmp_path / "f.txt")
    assert [d.ref for d in workspace.list_data()] == ["a:2", "b:1", "a:1"]
    assert workspace.list_data("nothing") == []


@pytest.mark.parametrize("name", ["", "-leading-dash", "has space", "semi;colon", "x" * 256, "ü"])
def test_bad_data_asset_names_are_refused(workspace: Workspace, tmp_path: Path, name: str) -> None:
    (tmp_path / "f.txt").write_text("1", encoding="utf-8")
    with pytest.raises(UserInputError, match="name"):
        workspace.upload_data(name, tmp_path / "f.txt")
    assert workspace.list_data() == []


def test_uploading_a_missing_path_is_refused(workspace: Workspace, tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="does not exist"):
        workspace.upload_data("raw", tmp_path / "nope.csv")
    assert workspace.list_data() == []


def test_unknown_data_assets_are_not_found(workspace: Workspace, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="'raw'"):
        workspace.get_data("raw")
    (tmp_path / "f.txt").write_text("1", encoding="utf-8")
    workspace.upload_data("raw", tmp_path / "f.txt")
    with pytest.raises(NotFoundError, match="data asset 'raw' has no version 5"):
        workspace.get_data("raw", 5)


def test_altered_data_is_detected(
    workspace: Workspace, tmp_path: Path, tamper: Callable[[str], None]
) -> None:
    (tmp_path / "f.txt").write_text("1,2,3", encoding="utf-8")
    asset = workspace.upload_data("raw", tmp_path / "f.txt")
    tamper(asset.path)
    with pytest.raises(BackendError, match=r"raw:1 .* are missing or altered"):
        workspace.data_local_path(asset)


# -- jobs ---------------------------------------------------------------------------------------


def test_a_completed_job_has_steps_outputs_and_logs(workspace: Workspace, submission: SubmitFn) -> None:
    events: list[JobEvent] = []
    job = workspace.run_pipeline(submission(factor=3), events.append)
    assert job.status is JobStatus.COMPLETED, job.error
    assert job.error is None
    assert job.experiment == "contract"
    assert job.tags == {"purpose": "test"}
    assert job.inputs["factor"] == 3
    assert [(s.name, s.status, s.exit_code) for s in job.steps] == [
        ("prep", JobStatus.COMPLETED, 0), ("train", JobStatus.COMPLETED, 0)
    ]
    assert all(s.started_at and s.ended_at and s.started_at <= s.ended_at for s in job.steps)
    assert job.started_at is not None and job.ended_at is not None

    model = workspace.job_output_path(job.id, "model")
    assert json.loads((model / "model.json").read_text(encoding="utf-8")) == {
        "total": 3 * RAW_SUM, "count": 8
    }
    assert workspace.get_job(job.id) == job

    assert "prep: wrote 8 numbers" in workspace.job_logs(job.id, "prep")
    assert "train: total=93" in workspace.job_logs(job.id, "train")
    everything = workspace.job_logs(job.id)
    assert everything.index("prep: wrote") < everything.index("train: total")
    assert everything.index("prep") < everything.index("train")

    assert {e.job_id for e in events} == {job.id}
    assert {(e.step, e.status) for e in events} >= {
        ("prep", JobStatus.COMPLETED), ("train", JobStatus.COMPLETED)
    }
    assert events[-1].status is JobStatus.COMPLETED


def test_a_failed_job_is_returned_with_its_error(workspace: Workspace, submission: SubmitFn) -> None:
    job = workspace.run_pipeline(submission(fail=True))
    assert job.status is JobStatus.FAILED
    assert job.error
    assert "prep" in job.error
    prep = next(s for s in job.steps if s.name == "prep")
    assert (prep.status, prep.exit_code) == (JobStatus.FAILED, 3)
    assert all(s.status is not JobStatus.COMPLETED for s in job.steps if s.name == "train")
    assert "prep: asked to fail" in workspace.job_logs(job.id, "prep")
    assert workspace.get_job(job.id).status is JobStatus.FAILED
    with pytest.raises(NotFoundError, match="Failed"):
        workspace.job_output_path(job.id, "model")


def test_jobs_are_listed_newest_first(workspace: Workspace, submission: SubmitFn) -> None:
    first = workspace.run_pipeline(submission())
    second = workspace.run_pipeline(submission(fail=True))
    assert first.id != second.id
    assert [j.id for j in workspace.list_jobs()] == [second.id, first.id]
    assert [j.id for j in workspace.list_jobs(limit=1)] == [second.id]


def test_a_submission_with_bad_inputs_is_refused_without_a_job(
    workspace: Workspace, submission: SubmitFn, tmp_path: Path
) -> None:
    with pytest.raises(UserInputError):
        workspace.run_pipeline(submission(raw=tmp_path / "missing.txt"))
    with pytest.raises(UserInputError):
        workspace.run_pipeline(PipelineSubmission(tmp_path / "no-pipeline.yml", {}, "contract"))
    assert workspace.list_jobs() == []


def test_unknown_jobs_steps_and_outputs_are_not_found(workspace: Workspace, completed_job: Job) -> None:
    for call in (
        lambda: workspace.get_job("contract-20000101000000-abcdef"),
        lambda: workspace.job_logs("contract-20000101000000-abcdef"),
        lambda: workspace.job_output_path("contract-20000101000000-abcdef", "model"),
    ):
        with pytest.raises(NotFoundError, match="contract-20000101000000-abcdef"):
            call()
    with pytest.raises(NotFoundError, match="no step 'deploy'"):
        workspace.job_logs(completed_job.id, "deploy")
    with pytest.raises(NotFoundError, match="no output 'weights'"):
        workspace.job_output_path(completed_job.id, "weights")


# -- models -------------------------------------------------------------------------------------


def test_register_from_a_job_output(
    workspace: Workspace, completed_job: Job, make_lineage: Callable[[str], Lineage]
) -> None:
    lineage = make_lineage(completed_job.id)
    model = workspace.register_model(
        "clf", job_id=completed_job.id, output="model", metrics={"auc": 0.91, "rows": 8},
        lineage=lineage, tags={"stage": "candidate"}, description="first",
    )
    assert (model.ref, model.metrics, model.tags) == ("clf:1", {"auc": 0.91, "rows": 8.0},
                                                      {"stage": "candidate"})
    assert model.lineage == lineage
    assert model.description == "first"
    assert len(model.sha256) == 64
    assert workspace.get_model("clf", 1) == model
    stored = workspace.model_local_path("clf", 1)
    assert json.loads((stored / "model.json").read_text(encoding="utf-8"))["total"] == 2 * RAW_SUM

    event = workspace.list_events(1)[0]
    assert (event.action, event.subject, event.actor) == ("register", "clf:1", "alice@example.com")
    assert event.details["job_id"] == completed_job.id


def test_versions_count_up_and_latest_is_the_highest(
    workspace: Workspace, completed_job: Job, make_lineage: Callable[[str], Lineage]
) -> None:
    lineage = make_lineage(completed_job.id)
    for auc in (0.7, 0.8, 0.9):
        workspace.register_model("clf", job_id=completed_job.id, output="model",
                                 metrics={"auc": auc}, lineage=lineage)
    workspace.register_model("other", job_id=completed_job.id, output="model", metrics={},
                             lineage=lineage)
    latest = workspace.get_model("clf")
    assert (latest.version, latest.metrics["auc"]) == (3, 0.9)
    assert [m.ref for m in workspace.list_models("clf")] == ["clf:3", "clf:2", "clf:1"]
    assert [m.ref for m in workspace.list_models()] == ["other:1", "clf:3", "clf:2", "clf:1"]
    assert workspace.list_models("nothing") == []
    assert [e.subject for e in workspace.list_events() if e.action == "register"] == [
        "other:1", "clf:3", "clf:2", "clf:1"
    ]


def test_unknown_models_are_not_found(
    workspace: Workspace, completed_job: Job, make_lineage: Callable[[str], Lineage]
) -> None:
    with pytest.raises(NotFoundError, match="model 'x'"):
        workspace.get_model("x")
    workspace.register_model("x", job_id=completed_job.id, output="model", metrics={},
                             lineage=make_lineage(completed_job.id))
    with pytest.raises(NotFoundError, match="model 'x' has no version 7"):
        workspace.get_model("x", 7)
    with pytest.raises(NotFoundError, match="model 'x' has no version 7"):
        workspace.model_local_path("x", 7)


def test_registering_a_failed_or_unknown_job_is_refused(
    workspace: Workspace, submission: SubmitFn, make_lineage: Callable[[str], Lineage]
) -> None:
    failed = workspace.run_pipeline(submission(fail=True))
    with pytest.raises(UserInputError, match="Completed"):
        workspace.register_model("clf", job_id=failed.id, output="model", metrics={},
                                 lineage=make_lineage(failed.id))
    with pytest.raises(NotFoundError):
        workspace.register_model("clf", job_id="contract-20000101000000-abcdef", output="model",
                                 metrics={}, lineage=make_lineage(failed.id))
    assert workspace.list_models() == []
    assert [e for e in workspace.list_events() if e.action == "register"] == []


def test_bad_model_names_and_outputs_are_refused(
    workspace: Workspace, completed_job: Job, make_lineage: Callable[[str], Lineage]
) -> None:
    lineage = make_lineage(completed_job.id)
    with pytest.raises(UserInputError, match="name"):
        workspace.register_model("bad name", job_id=completed_job.id, output="model", metrics={},
                                 lineage=lineage)
    with pytest.raises(NotFoundError, match="no output 'weights'"):
        workspace.register_model("clf", job_id=completed_job.id, output="weights", metrics={},
                                 lineage=lineage)
    assert workspace.list_models() == []


def test_altered_model_artifacts_are_detected(
    workspace: Workspace, completed_job: Job, make_lineage: Callable[[str], Lineage],
    tamper: Callable[[str], None],
) -> None:
    model = workspace.register_model("clf", job_id=completed_job.id, output="model", metrics={},
                                     lineage=make_lineage(completed_job.id))
    tamper(model.path)
    with pytest.raises(BackendError, match=r"artifacts of model clf:1 at .* are missing or altered"):
        workspace.model_local_path("clf", 1)


# -- serving and audit --------------------------------------------------------------------------


def test_an_unknown_endpoint_has_no_traffic(workspace: Workspace) -> None:
    assert workspace.endpoint_traffic("nowhere") == []


def test_events_are_appended_and_listed_newest_first(workspace: Workspace) -> None:
    first = workspace.record_event("approve", "clf:1", {"stage": "production", "why": "ok"},
                                   actor="bob")
    second = workspace.record_event("deploy", "clf:1", {"traffic": {"blue": 100}}, actor="ci")
    assert second.id > first.id
    assert (first.action, first.subject, first.actor) == ("approve", "clf:1", "bob")
    assert first.time.tzinfo is not None
    assert workspace.list_events() == [second, first]
    assert workspace.list_events(limit=1) == [second]
    assert workspace.list_events()[0].details == {"traffic": {"blue": 100}}


def test_an_archived_version_is_hidden_but_readable_and_never_reused(
    workspace: Workspace, completed_job: Job, make_lineage: Callable[[str], Lineage]
) -> None:
    for _ in range(2):
        workspace.register_model("arch", job_id=completed_job.id, output="model", metrics={},
                                 lineage=make_lineage(completed_job.id))
    workspace.archive_model("arch", 2, actor="carol")
    assert [m.version for m in workspace.list_models("arch")] == [1]
    assert workspace.get_model("arch").version == 1
    assert workspace.get_model("arch", 2).version == 2
    third = workspace.register_model("arch", job_id=completed_job.id, output="model", metrics={},
                                     lineage=make_lineage(completed_job.id))
    assert third.version == 3
    assert [(e.action, e.subject, e.actor) for e in workspace.list_events(1, action="archive")] == [
        ("archive", "arch:2", "carol")]
    with pytest.raises(NotFoundError, match="model 'arch' has no version 9"):
        workspace.archive_model("arch", 9, actor="carol")


def test_an_exclusive_lock_has_one_holder_at_a_time(workspace: Workspace) -> None:
    with workspace.exclusive("watch-landing") as first:
        assert first is True
        with workspace.exclusive("watch-landing") as second:
            assert second is False  # another holder: stand aside, without waiting
        with workspace.exclusive("schedule-run-due") as other:
            assert other is True  # another lock
    with workspace.exclusive("watch-landing") as again:
        assert again is True  # released at the end of the block
    with pytest.raises(UserInputError, match="lock name"), workspace.exclusive("../escape"):
        pass


def test_a_lock_names_its_holder_while_held(workspace: Workspace) -> None:
    assert workspace.lock_holder("endpoint-prod") is None  # never taken
    with workspace.exclusive("endpoint-prod", holder="mlops promote by ana (pid 7 on h1) ü") as mine:
        assert mine is True
        held = workspace.lock_holder("endpoint-prod")
        assert held is not None
        assert held.holder == "mlops promote by ana (pid 7 on h1) ü"
        assert held.since is not None
    assert workspace.lock_holder("endpoint-prod") is None  # released


def test_documents_are_stored_beside_a_model_version(
    workspace: Workspace, completed_job: Job, make_lineage: Callable[[str], Lineage]
) -> None:
    model = workspace.register_model("clf", job_id=completed_job.id, output="model",
                                     metrics={"auc": 0.9}, lineage=make_lineage(completed_job.id))
    with pytest.raises(NotFoundError, match=r"has no document 'card\.html'"):
        workspace.get_model_document("clf", 1, "card.html")
    workspace.put_model_document("clf", 1, "card.html", b"<h1>first</h1>")
    workspace.put_model_document("clf", 1, "card.html", b"<h1>card</h1>")  # replaced
    workspace.put_model_document("clf", 1, "responsible.json", b"{}")
    assert workspace.get_model_document("clf", 1, "card.html") == b"<h1>card</h1>"
    assert workspace.get_model_document("clf", 1, "responsible.json") == b"{}"
    # The model's own artifacts, and so its content hash, are untouched.
    assert workspace.get_model("clf", 1).sha256 == model.sha256
    workspace.model_local_path("clf", 1)  # still verifies
    with pytest.raises(NotFoundError):
        workspace.put_model_document("clf", 7, "card.html", b"x")
    for bad in ("../escape.html", "a/b.html", ".hidden", ""):
        with pytest.raises(UserInputError, match="model document name"):
            workspace.put_model_document("clf", 1, bad, b"x")
