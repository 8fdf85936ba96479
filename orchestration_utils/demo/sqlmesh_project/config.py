"""SQLMesh config of the demo: a DuckDB gateway, file location from the environment."""

import os

from sqlmesh.core.config import Config, DuckDBConnectionConfig, GatewayConfig, ModelDefaultsConfig

# Never `sqlmesh.duckdb`: that catalog name is ambiguous with SQLMesh's own schema.
_DATABASE = os.environ.get("ORCHESTRATION_UTILS_SQLMESH_DUCKDB", "shop_sqlmesh.duckdb")

config = Config(
    gateways={"local": GatewayConfig(connection=DuckDBConnectionConfig(database=_DATABASE))},
    default_gateway="local",
    model_defaults=ModelDefaultsConfig(dialect="duckdb", start="2026-01-01"),
)
