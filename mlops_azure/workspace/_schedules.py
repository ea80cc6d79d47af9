"""``Schedules``: recurring pipeline submissions on a backend."""

from __future__ import annotations

from abc import ABC, abstractmethod

from mlops_azure.records import PipelineSubmission, Schedule, ScheduleTrigger


class Schedules(ABC):
    """Schedules that submit a pipeline on a trigger (``ws.schedules``)."""

    #: True where the backend fires schedules by itself (Azure ML); False where they are stored
    #: records that ``mlops schedule run-due`` fires (the embedded workspace).
    fires_itself: bool = False

    @abstractmethod
    def create(self, name: str, submission: PipelineSubmission, trigger: ScheduleTrigger) -> Schedule:
        """Create or replace schedule ``name`` that submits ``submission`` on ``trigger``."""

    @abstractmethod
    def all(self) -> list[Schedule]:
        """All schedules, by name."""

    @abstractmethod
    def delete(self, name: str) -> None:
        """Delete a schedule; ``NotFoundError`` when it does not exist."""
