"""The Jinja environment of the generators: values enter code only through the `py` filter."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import jinja2


@dataclass(frozen=True)
class PyExpr:
    """Code the plan built itself (never user text), printed verbatim."""

    code: str


def py(value: object) -> str:
    """A Python literal for `value`: `repr` for scalars, recursively for containers, so
    a name like `x"); import os #` stays a string."""
    if isinstance(value, PyExpr):
        return value.code
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"cannot render {value!r} as a Python literal: not a finite number")
    if isinstance(value, str):
        return repr(str(value))  # a StrEnum member prints as its value
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, dt.timedelta):
        return f"timedelta(seconds={int(value.total_seconds())})"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{py(k)}: {py(v)}" for k, v in value.items()) + "}"
    if isinstance(value, tuple):
        if len(value) == 1:
            return f"({py(value[0])},)"
        return "(" + ", ".join(py(v) for v in value) + ")"
    if isinstance(value, (list, frozenset, set)):
        items = sorted(value) if isinstance(value, (set, frozenset)) else value
        return "[" + ", ".join(py(v) for v in items) + "]"
    raise TypeError(f"cannot render {type(value).__name__} as a Python literal")


def jinja_text(text: str, template_ext: tuple[str, ...] = ()) -> str:
    """`text` as a string Airflow's Jinja renders back to exactly `text`.

    Airflow renders templated operator fields (`bash_command`, `sql`, `configuration`, ...) with
    Jinja before running them, and loads a value ending in one of the operator's `template_ext`
    as a template file. Text holding no `{` (the only character that opens Jinja syntax in the
    default environment our DAGs use) and no such ending is printed as it is; anything else
    becomes one Jinja string-literal expression, which Jinja prints without evaluating."""
    if "{" not in text and not (template_ext and text.endswith(template_ext)):
        return text
    # Jinja decodes its string literals with `unicode-escape`: the inverse, plus the quote.
    escaped = text.encode("unicode_escape").decode("ascii").replace("'", "\\'")
    return "{{ '" + escaped + "' }}"


def environment(template_dir: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["py"] = py
    env.filters["jinja_text"] = jinja_text
    return env
