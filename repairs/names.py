"""Repairs for custom physical names: too long or invalid (drop or shorten), already taken (suffix)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from orchestrator.model import Failure, PatchOp, RepairPlan
from orchestrator.repairs.base import Repair, props, ptr, resources_of
from orchestrator.template.names import SOURCE_URL, NameRule, name_rule


def _referred_by_literal(document: dict, logical_id: str, prop: str, value: Any) -> bool:
    """Whether anything else in the template names this resource by its literal name (an ARN or a name built
    from the same string), so that the name cannot change without breaking it."""
    needle = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    resources = resources_of(document)
    for other_id, resource in resources.items():
        body = dict(resource)
        if other_id == logical_id:
            # The resource's own other names built the same way (a role's inline PolicyName) do not refer to it.
            own = {k: v for k, v in props(resource).items() if k != prop}
            body = {**resource, "Properties": _without_sibling_names(own, value)}
        if needle in json.dumps(body, sort_keys=True):
            return True
    outputs = document.get("Outputs") or {}
    return needle in json.dumps(outputs, sort_keys=True)


def _without_sibling_names(node: Any, value: Any) -> Any:
    """node without the `...Name` entries whose value is exactly `value`."""
    if isinstance(node, dict):
        return {k: _without_sibling_names(v, value) for k, v in node.items()
                if not (k.endswith("Name") and v == value)}
    if isinstance(node, list):
        return [_without_sibling_names(v, value) for v in node]
    return node


def _digest(text: str, size: int) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:size]


def shorten(name: str, rule: NameRule) -> str | None:
    """`name` cut to the rule's length with a stable 8-character digest of the original (so two long names
    sharing a prefix stay distinct), or None when the result still breaks the rule."""
    limit = rule.max_length or len(name)
    tail = "-" + _digest(name, 8)
    short = name[: max(limit - len(tail), 1)].rstrip("-.") + tail
    return short if rule.problem(short) is None else None


class NameInvalid(Repair):
    """Every custom name that breaks its service's rule (length, characters; from cfn-lint's resource schemas),
    plus the failing resources' names: dropped when nothing refers to them by literal (CloudFormation then
    generates a valid one), else shortened within the rule; refused when neither is possible."""

    id = "name-invalid"
    description = "drop a custom name that breaks the service's rule, or shorten it when something refers to it"
    source_url = SOURCE_URL

    def plan(self, template, graph, failures: list[Failure], params: dict) -> RepairPlan:
        region = str((params or {}).get("region") or "us-east-1")
        failing = {f.logical_id for f in failures}
        operations: list[PatchOp] = []
        touched: list[str] = []
        notes: list[str] = []
        for logical_id, resource in sorted(resources_of(template.document).items()):
            rule = name_rule(str(resource.get("Type")), region)
            if rule is None or rule.prop not in props(resource):
                continue
            value = props(resource)[rule.prop]
            problem = rule.problem(value) if isinstance(value, str) else None
            if problem is None and not (logical_id in failing and not isinstance(value, str)):
                continue
            where = ptr("Resources", logical_id, "Properties", rule.prop)
            if not _referred_by_literal(template.document, logical_id, rule.prop, value):
                operations.append(PatchOp("remove", where))
                touched.append(logical_id)
                notes.append(f"{logical_id}: dropped {rule.prop} ({problem or 'the service refused it'}); "
                             "nothing refers to it by literal, CloudFormation generates a valid name")
                continue
            short = shorten(value, rule) if isinstance(value, str) else None
            if short is None:
                notes.append(f"{logical_id}: refused, {rule.prop} is referred to by literal and cannot be "
                             f"shortened within the rule ({problem or 'built by an intrinsic function'})")
                continue
            operations.append(PatchOp("replace", where, short))
            touched.append(logical_id)
            notes.append(f"{logical_id}: shortened {rule.prop} to {short} ({problem}); update what refers to it")
        rationale = ("Custom names that break their service's naming rule: " + "; ".join(notes)) if touched else (
            "No custom name breaks its rule; nothing to change.")
        return RepairPlan(repair=self.id, operations=operations, rationale=rationale, resources=touched, notes=notes)


class NameAlreadyExists(Repair):
    """Give the failing resources' taken custom names a short stable suffix (kept within the naming rule).

    A leftover of this tool's own earlier run is better removed by `cfn-autofix sweep`; a name owned by
    someone else cannot be taken back, so a new name is the deterministic way forward in a sandbox."""

    id = "name-already-exists"
    description = "suffix a custom name that already exists, within the service's naming rule"
    source_url = SOURCE_URL

    def plan(self, template, graph, failures: list[Failure], params: dict) -> RepairPlan:
        region = str((params or {}).get("region") or "us-east-1")
        resources = resources_of(template.document)
        operations: list[PatchOp] = []
        touched: list[str] = []
        notes: list[str] = []
        for failure in failures:
            resource = resources.get(failure.logical_id)
            rule = name_rule(str((resource or {}).get("Type")), region) if resource else None
            if rule is None or rule.prop not in props(resource):
                notes.append(f"{failure.logical_id}: no custom name property to change")
                continue
            value = props(resource)[rule.prop]
            taken = str(failure.details.get("identifier") or failure.details.get("name") or "")
            if not isinstance(value, str) or (taken and taken.rstrip(".") != value):
                notes.append(f"{failure.logical_id}: the taken name is not this resource's literal {rule.prop}; "
                             "nothing changed")
                continue
            suffix = "-" + _digest(f"{failure.logical_id}/{value}", 6)
            limit = rule.max_length or len(value) + len(suffix)
            new = value[: limit - len(suffix)] + suffix
            if rule.problem(new) is not None:
                notes.append(f"{failure.logical_id}: refused, a suffixed name breaks the naming rule")
                continue
            operations.append(PatchOp("replace", ptr("Resources", failure.logical_id, "Properties", rule.prop), new))
            touched.append(failure.logical_id)
            notes.append(f"{failure.logical_id}: {value} is taken; renamed to {new}")
        rationale = ("Custom names already taken: " + "; ".join(notes)) if touched else (
            "No taken custom name of this template to change; " + ("; ".join(notes) or "nothing to change."))
        return RepairPlan(repair=self.id, operations=operations, rationale=rationale, resources=touched, notes=notes)
