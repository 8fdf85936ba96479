"""What tells how fresh one table is when the user named no column (`--table T --check-freshness`).

Evidence in the order a user would accept it: the column they gave; the dbt model's partition
or declared timestamp column; the table's last materialization recorded in the Dagster instance;
the warehouse's own modification time (BigQuery tables); a single obvious timestamp column.
Pure: the CLI gathers the inputs (manifest, instance, table metadata) and reports `description`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from orchestration_utils.health.checks import NO_DATA_TIME
from orchestration_utils.project.model import Project
from orchestration_utils.warehouse.base import TableMeta
from orchestration_utils.warehouse.types import canonical_type

TIMESTAMP_TYPES = {"TIMESTAMP", "DATETIME"}
TIME_TYPES = TIMESTAMP_TYPES | {"DATE"}
# Names that say "when this row arrived or changed", for tables with several time columns; the
# first tier with exactly one match wins (arrival beats change beats creation).
_CONVENTIONAL_TIERS = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"_?(loaded|ingested|inserted|synced|extracted)_?(at|time|timestamp|ts)?",
        r"_?(updated|modified|processed|changed)_?(at|time|timestamp|ts)?",
        r"_?(created|event)_?(at|time|timestamp|ts)",
        r"_?(timestamp|ts)",
    )
)


@dataclass(frozen=True)
class FreshnessEvidence:
    """One of: a column to take MAX() of, a time already known, the table metadata, or nothing."""

    description: str  # what the report says it used, or why nothing could be used
    column: str | None = None
    known_time: datetime | None = None
    metadata: bool = False

    @property
    def found(self) -> bool:
        return bool(self.column or self.known_time or self.metadata)


def column_from_project(project: Project, table_id: str) -> FreshnessEvidence | None:
    """The model's time partition column, else its one declared timestamp/date column."""
    node = next((n for n in project.models() if n.table_id.lower() == table_id.lower()), None)
    if node is None:
        return None
    where = f"{project.kind} model {node.unique_id}"
    part = node.partitioning
    if part is not None and part.granularity is not None:
        return FreshnessEvidence(
            f"column {part.field} (partition column of {where})", column=part.field
        )
    declared = [
        c.name for c in node.columns if c.data_type and canonical_type(c.data_type) in TIME_TYPES
    ]
    if len(declared) == 1:
        return FreshnessEvidence(
            f"column {declared[0]} (the one timestamp column declared by {where})",
            column=declared[0],
        )
    return None


def materialization_evidence(asset: str, at: datetime) -> FreshnessEvidence:
    return FreshnessEvidence(
        f"last materialization of asset {asset} recorded in the Dagster instance", known_time=at
    )


def from_table(meta: TableMeta) -> FreshnessEvidence:
    """The warehouse's modification time where it is the data's, else one obvious time column."""
    if meta.modified is not None and meta.kind not in NO_DATA_TIME:
        return FreshnessEvidence(f"{meta.kind.lower()} metadata modification time", metadata=True)
    times = [f for f in meta.schema if f.type in TIME_TYPES and f.mode != "REPEATED"]
    timestamps = [f.name for f in times if f.type in TIMESTAMP_TYPES]
    if len(timestamps) == 1:
        return FreshnessEvidence(
            f"column {timestamps[0]} (only timestamp column)", column=timestamps[0]
        )
    for tier in _CONVENTIONAL_TIERS:
        conventional = [f.name for f in times if tier.fullmatch(f.name)]
        if len(conventional) == 1:
            return FreshnessEvidence(
                f"column {conventional[0]} (conventionally named time column)",
                column=conventional[0],
            )
    if len(times) == 1:
        return FreshnessEvidence(f"column {times[0].name} (only date column)", column=times[0].name)
    if times:
        names = ", ".join(f.name for f in times[:6])
        reason = f"{len(times)} time columns ({names}) and none stands out"
    else:
        reason = "no TIMESTAMP, DATETIME or DATE column"
    return FreshnessEvidence(
        f"no evidence of when {meta.ref.id} last changed: no column given, no dbt model (--manifest) names one, "
        f"no materialization recorded in the Dagster instance, its metadata keeps no modification time, and it has "
        f"{reason}; pass --timestamp-column"
    )
