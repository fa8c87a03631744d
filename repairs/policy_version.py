"""Repair for a policy document without Version: add Version 2012-10-17, the current policy language."""

from __future__ import annotations

from orchestrator.iam.documents import CURRENT, missing_version
from orchestrator.model import Failure, PatchOp, RepairPlan
from orchestrator.repairs.base import Repair, ptr


class PolicyVersion(Repair):
    """Add Version: 2012-10-17 to every policy document of the template that has none (the whole class)."""

    id = "policy-version"
    description = "add Version 2012-10-17 to policy documents that have none"
    source_url = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html"

    def plan(self, template, graph, failures: list[Failure], params: dict) -> RepairPlan:
        operations: list[PatchOp] = []
        touched: list[str] = []
        for logical_id, where, _ in missing_version(template.document):
            operations.append(PatchOp("add", ptr("Resources", logical_id, "Properties", *where, "Version"), CURRENT))
            if logical_id not in touched:
                touched.append(logical_id)
        rationale = (
            f"Added Version {CURRENT} to the policy documents of {', '.join(touched)}: without it IAM and S3 read a "
            "document as the 2008-10-17 language and refuse it. The statements are unchanged, so nothing is granted."
            if touched else "Every policy document already declares its Version; nothing to change."
        )
        return RepairPlan(repair=self.id, operations=operations, rationale=rationale, resources=touched)
