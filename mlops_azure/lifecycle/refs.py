"""Parsing ``NAME:VERSION`` references the way every command accepts them, finding the version
one names, and the deployment an endpoint serves from."""

from __future__ import annotations

from collections.abc import Mapping

from mlops_azure.errors import UserInputError
from mlops_azure.rules import whole_number
from mlops_azure.workspace import ModelVersion, ServingDeployment, Workspace, is_asset_name


def parse_ref(ref: str, *, what: str = "model", version_required: bool = False) -> tuple[str, int | None]:
    """Split ``NAME:VERSION`` (or ``NAME`` for the latest, unless ``version_required``)."""
    name, sep, version = ref.partition(":")
    if not is_asset_name(name):
        raise UserInputError(f"'{ref}' is not a {what} reference: expected NAME:VERSION")
    if not sep:
        if version_required:
            raise UserInputError(
                f"'{ref}' has no version: pass an explicit {what} NAME:VERSION (never 'latest')"
            )
        return name, None
    number = whole_number(version)
    if number is None or number < 1:
        raise UserInputError(
            f"'{ref}' is not a {what} reference: the version after ':' must be a whole number >= 1"
        )
    return name, number


def split_ref(text: str) -> tuple[str, int] | None:
    """``NAME:VERSION`` as its name and version; None when ``text`` is not one (for readers that
    show a subject as a version only when it names one: a job id, an endpoint...)."""
    name, sep, version = text.rpartition(":")
    number = whole_number(version)
    if not sep or not is_asset_name(name) or number is None or number < 1:
        return None
    return name, number


def resolve_model(ws: Workspace, ref: str) -> ModelVersion:
    """The registered version ``NAME:VERSION`` names; releases never take 'latest'."""
    name, version = parse_ref(ref, version_required=True)
    return ws.models.get(name, version)


def busiest_deployment(traffic: Mapping[str, int], *, besides: str | None = None) -> str | None:
    """The deployment taking the largest live share of a traffic table (ties: the last name),
    other than ``besides``; None when none takes any."""
    shares = [(share, name) for name, share in traffic.items() if share > 0 and name != besides]
    return max(shares)[1] if shares else None


def live_deployment(ws: Workspace, endpoint: str) -> ServingDeployment | None:
    """The deployment taking the most traffic at ``endpoint``, or None when none takes any."""
    serving = ws.endpoints.traffic(endpoint)  # most traffic first
    return serving[0] if serving and serving[0].traffic > 0 else None
