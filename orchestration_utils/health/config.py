"""`health-config.json`: which tables to watch and how, validated once into typed objects.

A bad file gives one line naming the file, the JSON path and the reason (`ConfigError`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import orjson
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

from orchestration_utils.warehouse.base import TableRef, check_column_name, parse_table_id
from orchestration_utils.warehouse.url import parse_warehouse_url


class ConfigError(Exception):
    """`str()` is the one line a user sees: file, JSON path, reason."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class ExpectedField(_Strict):
    name: str
    type: str
    mode: Literal["NULLABLE", "REQUIRED", "REPEATED"] = "NULLABLE"
    fields: tuple[ExpectedField, ...] = ()


class TableConfig(_Strict):
    table_id: str
    critical: bool = False
    # freshness
    max_age_hours: PositiveFloat | None = None
    warn_age_hours: PositiveFloat | None = None
    timestamp_column: str | None = None
    # row count
    min_rows: int | None = Field(default=None, ge=0)
    max_rows: int | None = Field(default=None, ge=0)
    # partitions
    partition_column: str | None = None
    partition_granularity: Literal["hour", "day", "month"] = "day"
    lookback_days: PositiveInt = 7
    check_partitions: bool = False
    # schema drift; without it, a dbt model's declared column types are the expectation
    expected_schema: tuple[ExpectedField, ...] | None = None

    @field_validator("table_id")
    @classmethod
    def _table_id(cls, value: str) -> str:
        parse_table_id(value)
        return value

    @field_validator("timestamp_column", "partition_column")
    @classmethod
    def _column(cls, value: str | None) -> str | None:
        return None if value is None else check_column_name(value)

    @model_validator(mode="after")
    def _consistent(self) -> TableConfig:
        if self.min_rows is not None and self.max_rows is not None and self.min_rows > self.max_rows:
            raise ValueError("min_rows is greater than max_rows")
        if self.warn_age_hours is not None and (self.max_age_hours is None or self.warn_age_hours > self.max_age_hours):
            raise ValueError("warn_age_hours needs a max_age_hours at least as large")
        return self

    @property
    def ref(self) -> TableRef:
        return parse_table_id(self.table_id)


class ScheduleConfig(_Strict):
    critical_cron: str = "*/15 * * * *"
    default_cron: str = "0 * * * *"


def _warehouse_url(value: str) -> str:
    parse_warehouse_url(value)
    return value


# A warehouse URL, checked on load (health and SLA configs).
WarehouseUrlField = Annotated[str, AfterValidator(_warehouse_url)]


class HealthConfig(_Strict):
    warehouse: WarehouseUrlField | None = None  # default: ORCHESTRATION_UTILS_WAREHOUSE, else the demo's DuckDB
    tables: tuple[TableConfig, ...] = ()
    check_failures: bool = False
    failure_lookback_hours: PositiveFloat = 24
    check_costs: bool = False
    cost_lookback_hours: PositiveFloat = 24
    cost_threshold_usd: PositiveFloat | None = None
    usd_per_tib: PositiveFloat = 6.25  # BigQuery on-demand list price; varies by region and edition
    max_bytes_billed: PositiveInt = 10 * 1024**3  # the cap on every query the monitor sends
    query_timeout_seconds: PositiveFloat = 60
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


def read_config_file(path: Path | str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def parse_health_config(text: bytes | str, source: str) -> HealthConfig:
    return parse_config(HealthConfig, text, source)


def parse_config(model: type[BaseModel], text: bytes | str, source: str):
    """Shared by the health and SLA configs: JSON in, a typed model or one ConfigError line out."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"{source}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a JSON object")
    try:
        # JSON mode: arrays are accepted where tuples are declared, nothing else is coerced.
        return model.model_validate_json(text, strict=True)
    except ValidationError as exc:
        error = exc.errors()[0]
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{source}: {json_path(error['loc'])}: {_reason(error)}{more}") from None


def json_path(loc: tuple) -> str:
    path = "$"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _reason(error: dict) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key"
    message = error["msg"]
    return message.removeprefix("Value error, ")
