"""`health-config.json`: which tables to watch and how, validated once into typed objects.

A bad file gives one line naming the file, the JSON path and the reason (`ConfigError`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Literal

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    StrictBool,
    StrictStr,
    field_validator,
    model_validator,
)

from orchestration_utils.configfile import (
    MAX_ROWS,
    ByteCap,
    Hours,
    Strict,
    bounded,
    parse_config,
    read_config_file,
    refuse_duplicate_keys,
)
from orchestration_utils.errors import ConfigError
from orchestration_utils.project.schedule import five_field_cron
from orchestration_utils.warehouse.base import TableRef, check_column_name, parse_table_id
from orchestration_utils.warehouse.url import parse_warehouse_url

_log = logging.getLogger(__name__)


class ExpectedField(BaseModel):
    # Strict field by field, as TableConfig (below) explains: nested `fields` arrive as JSON arrays.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)

    name: StrictStr
    type: StrictStr
    mode: Literal["NULLABLE", "REQUIRED", "REPEATED"] = "NULLABLE"
    fields: tuple[ExpectedField, ...] = ()


MAX_LOOKBACK_DAYS = 3_650


LookbackDays = Annotated[int, bounded(0, MAX_LOOKBACK_DAYS, "a whole number of days")]
RowLimit = Annotated[int, bounded(0, MAX_ROWS, "a row count", low_open=False)]
Usd = Annotated[float, bounded(0, 1e12, "an amount in USD", low_open=False)]
UsdPerTib = Annotated[float, bounded(0, 1e6, "a price in USD per TiB")]
Seconds = Annotated[float, bounded(0, 86_400, "a number of seconds")]


def _column(value: str | None) -> str | None:
    return None if value is None else check_column_name(value)


ColumnName = Annotated[str, AfterValidator(_column)]


class FreshnessConfig(Strict):
    """The seed's `freshness`: how old the newest data may be. Without `timestamp_column` the
    table's metadata decides (BigQuery's modification time; views and DuckDB have none)."""

    max_age_hours: Hours
    timestamp_column: ColumnName | None = None
    warn_age_hours: Hours | None = None

    @model_validator(mode="after")
    def _warn_below_max(self) -> FreshnessConfig:
        if self.warn_age_hours is not None and self.warn_age_hours > self.max_age_hours:
            raise ValueError("warn_age_hours is greater than max_age_hours")
        return self


class RowCountConfig(Strict):
    """The seed's `row_count`: total rows within bounds, and rows per partition over the lookback.

    `partition_column`, `partition_granularity` and `lookback_days` also drive `check_partitions`;
    a table's own partitioning (BigQuery) is used where the config names none."""

    min_rows: RowLimit | None = None
    max_rows: RowLimit | None = None
    partition_column: ColumnName | None = None
    partition_granularity: Literal["hour", "day", "month", "year"] | None = None
    lookback_days: LookbackDays = 7

    @model_validator(mode="after")
    def _ordered(self) -> RowCountConfig:
        if (
            self.min_rows is not None
            and self.max_rows is not None
            and self.min_rows > self.max_rows
        ):
            raise ValueError("min_rows is greater than max_rows")
        return self


# Keys of the earlier flat format, and the seed block each one now lives in.
_FLAT_KEYS = {
    "max_age_hours": "freshness",
    "warn_age_hours": "freshness",
    "timestamp_column": "freshness",
    "min_rows": "row_count",
    "max_rows": "row_count",
    "partition_column": "row_count",
    "partition_granularity": "row_count",
    "lookback_days": "row_count",
}


def nest_flat_keys(table: dict) -> dict:
    """The earlier flat keys (`max_age_hours` beside `table_id`) moved into their seed block."""
    if not _FLAT_KEYS.keys() & table.keys():
        return table
    table = dict(table)
    blocks: dict[str, dict] = {}
    for key in [k for k in table if k in _FLAT_KEYS]:
        value = table.pop(key)
        block = _FLAT_KEYS[key]
        if block in table:
            raise ValueError(
                f"{key} is given both beside table_id and in {block}: write it in {block} only"
            )
        if value is not None:
            blocks.setdefault(block, {})[key] = value
    table.update(blocks)
    return table


class TableConfig(Strict):
    """One entry of `tables`, in the seed's shape. Its checks: `freshness` and `row_count` when
    their blocks are given, `partitions` with `check_partitions`, `schema_drift` with `expected_schema`."""

    # Strict field by field, not by model: the custom __init__ below validates in Python mode,
    # where a strict model would refuse the JSON arrays that `expected_schema` arrives as.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)

    table_id: StrictStr
    critical: StrictBool = False
    freshness: FreshnessConfig | None = None
    row_count: RowCountConfig | None = None
    check_partitions: StrictBool = False
    # schema drift; without it, a dbt model's declared column types are the expectation
    expected_schema: tuple[ExpectedField, ...] | None = None

    def __init__(self, **data: object):
        # Python callers (the SLA tracker) may pass the flat keywords: `max_age_hours=...`.
        # With a custom __init__ pydantic validates JSON input through it too, in Python mode:
        # hence strict field by field above, not by model.
        super().__init__(**nest_flat_keys(data))

    @field_validator("table_id")
    @classmethod
    def _table_id(cls, value: str) -> str:
        parse_table_id(value)
        return value

    @property
    def ref(self) -> TableRef:
        return parse_table_id(self.table_id)

    # What the checks read, whichever block holds it.
    @property
    def max_age_hours(self) -> float | None:
        return self.freshness.max_age_hours if self.freshness else None

    @property
    def warn_age_hours(self) -> float | None:
        return self.freshness.warn_age_hours if self.freshness else None

    @property
    def timestamp_column(self) -> str | None:
        return self.freshness.timestamp_column if self.freshness else None

    @property
    def min_rows(self) -> int | None:
        return self.row_count.min_rows if self.row_count else None

    @property
    def max_rows(self) -> int | None:
        return self.row_count.max_rows if self.row_count else None

    @property
    def partition_column(self) -> str | None:
        return self.row_count.partition_column if self.row_count else None

    @property
    def partition_granularity(self) -> str | None:
        return self.row_count.partition_granularity if self.row_count else None

    @property
    def lookback_days(self) -> int:
        return self.row_count.lookback_days if self.row_count else 7


Cron = Annotated[str, AfterValidator(five_field_cron)]


class ScheduleConfig(Strict):
    critical_cron: Cron = "*/15 * * * *"
    default_cron: Cron = "0 * * * *"


def _warehouse_url(value: str) -> str:
    parse_warehouse_url(value)
    return value


# A warehouse URL, checked on load (health and SLA configs).
WarehouseUrlField = Annotated[str, AfterValidator(_warehouse_url)]


class HealthConfig(Strict):
    warehouse: WarehouseUrlField | None = (
        None  # default: ORCHESTRATION_UTILS_WAREHOUSE, else the demo's DuckDB
    )
    tables: tuple[TableConfig, ...] = ()
    check_failures: bool = False
    failure_lookback_hours: Hours = 24
    check_costs: bool = False
    cost_lookback_hours: Hours = 24
    cost_threshold_usd: Usd | None = None
    usd_per_tib: UsdPerTib = 6.25  # BigQuery on-demand list price; varies by region and edition
    max_bytes_billed: ByteCap = 10 * 1024**3  # the cap on every query the monitor sends
    query_timeout_seconds: Seconds = 60
    schedule: ScheduleConfig = ScheduleConfig()

    @model_validator(mode="after")
    def _unique_tables(self) -> HealthConfig:
        seen: set[str] = set()
        for table in self.tables:
            if table.table_id in seen:
                raise ValueError(f"table_id {table.table_id!r} appears twice")
            seen.add(table.table_id)
        return self


def load_health_config(path: Path | str) -> HealthConfig:
    return parse_health_config(read_config_file(path), str(path))


def parse_health_config(text: bytes | str, source: str) -> HealthConfig:
    """The seed's shape; the earlier flat keys are still read, into their blocks, with a warning."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        data = None  # parse_config says why
    tables = data.get("tables") if isinstance(data, dict) else None
    flat = [
        (i, key)
        for i, table in enumerate(tables if isinstance(tables, list) else ())
        if isinstance(table, dict)
        for key in table
        if key in _FLAT_KEYS
    ]
    if flat:
        refuse_duplicate_keys(text, source)  # before the rewrite below drops them
        assert isinstance(tables, list)  # `flat` holds keys of its tables
        for i, table in enumerate(tables):
            if isinstance(table, dict):
                try:
                    tables[i] = nest_flat_keys(table)
                except ValueError as exc:
                    raise ConfigError(f"{source}: $.tables[{i}]: {exc}") from None
        text = orjson.dumps(data)
    config = parse_config(HealthConfig, text, source)
    if flat:
        i, key = flat[0]
        more = f" (and {len(flat) - 1} more)" if len(flat) > 1 else ""
        _log.warning(
            f"{source}: $.tables[{i}].{key}: deprecated flat key, write it in "
            f'"{_FLAT_KEYS[key]}": {{...}}{more}'
        )
    return config
