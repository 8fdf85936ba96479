"""`sla-config.json`: the promises, validated once (same rules and one-line errors as the health config).

```json
{"slas": [
  {"name": "marts_on_time", "type": "completion_time", "pipeline": "marts_layer", "target_duration_minutes": 30},
  {"name": "orders_fresh", "type": "freshness", "table_id": "p.d.orders", "timestamp_column": "ts", "max_age_hours": 6},
  {"name": "orders_valid", "type": "quality", "table_id": "p.d.orders", "max_failure_rate": 0.01,
   "query": "SELECT COUNT(*) AS total_rows, COUNTIF(amount < 0) AS failed_rows FROM `p.d.orders`"},
  {"name": "orders_available", "type": "availability", "table_id": "p.d.orders", "target_availability": 99.5}],
 "alerts": {"slack_channel": "#data-alerts", "suppression_minutes": 240}}
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, field_validator, model_validator

from orchestration_utils.health.config import WarehouseUrlField, parse_config, read_config_file
from orchestration_utils.warehouse.base import check_column_name, parse_table_id

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class _Sla(_Strict):
    name: str = Field(pattern=_NAME)
    critical: bool = False  # only critical SLAs page (PagerDuty); the rest go to Slack
    lookback_hours: PositiveFloat = 168  # the SLO window: compliance, budget and burn rate are over it
    objective_percent: float = Field(default=99.0, gt=0, lt=100)
    description: str = ""


class _TableSla(_Sla):
    table_id: str

    @field_validator("table_id")
    @classmethod
    def _table_id(cls, value: str) -> str:
        parse_table_id(value)
        return value


class CompletionSla(_Sla):
    """A Dagster job (or an Airflow DAG) finishes successfully within its target duration."""

    type: Literal["completion_time"]
    pipeline: str = Field(min_length=1)  # a Dagster job name, or an Airflow dag_id with source "airflow"
    source: Literal["dagster", "airflow"] = "dagster"
    target_duration_minutes: PositiveFloat
    lookback_hours: PositiveFloat = 24


class FreshnessSla(_TableSla):
    type: Literal["freshness"]
    max_age_hours: PositiveFloat
    timestamp_column: str | None = None

    @field_validator("timestamp_column")
    @classmethod
    def _column(cls, value: str | None) -> str | None:
        return None if value is None else check_column_name(value)


class QualitySla(_TableSla):
    """`query` returns one row with `total_rows` and `failed_rows`; it is the user's own SQL."""

    type: Literal["quality"]
    query: str = Field(min_length=1)
    max_failure_rate: float = Field(ge=0, le=1)


class AvailabilitySla(_TableSla):
    """The time-weighted share of the window in which the table met its freshness SLA."""

    type: Literal["availability"]
    target_availability: float = Field(gt=0, le=100)
    # An evaluation stands for at most this long; beyond it the time counts as "no data".
    max_evaluation_gap_minutes: PositiveFloat = 90


Sla = Annotated[CompletionSla | FreshnessSla | QualitySla | AvailabilitySla, Field(discriminator="type")]


class AlertsConfig(_Strict):
    slack_channel: str | None = None  # needed with SLACK_BOT_TOKEN; a webhook has its own channel
    suppression_minutes: PositiveFloat = 240  # an ongoing violation is repeated at most this often
    source: str = "orchestration-utils"  # PagerDuty `source`
    timeout_seconds: PositiveFloat = 10  # per HTTP request to Slack or PagerDuty


class AirflowConfig(_Strict):
    """An Airflow 3 deployment's REST API; the token comes from AIRFLOW_API_TOKEN, or a JWT is fetched
    with AIRFLOW_USERNAME / AIRFLOW_PASSWORD."""

    base_url: str = Field(pattern=r"^https?://")


class SlaConfig(_Strict):
    warehouse: WarehouseUrlField | None = None
    slas: tuple[Sla, ...]
    alerts: AlertsConfig = AlertsConfig()
    airflow: AirflowConfig | None = None
    max_bytes_billed: int = Field(default=10 * 1024**3, gt=0)
    query_timeout_seconds: PositiveFloat = 60
    evaluation_interval_seconds: int = Field(default=300, ge=30)  # the code location's SLA sensor
    report_cron: str = "0 6 * * *"  # the code location's daily compliance report

    @model_validator(mode="after")
    def _consistent(self) -> SlaConfig:
        names: set[str] = set()
        fresh_tables = {s.table_id for s in self.slas if isinstance(s, FreshnessSla)}
        for sla in self.slas:
            if sla.name in names:
                raise ValueError(f"SLA name {sla.name!r} appears twice")
            names.add(sla.name)
            if isinstance(sla, AvailabilitySla) and sla.table_id not in fresh_tables:
                raise ValueError(f"availability SLA {sla.name!r} needs a freshness SLA on {sla.table_id}")
            if isinstance(sla, CompletionSla) and sla.source == "airflow" and self.airflow is None:
                raise ValueError(f"SLA {sla.name!r} reads Airflow runs, but the config has no \"airflow\" section")
        return self

    def freshness_for(self, table_id: str) -> FreshnessSla:
        return next(s for s in self.slas if isinstance(s, FreshnessSla) and s.table_id == table_id)


def load_sla_config(path: Path | str) -> SlaConfig:
    return parse_config(SlaConfig, read_config_file(path), str(path))
