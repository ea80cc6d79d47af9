"""The QA report as JSON and as the JUnit XML Azure DevOps reads."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

from mlops_azure.lifecycle.junit import write_junit
from mlops_azure.lifecycle.qa import Check, QaReport, malformed_requests, write_report

REPORT = QaReport(
    model="m:3", stage="staging", endpoint="ep-staging", deployment="v003",
    started_at=datetime(2026, 11, 28, 12, 0, tzinfo=UTC), seconds=2.5,
    checks=(Check("health", True, "answers", seconds=0.1),
            Check("parity", False, 'row 4: online 1.01 vs offline 1 <"&> skew', 0.01, 1e-6, 0.2),
            Check("latency_p95", True, "p95 3 ms", 3.0, 250.0, 1.0)),
)


def test_junit_has_one_case_per_check_and_failures_with_their_detail(tmp_path: Path) -> None:
    path = tmp_path / "out" / "qa.xml"
    write_junit(REPORT, path)
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("name")) == ("3", "1", "qa gate staging")
    cases = suite.findall("testcase")
    assert [c.get("name") for c in cases] == ["health", "parity", "latency_p95"]
    assert {c.get("classname") for c in cases} == {"mlops.gate.qa.staging"}
    failure = cases[1].find("failure")
    assert failure is not None and failure.get("message") == 'row 4: online 1.01 vs offline 1 <"&> skew'
    assert cases[0].find("failure") is None
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props == {"model": "m:3", "stage": "staging", "endpoint": "ep-staging", "deployment": "v003"}
    assert not list(path.parent.glob("*.tmp"))


def test_the_json_report_lists_the_verdict_and_every_check(tmp_path: Path) -> None:
    path = tmp_path / "qa.json"
    write_report(REPORT, path)
    doc = json.loads(path.read_text())
    assert doc["passed"] is False and doc["failed"] == ["parity"]
    assert [c["name"] for c in doc["checks"]] == ["health", "parity", "latency_p95"]
    assert doc["checks"][1]["measured"] == 0.01 and doc["started_at"].startswith("2026-11-28T12:00")


def test_a_report_without_checks_does_not_pass() -> None:
    empty = QaReport("m:1", "s", "e", "d", datetime.now(UTC), 0.0, ())
    assert not empty.passed


def test_the_report_dict_round_trips_through_json() -> None:
    doc = REPORT.to_dict()
    assert json.loads(json.dumps(doc)) == doc
    assert QaReport.from_dict(json.loads(json.dumps(doc))) == REPORT


def test_non_finite_measurements_are_written_as_null(tmp_path: Path) -> None:
    report = QaReport("m:1", "s", "e", "d", datetime.now(UTC), 1.0,
                      (Check("latency_p95", False, "no request succeeded", float("nan"), 250.0),))
    write_report(report, tmp_path / "qa.json")  # strict JSON: NaN would raise here
    assert json.loads((tmp_path / "qa.json").read_text())["checks"][0]["measured"] is None


def test_malformed_requests_spoil_a_valid_row_in_five_ways() -> None:
    row = {"region": "east", "lag_1": 331.2, "month": 7}
    cases = dict(malformed_requests(row))
    assert len(cases) == 5
    assert isinstance(cases["body that is not JSON"], bytes)
    assert cases["row missing feature 'region'"] == {"data": [{"lag_1": 331.2, "month": 7}]}
    assert cases["feature 'lag_1' with the wrong type"] == {"data": [{**row, "lag_1": "not-a-number"}]}
    assert cases["empty data list"] == {"data": []}
    assert "data" not in cases['JSON without "data"']
