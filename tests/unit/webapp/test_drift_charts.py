"""The web app's time charts: one mark per value, dashed thresholds, escaped text, an empty
chart that says so."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

from mlops_azure.webapp._drift_charts import Point, Series, Threshold, safe_id, time_chart

START = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


def _points(values: list[float], alarms: tuple[int, ...] = ()) -> list[Point]:
    return [Point(START + timedelta(hours=i), v, f"check {i}: {v}", i in alarms)
            for i, v in enumerate(values)]


def _marks(svg: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    return [e for e in root.iter() if "mark" in (e.get("class") or "").split()]


def test_a_mark_per_value_with_its_tooltip_and_alarms_told_apart() -> None:
    svg = time_chart("drift", "c1", "Drift of rooms", [
        Series("PSI", _points([0.01, 0.4, 0.02], alarms=(1,)), key="psi"),
        Series("JS", _points([0.02, 0.2, 0.03], alarms=(1,)), square=True, key="js")])
    root = ET.fromstring(svg)
    assert root.get("data-plot") == "drift" and root.get("id") == "c1"
    assert root.find("title") is not None and root.find("title").text == "Drift of rooms"
    marks = _marks(svg)
    assert len(marks) == 6
    assert [m.tag for m in marks].count("circle") == 3 and [m.tag for m in marks].count("rect") == 3
    assert sum(m.get("data-series") == "psi" for m in marks) == 3
    assert [m.find("title").text for m in marks if m.get("data-series") == "psi"] == [
        "check 0: 0.01", "check 1: 0.4", "check 2: 0.02"]
    alarmed = [m for m in marks if m.get("data-alarm")]
    assert len(alarmed) == 2 and {m.get("fill") for m in alarmed} != {
        m.get("fill") for m in marks if not m.get("data-alarm")}


def test_points_rise_with_their_values_and_move_right_with_time() -> None:
    svg = time_chart("drift", "c2", "t", [Series("PSI", _points([0.1, 0.5, 0.3]))])
    circles = _marks(svg)
    xs = [float(c.get("cx")) for c in circles]
    ys = [float(c.get("cy")) for c in circles]
    assert xs == sorted(xs) and len(set(xs)) == 3
    assert ys[1] < ys[2] < ys[0]  # SVG y grows downwards


def test_a_threshold_is_a_dashed_line_at_its_value() -> None:
    svg = time_chart("drift", "c3", "t", [Series("PSI", _points([0.1, 0.2]))],
                     [Threshold(0.25, "PSI major"), Threshold(0.1, "JS")])
    lines = [e for e in ET.fromstring(svg).iter("line") if e.get("class") == "threshold"]
    assert len(lines) == 2 and all(e.get("stroke-dasharray") for e in lines)
    high, low = (float(e.get("y1")) for e in lines)
    assert high < low  # 0.25 drawn above 0.1
    # The point at 0.1 sits on the 0.1 threshold.
    assert float(_marks(svg)[0].get("cy")) == low
    assert "PSI major 0.25" in svg
    # The axis reaches above the highest threshold even when every value is below it.
    assert high > 14


def test_feature_names_and_tooltips_are_escaped() -> None:
    name = 'size "m2" <b>&</b>'
    svg = time_chart("drift", safe_id("drift", name), f"Drift of {name}",
                     [Series("PSI", [Point(START, 0.3, f"{name} <script>", True)])],
                     [Threshold(0.25, "<i>x</i>")])
    assert "<b>" not in svg and "<script>" not in svg and "<i>" not in svg
    root = ET.fromstring(svg)  # well-formed: nothing leaked into the markup
    assert root.find("title").text == f"Drift of {name}"
    assert re.fullmatch(r"[A-Za-z0-9_-]+", root.get("id") or "")


def test_no_values_give_a_chart_that_says_so_without_marks() -> None:
    for series in ([], [Series("PSI", [])], [Series("PSI", [Point(START, float("nan"), "")])]):
        svg = time_chart("drift", "empty", "Nothing", series, [Threshold(0.25, "PSI major")])
        assert _marks(svg) == [] and "No values recorded yet" in svg
        ET.fromstring(svg)


def test_one_point_is_centred() -> None:
    svg = time_chart("drift", "one", "t", [Series("PSI", _points([0.2]))])
    (mark,) = _marks(svg)
    width = float(ET.fromstring(svg).get("width"))
    assert abs(float(mark.get("cx")) - (60 + width - 20) / 2) < 1
