# The two commands of the README: `make demo` and `make test`. Everything they need
# installs from the project's own files (uv.lock, requirements/airflow.txt).
UV_VERSION := 0.13.9
UV := $(or $(shell command -v uv 2>/dev/null),.tools/bin/uv)

.PHONY: demo test lint venv airflow-venv bqemu-venv postgres chromium

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

venv: $(UV)
	$(UV) sync --frozen --python 3.11 --quiet

demo: venv
	.venv/bin/orchestration-utils-demo

# Airflow 3.3.2 lives in its own venv: it only verifies generated DAGs (tests) and runs cosmos (bench).
airflow-venv: $(UV)
	test -x .venv-airflow/bin/python || $(UV) venv --quiet --python 3.11 .venv-airflow
	$(UV) pip install --quiet --python .venv-airflow/bin/python -r requirements/airflow.txt

# A BigQuery emulator (bqemulator) for the health monitor's tests, in its own venv: its
# sqlglot pin cannot share one with sqlmesh. The tests start it on 127.0.0.1.
bqemu-venv: $(UV)
	test -x .venv-bqemu/bin/python || $(UV) venv --quiet --python 3.11 .venv-bqemu
	$(UV) pip install --quiet --python .venv-bqemu/bin/python -r requirements/bqemulator.txt

# A PostgreSQL server for the deployment tests (Debian's package): they start a private cluster
# of their own in a temp dir on 127.0.0.1, so the package's default cluster is never used.
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
postgres:
	ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		{ $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; } || \
		echo "make postgres: could not install Debian's postgresql; its tests skip (and fail when CI=true)" >&2

# Debian's Chromium for the browser test (Playwright drives it; no browser is downloaded).
chromium:
	test -x /usr/bin/chromium || \
		{ $(SUDO) apt-get update -qq && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } || \
		echo "make chromium: could not install Debian's chromium; the browser test skips (and fails when CI=true)" >&2

# The locked ruff, over the package, its tests and the benchmarks (generated code is formatted by it too);
# mypy over the package ([tool.mypy] in pyproject.toml). The import layering is a test (test_layering.py).
LINTED := orchestration_utils orchestration_utils_tests bench
lint: venv
	.venv/bin/ruff check $(LINTED)
	.venv/bin/ruff format --check $(LINTED)
	.venv/bin/mypy

test: lint airflow-venv bqemu-venv postgres chromium
	.venv/bin/pytest
