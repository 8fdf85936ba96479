"""The one error family: every error a user may see, with `str()` the one line that names the
file, field or flag and the reason (a CLI prints it and exits 2; the code location fails the load
or that one check with it)."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters whose value is a secret, whatever the URL is for.
_SECRET_PARAMETER = re.compile(
    r"pass|pwd|token|secret|key|credential|auth|signature|sig$|session", re.IGNORECASE
)


def redact_url(url: str) -> str:
    """`url` as it may be reported or logged: a user and password become `***`, as does the value
    of any password- or token-like query parameter; a URL inside a parameter is redacted too."""
    try:
        parts = urlsplit(url)
        pairs = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError:
        return "<malformed URL>"
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rpartition("@")[2]
    redacted = [
        (k, "***" if _SECRET_PARAMETER.search(k) else redact_url(v) if "://" in v else v)
        for k, v in pairs
    ]
    if netloc == parts.netloc and redacted == pairs:
        return url  # nothing secret: as written (urlunsplit would respell `duckdb:///x`)
    query = urlencode(redacted, safe=":/*@")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]*[^\s'\"<>,.;:)]")


def redact_text(text: str) -> str:
    """`text` (an error message) with every URL in it redacted as `redact_url` does."""
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group()), text)


def printable(text: str) -> str:
    """`text` on one line: what a terminal would break or hide (a newline in a node's id, U+0085,
    U+2028, ...) escaped as Python writes it (`\\n`)."""
    if text.isprintable():
        return text
    return "".join(
        c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


def clip(text: str, limit: int = 80) -> str:
    """`text` cut to `limit` characters (`...` last) for a one-line message."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


class OrchestrationUtilsError(Exception):
    """Base of the errors below; `str()` is the line a user sees, any URL in it redacted (a
    service's own errors quote request URLs, with the credentials some of them carry) and any
    line break a project's names carry escaped."""

    def __init__(self, message: str = ""):
        super().__init__(printable(redact_text(message)))


class ConfigError(OrchestrationUtilsError):
    """A bad health or SLA config file: file, JSON path, reason."""


class ProjectError(OrchestrationUtilsError):
    """Bad project input; `str()` is the one line a user sees: file, then reason."""

    def __init__(self, source: Path | str, reason: str):
        super().__init__(f"{source}: {reason}")
        self.source = str(source)
        self.reason = printable(redact_text(reason))


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
