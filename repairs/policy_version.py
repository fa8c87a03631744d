"""Repair for a managed policy IAM refuses for its policy language: set Version 2012-10-17."""

from __future__ import annotations

from orchestrator.iam.documents import CURRENT, version_problems
from orchestrator.model import Failure, PatchOp, RepairPlan
from orchestrator.repairs.base import Repair, ptr


class PolicyVersion(Repair):
    """Set Version: 2012-10-17 on every managed policy document IAM refuses for its language (no Version, or
    2008-10-17). Documents IAM and S3 accept without a Version are left alone: adding one would switch on
    policy variables they may contain, changing what they grant."""

    id = "policy-version"
    description = "set Version 2012-10-17 on managed policy documents IAM refuses for their policy language"
    source_url = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html"

    def plan(self, template, graph, failures: list[Failure], params: dict) -> RepairPlan:
        operations: list[PatchOp] = []
        touched: list[str] = []
        for problem in version_problems(template.document):
            if problem.kind != "managed-policy-language":
                continue
            operations.append(PatchOp("add", ptr("Resources", problem.logical_id, "Properties", *problem.where, "Version"), CURRENT))
            if problem.logical_id not in touched:
                touched.append(problem.logical_id)
        rationale = (
            f"Set Version {CURRENT} on the managed policy documents of {', '.join(touched)}: IAM creates a managed "
            "policy only in the 2012-10-17 language. The statements are unchanged; the policy did not exist before."
            if touched else "Every managed policy document already uses the 2012-10-17 language; nothing to change."
        )
        return RepairPlan(repair=self.id, operations=operations, rationale=rationale, resources=touched)
