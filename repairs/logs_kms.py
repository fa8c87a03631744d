"""Repair for a KMS key whose key policy does not let CloudWatch Logs use it for a log group."""

from __future__ import annotations

import copy
import re

from orchestrator.iam import policy
from orchestrator.model import Failure, PatchOp, RepairPlan
from orchestrator.iam.privilege import privilege_delta, privilege_set, required_logs_grant
from orchestrator.repairs.base import Repair, as_list, props, ptr, resources_of
from orchestrator.template import refs
from orchestrator.template.intrinsics import PlaceholderValues, Resolver, Unresolvable

SID = "AllowCloudWatchLogsUseOfKey"
_LOG_ARN = re.compile(r"arn:(?P<partition>[^:]+):logs:(?P<region>[^:]+):(?P<account>\d{12}):log-group:(?P<name>.+?)(?::\*)?$")
_KEY_ARN = re.compile(r"arn:[^:]+:kms:[^:]*:\d*:(?P<kind>key|alias)/(?P<id>.+)$")


def logs_statement(sid: str = SID) -> dict:
    """The dedicated statement CloudWatch Logs needs (encrypt-log-data-kms page), scoped to this account and region."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Principal": {"Service": {"Fn::Sub": "logs.${AWS::Region}.amazonaws.com"}},
        "Action": ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"],
        "Resource": "*",
        "Condition": {
            "ArnLike": {
                "kms:EncryptionContext:aws:logs:arn": {
                    "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:*"
                }
            }
        },
    }


# What KMS applies when a key has no KeyPolicy: the account root may use the key through IAM.
DEFAULT_KEY_STATEMENT = {
    "Sid": "EnableIAMUserPermissions",
    "Effect": "Allow",
    "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}},
    "Action": "kms:*",
    "Resource": "*",
}


def key_of(value, resources: dict[str, dict], physical: dict[str, str], seen: frozenset = frozenset()) -> tuple[str | None, str]:
    """The logical id of the AWS::KMS::Key a KmsKeyId/TargetKeyId value designates, or (None, why not)."""
    target = refs.target_of(value)
    if target is None and isinstance(value, dict) and "Fn::Sub" in value:
        names = sorted(refs.refs_in(value, resources))
        target = names[0] if len(names) == 1 else None
    if target is None and isinstance(value, str):
        if value in physical:
            target = physical[value]
        else:
            match = _KEY_ARN.match(value)
            if match and match["id"] in physical:
                target = physical[match["id"]]
            alias = f"alias/{match['id']}" if match and match["kind"] == "alias" else value
            if target is None and alias.startswith("alias/"):
                target = next(
                    (lid for lid, r in resources.items()
                     if r.get("Type") == "AWS::KMS::Alias" and props(r).get("AliasName") == alias),
                    None,
                )
    if target is None:
        return None, f"the key {value!r} is not a key of this template"
    if target in seen:
        return None, f"alias loop through {target}"
    resource = resources.get(target)
    if resource is None:
        return None, f"the key comes from {target}, which is not a resource of this template"
    kind = resource.get("Type")
    if kind == "AWS::KMS::Key":
        return target, ""
    if kind == "AWS::KMS::Alias":
        return key_of(props(resource).get("TargetKeyId"), resources, physical, seen | {target})
    return None, f"the key comes from {target} ({kind}), not an AWS::KMS::Key"


def _context(failures: list[Failure], params: dict) -> PlaceholderValues:
    """The target the repair evaluates for: a failing log group's ARN, else the params, else the placeholders."""
    target: dict[str, str] = {}
    for failure in failures:
        match = _LOG_ARN.match(failure.details.get("log_group_arn") or "")
        if match:
            target = {"partition": match["partition"], "region": match["region"], "account_id": match["account"]}
            break
    for key in ("region", "account_id", "partition"):
        if (params or {}).get(key):
            target[key] = str(params[key])
    return PlaceholderValues(**target)


def _log_group_arn(logical_id: str, resolver: Resolver, failing: dict[str, str]) -> str:
    if logical_id in failing:
        return failing[logical_id]
    values: PlaceholderValues = resolver.values  # type: ignore[assignment]
    try:
        name = resolver.physical_id(logical_id)
    except Unresolvable:
        name = None
    # The same name the forecast uses: CloudFormation's generated name when none is given or known.
    return values.log_group_arn(name if isinstance(name, str) else values.generated_name(logical_id))


class LogsKmsKeyPolicy(Repair):
    """Add one dedicated statement for the regional CloudWatch Logs principal to every key of the template that
    a log group uses and whose policy does not already let Logs use it; existing statements stay untouched."""

    id = "logs-kms-key-policy"

    def plan(self, template, graph, failures: list[Failure], params: dict) -> RepairPlan:
        resources = resources_of(template.document)
        physical: dict[str, str] = {}
        for failure in failures:
            physical.update(failure.details.get("physical_ids") or {})
        values = _context(failures, params)
        resolver = Resolver(template.document, values)
        failing = {f.logical_id: f.details["log_group_arn"] for f in failures if f.details.get("log_group_arn")}
        notes: list[str] = []
        groups_by_key: dict[str, list[str]] = {}
        for logical_id, resource in sorted(resources.items()):
            if resource.get("Type") != "AWS::Logs::LogGroup" or "KmsKeyId" not in props(resource):
                continue
            key, why = key_of(props(resource)["KmsKeyId"], resources, physical)
            if key:
                groups_by_key.setdefault(key, []).append(logical_id)
            else:
                notes.append(f"{logical_id}: cannot repair, {why}")

        operations: list[PatchOp] = []
        touched: list[str] = []
        before: set = set()
        after: set = set()
        required: set = set()
        partition, region, account = values.partition, values.region, values.account_id
        for key, groups in sorted(groups_by_key.items()):
            key_policy = props(resources[key]).get("KeyPolicy")
            if key_policy is not None and not isinstance(key_policy, dict):
                notes.append(f"{key}: cannot repair, KeyPolicy is not a JSON object")
                continue
            effective = key_policy if key_policy is not None else {"Version": "2012-10-17", "Statement": [DEFAULT_KEY_STATEMENT]}
            resolved = resolver.resolve_partial(effective)
            missing = []
            for group in groups:
                ok, _why = policy.logs_can_use_key(
                    resolved,
                    region=region,
                    account_id=account,
                    log_group_arn=_log_group_arn(group, resolver, failing),
                    partition=partition,
                )
                if not ok:
                    missing.append(group)
            if not missing:
                notes.append(f"{key}: the key policy already lets CloudWatch Logs use it for {', '.join(groups)}")
                continue
            old_statements = as_list(effective.get("Statement"))
            sids = {s.get("Sid") for s in old_statements if isinstance(s, dict)}
            sid, n = SID, 2
            while sid in sids:
                sid, n = f"{SID}{n}", n + 1
            statement = logs_statement(sid)
            base = ptr("Resources", key, "Properties", "KeyPolicy")
            if key_policy is None:
                operations.append(PatchOp("add", base, {"Version": "2012-10-17", "Statement": [copy.deepcopy(DEFAULT_KEY_STATEMENT), statement]}))
                notes.append(f"{key}: had no KeyPolicy; wrote KMS's default statement explicitly beside the logs statement")
            elif isinstance(key_policy.get("Statement"), list):
                operations.append(PatchOp("add", base + "/Statement/-", statement))
            elif "Statement" in key_policy:
                operations.append(PatchOp("replace", base + "/Statement", [key_policy["Statement"], statement]))
            else:
                operations.append(PatchOp("add", base + "/Statement", [statement]))
            touched.append(key)
            before |= privilege_set([effective], key)
            new_doc = {**effective, "Statement": [*old_statements, statement]}
            after |= privilege_set([new_doc], key)
            if required_logs_grant(statement):
                required |= privilege_set([{"Statement": [statement]}], key)
            notes.append(
                f"{key}: required grant for CloudWatch Logs, limited by the kms:EncryptionContext:aws:logs:arn "
                f"condition to log groups of this account and region (used by {', '.join(groups)})"
            )
        if touched:
            rationale = (
                f"The key policy of {', '.join(touched)} does not let CloudWatch Logs "
                f"(logs.<region>.amazonaws.com) use the key; added statement {SID} with the actions Logs needs, "
                "limited to this account's log groups in this region (encrypt-log-data-kms)."
            )
        else:
            rationale = "No key used by a log group of this template lacks the CloudWatch Logs statement; nothing to change."
        return RepairPlan(
            repair=self.id,
            operations=operations,
            rationale=rationale,
            resources=touched,
            privilege=privilege_delta(before, after, required=required) if touched else None,
            notes=notes,
        )
