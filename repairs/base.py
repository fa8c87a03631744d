"""The Repair interface, the explicit repair registry and helpers for reading long-form template documents."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Iterator

from orchestrator.errors import BadInput
from orchestrator.model import Failure, PatchOp, RepairPlan
from orchestrator.template import pointer as ptr

if TYPE_CHECKING:
    from orchestrator.template.graph import DependencyGraph
    from orchestrator.template import Template


class Repair(ABC):
    """A pure template transformation: `plan` reads, never writes, and fixes every resource with the defect."""

    id: str = ""
    description: str = ""
    source_url: str = ""
    # True when a plan without operations means "deploy the same template again after a backoff".
    retries: bool = False

    @abstractmethod
    def plan(
        self, template: "Template", graph: "DependencyGraph", failures: list[Failure], params: dict
    ) -> RepairPlan:
        """The operations that repair `failures` and their whole class; an empty plan when nothing is needed."""


class RepairRegistry:
    """Repairs by id; registering an id twice is an error, as in cfn-lint's rule registry."""

    def __init__(self) -> None:
        self._repairs: dict[str, Repair] = {}

    def register(self, repair: Repair) -> Repair:
        if not repair.id or not re.fullmatch(r"[a-z0-9][a-z0-9-]*", repair.id):
            raise BadInput(f"repair {type(repair).__qualname__} has an invalid id {repair.id!r}")
        if repair.id in self._repairs:
            first = type(self._repairs[repair.id])
            raise BadInput(
                f"repair id {repair.id!r} is registered twice "
                f"({first.__module__}.{first.__qualname__} and {type(repair).__module__}.{type(repair).__qualname__})"
            )
        self._repairs[repair.id] = repair
        return repair

    def get(self, repair_id: str) -> Repair:
        try:
            return self._repairs[repair_id]
        except KeyError:
            raise BadInput(f"no repair is registered with id {repair_id!r}; known: {', '.join(self.ids())}") from None

    def ids(self) -> list[str]:
        return sorted(self._repairs)

    def __contains__(self, repair_id: object) -> bool:
        return repair_id in self._repairs

    def __iter__(self) -> Iterator[Repair]:
        return iter(list(self._repairs.values()))

    def __len__(self) -> int:
        return len(self._repairs)


# --- reading long-form documents -------------------------------------------------------------------

def as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def resources_of(document: dict) -> dict[str, dict]:
    found = document.get("Resources") if isinstance(document, dict) else None
    return {k: v for k, v in (found or {}).items() if isinstance(v, dict)}


def props(resource: dict) -> dict:
    found = resource.get("Properties")
    return found if isinstance(found, dict) else {}


def set_depends_on(resource: dict, logical_id: str, additions: list[str]) -> list[PatchOp]:
    """Operations that add `additions` to DependsOn, keeping its form: absent -> string (or list for
    several), string -> list of both, list -> appended."""
    current = resource.get("DependsOn")
    base = ptr("Resources", logical_id, "DependsOn")
    if current is None:
        return [PatchOp("add", base, additions[0] if len(additions) == 1 else list(additions))]
    if isinstance(current, str):
        return [PatchOp("replace", base, [current, *additions])]
    return [PatchOp("add", base + "/-", item) for item in additions]


def physical_map(failures: list[Failure]) -> dict[str, str]:
    """{physical id: logical id} merged from every failure's details."""
    merged: dict[str, str] = {}
    for failure in failures:
        merged.update(failure.details.get("physical_ids") or {})
    return merged
