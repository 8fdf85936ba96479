"""Dagster Components: what a `dg` project adds with `dg scaffold defs` and configures in
`defs.yaml`. The product's own code location (`orchestration_utils/defs/`) is made of them, and
each builds with the same functions as `orchestration_utils/definitions.py`."""

from orchestration_utils.components.dbt import DbtProjectWithMetadataComponent, LocationDbtComponent
from orchestration_utils.components.jobs import LocationJobsComponent
from orchestration_utils.components.monitoring import HealthChecksComponent, SlaComponent
from orchestration_utils.components.sqlmesh import SqlmeshProjectComponent

__all__ = [
    "DbtProjectWithMetadataComponent",
    "HealthChecksComponent",
    "LocationDbtComponent",
    "LocationJobsComponent",
    "SlaComponent",
    "SqlmeshProjectComponent",
]
