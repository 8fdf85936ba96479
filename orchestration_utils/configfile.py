"""Config files (health, SLA) read the same way: strict models, JSON in, and one `ConfigError`
line out naming the file, the JSON path and the reason."""

from __future__ import annotations

import json
import math
import os
import stat
from pathlib import Path
from typing import Annotated

import orjson
from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationError
from pydantic_core import ErrorDetails

from orchestration_utils.errors import ConfigError


class Strict(BaseModel):
    """Unknown keys, a wrong JSON type and coercion are refused; a parsed config is immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# Upper bounds keep every window a datetime can hold (and every figure a sane one): ten years.
MAX_HOURS = 87_600.0
MAX_ROWS = 2**63 - 1


def bounded(low: float, high: float, what: str, low_open: bool = True):
    """A finite number in (low, high] (or [low, high]); the message states the allowed range."""
    opening = "(" if low_open else "["

    def check(value):
        if not math.isfinite(value) or value > high or (value <= low if low_open else value < low):
            raise ValueError(f"must be {what} in {opening}{low:g}, {high:g}], got {value!r}")
        return value

    return AfterValidator(check)


Hours = Annotated[float, bounded(0, MAX_HOURS, "a number of hours")]
Minutes = Annotated[float, bounded(0, MAX_HOURS * 60, "a number of minutes")]
ByteCap = Annotated[int, bounded(0, MAX_ROWS, "a number of bytes")]


def read_config_file(path: Path | str) -> bytes:
    """The file's bytes; a FIFO or device (which would block or never end) is refused."""
    try:
        mode = os.stat(path).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):  # a directory: read_bytes says so
            raise ConfigError(f"{path}: not a regular file")
        return Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None


def parse_config(model: type[BaseModel], text: bytes | str, source: str):
    """Shared by the health and SLA configs: JSON in, a typed model or one ConfigError line out."""
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ConfigError(f"{source}: not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a JSON object")
    refuse_duplicate_keys(text, source)
    try:
        # JSON mode: arrays are accepted where tuples are declared, nothing else is coerced.
        return model.model_validate_json(text, strict=True)
    except ValidationError as exc:
        # An unknown key first: a misspelt key also leaves its real one "required", and the typo is the cause.
        error = min(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{source}: {json_path(error['loc'])}: {_reason(error)}{more}") from None


class _DuplicateKey(Exception):
    pass


def _unique_pairs(pairs: list[tuple[str, object]]) -> dict[str, object]:
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise _DuplicateKey(key)
        seen.add(key)
    return dict(pairs)


def refuse_duplicate_keys(text: bytes | str, source: str) -> None:
    """A key twice in one object of valid JSON is a ConfigError: JSON parsers keep the last one
    silently, so the first (often the one the user edited) would be ignored."""
    try:
        json.loads(text, object_pairs_hook=_unique_pairs)
    except _DuplicateKey as exc:
        raise ConfigError(f"{source}: key {exc.args[0]!r} appears twice in one object") from None


def json_path(loc: tuple) -> str:
    path = "$"
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def _reason(error: ErrorDetails) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown key"
    message = error["msg"]
    return message.removeprefix("Value error, ")
