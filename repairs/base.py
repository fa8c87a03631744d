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

PSEUDO_DEFAULTS = {
    "AWS::Partition": "aws",
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::URLSuffix": "amazonaws.com",
}
_SUB_VAR = re.compile(r"\$\{([^}!][^}]*)\}")


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


def target_of(value: Any) -> str | None:
    """The logical id a `Ref`, `Fn::GetAtt` or bare `Fn::Sub: ${X}` names, else None."""
    if isinstance(value, dict) and len(value) == 1:
        (key, arg), = value.items()
        if key == "Ref" and isinstance(arg, str):
            return arg
        if key == "Fn::GetAtt":
            if isinstance(arg, list) and arg and isinstance(arg[0], str):
                return arg[0]
            if isinstance(arg, str):
                return arg.split(".", 1)[0]
        if key == "Fn::Sub" and isinstance(arg, str):
            match = re.fullmatch(r"\$\{([^}.!]+)(?:\.[^}]+)?\}", arg)
            if match:
                return match.group(1)
    return None


def referenced(value: Any) -> set[str]:
    """Every logical id `value` names through Ref, Fn::GetAtt or Fn::Sub variables (pseudo parameters excluded)."""
    names: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, arg in node.items():
                if key == "Ref" and isinstance(arg, str):
                    names.add(arg)
                elif key == "Fn::GetAtt":
                    target = target_of({key: arg})
                    if target:
                        names.add(target)
                elif key == "Fn::Sub":
                    text, variables = (arg[0], arg[1]) if isinstance(arg, list) and len(arg) == 2 else (arg, {})
                    if isinstance(text, str):
                        local = set(variables) if isinstance(variables, dict) else set()
                        for var in _SUB_VAR.findall(text):
                            base = var.split(".", 1)[0]
                            if base not in local:
                                names.add(base)
                    walk(variables)
                else:
                    walk(arg)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(value)
    return {name for name in names if not name.startswith("AWS::")}


def resolve_string(value: Any, pseudo: dict[str, str] | None = None) -> str | None:
    """The string a literal, `Ref` to a pseudo parameter, simple `Fn::Sub` or `Fn::Join` evaluates to, else None."""
    pseudo = {**PSEUDO_DEFAULTS, **(pseudo or {})}
    if isinstance(value, str):
        return value
    if not isinstance(value, dict) or len(value) != 1:
        return None
    (key, arg), = value.items()
    if key == "Ref" and isinstance(arg, str):
        return pseudo.get(arg)
    if key == "Fn::Sub":
        text, variables = (arg[0], arg[1]) if isinstance(arg, list) and len(arg) == 2 else (arg, {})
        if not isinstance(text, str) or not isinstance(variables, dict):
            return None
        resolved_vars = {name: resolve_string(v, pseudo) for name, v in variables.items()}
        failed = False

        def substitute(match: re.Match) -> str:
            nonlocal failed
            name = match.group(1)
            found = resolved_vars.get(name) if name in resolved_vars else pseudo.get(name)
            if found is None:
                failed = True
                return ""
            return found

        out = _SUB_VAR.sub(substitute, text).replace("${!", "${")
        return None if failed else out
    if key == "Fn::Join" and isinstance(arg, list) and len(arg) == 2 and isinstance(arg[1], list):
        parts = [resolve_string(part, pseudo) for part in arg[1]]
        if not isinstance(arg[0], str) or any(part is None for part in parts):
            return None
        return arg[0].join(parts)  # type: ignore[arg-type]
    return None


def resolve_pseudo(value: Any, pseudo: dict[str, str] | None = None) -> Any:
    """A deep copy of `value` with every intrinsic `resolve_string` can evaluate replaced by its string."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in ("Ref", "Fn::Sub", "Fn::Join"):
            resolved = resolve_string(value, pseudo)
            if resolved is not None:
                return resolved
        return {k: resolve_pseudo(v, pseudo) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_pseudo(v, pseudo) for v in value]
    return value


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
