"""When a trigger last fired: cron in its time zone, recurrences from the creation time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mlops_azure.lifecycle.schedule_runs import last_firing
from mlops_azure.records import ScheduleTrigger

CREATED = datetime(2026, 1, 31, 10, 7, tzinfo=UTC)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(("cron", "zone", "now", "expected"), [
    ("30 2 * * 1-5", "UTC", "2026-02-04T12:00", "2026-02-04T02:30"),  # Wednesday
    ("30 2 * * 1-5", "UTC", "2026-02-08T12:00", "2026-02-06T02:30"),  # Sunday: Friday's
    ("30 2 * * *", "UTC", "2026-02-01T02:30", "2026-02-01T02:30"),  # exactly now counts
    ("0 3 * * *", "Europe/Berlin", "2026-02-02T12:00", "2026-02-02T02:00"),  # CET = UTC+1
    ("0 3 * * *", "Europe/Berlin", "2026-07-02T12:00", "2026-07-02T01:00"),  # CEST = UTC+2
])
def test_cron_fires_in_its_time_zone(cron: str, zone: str, now: str, expected: str) -> None:
    trigger = ScheduleTrigger(cron=cron, time_zone=zone)
    assert last_firing(trigger, CREATED, at(now)) == at(expected)


def test_nothing_fired_before_creation() -> None:
    assert last_firing(ScheduleTrigger(cron="0 3 * * *"), CREATED, at("2026-01-31T23:00")) is None
    every = ScheduleTrigger(frequency="hour", interval=2)
    assert last_firing(every, CREATED, at("2026-01-31T12:06")) is None


@pytest.mark.parametrize(("unit", "interval", "now", "expected"), [
    ("minute", 15, "2026-01-31T10:40", "2026-01-31T10:37"),
    ("hour", 2, "2026-01-31T15:00", "2026-01-31T14:07"),
    ("day", 1, "2026-02-03T10:06", "2026-02-02T10:07"),
    ("week", 1, "2026-02-14T10:07", "2026-02-14T10:07"),
    ("month", 1, "2026-03-15T00:00", "2026-02-28T10:07"),  # the 31st in February: its last day
    ("month", 1, "2026-04-01T00:00", "2026-03-31T10:07"),
    ("month", 2, "2026-05-30T00:00", "2026-03-31T10:07"),
])
def test_recurrences_count_from_the_creation_time(unit: str, interval: int, now: str,
                                                  expected: str) -> None:
    trigger = ScheduleTrigger(frequency=unit, interval=interval)
    assert last_firing(trigger, CREATED, at(now)) == at(expected)
