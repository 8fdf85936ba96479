"""Where things are: project paths, output directories and the warehouse, from the environment.

Every path has a default under the working directory, so a fresh checkout runs
the embedded demo (DuckDB) with no configuration at all.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from orchestration_utils.errors import ProjectError

DEMO_DIR = Path(__file__).parent / "demo"
DEMO_DBT_PROJECT = DEMO_DIR / "dbt_project"
DEMO_SQLMESH_PROJECT = DEMO_DIR / "sqlmesh_project"
DEMO_HEALTH_CONFIG = DEMO_DIR / "health-config.json"
DEMO_SLA_CONFIG = DEMO_DIR / "sla-config.json"


@dataclass(frozen=True)
class Settings:
    home: Path
    dbt_project_dir: Path | None
    dbt_manifest_path: Path | None  # a prebuilt manifest (production); else <home>/dbt_target
    sqlmesh_project_dir: Path | None
    artifacts_dir: Path
    default_schedule: str
    health_config_path: (
        Path | None
    )  # the demo's watches the demo tables; disabled for other projects unless set
    sla_config_path: Path | None  # likewise

    @property
    def warehouse_url(self) -> str:
        """Where health checks look when their config names no warehouse."""
        return os.environ.get("ORCHESTRATION_UTILS_WAREHOUSE") or f"duckdb://{self.dbt_duckdb_path}"

    @property
    def artifacts_url(self) -> str | None:
        """Object storage for what runs write (`s3://bucket/prefix`, `gs://...`, any fsspec URL,
        or an absolute local path); unset: the local `artifacts_dir`. Checked by
        `artifacts_location` (ProjectError naming the variable), so a code location with a bad
        one fails to load instead of writing somewhere unexpected at run time."""
        value = os.environ.get(ARTIFACTS_URL_VAR)
        return artifacts_location(value, ARTIFACTS_URL_VAR) if value else None

    @property
    def dbt_profiles_dir(self) -> Path:
        """dbt's `DBT_PROFILES_DIR` when set, else the project directory."""
        return Path(os.environ.get("DBT_PROFILES_DIR") or self.dbt_project_dir or ".")

    @property
    def dbt_target_dir(self) -> Path:
        return self.home / "dbt_target"

    @property
    def warehouse_dir(self) -> Path:
        return self.home / "warehouse"

    @property
    def dbt_duckdb_path(self) -> Path:
        # The file stem is the DuckDB catalog name that dbt writes into the manifest.
        return Path(
            os.environ.get("ORCHESTRATION_UTILS_DBT_DUCKDB", self.warehouse_dir / "shop.duckdb")
        )

    @property
    def sqlmesh_duckdb_path(self) -> Path:
        return Path(
            os.environ.get(
                "ORCHESTRATION_UTILS_SQLMESH_DUCKDB", self.warehouse_dir / "shop_sqlmesh.duckdb"
            )
        )

    @property
    def dagster_home(self) -> Path:
        return Path(os.environ.get("DAGSTER_HOME") or self.home / "dagster_home")


ARTIFACTS_URL_VAR = "ORCHESTRATION_UTILS_ARTIFACTS_URL"


def artifacts_location(value: str, source: str) -> str:
    """`value` when it is an fsspec URL whose implementation is installed, or an absolute local
    path (taken as a local directory). A value without a scheme that is not absolute (`bogus`)
    is refused: it would silently become a directory under whatever the working directory is.
    `source` names where the value came from in the one-line ProjectError."""
    if "://" not in value:
        if not Path(value).is_absolute():
            raise ProjectError(
                source,
                f"{value!r} is neither a URL (s3://bucket/prefix, gs://bucket/prefix, "
                "file:///path) nor an absolute path",
            )
        return value
    check_url_scheme(value, source)
    return value


def check_url_scheme(url: str, source: str) -> None:
    """Every protocol of an fsspec URL (`s3://...`, chained `simplecache::s3://...`) is one fsspec
    knows and can import; otherwise a ProjectError naming the package to install."""
    import fsspec
    from fsspec.registry import known_implementations

    for part in url.split("::"):
        protocol = part.split("://", 1)[0]
        try:
            fsspec.get_filesystem_class(protocol)
        except ImportError:
            package = known_implementations[protocol]["class"].split(".", 1)[0]
            raise ProjectError(
                source,
                f"{url!r}: the {protocol}:// scheme needs the package {package}, which is not "
                f"installed: pip install {package}",
            ) from None
        except ValueError:
            raise ProjectError(
                source, f"{url!r}: {protocol!r} is not a scheme fsspec knows"
            ) from None


def _optional_path(var: str, default: Path | None) -> Path | None:
    """Unset: the demo default. Set to an empty string: disabled."""
    value = os.environ.get(var)
    if value is None:
        return default
    return Path(value).resolve() if value.strip() else None


def load_settings() -> Settings:
    home = Path(
        os.environ.get("ORCHESTRATION_UTILS_HOME") or Path.cwd() / ".orchestration_utils"
    ).resolve()
    manifest = os.environ.get("ORCHESTRATION_UTILS_DBT_MANIFEST")
    dbt_project_dir = _optional_path("ORCHESTRATION_UTILS_DBT_PROJECT_DIR", DEMO_DBT_PROJECT)
    # The demo's monitors watch the demo's tables only; a manifest of another project beside the
    # default (demo) directory stops the location from loading (dagster_defs/dbt.py).
    on_demo = dbt_project_dir == DEMO_DBT_PROJECT
    return Settings(
        home=home,
        dbt_project_dir=dbt_project_dir,
        dbt_manifest_path=Path(manifest).resolve() if manifest else None,
        sqlmesh_project_dir=_optional_path(
            "ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR", DEMO_SQLMESH_PROJECT
        ),
        artifacts_dir=Path(
            os.environ.get("ORCHESTRATION_UTILS_ARTIFACTS_DIR") or home / "artifacts"
        ).resolve(),
        default_schedule=os.environ.get("ORCHESTRATION_UTILS_DEFAULT_SCHEDULE", "@daily"),
        health_config_path=_optional_path(
            "ORCHESTRATION_UTILS_HEALTH_CONFIG", DEMO_HEALTH_CONFIG if on_demo else None
        ),
        sla_config_path=_optional_path(
            "ORCHESTRATION_UTILS_SLA_CONFIG", DEMO_SLA_CONFIG if on_demo else None
        ),
    )


def export_project_env(settings: Settings) -> None:
    """The demo projects' profiles read their DuckDB paths from these variables, and dbt
    runs write their target folders under the home instead of the project."""
    settings.warehouse_dir.mkdir(parents=True, exist_ok=True)
    # dagster-dbt gives each run a folder under this one and copies `partial_parse.msgpack`
    # from it, so runs skip dbt's full parse.
    os.environ.setdefault("DBT_TARGET_PATH", str(settings.dbt_target_dir))
    # A test spanning two models runs only when both are in the run (dbt's default, eager,
    # would run it when either is, against a table another job has not built yet).
    os.environ.setdefault("DBT_INDIRECT_SELECTION", "cautious")
    os.environ.setdefault("ORCHESTRATION_UTILS_DBT_DUCKDB", str(settings.dbt_duckdb_path))
    os.environ.setdefault("ORCHESTRATION_UTILS_SQLMESH_DUCKDB", str(settings.sqlmesh_duckdb_path))
