"""Detector: log groups encrypted with a template KMS key whose key policy does not let CloudWatch Logs use it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from orchestrator.detectors.base import Detector, DetectorContext
from orchestrator.iam import policy
from orchestrator.model import FailureKind, Finding
from orchestrator.template.intrinsics import Unresolvable
from orchestrator.template.refs import refs_in


class LogsKmsKeyPolicy(Detector):
    id = "logs_kms_key_policy"
    description = "Log groups encrypted with a template KMS key whose policy does not let CloudWatch Logs use it."
    source_url = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html"

    def find(self, ctx: DetectorContext, *, cases: Iterable[str] | None = None) -> list[Finding]:
        return _find(ctx)


def _key_of(ctx: DetectorContext, node: Any) -> str | None:
    """The AWS::KMS::Key (logical id) a KmsKeyId value points at, through aliases; None when external."""
    resources = ctx.resources
    for lid in sorted(refs_in(node, resources)):
        rtype = ctx.rtype(lid)
        if rtype == "AWS::KMS::Key":
            return lid
        if rtype == "AWS::KMS::Alias":
            target = _key_of(ctx, ctx.props(lid).get("TargetKeyId"))
            if target:
                return target
    if not isinstance(node, str):
        try:
            node = ctx.resolver.resolve(node)
        except Unresolvable:
            return None
    if isinstance(node, str) and "alias/" in node:
        alias_name = "alias/" + node.split("alias/", 1)[1]
        for lid, resource in resources.items():
            if isinstance(resource, dict) and resource.get("Type") == "AWS::KMS::Alias":
                try:
                    name = ctx.resolver.resolve(ctx.props(lid).get("AliasName"))
                except Unresolvable:
                    continue
                if name == alias_name:
                    return _key_of(ctx, ctx.props(lid).get("TargetKeyId"))
    return None


def _literal_accounts(document: Any) -> list[str]:
    return sorted(set(re.findall(r"(?<![\d])(\d{12})(?![\d])", json.dumps(document))))


def _find(ctx: DetectorContext) -> list[Finding]:
    findings: list[Finding] = []
    key_policies: dict[str, tuple[dict | None, str]] = {}
    for lid, resource in ctx.resources.items():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Logs::LogGroup":
            continue
        node = ctx.props(lid).get("KmsKeyId")
        if node is None:
            continue
        key = _key_of(ctx, node)
        if key is None:
            continue  # a key outside the template: nothing to check statically
        parts = ["Resources", lid, "Properties", "KmsKeyId"]
        if key not in key_policies:
            key_policies[key] = _resolved_key_policy(ctx, key)
        key_policy, problem = key_policies[key]
        try:
            group_arn = ctx.log_group_arn(lid)
        except Unresolvable:
            group_arn = ctx.log_group_arn(lid, generated=True)
        details = {"key_logical_id": key, "log_group_arn": group_arn, "region": ctx.region}
        if key_policy is None:
            findings.append(
                Finding(
                    playbook=FailureKind.LOGS_KMS.value,
                    logical_id=lid,
                    resource_type="AWS::Logs::LogGroup",
                    message=f"{lid}: cannot check whether CloudWatch Logs may use KMS key {key} ({problem})",
                    line=ctx.template.line_of(parts),
                    fixable=False,
                    severity="warning",
                    details=details,
                )
            )
            continue
        ok, reason = policy.logs_can_use_key(
            key_policy, region=ctx.region, account_id=ctx.account_id, log_group_arn=group_arn, partition=ctx.partition
        )
        if not ok:
            # A literal account in the policy is the account the author deploys to: judge it there.
            for account in _literal_accounts(key_policy):
                arn = group_arn.replace(f":{ctx.account_id}:", f":{account}:", 1)
                if policy.logs_can_use_key(
                    key_policy, region=ctx.region, account_id=account, log_group_arn=arn, partition=ctx.partition
                )[0]:
                    ok = True
                    break
        if ok:
            continue
        details["reason"] = reason
        findings.append(
            Finding(
                playbook=FailureKind.LOGS_KMS.value,
                logical_id=lid,
                resource_type="AWS::Logs::LogGroup",
                message=(
                    f"{lid}: KMS key {key} does not let logs.{ctx.region}.amazonaws.com use it for {group_arn}: {reason}"
                ),
                line=ctx.template.line_of(parts),
                fixable=True,
                severity="error",
                details=details,
            )
        )
    return findings


def _resolved_key_policy(ctx: DetectorContext, key: str) -> tuple[dict | None, str]:
    raw = ctx.props(key).get("KeyPolicy")
    if raw is None:
        # Without a KeyPolicy, KMS applies the default policy: only the account root, no service.
        return {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": f"arn:{ctx.partition}:iam::{ctx.account_id}:root"},
             "Action": "kms:*", "Resource": "*"}]}, ""
    try:
        resolved = ctx.resolver.resolve(raw)
    except Unresolvable as exc:
        return None, f"its KeyPolicy is only known at deploy time: {exc}"
    if isinstance(resolved, str):
        try:
            resolved = json.loads(resolved)
        except ValueError:
            return None, "its KeyPolicy is not a JSON document"
    if not isinstance(resolved, dict):
        return None, "its KeyPolicy is not a policy document"
    return resolved, ""
