"""Detector: AWS managed policy ARNs the target partition's catalog does not hold (renamed, moved, wrong partition)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from orchestrator.detectors.base import Detector, DetectorContext
from orchestrator.iam import policy
from orchestrator.model import FailureKind, Finding
from orchestrator.template.intrinsics import Unresolvable
from orchestrator.template.refs import refs_in, sub_names, sub_parts

_AWS_MANAGED_ARN = re.compile(r"^arn:(?P<partition>[\w-]+):iam::aws:policy/(?P<path>(?:[\w+=,.@-]+/)*)(?P<name>[\w+=,.@-]+)$")


class ManagedPolicyCatalog(Detector):
    id = "managed_policy_catalog"
    description = "AWS managed policy ARNs that the target partition's catalog does not hold."
    source_url = "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/policy-list.html"

    def find(self, ctx: DetectorContext, *, cases: Iterable[str] | None = None) -> list[Finding]:
        return _find(ctx)


MANAGED_POLICY_HOLDERS = {"AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"}


def _mentions_parameter(node: Any, parameters: dict) -> bool:
    if isinstance(node, dict):
        if "Ref" in node and node["Ref"] in parameters:
            return True
        sub = sub_parts(node)
        if sub is not None and any(name in parameters and name not in sub[1] for name in sub_names(sub[0])):
            return True
        return any(_mentions_parameter(v, parameters) for v in node.values())
    if isinstance(node, list):
        return any(_mentions_parameter(v, parameters) for v in node)
    return False


def _managed_policy_candidates(ctx: DetectorContext) -> Iterator[tuple[str, list, Any, bool]]:
    """(logical id, pointer parts, ARN node, fixable) for each managed policy a resource attaches.

    fixable is False for SAM resources: SAM, not the template, turns their names into ARNs.
    """
    for lid, resource in ctx.resources.items():
        if not isinstance(resource, dict):
            continue
        rtype = resource.get("Type")
        props = ctx.props(lid)
        if rtype in MANAGED_POLICY_HOLDERS:
            arns = props.get("ManagedPolicyArns")
            if isinstance(arns, list):
                for index, node in enumerate(arns):
                    yield lid, ["Resources", lid, "Properties", "ManagedPolicyArns", index], node, True
        elif rtype in ("AWS::Serverless::Function", "AWS::Serverless::StateMachine"):
            # SAM turns a bare name into arn:<partition>:iam::aws:policy/<name>.
            policies = props.get("Policies")
            if isinstance(policies, (str, dict)):
                policies = [policies]
            if isinstance(policies, list):
                for index, node in enumerate(policies):
                    if isinstance(node, dict) and not ("Fn::Sub" in node or "Fn::Join" in node):
                        continue  # an inline document or a SAM policy template
                    yield lid, ["Resources", lid, "Properties", "Policies", index], node, False


def _lookup_managed(arn: str, partition: str) -> dict | None:
    found = policy.managed_policy(arn)
    if found is None and partition != "aws":
        # The catalog is recorded in the aws partition; names are shared across partitions.
        found = policy.managed_policy(arn.replace(f"arn:{partition}:", "arn:aws:", 1))
    return found


def _find(ctx: DetectorContext) -> list[Finding]:
    findings: list[Finding] = []
    for lid, parts, node, fixable in _managed_policy_candidates(ctx):
        if refs_in(node, ctx.resources):
            continue  # a customer policy defined in this template
        if _mentions_parameter(node, ctx.document.get("Parameters") or {}):
            continue  # chosen at deploy time
        try:
            arn = ctx.resolver.resolve(node)
        except Unresolvable:
            continue
        if not isinstance(arn, str):
            continue
        if not arn.startswith("arn:") and parts[-2] == "Policies":
            # SAM looks a bare name up in the account's policy list, whatever the policy's path.
            if not policy.find_managed_policy_by_name(arn, partition=ctx.partition):
                message = f"{lid}: SAM policy {arn} is neither an AWS managed policy name nor a SAM policy template"
                rename = policy.known_rename(arn)
                if rename:
                    message += f"; AWS renamed {arn} to {rename}"
                findings.append(_policy_finding(
                    ctx, lid, parts, message,
                    {"policy_name": arn, "rename": rename, "reason": "renamed" if rename else "unknown"}, False))
            continue
        match = _AWS_MANAGED_ARN.match(arn)
        if not match:
            continue  # customer managed (arn:...:iam::<account>:policy/...) or not an ARN at all
        name, arn_partition = match.group("name"), match.group("partition")
        details: dict[str, Any] = {"policy_arn": arn, "policy_name": name, "pointer": "/" + "/".join(str(p) for p in parts)}
        if arn_partition != ctx.partition:
            suggested = arn.replace(f"arn:{arn_partition}:", "arn:${AWS::Partition}:", 1)
            details.update(alternatives=[suggested], reason="partition")
            message = (
                f"{lid}: managed policy {arn} names partition '{arn_partition}' but the target partition is "
                f"'{ctx.partition}'; use {suggested} in Fn::Sub"
            )
            findings.append(_policy_finding(ctx, lid, parts, message, details, fixable))
            continue
        if _lookup_managed(arn, ctx.partition) is not None:
            continue
        alternatives = [a for a in policy.find_managed_policy_by_name(name, partition=ctx.partition) if a != arn]
        rename = policy.known_rename(name)
        details.update(alternatives=alternatives, rename=rename)
        if alternatives:
            message = f"{lid}: managed policy {arn} does not exist; the name {name} exists at {', '.join(alternatives)}"
            details["reason"] = "path"
        elif rename:
            renamed = [a for a in policy.find_managed_policy_by_name(rename, partition=ctx.partition)]
            details["alternatives"] = renamed
            message = f"{lid}: managed policy {arn} does not exist; AWS renamed {name} to {rename}" + (
                f" ({renamed[0]})" if renamed else ""
            )
            details["reason"] = "renamed"
        else:
            message = f"{lid}: managed policy {arn} does not exist in partition {ctx.partition} (unknown name {name})"
            details["reason"] = "unknown"
            # No document to inline and no ARN to point at: only a person can choose the permissions.
            fixable = False
        findings.append(_policy_finding(ctx, lid, parts, message, details, fixable))
    return findings


def _policy_finding(ctx: DetectorContext, lid: str, parts: list, message: str, details: dict, fixable: bool) -> Finding:
    return Finding(
        playbook=FailureKind.MANAGED_POLICY.value,
        logical_id=lid,
        resource_type=ctx.rtype(lid),
        message=message,
        line=ctx.template.line_of(parts),
        fixable=fixable,
        severity="error",
        details=details,
    )
