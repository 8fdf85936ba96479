"""The freshness verdicts on an asset, said in its description: Dagster's freshness (asset health)
judges the last materialization, the health `freshness` check and freshness SLAs the newest data.
Without this an asset shows a green freshness while its critical `freshness` check fails, and
the UI does not say why, nor which of the verdicts pages someone."""

from collections.abc import Iterable

import dagster as dg
from dagster._record import replace  # Definitions is a record

# A check spec's metadata: what this check says about freshness (one line), set by health.py and sla.py.
FRESHNESS_NOTE_KEY = "orchestration_utils/freshness_note"
# A check spec's metadata: set on the checks whose failure pages (critical SLAs).
PAGES_KEY = "orchestration_utils/pages"


def freshness_lines(
    policy: dg.FreshnessPolicy | None, checks: Iterable[dg.AssetCheckSpec]
) -> list[str]:
    """The asset's freshness verdicts, one line each, and which of them pages; none without a check."""
    notes = [c for c in checks if FRESHNESS_NOTE_KEY in c.metadata]
    if not notes:
        return []
    lines = ["**Freshness verdicts on this asset** (they measure different things):"]
    window = getattr(policy, "fail_window", None)
    if window is not None:
        hours = window.to_timedelta().total_seconds() / 3600
        lines.append(
            f"- Dagster's freshness (asset health): age of the last materialization, fails beyond "
            f"{hours:g} h. A successful run that brought no new data keeps it green."
        )
    lines += [f"- `{c.name}`: {c.metadata[FRESHNESS_NOTE_KEY]}" for c in notes]
    pages = [c.name for c in notes if c.metadata.get(PAGES_KEY)]
    lines.append(
        f"- Pages: {', '.join(f'`{p}`' for p in pages)} (a critical SLA)."
        if pages
        else "- None of these pages anyone; failing checks show here and in the health report."
    )
    return lines


def with_freshness_notes(
    assets: dg.Definitions, checks: Iterable[dg.AssetsDefinition]
) -> dg.Definitions:
    """`assets` with the freshness verdicts of `checks` appended to each asset's description."""
    by_asset: dict[dg.AssetKey, list[dg.AssetCheckSpec]] = {}
    for definition in checks:
        for spec in definition.check_specs:
            by_asset.setdefault(spec.asset_key, []).append(spec)
    if not any(FRESHNESS_NOTE_KEY in s.metadata for specs in by_asset.values() for s in specs):
        return assets

    def note(spec: dg.AssetSpec) -> dg.AssetSpec:
        lines = freshness_lines(spec.freshness_policy, by_asset.get(spec.key, ()))
        if not lines:
            return spec
        return spec.replace_attributes(
            description="\n\n".join(p for p in (spec.description, "\n".join(lines)) if p)
        )

    # Per definition (`Definitions.map_asset_specs` is a preview API that warns on every load).
    mapped = [
        note(a)
        if isinstance(a, dg.AssetSpec)
        else a.map_asset_specs(note)
        if isinstance(a, dg.AssetsDefinition) and not a.is_observable
        else a
        for a in assets.assets or ()
    ]
    return replace(assets, assets=mapped)
