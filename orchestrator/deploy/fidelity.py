"""A run's fidelity: what the target really built, and the sentence that says so next to the verdict."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

KEYS = ("modeled", "stand_in", "skipped_by_condition", "sandbox_limitations")


def empty() -> dict[str, list]:
    return {key: [] for key in KEYS}


def from_real_stack(resources: Mapping[str, Any], built: set[str], succeeded: bool) -> dict[str, list]:
    """Fidelity on a real AWS account or another endpoint: what the stack holds was built by the service.

    A green stack that lacks a template resource skipped it by its condition (CloudFormation creates every
    other resource or fails); of a failed stack nothing can be said about conditions.
    """
    fidelity = empty()
    fidelity["modeled"] = sorted(built & set(resources))
    if succeeded:
        fidelity["skipped_by_condition"] = sorted(set(resources) - built)
    return fidelity


def summary(fidelity: Mapping[str, Any] | None) -> str:
    """The words a green (or failed) verdict needs: stand-ins, skipped resources, sandbox limitations.

    "" when everything was built by a service model.
    """
    if not fidelity:
        return ""
    stand_in = list(fidelity.get("stand_in") or [])
    modeled = list(fidelity.get("modeled") or [])
    skipped = list(fidelity.get("skipped_by_condition") or [])
    limits = list(fidelity.get("sandbox_limitations") or [])
    built = len(stand_in) + len(modeled)
    parts = []
    if stand_in:
        if not modeled:
            parts.append(f"{len(stand_in)} of {built} resources were stand-ins, nothing was built")
        else:
            parts.append(f"{len(stand_in)} of {built} resources were stand-ins ({_names(stand_in)})")
    if skipped:
        parts.append(f"{len(skipped)} skipped by their condition ({_names(skipped)})")
    if limits:
        parts.append(f"{len(limits)} sandbox limitation(s): "
                     + _names([f"{item.get('logical_id')} ({item.get('resource_type')})" for item in limits]))
    return "; ".join(parts)


def _names(items: list[str], limit: int = 6) -> str:
    shown = ", ".join(sorted(items)[:limit])
    return shown + (f", … {len(items) - limit} more" if len(items) > limit else "")
