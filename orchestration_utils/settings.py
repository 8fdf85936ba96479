"""Where things are: project paths, output directories and the warehouse, from the environment.

Every path has a default under the working directory, so a fresh checkout runs
the embedded demo (DuckDB) with no configuration at all.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from orchestration_utils.errors import ProjectError
from orchestration_utils.project.schedule import normalize_schedule
from orchestration_utils.warehouse.url import parse_warehouse_url

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
        """Where health checks look when their config names no warehouse; checked at load."""
        return warehouse_setting(os.environ.get(WAREHOUSE_VAR), f"duckdb://{self.dbt_duckdb_path}")

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
        """Where dbt finds `profiles.yml`, in dbt's order: `DBT_PROFILES_DIR` when set (a relative
        one against the working directory, as dbt reads it: dbt runs in the project directory, so
        it is passed on absolute), else the project directory when it holds one, else `~/.dbt`
        when that does, else the project directory (where the error says to add one)."""
        value = os.environ.get(PROFILES_DIR_VAR)
        if value:
            return Path(value).absolute()
        project = self.dbt_project_dir or Path(".")
        home = Path.home() / ".dbt"
        if not (project / "profiles.yml").is_file() and (home / "profiles.yml").is_file():
            return home
        return project

    @property
    def dbt_profiles_setting(self) -> str:
        """`NAME=value` of the variable `dbt_profiles_dir` comes from, for errors."""
        if os.environ.get(PROFILES_DIR_VAR):
            return f"{PROFILES_DIR_VAR}={os.environ[PROFILES_DIR_VAR]}"
        return f"ORCHESTRATION_UTILS_DBT_PROJECT_DIR={self.dbt_project_dir}"

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

    @property
    def dagster_instance_home(self) -> Path | None:
        """`dagster_home` when it holds an instance (`dagster.yaml` or run history); None for an
        empty or missing folder, which the CLIs do not open: that would create an empty instance
        and report its history of nothing as the truth."""
        home = self.dagster_home
        return home if (home / "dagster.yaml").is_file() or (home / "history").is_dir() else None


ARTIFACTS_URL_VAR = "ORCHESTRATION_UTILS_ARTIFACTS_URL"
PROFILES_DIR_VAR = "DBT_PROFILES_DIR"  # dbt's own
WAREHOUSE_VAR = "ORCHESTRATION_UTILS_WAREHOUSE"
DEFAULT_SCHEDULE_VAR = "ORCHESTRATION_UTILS_DEFAULT_SCHEDULE"

# The stores a run can write to, with the package each needs (None: fsspec's own). Anything else
# is refused: http(s) is read-only, and others (ftp, sftp, ...) fail at run time in ways fsspec
# does not report up front. memory:// lasts only as long as the process (tests, one-off runs).
WRITABLE_STORES: dict[str, str | None] = {
    "file": None,
    "memory": None,
    "s3": "s3fs",
    "s3a": "s3fs",
    "gs": "gcsfs",
    "gcs": "gcsfs",
    "az": "adlfs",
    "abfs": "adlfs",
    "abfss": "adlfs",
}
# fsspec's caching wrappers may precede the store (`simplecache::s3://bucket/prefix`).
_CACHES = {"simplecache", "filecache", "blockcache"}
_STORES_HINT = (
    "use an absolute path, file:///path, s3://, gs://, az:// or abfs(s):// "
    "(memory:// does not outlive the process)"
)


def artifacts_location(value: str, source: str) -> str:
    """`value` when it is a URL of a writable store whose package is installed, or an absolute
    local path (taken as a local directory). A value without a scheme that is not absolute
    (`bogus`) is refused: it would silently become a directory under whatever the working
    directory is. `source` names where the value came from in the one-line ProjectError."""
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
    """`url` names a writable store (WRITABLE_STORES, optionally behind fsspec caches) whose
    package is installed; a file:// URL names an absolute path on this machine. Otherwise a
    one-line ProjectError naming `source` and the reason."""
    *caches, target = url.split("::")
    for cache in caches:
        if cache not in _CACHES:
            raise ProjectError(source, f"{url!r}: {cache!r} is not an fsspec cache; {_STORES_HINT}")
    protocol, _, rest = target.partition("://")
    if protocol not in WRITABLE_STORES:
        reason = (
            "http(s) is read-only, not a writable store"
            if protocol in ("http", "https")
            else f"{protocol}:// is not a writable store"
        )
        raise ProjectError(source, f"{url!r}: {reason}; {_STORES_HINT}")
    host, _, path = rest.partition("/")
    if protocol == "file" and (host or not path):
        # fsspec would take the host as the first directory under the working directory.
        raise ProjectError(
            source, f"{url!r}: a file URL is file:///absolute/path (three slashes, no host)"
        )
    if protocol not in ("file", "memory") and not host:
        raise ProjectError(source, f"{url!r}: expected {protocol}://bucket/prefix")
    package = WRITABLE_STORES[protocol]
    if package and importlib.util.find_spec(package) is None:
        raise ProjectError(
            source,
            f"{url!r}: the {protocol}:// scheme needs the package {package}, which is not "
            f"installed: pip install {package}",
        )


def warehouse_setting(value: str | None, default: str) -> str:
    """`ORCHESTRATION_UTILS_WAREHOUSE` (else `default`), parsed as the checks will open it (not
    connected): a URL no warehouse reads fails the load, not every check at run time."""
    if not value:
        return default
    try:
        parse_warehouse_url(value)
    except ValueError as exc:
        raise ProjectError(WAREHOUSE_VAR, str(exc)) from None
    return value


def schedule_setting(value: str) -> str:
    """`ORCHESTRATION_UTILS_DEFAULT_SCHEDULE`, normalized (`daily` -> `@daily`) by the project's
    schedule table; a value no schedule reads fails the load naming the variable."""
    try:
        return normalize_schedule(value)
    except ValueError as exc:
        raise ProjectError(DEFAULT_SCHEDULE_VAR, str(exc)) from None


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
    settings = Settings(
        home=home,
        dbt_project_dir=dbt_project_dir,
        dbt_manifest_path=Path(manifest).resolve() if manifest else None,
        sqlmesh_project_dir=_optional_path(
            "ORCHESTRATION_UTILS_SQLMESH_PROJECT_DIR", DEMO_SQLMESH_PROJECT
        ),
        artifacts_dir=Path(
            os.environ.get("ORCHESTRATION_UTILS_ARTIFACTS_DIR") or home / "artifacts"
        ).resolve(),
        default_schedule=schedule_setting(
            os.environ.get(DEFAULT_SCHEDULE_VAR, "").strip() or "@daily"  # empty: the default
        ),
        health_config_path=_optional_path(
            "ORCHESTRATION_UTILS_HEALTH_CONFIG", DEMO_HEALTH_CONFIG if on_demo else None
        ),
        sla_config_path=_optional_path(
            "ORCHESTRATION_UTILS_SLA_CONFIG", DEMO_SLA_CONFIG if on_demo else None
        ),
    )
    # Read now, so a bad value fails the code location's load (or a CLI, exit 2) with one line
    # naming the variable, before anything runs.
    settings.warehouse_url  # noqa: B018
    settings.artifacts_url  # noqa: B018
    return settings


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
