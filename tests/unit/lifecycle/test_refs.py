"""NAME:VERSION references."""

from __future__ import annotations

import pytest

from mlops_azure.errors import UserInputError
from mlops_azure.lifecycle.refs import parse_ref


def test_name_and_version() -> None:
    assert parse_ref("steel-forecast:12") == ("steel-forecast", 12)
    assert parse_ref("steel-forecast") == ("steel-forecast", None)


@pytest.mark.parametrize("ref", ["x:0", "x:latest", "x:-1", ":3", "bad name:1", "x:1.5", "x\n", "x\n:1"])
def test_malformed(ref: str) -> None:
    with pytest.raises(UserInputError, match="reference"):
        parse_ref(ref)


def test_version_can_be_required() -> None:
    with pytest.raises(UserInputError, match="never 'latest'"):
        parse_ref("x", version_required=True)
