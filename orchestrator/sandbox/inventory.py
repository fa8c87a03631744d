"""What a sandbox stack holds, for DescribeStackResources and the run's report: resources, stand-ins, fidelity."""

from __future__ import annotations

from typing import Any

from moto.cloudformation.models import Stack

from orchestrator.sandbox.engine import StackRuntime


def stack_resources(stack: Stack) -> list[dict[str, Any]]:
    """DescribeStackResources / ListStackResources rows from the sandbox's view (never creates anything)."""
    rt: StackRuntime | None = getattr(stack, "sbx", None)
    if rt is None:
        return []
    rows = []
    for state in rt.resources.values():
        if not state.status:
            continue
        rows.append({
            "StackName": stack.name,
            "StackId": stack.stack_id,
            "LogicalResourceId": state.logical_id,
            "PhysicalResourceId": state.physical_id or None,
            "ResourceType": state.resource_type,
            "ResourceStatus": state.status,
            "ResourceStatusReason": state.reason or None,
            "Timestamp": state.timestamp,
            "LastUpdatedTimestamp": state.timestamp,
            "DriftInformation": {"StackResourceDriftStatus": "NOT_CHECKED"},
        })
    return rows


def emulated_resources(stack: Stack) -> list[dict[str, str]]:
    rt: StackRuntime | None = getattr(stack, "sbx", None)
    if rt is None:
        return []
    return [
        {"logical_id": s.logical_id, "resource_type": s.resource_type, "physical_id": s.physical_id,
         "reason": s.emulation_reason}
        for s in rt.resources.values() if s.emulated
    ]


def fidelity(stack: Stack | None) -> dict[str, Any]:
    """What the sandbox really built for a stack: `modeled` by a service model, `stand_in` (generic
    emulation of a type no model covers), `skipped_by_condition`, and `sandbox_limitations` (a model
    that could not build a resource AWS would build)."""
    rt: StackRuntime | None = getattr(stack, "sbx", None) if stack is not None else None
    if rt is None:
        return {"modeled": [], "stand_in": [], "skipped_by_condition": [], "sandbox_limitations": []}
    built = [s for s in rt.resources.values() if s.status and not s.limitation]
    return {
        "modeled": sorted(s.logical_id for s in built if not s.emulated and s.physical_id),
        "stand_in": sorted(s.logical_id for s in built if s.emulated),
        "skipped_by_condition": sorted(rt.skipped_by_condition),
        "sandbox_limitations": [
            {"logical_id": s.logical_id, "resource_type": s.resource_type, "reason": s.limitation}
            for s in sorted(rt.resources.values(), key=lambda s: s.logical_id) if s.limitation
        ],
    }
