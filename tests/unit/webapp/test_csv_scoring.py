"""Reading an uploaded CSV file for scoring: structure, typing, and the endpoint's refusals said
at the file's line; the scoring loop's order and output with an in-process endpoint stand-in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from mlops_azure.errors import UserInputError
from mlops_azure.lifecycle.scoring import ScoreResponse, ScoringClient
from mlops_azure.webapp._csv_scoring import (
    OUTPUT_FILE,
    Progress,
    RequestColumns,
    read_upload,
    request_of,
    score_upload,
    where_refused,
)

INPUTS = RequestColumns("homes:1", ("area", "rooms", "district"), frozenset({"district"}))


def upload(tmp_path: Path, content: bytes | str, name: str = "rows.csv") -> Any:
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return read_upload(path, INPUTS, name)


def refused(tmp_path: Path, content: bytes | str) -> str:
    with pytest.raises(UserInputError) as caught:
        upload(tmp_path, content)
    return caught.value.message


def test_a_good_file_keeps_every_cell_as_text_and_knows_each_rows_line(tmp_path: Path) -> None:
    found = upload(tmp_path, '\ufeffid,area,rooms,district\n007,50.5,2,centre\n\n'
                             '008,,3,"hills\nnorth"\n009,70,1,\n')
    assert found.rows == 3
    assert found.frame["id"].tolist() == ["007", "008", "009"]
    assert found.lines == (2, 4, 6)  # a blank line skipped, a quoted line break kept


def test_semicolons_and_tabs_are_recognised_from_the_header(tmp_path: Path) -> None:
    assert upload(tmp_path, "area;rooms;district\n1,5;2;x\n").frame["area"].tolist() == ["1,5"]
    assert upload(tmp_path, "area\trooms\tdistrict\n1\t2\tx\n").delimiter == "\t"


@pytest.mark.parametrize(("content", "words"), [
    (b"", "rows.csv is empty"),
    (b"  \n\n", "rows.csv is empty"),
    (b"PK\x03\x04\x14\x00\x00\x00binary", "not a CSV file (it holds binary data)"),
    ("area,rooms,district\n1,2,Zürich\n".encode("latin-1"), "not UTF-8 text (byte 0xfc on line 2)"),
    (b"area,rooms,district\n", "has a header but no rows"),
    (b"area,rooms,district\n\n\n", "has a header but no rows"),
    (b"area,district\n1,x\n", "lacks the column(s) rooms that homes:1 needs (its header has area, "
                              "district)"),
    (b"area,rooms,district\n1,2,x\n1,2,x,4\n", "line 3 has 4 value(s) but the header names 3"),
    (b"area,rooms,district\n1,2,x\n\n1,2\n", "line 4 has 2 value(s) but the header names 3"),
    (b"area,rooms,district,rooms\n1,2,x,3\n", "names the column(s) rooms more than once"),
    (b'area,rooms,district\n1,2,"x"y\n', "not a readable CSV file (line 2"),
])
def test_a_bad_file_is_refused_with_one_sentence(tmp_path: Path, content: bytes, words: str
                                                 ) -> None:
    message = refused(tmp_path, content)
    assert words in message, message
    assert "\n" not in message


def test_values_are_typed_like_the_scoring_scripts(tmp_path: Path) -> None:
    found = upload(tmp_path, "district,area,rooms\n007,1.5,3\n,, \nx,abc,1e3\nnan,nan,-0\n")
    body = request_of(found.frame, INPUTS)
    assert body["columns"] == ["area", "rooms", "district"]
    assert body["data"] == [[1.5, 3, "007"], [None, None, None], ["abc", 1000.0, "x"],
                            [None, 0, "nan"]]
    assert isinstance(body["data"][0][1], int)


def test_cells_are_typed_as_the_form_types_its_fields(tmp_path: Path) -> None:
    # Text is stripped (the endpoint's category lookup is exact); numbers are decimal notation
    # only, as the form takes them: the rest goes to the endpoint as text, to be refused there.
    found = upload(tmp_path, "district,area,rooms\n centre ,1_000, +5\nhills,inf,1.5e2\n")
    assert request_of(found.frame, INPUTS)["data"] == [["1_000", 5, "centre"],
                                                       ["inf", 150.0, "hills"]]
    assert found.frame["district"].tolist() == [" centre ", "hills"]  # the download keeps them


def test_a_header_of_too_many_columns_is_refused_at_once(tmp_path: Path) -> None:
    header = ",".join(f"c{i}" for i in range(40_000))
    with pytest.raises(UserInputError, match="40,000 columns; at most 10,000"):
        upload(tmp_path, f"{header}\n")


@pytest.mark.parametrize(("status", "body", "refusal"), [
    (400, b'{"error": "data[0].area must be a number"}', "data[0].area must be a number"),
    (422, b'{"error": "no"}', "no"),
    (400, b"not json", None),
    (401, b'{"error": "missing or wrong key"}', None),
    (404, b'{"error": "no deployment v9"}', None),
    (429, b'{"error": "too many requests"}', None),
])
def test_only_a_malformed_request_is_the_requests_fault(status: int, body: bytes,
                                                       refusal: str | None) -> None:
    assert ScoreResponse(status, body, 0.01).refusal() == refusal


@pytest.mark.parametrize(("message", "said"), [
    ('data[17].area must be a number or null, not "abc"',
     'line 1,019 (row 1,018): column "area" must be a number or null, not "abc"'),
    ('data[17][0] ("area") must be a number or null, not "abc"',
     'line 1,019 (row 1,018): column "area" must be a number or null, not "abc"'),
    ("data[17] lacks feature(s) rooms", "line 1,019 (row 1,018): lacks feature(s) rooms"),
    ("the model cannot score this", "the endpoint refused lines 1,002 to 2,001: the model cannot "
                                    "score this"),
])
def test_an_endpoint_refusal_is_said_at_the_files_line(tmp_path: Path, message: str, said: str
                                                       ) -> None:
    rows = "".join(f"{i},1,x\n" for i in range(3000))
    found = upload(tmp_path, "area,rooms,district\n" + rows)
    assert where_refused(message, 1000, 1000, found) == said


class _Endpoint(ScoringClient):
    """An endpoint stand-in: predicts area * rooms, refuses a row whose area is negative."""

    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:9/score", "secret")

    def score(self, request: Any, *, deployment: str | None = None,
              key: str | None = None) -> ScoreResponse:
        body = json.loads(request)
        for i, (area, _, _) in enumerate(body["data"]):
            if isinstance(area, int | float) and area < 0:
                error = {"error": f"data[{i}][0] (\"area\") must not be negative"}
                return ScoreResponse(400, json.dumps(error).encode(), 0.0)
        answer = {"predictions": [a * r for a, r, _ in body["data"]],
                  "labels": ["big" if a * r > 50 else "small" for a, r, _ in body["data"]]}
        return ScoreResponse(200, json.dumps(answer).encode(), 0.0)


def test_scoring_keeps_the_files_order_and_adds_the_answers_columns(tmp_path: Path) -> None:
    found = upload(tmp_path, "area,rooms,district,prediction\n"
                             + "".join(f"{i},{i % 7},x,old\n" for i in range(2500)))
    progress = score_upload(tmp_path, found, INPUTS, [_Endpoint(), _Endpoint()],
                            Progress("running", found.rows), chunk_rows=300)
    assert progress.state == "done" and progress.rows_done == 2500
    assert progress.columns_added == ("scored_prediction", "labels")
    out = pd.read_csv(tmp_path / OUTPUT_FILE)
    assert out["scored_prediction"].tolist() == [i * (i % 7) for i in range(2500)]
    assert out["prediction"].eq("old").all()
    assert Progress.load(tmp_path) == progress


def test_a_refused_chunk_stops_the_run_with_the_line(tmp_path: Path) -> None:
    rows = [f"{-5 if i == 1216 else i},2,x\n" for i in range(3000)]
    found = upload(tmp_path, "area,rooms,district\n" + "".join(rows))
    progress = score_upload(tmp_path, found, INPUTS, [_Endpoint(), _Endpoint()],
                            Progress("running", found.rows), chunk_rows=1000)
    assert progress.state == "failed"
    assert progress.error == 'line 1,218 (row 1,217): column "area" must not be negative'
    assert progress.rows_done == 1000
    assert not (tmp_path / OUTPUT_FILE).exists()
    assert not (tmp_path / f"{OUTPUT_FILE}.partial").exists()
