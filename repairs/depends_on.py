"""Repair for a missing creation order: add DependsOn where no Ref/GetAtt/DependsOn path orders two resources."""

from __future__ import annotations

import re

from orchestrator.iam.policy import grants
from orchestrator.model import Failure, PatchOp, RepairPlan
from orchestrator.repairs.base import Repair, as_list, physical_map, props, resources_of, set_depends_on
from orchestrator.template.ordering import ordering_gaps
from orchestrator.template import refs

ATTACHMENT = "AWS::EC2::VPCGatewayAttachment"
_ROLE_ARN = re.compile(r"arn:[^:]+:(?:iam::\d*:role/(?:[^/\s]+/)*|sts::\d*:assumed-role/)(?P<name>[\w+=,.@-]+)")


def _attachments_for(resources: dict, *, gateways: set[str] = frozenset(), vpcs: set[str] = frozenset()) -> set[str]:
    found = set()
    for logical_id, resource in resources.items():
        if resource.get("Type") != ATTACHMENT:
            continue
        p = props(resource)
        gateway_refs = refs.targets(p.get("InternetGatewayId")) | refs.targets(p.get("VpnGatewayId"))
        if gateway_refs & gateways:
            found.add(logical_id)
        elif vpcs and refs.targets(p.get("VpcId")) & vpcs and "InternetGatewayId" in p:
            found.add(logical_id)
    return found


def _separate_policies(resources: dict, roles: set[str]) -> set[str]:
    return {
        logical_id
        for logical_id, resource in resources.items()
        if resource.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
        and refs.targets(props(resource).get("Roles")) & roles
    }


def _named_needs(failure: Failure, resources: dict, physical: dict[str, str], graph) -> tuple[set[str], str]:
    """What the failure's reason (through physical ids) or a forecast finding says the resource must wait for."""
    details = failure.details
    explicit = {name for name in as_list(details.get("depends_on")) if name in resources}
    if explicit:
        return explicit, "named by the finding"
    gateways = {physical[value] for value in as_list(details.get("gateway")) if value in physical}
    vpcs = {physical[value] for value in as_list(details.get("vpc")) if value in physical}
    if gateways or vpcs:
        found = _attachments_for(resources, gateways=gateways, vpcs=vpcs)
        if found:
            return found, "the gateway attachment named (by physical id) in the status reason"
    role_names = {m["name"] for m in _ROLE_ARN.finditer(failure.status_reason or "")} | set(as_list(details.get("role")))
    roles = {physical[name] for name in role_names if name in physical}
    roles |= {name for name in role_names if resources.get(name, {}).get("Type") == "AWS::IAM::Role"}
    if roles:
        policies = _separate_policies(resources, roles)
        if policies:
            return policies, "the separate policies of the role named in the status reason"
    if details.get("action") or details.get("api"):
        # A permission error that names no role of the template: the roles this resource reaches
        # (e.g. an event source mapping -> its function -> the execution role).
        reached = {n for n in graph.ancestors(failure.logical_id) if resources.get(n, {}).get("Type") == "AWS::IAM::Role"}
        policies = _separate_policies(resources, reached)
        if policies:
            return policies, "the separate policies of the roles it uses"
    return set(), ""


class AddDependsOn(Repair):
    """Insert DependsOn for the documented ordering cases (DependsOn attribute page).

    The failing resources say what is missing (through the reason's physical ids, or a forecast
    finding's `depends_on`); the documented-case scan (orchestrator/template/ordering.py) then finds every
    other resource of the template with the same missing ordering to the same resource, so the whole
    class is fixed at once. A pair that a Ref/GetAtt/DependsOn path already orders is reported and left
    alone (cfn-lint W3005); a pair whose DependsOn would close a cycle is refused.
    """

    id = "add-depends-on"

    def plan(self, template, graph, failures: list[Failure], params: dict) -> RepairPlan:
        if graph is None:
            from orchestrator.template.graph import build_graph

            graph = build_graph(template)
        resources = resources_of(template.document)
        physical = physical_map(failures)
        notes: list[str] = []
        unordered: dict[str, set[str]] = {}
        # Only certain gaps extend the class: a gap whose conditions are unknown or differ is never repaired.
        for gap in ordering_gaps(template.document, graph, grants=grants):
            if gap.certain:
                unordered.setdefault(gap.consumer, set()).add(gap.needed)

        pairs: set[tuple[str, str]] = set()
        targets: set[str] = set()
        for failure in failures:
            if failure.logical_id not in resources:
                notes.append(f"{failure.logical_id}: not a resource of this template")
                continue
            needed, why = _named_needs(failure, resources, physical, graph)
            if not needed:
                needed = unordered.get(failure.logical_id, set())
                why = "the documented DependsOn cases"
            if not needed:
                notes.append(
                    f"{failure.logical_id}: no documented DependsOn case applies without an existing ordering; nothing added"
                )
                continue
            pairs |= {(failure.logical_id, n) for n in needed if n != failure.logical_id}
            targets |= needed
            log_why = f"{failure.logical_id} must wait for {', '.join(sorted(needed))} ({why})"
            notes.append(log_why)
        # The whole class: every other resource missing the same ordering to the same resource.
        for consumer, needed in unordered.items():
            pairs |= {(consumer, n) for n in needed & targets}

        import networkx as nx  # here, not at import: loading the registry (every forecast) must not pay for it

        g = nx.DiGraph(graph.g)
        additions: dict[str, list[str]] = {}
        for consumer, needed in sorted(pairs):
            if consumer not in g or needed not in g:
                notes.append(f"{consumer} -> {needed}: not both in the dependency graph; nothing added")
                continue
            if nx.has_path(g, consumer, needed):
                via = "the template's Ref/GetAtt/DependsOn" if graph.depends_on(consumer, needed) else "a DependsOn this repair adds"
                notes.append(f"{consumer} already waits for {needed} through {via}; nothing added (W3005)")
                continue
            if nx.has_path(g, needed, consumer):
                notes.append(f"{consumer} -> {needed}: refused, {needed} already depends on {consumer}; DependsOn would make a cycle")
                continue
            g.add_edge(consumer, needed, kind="DependsOn")
            additions.setdefault(consumer, []).append(needed)

        operations: list[PatchOp] = []
        for consumer, needed in sorted(additions.items()):
            operations.extend(set_depends_on(resources[consumer], consumer, needed))
        if additions:
            rationale = "Added DependsOn where nothing ordered the resources: " + "; ".join(
                f"{consumer} -> {', '.join(needed)}" for consumer, needed in sorted(additions.items())
            ) + " (AWS DependsOn attribute page)."
        else:
            rationale = "No DependsOn added: every pair is already ordered, refused, or unknown (see notes)."
        return RepairPlan(
            repair=self.id,
            operations=operations,
            rationale=rationale,
            resources=sorted(additions),
            notes=notes,
        )
