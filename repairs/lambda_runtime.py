"""Repair for a deprecated Lambda runtime: the oldest still-supported runtime of the same language family."""

from __future__ import annotations

from datetime import date

from orchestrator.model import Failure, PatchOp, RepairPlan
from orchestrator.repairs.base import Repair, props, ptr, resources_of
from orchestrator.template import lambda_runtimes

FUNCTION_TYPES = ("AWS::Lambda::Function", "AWS::Serverless::Function")


class LambdaRuntime(Repair):
    """Move every function on a runtime Lambda refuses for create (the whole class) to the same family's oldest
    supported runtime; refuse where the family has none (go1.x needs a rebuild for provided.al2023).

    params: `today` (ISO date) fixes the lifecycle date, for reproducible plans.
    """

    id = "lambda-runtime"
    description = "replace a deprecated Lambda runtime by the oldest supported runtime of the same family"
    source_url = lambda_runtimes.SOURCE_URL

    def plan(self, template, graph, failures: list[Failure], params: dict) -> RepairPlan:
        today = date.fromisoformat(str(params["today"])) if (params or {}).get("today") else date.today()
        named = {str(f.details.get("runtime")) for f in failures if f.details.get("runtime")}
        operations: list[PatchOp] = []
        touched: list[str] = []
        notes: list[str] = []
        reasons: dict[str, str] = {}
        for logical_id, resource in sorted(resources_of(template.document).items()):
            if resource.get("Type") not in FUNCTION_TYPES:
                continue
            runtime = props(resource).get("Runtime")
            if not isinstance(runtime, str):
                continue
            if runtime not in named and not lambda_runtimes.blocked_for_create(runtime, today):
                continue
            found = lambda_runtimes.successor(runtime, today)
            if found is None:
                notes.append(f"{logical_id}: refused, {runtime} has no supported runtime of the same family "
                             "(the code must be migrated by a person)")
                continue
            new, why = found
            operations.append(PatchOp("replace", ptr("Resources", logical_id, "Properties", "Runtime"), new))
            touched.append(logical_id)
            reasons.setdefault(f"{runtime} -> {new}", why)
        rationale = " ".join(f"{change}: {why}" for change, why in reasons.items()) or (
            "No function uses a runtime Lambda refuses; nothing to change."
        )
        return RepairPlan(repair=self.id, operations=operations, rationale=rationale, resources=touched, notes=notes)
