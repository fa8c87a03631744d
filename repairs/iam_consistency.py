"""Repair for IAM eventual consistency: DependsOn where the graph lacks the order, else retry with backoff."""

from __future__ import annotations

import dataclasses
import re

from orchestrator.model import Failure, RepairPlan
from orchestrator.repairs.base import Repair, props, resources_of
from orchestrator.repairs.depends_on import AddDependsOn

_ROLE_IN_ARN = re.compile(r":role/(?:[^/\s\"]+/)*(?P<name>[\w+=,.@-]+)")


def _template_roles_named(document: dict, names: set[str]) -> set[str]:
    found = set()
    for logical_id, resource in resources_of(document).items():
        if resource.get("Type") == "AWS::IAM::Role" and (props(resource).get("RoleName") in names or logical_id in names):
            found.add(logical_id)
    return found


def _separate_policies(document: dict, roles: set[str]) -> set[str]:
    from orchestrator.template import refs

    return {
        logical_id for logical_id, resource in resources_of(document).items()
        if resource.get("Type") in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy")
        and refs.targets(props(resource).get("Roles")) & roles
    }


class IamEventualConsistency(Repair):
    """The failing resource uses a role (or names one as a principal) that IAM had not propagated yet.

    When nothing orders the resource after that role, or after the role's separate policy, DependsOn adds the
    order (AWS DependsOn attribute page). When the order is already there, the template is right and the same
    template is deployed again after a backoff (`retries`)."""

    id = "iam-eventual-consistency"
    description = "add DependsOn on the role (or its separate policy) where nothing orders them; else retry with backoff"
    source_url = "https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_general.html#troubleshoot_general_eventual-consistency"
    retries = True

    def plan(self, template, graph, failures: list[Failure], params: dict) -> RepairPlan:
        document = template.document
        if graph is None:
            from orchestrator.template.graph import build_graph

            graph = build_graph(template)
        shaped: list[Failure] = []
        for failure in failures:
            if failure.logical_id not in graph:
                continue
            named = {m["name"] for m in _ROLE_IN_ARN.finditer(failure.status_reason or "")}
            roles = _template_roles_named(document, named) - {failure.logical_id}
            reached = {n for n in graph.ancestors(failure.logical_id)
                       if resources_of(document).get(n, {}).get("Type") == "AWS::IAM::Role"}
            needed = {r for r in roles if not graph.depends_on(failure.logical_id, r)}
            needed |= {p for p in _separate_policies(document, roles | reached)
                       if p != failure.logical_id and not graph.depends_on(failure.logical_id, p)}
            if needed:
                shaped.append(dataclasses.replace(failure, details={**failure.details, "depends_on": sorted(needed)}))
        if shaped:
            plan = AddDependsOn().plan(template, graph, shaped, params)
            if plan.operations:
                return dataclasses.replace(plan, repair=self.id, rationale=plan.rationale + (
                    " IAM is eventually consistent: the resource must not start before the role and its permissions exist."))
        return RepairPlan(
            repair=self.id,
            operations=[],
            rationale="the template already orders the resources after their roles; IAM had not propagated the role "
            "yet, so the same template is deployed again after a backoff",
            resources=sorted({f.logical_id for f in failures}),
        )
