"""`sla-config.json` in the seed's shape, validated once into the typed SLAs the evaluation works on.

```json
{"pipelines": [{"name": "daily_aggregation", "critical": true,
                "completion_time_sla": {"target_duration_minutes": 60, "lookback_hours": 24}}],
 "tables": [{"table_id": "project.dataset.events", "critical": true,
             "freshness_sla": {"timestamp_column": "event_timestamp", "max_age_hours": 2},
             "quality_sla": {"query": "SELECT COUNT(*) as total_rows, COUNTIF(user_id IS NULL) as failed_rows FROM `project.dataset.events`",
                             "max_failure_rate": 0.01},
             "availability_sla": {"target_availability": 99.9, "lookback_hours": 24}}]}
```
What the product adds lives beside the seed's keys, all optional: in each SLA block `name`, `critical`
(over the entry's), `objective_percent`, `description`, `lookback_hours` (the SLO window), and
`completion_time_sla.source`, `quality_sla.dialect`, `availability_sla.max_evaluation_gap_minutes`; at
the top `warehouse`, `alerts`, `airflow`, `max_bytes_billed`, `query_timeout_seconds`,
`evaluation_interval_seconds`, `report_cron`. An SLA's name is the pipeline's name, or
`<table_id> <type>` (`project.dataset.events freshness`), unless it gives `name`.

The earlier flat format (`{"slas": [{"name", "type", ...}]}`) is still read, with a warning, by
moving each entry into its seed block.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import orjson
from pydantic import AfterValidator, ConfigDict, Field, field_validator, model_validator

from orchestration_utils.alerts.config import AlertsConfig, Seconds
from orchestration_utils.configfile import (
    ByteCap,
    Hours,
    Minutes,
    Strict,
    bounded,
    parse_config,
    read_config_file,
    refuse_duplicate_keys,
)
from orchestration_utils.errors import ConfigError
from orchestration_utils.health.config import WarehouseUrlField
from orchestration_utils.project.schedule import five_field_cron
from orchestration_utils.warehouse.base import check_column_name, parse_table_id

_log = logging.getLogger(__name__)

Rate = Annotated[float, bounded(0, 1, "a failure rate", low_open=False)]
Percent = Annotated[float, bounded(0, 100, "a percentage")]
Objective = Annotated[float, bounded(0, 99.999, "a percentage")]  # 100 % leaves no error budget
IntervalSeconds = Annotated[int, bounded(29, 86_400, "a number of seconds (at least 30)")]
SlaName = Annotated[
    str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*( [A-Za-z0-9_.:-]+)*$", max_length=200)
]
# A Dagster job name or an Airflow dag_id.
PipelineName = Annotated[str, Field(pattern=r"^[\w.-]+$", max_length=250)]
_PRESET = re.compile(r"@(yearly|annually|monthly|weekly|daily|midnight|hourly)")


def _table_id(value: str) -> str:
    parse_table_id(value)
    return value


def _column(value: str) -> str:
    return check_column_name(value)


TableId = Annotated[str, AfterValidator(_table_id)]
ColumnName = Annotated[str, AfterValidator(_column)]


class _Strict(Strict):
    model_config = ConfigDict(allow_inf_nan=False)  # merged into Strict's


# --- the file, in the seed's shape --------------------------------------------------------------


class _Block(_Strict):
    name: SlaName | None = None  # default: the pipeline's name, or "<table_id> <type>"
    critical: bool | None = None  # default: the pipeline's or table's
    description: str = Field(default="", max_length=2000)


class CompletionTimeBlock(_Block):
    target_duration_minutes: Minutes
    lookback_hours: Hours = 24
    source: Literal["dagster", "airflow"] = "dagster"  # a Dagster job, or an Airflow dag_id
    objective_percent: Objective = 99.0


class FreshnessBlock(_Block):
    max_age_hours: Hours
    timestamp_column: ColumnName | None = None
    lookback_hours: Hours = 168
    objective_percent: Objective = 99.0


class QualityBlock(_Block):
    """`query` returns one row with `total_rows` and `failed_rows`. It is written in `dialect`
    (the seed's BigQuery SQL by default) and transpiled for the warehouse; null sends it as written."""

    query: str = Field(min_length=1, max_length=100_000)
    max_failure_rate: Rate
    dialect: Literal["bigquery", "duckdb"] | None = "bigquery"
    lookback_hours: Hours = 168
    objective_percent: Objective = 99.0


class AvailabilityBlock(_Block):
    target_availability: Percent  # also the SLO objective
    lookback_hours: Hours = 24
    # An evaluation stands for at most this long; beyond it the time counts as "no data".
    max_evaluation_gap_minutes: Minutes = 90


class PipelineEntry(_Strict):
    name: PipelineName
    critical: bool = False
    completion_time_sla: CompletionTimeBlock


class TableEntry(_Strict):
    table_id: TableId
    critical: bool = False
    freshness_sla: FreshnessBlock | None = None
    quality_sla: QualityBlock | None = None
    availability_sla: AvailabilityBlock | None = None

    @model_validator(mode="after")
    def _consistent(self) -> TableEntry:
        if not (self.freshness_sla or self.quality_sla or self.availability_sla):
            raise ValueError("a table needs freshness_sla, quality_sla or availability_sla")
        if self.availability_sla and not self.freshness_sla:
            raise ValueError(
                "availability_sla is measured from freshness_sla: add one to this table"
            )
        return self


class AirflowConfig(_Strict):
    """An Airflow 3 deployment's REST API; the token comes from AIRFLOW_API_TOKEN, or a JWT is fetched
    with AIRFLOW_USERNAME / AIRFLOW_PASSWORD."""

    base_url: str = Field(pattern=r"^https?://[^\s]+$", max_length=2000)


class SlaConfigFile(_Strict):
    pipelines: tuple[PipelineEntry, ...] = ()
    tables: tuple[TableEntry, ...] = ()
    warehouse: WarehouseUrlField | None = None
    alerts: AlertsConfig = AlertsConfig()
    airflow: AirflowConfig | None = None
    max_bytes_billed: ByteCap = 10 * 1024**3
    query_timeout_seconds: Seconds = 60
    evaluation_interval_seconds: IntervalSeconds = 300  # the code location's SLA sensor
    report_cron: str = "0 6 * * *"  # the code location's daily compliance report

    @field_validator("report_cron")
    @classmethod
    def _cron(cls, value: str) -> str:
        if _PRESET.fullmatch(value):
            return value
        try:
            return five_field_cron(value)
        except ValueError as exc:
            raise ValueError(f"not a cron expression: {exc}") from None

    @model_validator(mode="after")
    def _consistent(self) -> SlaConfigFile:
        if not self.pipelines and not self.tables:
            raise ValueError('no SLAs: give "pipelines" or "tables"')
        seen_tables: set[str] = set()
        for table in self.tables:
            if table.table_id in seen_tables:
                raise ValueError(f"table_id {table.table_id!r} appears twice")
            seen_tables.add(table.table_id)
        seen_pipelines: set[tuple[str, str]] = set()
        for pipeline in self.pipelines:
            key = (pipeline.name, pipeline.completion_time_sla.source)
            if key in seen_pipelines:
                raise ValueError(f"pipeline {pipeline.name!r} appears twice")
            seen_pipelines.add(key)
            if pipeline.completion_time_sla.source == "airflow" and self.airflow is None:
                raise ValueError(
                    f'pipeline {pipeline.name!r} reads Airflow runs, but the config has no "airflow" section'
                )
        names: set[str] = set()
        for sla in _slas(self):
            if sla.name in names:
                raise ValueError(
                    f'SLA name {sla.name!r} appears twice (give one an explicit "name")'
                )
            names.add(sla.name)
        return self


# --- the typed SLAs the evaluation works on ------------------------------------------------------


@dataclass(frozen=True)
class _Sla:
    name: str
    critical: bool
    lookback_hours: float  # the SLO window: compliance, budget and burn rate are over it
    objective_percent: float
    description: str


@dataclass(frozen=True)
class CompletionSla(_Sla):
    """A Dagster job (or an Airflow DAG) finishes successfully within its target duration."""

    pipeline: str
    source: str
    target_duration_minutes: float
    type: str = "completion_time"

    @property
    def subject(self) -> str:
        return self.pipeline


@dataclass(frozen=True)
class _TableSla(_Sla):
    table_id: str

    @property
    def subject(self) -> str:
        return self.table_id


@dataclass(frozen=True)
class FreshnessSla(_TableSla):
    max_age_hours: float
    timestamp_column: str | None
    type: str = "freshness"


@dataclass(frozen=True)
class QualitySla(_TableSla):
    query: str
    max_failure_rate: float
    dialect: str | None
    type: str = "quality"


@dataclass(frozen=True)
class AvailabilitySla(_TableSla):
    """The time-weighted share of the window in which the table met its freshness SLA."""

    target_availability: float
    max_evaluation_gap_minutes: float
    type: str = "availability"


Sla = CompletionSla | FreshnessSla | QualitySla | AvailabilitySla


@dataclass(frozen=True)
class SlaConfig:
    slas: tuple[Sla, ...]
    warehouse: str | None = None
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    airflow: AirflowConfig | None = None
    max_bytes_billed: int = 10 * 1024**3
    query_timeout_seconds: float = 60
    evaluation_interval_seconds: int = 300
    report_cron: str = "0 6 * * *"

    def freshness_for(self, table_id: str) -> FreshnessSla:
        return next(s for s in self.slas if isinstance(s, FreshnessSla) and s.table_id == table_id)


def _slas(file: SlaConfigFile) -> list[Sla]:
    slas: list[Sla] = []
    for p in file.pipelines:
        block = p.completion_time_sla
        slas.append(
            CompletionSla(
                block.name or p.name,
                _critical(block, p.critical),
                block.lookback_hours,
                block.objective_percent,
                block.description,
                p.name,
                block.source,
                block.target_duration_minutes,
            )
        )
    for t in file.tables:
        if (b := t.freshness_sla) is not None:
            slas.append(
                FreshnessSla(
                    b.name or f"{t.table_id} freshness",
                    _critical(b, t.critical),
                    b.lookback_hours,
                    b.objective_percent,
                    b.description,
                    t.table_id,
                    b.max_age_hours,
                    b.timestamp_column,
                )
            )
        if (q := t.quality_sla) is not None:
            slas.append(
                QualitySla(
                    q.name or f"{t.table_id} quality",
                    _critical(q, t.critical),
                    q.lookback_hours,
                    q.objective_percent,
                    q.description,
                    t.table_id,
                    q.query,
                    q.max_failure_rate,
                    q.dialect,
                )
            )
        if (a := t.availability_sla) is not None:
            slas.append(
                AvailabilitySla(
                    a.name or f"{t.table_id} availability",
                    _critical(a, t.critical),
                    a.lookback_hours,
                    a.target_availability,
                    a.description,
                    t.table_id,
                    a.target_availability,
                    a.max_evaluation_gap_minutes,
                )
            )
    return slas


def _critical(block: _Block, default: bool) -> bool:
    return default if block.critical is None else block.critical


def to_sla_config(file: SlaConfigFile) -> SlaConfig:
    return SlaConfig(
        slas=tuple(_slas(file)),
        warehouse=file.warehouse,
        alerts=file.alerts,
        airflow=file.airflow,
        max_bytes_billed=file.max_bytes_billed,
        query_timeout_seconds=file.query_timeout_seconds,
        evaluation_interval_seconds=file.evaluation_interval_seconds,
        report_cron=file.report_cron,
    )


# --- the earlier flat format ---------------------------------------------------------------------

_TABLE_TYPES = {"freshness", "quality", "availability"}


def _from_flat(data: dict, source: str) -> dict:
    """`{"slas": [...]}` → the seed's shape. Each entry keeps its name and criticality in its block;
    its query was sent as written, so its dialect is null."""
    slas = data.pop("slas")
    if not isinstance(slas, list):
        raise ConfigError(f"{source}: $.slas: Input should be a valid array")
    pipelines: list[dict] = []
    tables: dict[str, dict] = {}
    for i, entry in enumerate(slas):
        if not isinstance(entry, dict):
            raise ConfigError(f"{source}: $.slas[{i}]: Input should be an object")
        block = dict(entry)
        kind = block.pop("type", None)
        if kind == "completion_time":
            pipeline = block.pop("pipeline", None)
            pipelines.append(
                {
                    "name": pipeline,
                    "critical": block.pop("critical", False),
                    "completion_time_sla": block,
                }
            )
        elif kind in _TABLE_TYPES:
            table_id = block.pop("table_id", None)
            if not isinstance(table_id, str):
                raise ConfigError(f"{source}: $.slas[{i}].table_id: Field required")
            if kind == "quality":
                block.setdefault("dialect", None)
            if kind == "availability":
                block.pop("objective_percent", None)  # its objective always was target_availability
            table = tables.setdefault(table_id, {"table_id": table_id})
            if f"{kind}_sla" in table:
                raise ConfigError(
                    f"{source}: $.slas[{i}]: a second {kind} SLA on {table_id} (one per table)"
                )
            table[f"{kind}_sla"] = block
        else:
            raise ConfigError(
                f"{source}: $.slas[{i}].type: expected completion_time, freshness, quality or "
                f"availability, got {kind!r}"
            )
    _log.warning(
        f'{source}: $.slas: deprecated flat format; write SLAs as "pipelines" and "tables" '
        f"(see the README's sla-tracker section)"
    )
    return {**data, "pipelines": pipelines, "tables": list(tables.values())}


def parse_sla_config(text: bytes | str, source: str) -> SlaConfig:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"{source}: not valid JSON: {exc}") from None
    if isinstance(data, dict) and "slas" in data and not {"pipelines", "tables"} & data.keys():
        refuse_duplicate_keys(text, source)  # before the rewrite drops them
        text = orjson.dumps(_from_flat(data, source))
    return to_sla_config(parse_config(SlaConfigFile, text, source))


def load_sla_config(path: Path | str) -> SlaConfig:
    return parse_sla_config(read_config_file(path), str(path))
