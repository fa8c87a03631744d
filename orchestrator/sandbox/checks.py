"""What a fidelity rule works with: the failure it reports, the template's reference graph, the resource it checks."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from orchestrator.sandbox.context import SandboxContext
from orchestrator.template import refs

# ---------------------------------------------------------------------------------------------- failures


@dataclass
class RuleFailure:
    """A resource failure as CloudFormation reports it in ResourceStatusReason.

    form "handler": registry (Cloud Control) resource types write
      Resource handler returned message: "<msg> (Service: X, Status Code: N, Request ID: <uuid>)"
      (RequestToken: <uuid>, HandlerErrorCode: <code>)
    form "legacy": older resource providers write "<msg> (Service: X; Status Code: N; Error Code: E;
      Request ID: <uuid>; Proxy: null)"; form "plain": the message alone (e.g. "Internal Failure").
    """

    message: str
    handler_code: str = "InvalidRequest"
    service: str = ""
    status_code: int = 400
    error_code: str = ""
    form: str = "handler"

    def reason(self, new_id: Callable[[], str]) -> str:
        if self.form == "plain":
            return self.message
        if self.form == "legacy":
            return (f"{self.message} (Service: {self.service}; Status Code: {self.status_code}; "
                    f"Error Code: {self.error_code or self.handler_code}; Request ID: {new_id()}; Proxy: null)")
        return (f'Resource handler returned message: "{self.message} (Service: {self.service}, '
                f'Status Code: {self.status_code}, Request ID: {new_id()})" '
                f"(RequestToken: {new_id()}, HandlerErrorCode: {self.handler_code})")


def request_id_factory(ctx: SandboxContext) -> Callable[[], str]:
    """Seeded UUIDs so reason texts of a seeded sandbox are reproducible run to run."""

    def new_id() -> str:
        return str(uuid.UUID(int=ctx.race_rng.getrandbits(128), version=4))

    return new_id


# ---------------------------------------------------------------------------------------------- template graph


@dataclass
class TemplateGraph:
    """Resource dependencies as CloudFormation derives them (Ref, Fn::GetAtt, Fn::Sub, DependsOn).

    The sandbox keeps its own graph and rules, so it emulates AWS independently of the tool's graph module;
    only the reading of references is shared (orchestrator.template.refs).
    """

    resources: dict[str, dict]
    deps: dict[str, set[str]] = field(default_factory=dict)
    # Per-template facts the rules read for every resource (the gateway attachments), computed once.
    memo: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def build(cls, resources: dict[str, dict]) -> "TemplateGraph":
        graph = cls(resources=resources)
        for logical_id, definition in resources.items():
            found = refs.targets({k: v for k, v in definition.items() if k not in ("DependsOn", "Type")})
            found.update(refs.depends_on(definition))
            graph.deps[logical_id] = {d for d in found if d in resources and d != logical_id}
        return graph

    def has_path(self, source: str, target: str) -> bool:
        """source transitively depends on target."""
        seen, stack = set(), [source]
        while stack:
            node = stack.pop()
            for dep in self.deps.get(node, ()):
                if dep == target:
                    return True
                if dep not in seen:
                    seen.add(dep)
                    stack.append(dep)
        return False

    def dependents(self, logical_id: str) -> set[str]:
        return {r for r, d in self.deps.items() if logical_id in d}


# ---------------------------------------------------------------------------------------------- check context


@dataclass
class Check:
    """What a rule sees about one resource about to be created or updated."""

    ctx: SandboxContext
    logical_id: str
    resource_type: str
    definition: dict  # as written in the template (intrinsics unresolved)
    properties: dict  # resolved
    physical_name: str
    graph: TemplateGraph
    lookup: Callable[[str], Any]  # logical id -> created model (or None)
    account_id: str
    region: str
    partition: str = "aws"
    # logical id -> its CloudFormation status at this instant of the simulated clock ("" if never started)
    status_of: Callable[[str], str] = lambda _logical_id: ""

    @property
    def raw(self) -> dict:
        return self.definition.get("Properties") or {}

    def is_ready(self, logical_id: str) -> bool:
        """The resource exists and is usable now: its creation completed (or it is being updated in place)."""
        return self.status_of(logical_id) in _READY

    def physical_id_of(self, logical_id: str) -> str:
        model = self.lookup(logical_id)
        return getattr(model, "physical_resource_id", None) or logical_id


Rule = Callable[[Check], "RuleFailure | None"]
_READY = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_IN_PROGRESS", "UPDATE_FAILED", "IMPORT_COMPLETE"}
