"""The errors mlops raises on purpose, each with the exit code the CLI maps it to.

Exit codes follow the CLI contract: 1 a gate or check said no, 2 bad input or usage,
3 a backend or infrastructure failure. Messages are one sentence saying what and where.
"""

from __future__ import annotations


class MlopsError(Exception):
    """Base class: a failure mlops understands and can explain in one sentence."""

    exit_code: int = 3

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UserInputError(MlopsError):
    """Bad input: a malformed config, data file, request or name (exit 2)."""

    exit_code = 2


class NotFoundError(UserInputError):
    """A named thing (model version, job, data asset) does not exist (exit 2)."""


class GateFailed(MlopsError):
    """A gate or check said no (exit 1). ``details`` carries the report for rendering."""

    exit_code = 1

    def __init__(self, message: str, details: object | None = None) -> None:
        super().__init__(message)
        self.details = details


class BackendError(MlopsError):
    """The backend or infrastructure failed: storage, a subprocess, the Azure service (exit 3)."""

    exit_code = 3


class BaselineMissingError(BackendError):
    """A champion should exist but cannot be found: never silently promote (exit 3)."""


class DeploymentFailed(BackendError):
    """A deployment could not start or answer; ``logs`` holds the tail of its log (exit 3)."""

    def __init__(self, message: str, logs: str = "") -> None:
        super().__init__(message)
        self.logs = logs


class Busy(MlopsError):
    """Another command holds what this one needs (an endpoint's writer lock) and did not let go
    within the wait (exit 1: try again later, nothing was changed)."""

    exit_code = 1
