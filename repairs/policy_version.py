"""Repair for a policy document without Version: add Version 2012-10-17, the current policy language."""

from __future__ import annotations

from typing import Any, Iterator

from orchestrator.model import Failure, PatchOp, RepairPlan
from orchestrator.repairs.base import Repair, as_list, props, ptr, resources_of

CURRENT = "2012-10-17"
# Where policy documents sit in the resource types that carry them (IAM, resource policies, key policies).
DOCUMENT_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "AWS::IAM::Policy": (("PolicyDocument",),),
    "AWS::IAM::ManagedPolicy": (("PolicyDocument",),),
    "AWS::IAM::Role": (("AssumeRolePolicyDocument",), ("Policies", "*", "PolicyDocument")),
    "AWS::IAM::User": (("Policies", "*", "PolicyDocument"),),
    "AWS::IAM::Group": (("Policies", "*", "PolicyDocument"),),
    "AWS::S3::BucketPolicy": (("PolicyDocument",),),
    "AWS::SQS::QueuePolicy": (("PolicyDocument",),),
    "AWS::SNS::TopicPolicy": (("PolicyDocument",),),
    "AWS::KMS::Key": (("KeyPolicy",),),
}


def _documents(node: Any, path: tuple[str, ...], here: tuple) -> Iterator[tuple[tuple, Any]]:
    if not path:
        yield here, node
        return
    head, rest = path[0], path[1:]
    if head == "*":
        for index, item in enumerate(as_list(node) if isinstance(node, list) else []):
            yield from _documents(item, rest, (*here, index))
    elif isinstance(node, dict) and head in node:
        yield from _documents(node[head], rest, (*here, head))


def missing_version(document: dict) -> Iterator[tuple[str, tuple, str]]:
    """(logical id, pointer parts under Properties, resource type) of every policy document without Version."""
    for logical_id, resource in sorted(resources_of(document).items()):
        for path in DOCUMENT_PATHS.get(str(resource.get("Type")), ()):
            for where, doc in _documents(props(resource), path, ()):
                # A string document (JSON text) or an intrinsic is left alone: it is not ours to rewrite.
                if isinstance(doc, dict) and "Statement" in doc and "Version" not in doc:
                    yield logical_id, where, str(resource.get("Type"))


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
