"""A bad component configuration is one line naming the `defs.yaml` (and its line), the attribute
and the reason, first in what `dg check defs` prints; an `asset_keys` entry naming no asset of the
project is such an error, not a stub asset. Most kinds load in process and are rendered the way
`dagster definitions validate` (under `dg check defs`) renders a load error; one real `dg check
defs` shows the CLI's output."""

import subprocess
import uuid
from pathlib import Path

import dagster as dg
import pytest
from dagster._utils.error import serializable_error_info_from_exc_info, unwrap_user_code_error
from dagster_shared.error import remove_system_frames_from_error

from orchestration_utils.components.errors import ComponentConfigError
from orchestration_utils_tests.components.test_components import BIN, _dg_env
from orchestration_utils_tests.conftest import REPO

HEALTH = "type: orchestration_utils.components.HealthChecksComponent\n"
SLA = "type: orchestration_utils.components.SlaComponent\n"
ERROR = "orchestration_utils.components.errors.ComponentConfigError: "
ORDERS_TABLE = '{"tables": [{"table_id": "p.d.orders", "row_count": {"min_rows": 1}}]}'
# The project's own asset, in a plain Python file of another folder.
OWN_ASSETS = (
    "import dagster as dg\n\n\n"
    "@dg.asset(key=['shop', 'orders'], metadata={'dagster/table_name': 'p.d.orders'})\n"
    "def orders():\n    return 1\n"
)
DEMO_DBT = REPO / "orchestration_utils" / "demo" / "dbt_project"
DEMO_SQLMESH = REPO / "orchestration_utils" / "demo" / "sqlmesh_project"


def _project(root: Path, files: dict[str, str]) -> tuple[Path, str]:
    """A `dg` project (its own module name, so tests never share imported modules) with a
    `definitions.py` as `dg scaffold project` writes it, and `files` under its defs folder."""
    name = f"shop_{uuid.uuid4().hex[:8]}"
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "0"\n'
        f'[tool.dg]\ndirectory_type = "project"\n[tool.dg.project]\nroot_module = "{name}"\n'
    )
    (root / name / "defs").mkdir(parents=True)
    (root / name / "__init__.py").touch()
    (root / name / "defs" / "__init__.py").touch()
    (root / name / "definitions.py").write_text(
        "from pathlib import Path\n\nimport dagster as dg\n\n\n@dg.definitions\ndef defs():\n"
        "    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)\n"
    )
    for relative, text in {"sales/own.py": OWN_ASSETS, **files}.items():
        path = root / name / "defs" / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / name / "defs", name


def _load(tmp_path: Path, monkeypatch, files: dict[str, str]) -> dg.Definitions:
    defs_dir, _ = _project(tmp_path, files)
    monkeypatch.syspath_prepend(str(tmp_path))
    return dg.load_from_defs_folder(path_within_project=defs_dir.parent)


BAD = {
    "missing config file": (
        {"health/defs.yaml": HEALTH + "attributes: {config: nope.json}\n"},
        "health/defs.yaml:2: config: {defs}/health/nope.json: cannot read: No such file",
    ),
    "invalid JSON in the config": (
        {
            "health/defs.yaml": HEALTH + "attributes: {config: health.json}\n",
            "health/health.json": '{"tables": [',
        },
        "health/defs.yaml:2: config: {defs}/health/health.json: not valid JSON",
    ),
    "a wrong value in the config": (
        {
            "health/defs.yaml": HEALTH + "attributes: {config: health.json}\n",
            "health/health.json": ORDERS_TABLE.replace('"min_rows": 1', '"min_rows": -5'),
        },
        "health/defs.yaml:2: config: {defs}/health/health.json: $.tables[0].row_count.min_rows:",
    ),
    "an unknown key in the SLA config": (
        {
            "sla/defs.yaml": SLA + "attributes:\n  config: sla.json\n",
            "sla/sla.json": '{"tables": [], "slaz": []}',
        },
        "sla/defs.yaml:3: config: {defs}/sla/sla.json: $.slaz: unknown key",
    ),
    "assets_from naming no folder": (
        {"health/defs.yaml": HEALTH + "attributes:\n  assets_from: [sales, dbt_assetz]\n"},
        "health/defs.yaml:3: assets_from: 'dbt_assetz' does not exist under {defs}",
    ),
    "assets_from naming a file that is no component": (
        {
            "health/defs.yaml": HEALTH + "attributes:\n  assets_from: [health/notes.txt]\n",
            "health/notes.txt": "",
        },
        "health/defs.yaml:3: assets_from: 'health/notes.txt' holds no component or definitions",
    ),
    "the SLA's health folder naming nothing": (
        {"sla/defs.yaml": SLA + "attributes:\n  config: sla.json\n  health: healt\n"},
        "sla/defs.yaml:4: health: 'healt' does not exist under {defs}",
    ),
    "asset_keys naming no asset": (
        {
            "health/defs.yaml": HEALTH
            + "attributes:\n  config: health.json\n  asset_keys:\n    p.d.orders: shop/order\n",
            "health/health.json": ORDERS_TABLE,
        },
        (
            "health/defs.yaml:5: asset_keys.p.d.orders: no asset 'shop/order' in {defs}"
            " (did you mean 'shop/orders'?)"
        ),
    ),
    "an SLA's asset_keys naming no asset": (
        {
            "sla/defs.yaml": SLA + "attributes:\n  config: sla.json\n"
            "  asset_keys: {p.d.orders: orders}\n",
            "sla/sla.json": '{"tables": []}',
        },
        "sla/defs.yaml:4: asset_keys.p.d.orders: no asset 'orders' in {defs}",
    ),
    "asset_keys naming a table the health config does not hold": (
        {
            "health/defs.yaml": HEALTH + "attributes:\n  config: health.json\n"
            "  asset_keys: {P.D.Orders: shop/orders, p.d.orderz: shop/orders}\n",
            "health/health.json": ORDERS_TABLE,
        },
        (
            "health/defs.yaml:4: asset_keys.p.d.orderz: no table 'p.d.orderz' in"
            " {defs}/health/health.json (did you mean 'p.d.orders'?)"
        ),
    ),
    "an SLA's asset_keys naming a table no SLA names": (
        {
            "sla/defs.yaml": SLA + "attributes:\n  config: sla.json\n"
            "  asset_keys:\n    p.d.orders: shop/orders\n    shop.main.orderz: shop/orders\n",
            "sla/sla.json": '{"tables": [{"table_id": "p.d.orders", "freshness_sla": '
            '{"name": "fresh", "timestamp_column": "at", "max_age_hours": 24}}]}',
        },
        "sla/defs.yaml:6: asset_keys.shop.main.orderz: no table 'shop.main.orderz' in {defs}/sla/sla.json",
    ),
    "an empty asset key": (
        {"health/defs.yaml": HEALTH + "attributes:\n  asset_keys: {p.d.orders: ' '}\n"},
        "health/defs.yaml:3: asset_keys.p.d.orders: empty key",
    ),
    "a SQLMesh project_dir naming nothing": (
        {
            "mesh/defs.yaml": "type: orchestration_utils.components.SqlmeshProjectComponent\n"
            "attributes: {project_dir: nowhere}\n"
        },
        "mesh/defs.yaml:2: project_dir: {defs}/mesh/nowhere: SQLMesh project directory not found",
    ),
    "a default_schedule no schedule reads": (
        {
            "mesh/defs.yaml": "type: orchestration_utils.components.SqlmeshProjectComponent\n"
            f"attributes:\n  project_dir: {DEMO_SQLMESH}\n  default_schedule: '@sometimes'\n"
        },
        "mesh/defs.yaml:4: default_schedule: schedule '@sometimes' is not hourly/daily/weekly",
    ),
    "dagster-dbt's select, which the dbt component does not read": (
        {
            "dbt/defs.yaml": "type: orchestration_utils.components.DbtProjectWithMetadataComponent\n"
            f"attributes:\n  project: {DEMO_DBT}\n  prepare_if_dev: false\n  select: tag:nightly\n"
        },
        "dbt/defs.yaml:5: select: not read by DbtProjectWithMetadataComponent",
    ),
    "dagster-dbt's exclude and translation_settings likewise": (
        {
            "dbt/defs.yaml": "type: orchestration_utils.components.DbtProjectWithMetadataComponent\n"
            f"attributes:\n  project: {DEMO_DBT}\n  prepare_if_dev: false\n"
            "  translation_settings: {enable_asset_checks: false}\n  exclude: tag:slow\n"
        },
        "dbt/defs.yaml:6: exclude: not read by DbtProjectWithMetadataComponent",
    ),
}


@pytest.mark.parametrize("kind", BAD)
def test_a_bad_component_config_is_one_line_naming_defs_yaml_attribute_and_reason(
    kind, tmp_path, monkeypatch
):
    files, expected = BAD[kind]
    defs_dir, _ = _project(tmp_path, files)
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ComponentConfigError) as raised:
        dg.load_from_defs_folder(path_within_project=defs_dir.parent)
    printed = remove_system_frames_from_error(
        unwrap_user_code_error(
            serializable_error_info_from_exc_info((raised.type, raised.value, raised.tb))
        )
    ).to_string()
    first, *rest = printed.splitlines()
    assert first.startswith(f"{ERROR}{defs_dir}/{expected.format(defs=defs_dir)}"), printed
    # Alone: no tree drawing, no cause with its own trace, the reason said once.
    assert "caused by" not in printed and "├──" not in printed, printed
    assert not any(expected.split(": ")[-1] in line for line in rest), printed


def test_asset_keys_attach_to_an_asset_defined_anywhere(tmp_path, monkeypatch):
    """The key names a plain Python asset of another folder: checks on it, no stub beside it."""
    defs = _load(
        tmp_path,
        monkeypatch,
        {
            "health/defs.yaml": HEALTH
            + "attributes:\n  config: health.json\n  asset_keys: {p.d.orders: shop/orders}\n",
            "health/health.json": ORDERS_TABLE,
            "sla/defs.yaml": SLA + "attributes:\n  config: sla.json\n  health: health\n"
            "  asset_keys: {p.d.orders: shop/orders}\n",
            "sla/sla.json": '{"tables": [{"table_id": "p.d.orders", "freshness_sla": '
            '{"name": "orders_fresh", "timestamp_column": "at", "max_age_hours": 24}}]}',
        },
    )
    graph = defs.get_repository_def().asset_graph
    assert graph.get_all_asset_keys() == {dg.AssetKey(["shop", "orders"])}
    assert {k.name for k in graph.asset_check_keys} >= {"row_count", "sla_orders_fresh"}


def test_a_component_building_the_health_folder_does_not_loop(tmp_path, monkeypatch):
    """The jobs component builds the health component, whose key lookup builds the jobs one."""
    defs = _load(
        tmp_path,
        monkeypatch,
        {
            "health/defs.yaml": HEALTH
            + "attributes:\n  config: health.json\n  asset_keys: {p.d.orders: shop/orders}\n",
            "health/health.json": ORDERS_TABLE,
            "jobs/defs.yaml": "type: orchestration_utils.components.LocationJobsComponent\n"
            "attributes: {assets_from: [sales, health], generators: false}\n",
        },
    )
    assert (
        dg.AssetKey(["shop", "orders"])
        in defs.get_repository_def().asset_graph.get_all_asset_keys()
    )


def test_dg_check_defs_prints_the_line_first(tmp_path):
    """The real CLI, on a project as `dg scaffold project` makes it: an `asset_keys` typo (which
    used to pass as a stub asset) and invalid JSON in a config each fail with the one line first
    in the error, and a short trace after it (was 32-40 lines, the reason on line 22)."""
    defs_dir, _ = _project(
        tmp_path / "shop",
        {
            "health/defs.yaml": HEALTH
            + "attributes:\n  config: health.json\n  asset_keys: {p.d.orders: shop/order}\n",
            "health/health.json": ORDERS_TABLE,
        },
    )
    env = _dg_env(tmp_path / "home")
    env["PYTHONPATH"] = str(tmp_path / "shop")

    def check() -> list[str]:
        run = subprocess.run(  # noqa: PLW1510 (the return code is asserted, with the output)
            [str(BIN / "dg"), "check", "defs"],
            cwd=tmp_path / "shop",
            env=env,
            capture_output=True,
            text=True,
        )
        assert run.returncode == 1, run.stdout + run.stderr
        lines = (run.stdout + run.stderr).splitlines()
        start = next(i for i, line in enumerate(lines) if "Validation failed for" in line)
        return lines[start + 2 :]

    typo = check()
    assert typo[0] == (
        f"{ERROR}{defs_dir}/health/defs.yaml:4: asset_keys.p.d.orders: no asset 'shop/order' in"
        f" {defs_dir} (did you mean 'shop/orders'?)"
    ), typo
    (defs_dir / "health" / "health.json").write_text("{tables: []}")
    (defs_dir / "health" / "defs.yaml").write_text(HEALTH + "attributes: {config: health.json}\n")
    bad_json = check()
    assert bad_json[0].startswith(
        f"{ERROR}{defs_dir}/health/defs.yaml:2: config: {defs_dir}/health/health.json: not valid JSON"
    ), bad_json
    for printed in (typo, bad_json):
        end = next(i for i, line in enumerate(printed) if "code locations failed" in line)
        assert end <= 14, printed  # the line, then dagster's stack of ours and the project's
        assert not any("caused by" in line or "├──" in line for line in printed), printed


def test_a_bad_config_file_from_the_setting_names_the_variable(tmp_path, monkeypatch):
    """Without a `config` attribute the file comes from ORCHESTRATION_UTILS_HEALTH_CONFIG: the
    line names that variable, not an attribute the `defs.yaml` does not have."""
    bad = tmp_path / "health-config.json"
    bad.write_text("{not json")
    monkeypatch.setenv("ORCHESTRATION_UTILS_HEALTH_CONFIG", str(bad))
    with pytest.raises(ComponentConfigError) as raised:
        _load(tmp_path / "project", monkeypatch, {"health/defs.yaml": HEALTH})
    message = str(raised.value)
    assert (
        f"/health/defs.yaml:1: ORCHESTRATION_UTILS_HEALTH_CONFIG={bad}: not valid JSON" in message
    )
    assert ": config:" not in message
