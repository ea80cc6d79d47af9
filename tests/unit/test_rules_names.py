"""Azure ML's endpoint and deployment naming rule, enforced before anything reaches a backend."""

from __future__ import annotations

import pytest

from mlops_azure.errors import UserInputError
from mlops_azure.rules import check_endpoint_name, is_endpoint_name


@pytest.mark.parametrize("name", ["abc", "steel-forecast", "a1-b2-c3", "A" * 32])
def test_valid_names(name: str) -> None:
    assert is_endpoint_name(name)


@pytest.mark.parametrize("name", ["ab", "1abc", "abc-", "a" * 33, "my--endpoint", "a---b"])
def test_invalid_names(name: str) -> None:
    assert not is_endpoint_name(name)


def test_consecutive_hyphens_are_refused_in_one_sentence() -> None:
    with pytest.raises(UserInputError, match="'steel--prod' is invalid: use 3-32 letters, "
                                             "digits and single hyphens"):
        check_endpoint_name("steel--prod", "deployment")
