"""Typed audit events: written as the trail always stored them, read back tolerantly."""

from __future__ import annotations

import logging
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from mlops_azure.audit_events import (
    DeployEvent,
    EventUnreadable,
    PromoteEvent,
    RollbackEvent,
    ScheduleRunEvent,
    WatchEvent,
    decode,
    event_types,
    latest,
    parse,
    read,
    read_all,
    record,
    resolve_actor,
)
from mlops_azure.local import LocalWorkspace


@pytest.fixture
def ws(tmp_path: Path) -> LocalWorkspace:
    return LocalWorkspace(tmp_path / "ws")


def test_an_event_round_trips_under_its_action_subject_and_actor(ws: LocalWorkspace) -> None:
    event = RollbackEvent(subject="m:1", stage="production", endpoint="prod", deployment="v001",
                          previous="v002", outcome="succeeded", trigger="manual",
                          traffic={"v001": 100, "v002": 0})
    stored = record(ws, event, actor="ana")
    assert (stored.action, stored.subject, stored.actor) == ("rollback", "m:1", "ana")
    assert stored.details["previous"] == "v002" and stored.details["traffic"] == {"v001": 100,
                                                                                 "v002": 0}
    [(audit, back)] = read(ws, RollbackEvent)
    assert back == event and audit.id == stored.id


def test_events_written_by_older_versions_read_back(ws: LocalWorkspace) -> None:
    # The exact details an earlier mlops wrote, plus a key this version does not know.
    ws.events.record("deploy", "m:1", {"stage": "staging", "endpoint": "stg", "deployment": "v001",
                                      "previous": None, "outcome": "succeeded",
                                      "traffic": {"v001": 100}, "added_later": [1, 2]}, actor="a")
    ws.events.record("watch.data", "c/x.csv@1", {"blob": "c/x.csv@1", "last_modified": "2024",
                                                "size": 3, "phase": "submitted", "job": "j1",
                                                "data": "d:1"}, actor="a")
    [(_, deploy)] = read(ws, DeployEvent)
    assert deploy.traffic == {"v001": 100} and deploy.error is None
    [(_, watch)] = read(ws, WatchEvent)
    assert watch.submitted_job == "j1" and watch.registered is None


def test_an_unreadable_event_is_skipped_with_a_warning_not_a_crash(
    ws: LocalWorkspace, caplog: pytest.LogCaptureFixture
) -> None:
    good = record(ws, PromoteEvent(subject="m:1", stage="p", endpoint="prod", outcome="refused",
                                   reason="no approval"), actor="a")
    bad = ws.events.record("promote", "m:2", {"stage": "p", "outcome": 7}, actor="a")
    with caplog.at_level(logging.WARNING, logger="mlops_azure.audit"):
        assert [r.audit.id for r in read(ws, PromoteEvent)] == [good.id]
    assert f"audit event {bad.id}" in caplog.text and "endpoint" in caplog.text
    assert parse(bad) is None
    with pytest.raises(EventUnreadable, match="cannot be read as PromoteEvent"):
        decode(bad, PromoteEvent)
    with pytest.raises(EventUnreadable, match="not 'deploy'"):
        decode(good, DeployEvent)


def test_read_all_merges_types_newest_first_and_latest_filters(ws: LocalWorkspace) -> None:
    first = record(ws, DeployEvent(subject="m:1", stage="s", endpoint="e", outcome="succeeded",
                                   deployment="v001"), actor="a")
    second = record(ws, RollbackEvent(subject="m:1", stage="s", endpoint="e", outcome="succeeded",
                                      trigger="automatic"), actor="a")
    third = record(ws, DeployEvent(subject="m:2", stage="s", endpoint="other",
                                   outcome="succeeded"), actor="a")
    merged = read_all(ws, (DeployEvent, RollbackEvent))
    assert [r.audit.id for r in merged] == [third.id, second.id, first.id]
    on_purpose = latest(ws, DeployEvent, where=lambda e: e.endpoint == "e")
    assert on_purpose is not None and on_purpose.audit.id == first.id
    assert not merged[1].event.moved_traffic_on_purpose
    assert latest(ws, DeployEvent, subject="m:3") is None


def test_values_are_stored_as_plain_json(ws: LocalWorkspace) -> None:
    due = datetime(2024, 5, 1, 6, 0, tzinfo=UTC)
    stored = record(ws, ScheduleRunEvent(subject="nightly", schedule="nightly", due=due), actor="a")
    assert stored.details["due"] == due.isoformat()
    [(_, back)] = read(ws, ScheduleRunEvent)
    assert back.due == due


def test_every_action_has_one_type() -> None:
    assert {"deploy", "promote", "rollback", "approve", "gate.qa", "watch.data", "schedule.run",
            "data.upload", "register", "archive", "train", "gate.champion",
            "gate.responsible"} <= set(event_types())


# -- the actor rule ---------------------------------------------------------------------------
@pytest.fixture
def no_actor_hints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No actor variable set, and a git whose only configuration is a file of the test's own."""
    for var in ("MLOPS_ACTOR", "BUILD_REQUESTEDFOREMAIL", "BUILD_REQUESTEDFOR", "GITHUB_ACTOR"):
        monkeypatch.delenv(var, raising=False)
    gitconfig = tmp_path / "gitconfig"
    gitconfig.write_text("")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(gitconfig))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.chdir(tmp_path)  # not inside a repository with its own user.email
    return gitconfig


def test_the_actor_rule_in_order(no_actor_hints: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "os-user")
    assert resolve_actor() == "os-user"
    subprocess.run(["git", "config", "--file", str(no_actor_hints), "user.email", "git@x.org"],
                   check=True)
    assert resolve_actor() == "git@x.org"
    monkeypatch.setenv("BUILD_REQUESTEDFOR", "Ana")
    assert resolve_actor() == "Ana"
    monkeypatch.setenv("BUILD_REQUESTEDFOREMAIL", "ana@contoso.com")
    assert resolve_actor() == "ana@contoso.com"
    monkeypatch.setenv("MLOPS_ACTOR", "release-bot")
    assert resolve_actor() == "release-bot"
    assert resolve_actor("bo") == "bo"
    assert resolve_actor("  ") == "release-bot"


def test_every_writer_records_the_same_actor(
    ws: LocalWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_actor_hints: Path
) -> None:
    # Data upload used to record the OS user while training recorded the git user.
    monkeypatch.setenv("MLOPS_ACTOR", "ana")
    data = tmp_path / "rows.csv"
    data.write_text("a,b\n1,2\n")
    asset = ws.data.upload("rows", data)
    record(ws, DeployEvent(subject="m:1", stage="s", endpoint="e", outcome="succeeded"))
    assert {(e.action, e.actor) for e in ws.events.recent()} == {("data.upload", "ana"),
                                                                ("deploy", "ana")}
    assert ws.events.recent(1, action="data.upload")[0].subject == asset.ref
