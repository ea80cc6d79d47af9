"""``Jobs``: pipeline jobs on a backend."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from pathlib import Path

from mlops_azure.records import Job, PipelineSubmission, ProgressCallback
from mlops_azure.records_tuning import Study


class Jobs(ABC):
    """Pipeline jobs: submit, follow, read logs and outputs (``ws.jobs``)."""

    @abstractmethod
    def run_pipeline(
        self, submission: PipelineSubmission, progress: ProgressCallback | None = None
    ) -> Job:
        """Submit a pipeline job and wait until it ends; returns the finished job.

        A failed job is returned (status ``Failed``, ``error`` set), not raised.
        """

    def submit_pipeline(self, submission: PipelineSubmission) -> Job:
        """Submit a pipeline job and return without waiting for it (``wait`` follows it).

        A backend without a job service (the embedded one) runs it to the end here.
        """
        return self.run_pipeline(submission)

    def wait(self, job_id: str, progress: ProgressCallback | None = None,
             timeout_s: float | None = None) -> Job:
        """Wait until a job ends, or ``timeout_s`` passes; returns the job as it is then."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        while True:
            job = self.get(job_id)
            if job.status.is_terminal or (deadline is not None and time.monotonic() >= deadline):
                return job
            time.sleep(2.0)

    @abstractmethod
    def get(self, job_id: str) -> Job:
        """One job with its steps."""

    @abstractmethod
    def recent(self, limit: int = 20) -> list[Job]:
        """Jobs, newest first."""

    @abstractmethod
    def logs(self, job_id: str, step: str | None = None) -> str:
        """The captured output of one step, or of every step in order when ``step`` is None."""

    @abstractmethod
    def output_path(self, job_id: str, output: str) -> Path:
        """A local folder holding a pipeline output of a finished job (downloaded when remote)."""

    def studies(self, job_id: str) -> list[Study]:
        """The studies of the job's sweep steps, in step order ([] for a job without one)."""
        return []
