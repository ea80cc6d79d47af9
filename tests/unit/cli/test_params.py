"""`--param KEY=VALUE` parsing for `mlops train`."""

from __future__ import annotations

import pytest

from mlops_azure.cli.commands_train import parse_params
from mlops_azure.errors import UserInputError


def test_values_are_typed() -> None:
    assert parse_params(["n_estimators=40", "learning_rate=0.1", "flag=true", "name=x=y"]) == {
        "n_estimators": 40, "learning_rate": 0.1, "flag": True, "name": "x=y",
    }
    assert isinstance(parse_params(["a=3"])["a"], int)


@pytest.mark.parametrize("pair", ["novalue", "=3", " =1"])
def test_malformed_pairs(pair: str) -> None:
    with pytest.raises(UserInputError, match="expected KEY=VALUE"):
        parse_params([pair])
