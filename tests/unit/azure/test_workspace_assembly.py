"""AzureWorkspace is assembled from mixins: every declared method must resolve to a real one."""

from __future__ import annotations

import inspect

from mlops_azure.azure import AzureWorkspace


def test_no_placeholder_wins_the_method_resolution_order() -> None:
    placeholders = []
    for name, member in inspect.getmembers(AzureWorkspace, inspect.isfunction):
        source = inspect.getsource(member)
        if "raise NotImplementedError" in source:
            placeholders.append(name)
    assert placeholders == []
    assert not AzureWorkspace.__abstractmethods__


def test_constructing_it_needs_no_network() -> None:
    from pathlib import Path

    from mlops_azure.azure import AzureCoordinates

    ws = AzureWorkspace(AzureCoordinates("s", "rg", "w"), Path("/nonexistent/cache"))
    assert ws.backend == "azure" and "ml" not in vars(ws)  # the client is built on first use
