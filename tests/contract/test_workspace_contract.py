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
    first = workspace.data.upload("train", source, description="first cut")
    assert (first.name, first.version, first.description) == ("train", 1, "first cut")
    assert first.size_bytes == len("x,y\n1,2\n")
    assert len(first.sha256) == 64
    assert workspace.data.local_path(first).read_text(encoding="utf-8") == "x,y\n1,2\n"

    source.write_text("x,y\n1,2\n3,4\n", encoding="utf-8")
    second = workspace.data.upload("train", source)
    assert second.version == 2
    assert second.sha256 != first.sha256
    assert workspace.data.local_path(first).read_text(encoding="utf-8") == "x,y\n1,2\n"
    assert workspace.data.get("train") == second
    assert workspace.data.get("train", 1) == first
    assert [a.ref for a in workspace.data.versions("train")] == ["train:2", "train:1"]


def test_uploading_unchanged_content_returns_the_latest_version(
    workspace: Workspace, tmp_path: Path
) -> None:
    source = tmp_path / "raw"
    (source / "part").mkdir(parents=True)
    (source / "a.csv").write_text("a\n1\n", encoding="utf-8")
    (source / "part" / "b.csv").write_text("a\n2\n", encoding="utf-8")
    first = workspace.data.upload("raw", source)
    again = workspace.data.upload("raw", source)
    assert again == first
    assert [a.version for a in workspace.data.versions("raw")] == [1]
    folder = workspace.data.local_path(first)
    assert (folder / "part" / "b.csv").read_text(encoding="utf-8") == "a\n2\n"


def test_list_data_across_names_is_newest_first(workspace: Workspace, tmp_path: Path) -> None:
    for name, text in [("a", "1"), ("b", "2"), ("a", "3")]:
        (tmp_path / "f.txt").write_text(text, encoding="utf-8")
        workspace.data.upload(name, tmp_path / "f.txt")
    assert [d.ref for d in workspace.data.versions()] == ["a:2", "b:1", "a:1"]
    assert workspace.data.versions("nothing") == []


@pytest.mark.parametrize("name", ["", "-leading-dash", "has space", "semi;colon", "x" * 256, "ü"])
def test_bad_data_asset_names_are_refused(workspace: Workspace, tmp_path: Path, name: str) -> None:
    (tmp_path / "f.txt").write_text("1", encoding="utf-8")
    with pytest.raises(UserInputError, match="name"):
        workspace.data.upload(name, tmp_path / "f.txt")
    assert workspace.data.versions() == []


def test_uploading_a_missing_path_is_refused(workspace: Workspace, tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match="does not exist"):
        workspace.data.upload("raw", tmp_path / "nope.csv")
    assert workspace.data.versions() == []


def test_unknown_data_assets_are_not_found(workspace: Workspace, tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="'raw'"):
        workspace.data.get("raw")
    (tmp_path / "f.txt").write_text("1", encoding="utf-8")
    workspace.data.upload("raw", tmp_path / "f.txt")
    with pytest.raises(NotFoundError, match="data asset 'raw' has no version 5"):
        workspace.data.get("raw", 5)


def test_altered_data_is_detected(
    workspace: Workspace, tmp_path: Path, tamper: Callable[[str], None]
) -> None:
    (tmp_path / "f.txt").write_text("1,2,3", encoding="utf-8")
    asset = workspace.data.upload("raw", tmp_path / "f.txt")
    tamper(asset.path)
    with pytest.raises(BackendError, match=r"raw:1 .* are missing or altered"):
        workspace.data.local_path(asset)


# -- jobs ---------------------------------------------------------------------------------------


def test_a_completed_job_has_steps_outputs_and_logs(workspace: Workspace, submission: SubmitFn) -> None:
    events: list[JobEvent] = []
    job = workspace.jobs.run_pipeline(submission(factor=3), events.append)
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

    model = workspace.jobs.output_path(job.id, "model")
    assert json.loads((model / "model.json").read_text(encoding="utf-8")) == {
        "total": 3 * RAW_SUM, "count": 8
    }
    assert workspace.jobs.get(job.id) == job

    assert "prep: wrote 8 numbers" in workspace.jobs.logs(job.id, "prep")
    assert "train: total=93" in workspace.jobs.logs(job.id, "train")
    everything = workspace.jobs.logs(job.id)
    assert everything.index("prep: wrote") < everything.index("train: total")
    assert everything.index("prep") < everything.index("train")

    assert {e.job_id for e in events} == {job.id}
    assert {(e.step, e.status) for e in events} >= {
        ("prep", JobStatus.COMPLETED), ("train", JobStatus.COMPLETED)
    }
    assert events[-1].status is JobStatus.COMPLETED


def test_a_failed_job_is_returned_with_its_error(workspace: Workspace, submission: SubmitFn) -> None:
    job = workspace.jobs.run_pipeline(submission(fail=True))
    assert job.status is JobStatus.FAILED
    assert job.error
    assert "prep" in job.error
    prep = next(s for s in job.steps if s.name == "prep")
    assert (prep.status, prep.exit_code) == (JobStatus.FAILED, 3)
    assert all(s.status is not JobStatus.COMPLETED for s in job.steps if s.name == "train")
    assert "prep: asked to fail" in workspace.jobs.logs(job.id, "prep")
    assert workspace.jobs.get(job.id).status is JobStatus.FAILED
    with pytest.raises(NotFoundError, match="Failed"):
        workspace.jobs.output_path(job.id, "model")


def test_jobs_are_listed_newest_first(workspace: Workspace, submission: SubmitFn) -> None:
    first = workspace.jobs.run_pipeline(submission())
    second = workspace.jobs.run_pipeline(submission(fail=True))
    assert first.id != second.id
    assert [j.id for j in workspace.jobs.recent()] == [second.id, first.id]
    assert [j.id for j in workspace.jobs.recent(limit=1)] == [second.id]


def test_a_submission_with_bad_inputs_is_refused_without_a_job(
    workspace: Workspace, submission: SubmitFn, tmp_path: Path
) -> None:
    with pytest.raises(UserInputError):
        workspace.jobs.run_pipeline(submission(raw=tmp_path / "missing.txt"))
    with pytest.raises(UserInputError):
        workspace.jobs.run_pipeline(PipelineSubmission(tmp_path / "no-pipeline.yml", {}, "contract"))
    assert workspace.jobs.recent() == []


def test_unknown_jobs_steps_and_outputs_are_not_found(workspace: Workspace, completed_job: Job) -> None:
    for call in (
        lambda: workspace.jobs.get("contract-20000101000000-abcdef"),
        lambda: workspace.jobs.logs("contract-20000101000000-abcdef"),
        lambda: workspace.jobs.output_path("contract-20000101000000-abcdef", "model"),
    ):
        with pytest.raises(NotFoundError, match="contract-20000101000000-abcdef"):
            call()
    with pytest.raises(NotFoundError, match="no step 'deploy'"):
        workspace.jobs.logs(completed_job.id, "deploy")
    with pytest.raises(NotFoundError, match="no output 'weights'"):
        workspace.jobs.output_path(completed_job.id, "weights")


# -- models -------------------------------------------------------------------------------------


def test_register_from_a_job_output(
    workspace: Workspace, completed_job: Job, make_lineage: Callable[[str], Lineage]
) -> None:
    lineage = make_lineage(completed_job.id)
    model = workspace.models.register(
        "clf", job_id=completed_job.id, output="model", metrics={"auc": 0.91, "rows": 8},
        lineage=lineage, tags={"stage": "candidate"}, description="first",
    )
    assert (model.ref, model.metrics, model.tags) == ("clf:1", {"auc": 0.91, "rows": 8.0},
                                                      {"stage": "candidate"})
    assert model.lineage == lineage
    assert model.description == "first"
    assert len(model.sha256) == 64
    assert workspace.models.get("clf", 1) == model
    stored = workspace.models.local_path("clf", 1)
    assert json.loads((stored / "model.json").read_text(encoding="utf-8"))["total"] == 2 * RAW_SUM

    event = workspace.events.recent(1)[0]
    assert (event.action, event.subject, event.actor) == ("register", "clf:1", "alice@example.com")
    assert event.details["job_id"] == completed_job.id


def test_versions_count_up_and_latest_is_the_highest(
    workspace: Workspace, completed_job: Job, make_lineage: Callable[[str], Lineage]
) -> None:
    lineage = make_lineage(completed_job.id)
    for auc in (0.7, 0.8, 0.9):
        workspace.models.register("clf", job_id=completed_job.id, output="model",
                                 metrics={"auc": auc}, lineage=lineage)
    workspace.models.register("other", job_id=completed_job.id, output="model", metrics={},
                             lineage=lineage)
    latest = workspace.models.get("clf")
    assert (latest.version, latest.metrics["auc"]) == (3, 0.9)
    assert [m.ref for m in workspace.models.versions("clf")] == ["clf:3", "clf:2", "clf:1"]
    assert [m.ref for m in workspace.models.versions()] == ["other:1", "clf:3", "clf:2", "clf:1"]
    assert workspace.models.versions("nothing") == []
    assert [e.subject for e in workspace.events.recent() if e.action == "register"] == [
        "other:1", "clf:3", "clf:2", "clf:1"
    ]


def test_unknown_models_are_not_found(
    workspace: Workspace, completed_job: Job, make_lineage: Callable[[str], Lineage]
) -> None:
    with pytest.raises(NotFoundError, match="model 'x'"):
        workspace.models.get("x")
    workspace.models.register("x", job_id=completed_job.id, output="model", metrics={},
                             lineage=make_lineage(completed_job.id))
    with pytest.raises(NotFoundError, match="model 'x' has no version 7"):
        workspace.models.get("x", 7)
    with pytest.raises(NotFoundError, match="model 'x' has no version 7"):
        workspace.models.local_path("x", 7)


def test_registering_a_failed_or_unknown_job_is_refused(
    workspace: Workspace, submission: SubmitFn, make_lineage: Callable[[str], Lineage]
) -> None:
    failed = workspace.jobs.run_pipeline(submission(fail=True))
    with pytest.raises(UserInputError, match="Completed"):
        workspace.models.register("clf", job_id=failed.id, output="model", metrics={},
                                 lineage=make_lineage(failed.id))
    with pytest.raises(NotFoundError):
        workspace.models.register("clf", job_id="contract-20000101000000-abcdef", output="model",
                                 metrics={}, lineage=make_lineage(failed.id))
    assert workspace.models.versions() == []
    assert [e for e in workspace.events.recent() if e.action == "register"] == []


def test_bad_model_names_and_outputs_are_refused(
    workspace: Workspace, completed_job: Job, make_lineage: Callable[[str], Lineage]
) -> None:
    lineage = make_lineage(completed_job.id)
    with pytest.raises(UserInputError, match="name"):
        workspace.models.register("bad name", job_id=completed_job.id, output="model", metrics={},
                                 lineage=lineage)
    with pytest.raises(NotFoundError, match="no output 'weights'"):
        workspace.models.register("clf", job_id=completed_job.id, output="weights", metrics={},
                                 lineage=lineage)
    assert workspace.models.versions() == []


def test_altered_model_artifacts_are_detected(
    workspace: Workspace, completed_job: Job, make_lineage: Callable[[str], Lineage],
    tamper: Callable[[str], None],
) -> None:
    model = workspace.models.register("clf", job_id=completed_job.id, output="model", metrics={},
                                     lineage=make_lineage(completed_job.id))
    tamper(model.path)
    with pytest.raises(BackendError, match=r"artifacts of model clf:1 at .* are missing or altered"):
        workspace.models.local_path("clf", 1)


# -- serving and audit --------------------------------------------------------------------------


def test_an_unknown_endpoint_has_no_traffic(workspace: Workspace) -> None:
    assert workspace.endpoints.traffic("nowhere") == []


def test_events_are_appended_and_listed_newest_first(workspace: Workspace) -> None:
    first = workspace.events.record("approve", "clf:1", {"stage": "production", "why": "ok"},
                                   actor="bob")
    second = workspace.events.record("deploy", "clf:1", {"traffic": {"blue": 100}}, actor="ci")
    assert second.id > first.id
    assert (first.action, first.subject, first.actor) == ("approve", "clf:1", "bob")
    assert first.time.tzinfo is not None
    assert workspace.events.recent() == [second, first]
    assert workspace.events.recent(limit=1) == [second]
    assert workspace.events.recent()[0].details == {"traffic": {"blue": 100}}


def test_an_archived_version_is_hidden_but_readable_and_never_reused(
    workspace: Workspace, completed_job: Job, make_lineage: Callable[[str], Lineage]
) -> None:
    for _ in range(2):
        workspace.models.register("arch", job_id=completed_job.id, output="model", metrics={},
                                 lineage=make_lineage(completed_job.id))
    workspace.models.archive("arch", 2, actor="carol")
    assert [m.version for m in workspace.models.versions("arch")] == [1]
    assert workspace.models.get("arch").version == 1
    assert workspace.models.get("arch", 2).version == 2
    third = workspace.models.register("arch", job_id=completed_job.id, output="model", metrics={},
                                     lineage=make_lineage(completed_job.id))
    assert third.version == 3
    assert [(e.action, e.subject, e.actor) for e in workspace.events.recent(1, action="archive")] == [
        ("archive", "arch:2", "carol")]
    with pytest.raises(NotFoundError, match="model 'arch' has no version 9"):
        workspace.models.archive("arch", 9, actor="carol")


def test_an_exclusive_lock_has_one_holder_at_a_time(workspace: Workspace) -> None:
    with workspace.locks.exclusive("watch-landing") as first:
        assert first is True
        with workspace.locks.exclusive("watch-landing") as second:
            assert second is False  # another holder: stand aside, without waiting
        with workspace.locks.exclusive("schedule-run-due") as other:
            assert other is True  # another lock
    with workspace.locks.exclusive("watch-landing") as again:
        assert again is True  # released at the end of the block
    with pytest.raises(UserInputError, match="lock name"), workspace.locks.exclusive("../escape"):
        pass


def test_a_lock_names_its_holder_while_held(workspace: Workspace) -> None:
    assert workspace.locks.holder("endpoint-prod") is None  # never taken
    with workspace.locks.exclusive("endpoint-prod", holder="mlops promote by ana (pid 7 on h1) ü") as mine:
        assert mine is True
        held = workspace.locks.holder("endpoint-prod")
        assert held is not None
        assert held.holder == "mlops promote by ana (pid 7 on h1) ü"
        assert held.since is not None
    assert workspace.locks.holder("endpoint-prod") is None  # released


def test_documents_are_stored_beside_a_model_version(
    workspace: Workspace, completed_job: Job, make_lineage: Callable[[str], Lineage]
) -> None:
    model = workspace.models.register("clf", job_id=completed_job.id, output="model",
                                     metrics={"auc": 0.9}, lineage=make_lineage(completed_job.id))
    with pytest.raises(NotFoundError, match=r"has no document 'card\.html'"):
        workspace.models.get_document("clf", 1, "card.html")
    workspace.models.put_document("clf", 1, "card.html", b"<h1>first</h1>")
    workspace.models.put_document("clf", 1, "card.html", b"<h1>card</h1>")  # replaced
    workspace.models.put_document("clf", 1, "responsible.json", b"{}")
    assert workspace.models.get_document("clf", 1, "card.html") == b"<h1>card</h1>"
    assert workspace.models.get_document("clf", 1, "responsible.json") == b"{}"
    # The model's own artifacts, and so its content hash, are untouched.
    assert workspace.models.get("clf", 1).sha256 == model.sha256
    workspace.models.local_path("clf", 1)  # still verifies
    with pytest.raises(NotFoundError):
        workspace.models.put_document("clf", 7, "card.html", b"x")
    for bad in ("../escape.html", "a/b.html", ".hidden", ""):
        with pytest.raises(UserInputError, match="model document name"):
            workspace.models.put_document("clf", 1, bad, b"x")
