"""The one error family: every error a user may see, with `str()` the one line that names the
file, field or flag and the reason (a CLI prints it and exits 2; the code location fails the load
or that one check with it)."""

from __future__ import annotations

from pathlib import Path


class OrchestrationUtilsError(Exception):
    """Base of the errors below; `str()` is the line a user sees."""


class ConfigError(OrchestrationUtilsError):
    """A bad health or SLA config file: file, JSON path, reason."""


class ProjectError(OrchestrationUtilsError):
    """Bad project input; `str()` is the one line a user sees: file, then reason."""

    def __init__(self, source: Path | str, reason: str):
        super().__init__(f"{source}: {reason}")
        self.source = str(source)
        self.reason = reason


class OutputDirError(OrchestrationUtilsError):
    """The output directory cannot be written; `str()` is the one line a user sees."""

    def __init__(self, output_dir: Path, reason: str):
        super().__init__(f"--output-dir {output_dir}: {reason}")


class ServiceError(OrchestrationUtilsError):
    """A call to a service that failed; `transient` ones (timeouts, 429, 5xx, a held lock) are retried."""

    def __init__(self, message: str, transient: bool = False):
        super().__init__(message)
        self.transient = transient


class WarehouseError(ServiceError):
    """A warehouse call that failed: that one check is ERROR."""


class RunHistoryError(ServiceError):
    """Run history (the Airflow API, the Dagster instance) could not be read: that SLA is ERROR."""


class UsageError(OrchestrationUtilsError):
    """Bad input found after argument parsing (a config file, a path); a CLI exits 2."""
