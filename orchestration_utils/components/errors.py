"""A component's bad configuration as one line naming its `defs.yaml` (and line), the attribute
and the reason.

Dagster wraps any other exception raised while loading a component in a `ComponentTreeException`
holding a drawing of the defs tree, with the error as its cause: `dg check defs` then prints both,
each with its stack (30-40 lines, the reason in the middle). A `ComponentTreeException` is passed on
as it is, so this one is printed first, alone; Dagster still adds the few frames of its stack
(`SerializableErrorInfo.to_string` prints a stack whenever there is one). Each component raises it
from its own `build_defs`, so that stack ends there."""

from __future__ import annotations

import dagster as dg
from dagster.components.core.component_tree import ComponentTreeException

from orchestration_utils.errors import OrchestrationUtilsError


class ComponentConfigError(ComponentTreeException):
    """`<defs.yaml>:<line>: <attribute>: <reason>`; the attribute is a path of keys under
    `attributes` (`("asset_keys", "shop.main.orders")`), empty for what the component reads from
    the `ORCHESTRATION_UTILS_*` settings."""

    def __init__(
        self, context: dg.ComponentLoadContext, attribute: tuple[str, ...], reason: object
    ):
        where = defs_yaml_position(context, attribute)
        name = ".".join(attribute)
        super().__init__(f"{where}: {name}: {reason}" if attribute else f"{where}: {reason}")


class BadAttribute(OrchestrationUtilsError):
    """A `defs.yaml` attribute naming nothing (a folder, an asset); its component raises it as a
    `ComponentConfigError`."""

    def __init__(self, attribute: tuple[str, ...], reason: str):
        super().__init__(f"{'.'.join(attribute)}: {reason}")
        self.attribute = attribute
        self.reason = reason


def config_error(
    context: dg.ComponentLoadContext, exc: OrchestrationUtilsError, attribute: tuple[str, ...]
) -> ComponentConfigError:
    """`exc` as the component's one line: a `BadAttribute` names its own attribute; any other
    error (a config file's `ConfigError`, a project's `ProjectError`, naming their file) is put
    under `attribute`, the one that named that file."""
    if isinstance(exc, BadAttribute):
        return ComponentConfigError(context, exc.attribute, exc.reason)
    return ComponentConfigError(context, attribute, exc)


def defs_yaml_position(context: dg.ComponentLoadContext, attribute: tuple[str, ...]) -> str:
    """`<file>:<line>` of the attribute in the component's YAML (its nearest written parent when
    the attribute is not written), else the `defs.yaml` beside the component."""
    source_tree = getattr(context.component_decl, "source_tree", None)
    if source_tree is None:
        return str(context.path / "defs.yaml")
    position, _ = source_tree.source_position_tree.lookup_closest_and_path(
        ["attributes", *attribute], None
    )
    return str(position)
