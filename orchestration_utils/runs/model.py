"""What run history is made of, whichever orchestrator kept it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class PipelineRun:
    run_id: str
    succeeded: bool
    started: datetime | None
    ended: datetime | None

    @property
    def duration_minutes(self) -> float | None:
        if self.started is None or self.ended is None:
            return None
        return (self.ended - self.started).total_seconds() / 60


@dataclass(frozen=True)
class FailedRun:
    """A failed Dagster run of the code location."""

    run_id: str
    job_name: str
    created: datetime | None
