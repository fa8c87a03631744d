"""Static detectors: predict known deployment failures from the template alone, one Finding per defect."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources as importlib_resources
from typing import Any

from orchestrator.iam import policy
from orchestrator.model import FailureKind, Finding

DEPENDS_ON_DOCS = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-dependson.html"
LOGS_KMS_DOCS = "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html"
MANAGED_POLICY_DOCS = "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/policy-list.html"

# A stable account id for the forecast: policies written with ${AWS::AccountId} resolve consistently.
PLACEHOLDER_ACCOUNT = "123456789012"
PLACEHOLDER_STACK = "cfn-autofix-forecast"

PSEUDO_PARAMETERS = {
    "AWS::Region",
    "AWS::AccountId",
    "AWS::Partition",
    "AWS::StackName",
    "AWS::StackId",
    "AWS::URLSuffix",
    "AWS::NoValue",
    "AWS::NotificationARNs",
}

_SUB_VAR = re.compile(r"\$\{([^}]*)\}")
_AWS_MANAGED_ARN = re.compile(r"^arn:(?P<partition>[\w-]+):iam::aws:policy/(?P<path>(?:[\w+=,.@-]+/)*)(?P<name>[\w+=,.@-]+)$")


def partition_for_region(region: str) -> str:
    """The AWS partition a region belongs to."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    if region.startswith("us-isob-"):
        return "aws-iso-b"
    if region.startswith("us-iso-"):
        return "aws-iso"
    return "aws"


# ---------------------------------------------------------------------------------------------
# Reference helpers over the long-form document


def sub_parts(node: Any) -> tuple[str, dict] | None:
    """(template string, variables) of a Fn::Sub node, or None."""
    if not isinstance(node, dict) or len(node) != 1 or "Fn::Sub" not in node:
        return None
    value = node["Fn::Sub"]
    if isinstance(value, str):
        return value, {}
    if isinstance(value, list) and value and isinstance(value[0], str):
        variables = value[1] if len(value) > 1 and isinstance(value[1], dict) else {}
        return value[0], variables
    return None


def _sub_names(text: str) -> Iterator[str]:
    for match in _SUB_VAR.finditer(text):
        name = match.group(1)
        if not name.startswith("!"):
            yield name


def getatt_parts(value: Any) -> tuple[str, str] | None:
    if isinstance(value, list) and len(value) >= 2 and isinstance(value[0], str):
        return value[0], ".".join(str(v) for v in value[1:]) if all(isinstance(v, str) for v in value[1:]) else ""
    if isinstance(value, str) and "." in value:
        lid, _, attr = value.partition(".")
        return lid, attr
    return None


def refs_in(node: Any, resources: dict) -> set[str]:
    """Logical ids of template resources that a node refers to through Ref, Fn::GetAtt or Fn::Sub."""
    found: set[str] = set()
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if len(item) == 1:
                (key, value), = item.items()
                if key == "Ref" and isinstance(value, str):
                    if value in resources:
                        found.add(value)
                    continue
                if key == "Fn::GetAtt":
                    parts = getatt_parts(value)
                    if parts and parts[0] in resources:
                        found.add(parts[0])
                    continue
                sub = sub_parts(item)
                if sub is not None:
                    text, variables = sub
                    for name in _sub_names(text):
                        base = name.split(".", 1)[0]
                        if name not in variables and base in resources:
                            found.add(base)
                    stack.extend(variables.values())
                    continue
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def select(node: Any, dotted: str) -> list[Any]:
    """Values at a property path below `node`; '[*]' expands every list item, missing keys yield nothing."""
    current = [node]
    for segment in dotted.split("."):
        expand = segment.endswith("[*]")
        key = segment[:-3] if expand else segment
        nxt: list[Any] = []
        for item in current:
            if isinstance(item, dict) and key in item:
                value = item[key]
                if expand:
                    if isinstance(value, list):
                        nxt.extend(value)
                else:
                    nxt.append(value)
        current = nxt
    return current


def scalar_equals(value: Any, expected: Any) -> bool:
    if isinstance(expected, bool):
        return str(value).lower() == str(expected).lower()
    return isinstance(value, (str, int, float)) and str(value).lower() == str(expected).lower()


# ---------------------------------------------------------------------------------------------
# Static resolver: intrinsic functions evaluated for a target region/partition


class Unresolvable(Exception):
    """A value depends on something only known at deploy time (a condition, an import, a custom resource)."""


_NOVALUE = object()


class StaticResolver:
    """Evaluates Ref / Fn::Sub / Fn::Join / Fn::GetAtt ... with pseudo parameters fixed for one target."""

    def __init__(
        self,
        document: dict,
        *,
        region: str,
        partition: str,
        account_id: str = PLACEHOLDER_ACCOUNT,
        stack_name: str = PLACEHOLDER_STACK,
        parameters: dict | None = None,
    ):
        self.document = document
        self.resources = document.get("Resources") or {}
        self.region = region
        self.partition = partition
        self.account_id = account_id
        self.stack_name = stack_name
        self.parameters = dict(parameters or {})
        self._resolving: set[str] = set()

    # -- pseudo parameters, parameters and resources ------------------------------------------
    def pseudo(self, name: str) -> Any:
        if name == "AWS::Region":
            return self.region
        if name == "AWS::AccountId":
            return self.account_id
        if name == "AWS::Partition":
            return self.partition
        if name == "AWS::StackName":
            return self.stack_name
        if name == "AWS::StackId":
            return f"arn:{self.partition}:cloudformation:{self.region}:{self.account_id}:stack/{self.stack_name}/00000000-0000-0000-0000-000000000000"
        if name == "AWS::URLSuffix":
            return "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com"
        if name == "AWS::NotificationARNs":
            return []
        if name == "AWS::NoValue":
            return _NOVALUE
        raise Unresolvable(f"unknown pseudo parameter {name}")

    def parameter(self, name: str) -> Any:
        spec = (self.document.get("Parameters") or {}).get(name) or {}
        value = self.parameters.get(name, spec.get("Default"))
        if value is None:
            # A stable stand-in: both sides of a comparison (say a log group name and a key policy
            # condition) that use the same parameter see the same value.
            value = f"{name}-value"
        if str(spec.get("Type", "")).startswith(("List<", "CommaDelimitedList")) and isinstance(value, str):
            return [part.strip() for part in value.split(",")]
        return value

    def physical_id(self, lid: str) -> str:
        resource = self.resources[lid]
        rtype = resource.get("Type", "")
        if rtype == "AWS::Logs::LogGroup":
            return self.log_group_name(lid)
        if rtype == "AWS::KMS::Key":
            return self.key_id(lid)
        if rtype == "AWS::KMS::Alias":
            name = (resource.get("Properties") or {}).get("AliasName")
            return self.resolve(name) if name is not None else f"alias/{lid}"
        return f"{self.stack_name}-{lid}"

    def key_id(self, lid: str) -> str:
        digest = hashlib.sha1(lid.encode()).hexdigest()
        return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"

    def log_group_name(self, lid: str) -> str:
        props = self.resources[lid].get("Properties") or {}
        if "LogGroupName" in props:
            if lid in self._resolving:
                raise Unresolvable(f"{lid} refers to itself")
            self._resolving.add(lid)
            try:
                name = self.resolve(props["LogGroupName"])
            finally:
                self._resolving.discard(lid)
            if isinstance(name, str):
                return name
            raise Unresolvable(f"LogGroupName of {lid} is not a string")
        # CloudFormation generates <stack>-<logical id>-<suffix> when no name is given.
        return f"{self.stack_name}-{lid}-GENERATED"

    def log_group_arn(self, lid: str) -> str:
        return f"arn:{self.partition}:logs:{self.region}:{self.account_id}:log-group:{self.log_group_name(lid)}"

    def getatt(self, lid: str, attr: str) -> Any:
        if lid not in self.resources:
            raise Unresolvable(f"Fn::GetAtt of unknown resource {lid}")
        rtype = self.resources[lid].get("Type", "")
        if rtype == "AWS::Logs::LogGroup" and attr == "Arn":
            return self.log_group_arn(lid) + ":*"
        if rtype == "AWS::KMS::Key" and attr == "Arn":
            return f"arn:{self.partition}:kms:{self.region}:{self.account_id}:key/{self.key_id(lid)}"
        if rtype == "AWS::KMS::Key" and attr == "KeyId":
            return self.key_id(lid)
        if rtype == "AWS::IAM::Role" and attr == "Arn":
            return f"arn:{self.partition}:iam::{self.account_id}:role/{self.stack_name}-{lid}"
        return f"{self.stack_name}-{lid}-{attr}"

    # -- the evaluator --------------------------------------------------------------------------
    def resolve(self, node: Any) -> Any:
        value = self._resolve(node)
        if value is _NOVALUE:
            raise Unresolvable("AWS::NoValue where a value is needed")
        return value

    def _resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            out = [self._resolve(item) for item in node]
            return [item for item in out if item is not _NOVALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, value), = node.items()
            if key == "Ref":
                return self._ref(value)
            if key == "Fn::GetAtt":
                parts = getatt_parts(value)
                if not parts or not parts[1]:
                    raise Unresolvable("Fn::GetAtt with a computed attribute")
                return self.getatt(*parts)
            if key == "Fn::Sub":
                return self._sub(node)
            if key == "Fn::Join":
                return self._join(value)
            if key == "Fn::Select":
                return self._select(value)
            if key == "Fn::Split":
                if not isinstance(value, list) or len(value) != 2:
                    raise Unresolvable("malformed Fn::Split")
                delimiter, text = self.resolve(value[0]), self.resolve(value[1])
                if not isinstance(delimiter, str) or not isinstance(text, str):
                    raise Unresolvable("Fn::Split of a non-string")
                return text.split(delimiter)
            if key == "Fn::FindInMap":
                return self._find_in_map(value)
            if key == "Fn::GetAZs":
                return [f"{self.region}{suffix}" for suffix in "abc"]
            if key == "Fn::Base64":
                return self.resolve(value)
            if key.startswith("Fn::") or key == "Condition":
                raise Unresolvable(f"{key} is only known at deploy time")
        out = {}
        for key, value in node.items():
            resolved = self._resolve(value)
            if resolved is not _NOVALUE:
                out[key] = resolved
        return out

    def _ref(self, name: Any) -> Any:
        if not isinstance(name, str):
            raise Unresolvable("Ref to a computed name")
        if name in PSEUDO_PARAMETERS:
            return self.pseudo(name)
        if name in (self.document.get("Parameters") or {}):
            return self.parameter(name)
        if name in self.resources:
            return self.physical_id(name)
        raise Unresolvable(f"Ref to unknown {name}")

    def _sub(self, node: dict) -> str:
        parts = sub_parts(node)
        if parts is None:
            raise Unresolvable("malformed Fn::Sub")
        text, variables = parts

        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                value = self.resolve(variables[name])
            elif "." in name and name.split(".", 1)[0] in self.resources:
                lid, attr = name.split(".", 1)
                value = self.getatt(lid, attr)
            else:
                value = self._ref(name)
            if isinstance(value, (list, dict)) or value is _NOVALUE:
                raise Unresolvable(f"${{{name}}} is not a string")
            return str(value)

        return _SUB_VAR.sub(replace, text)

    def _join(self, value: Any) -> str:
        if not isinstance(value, list) or len(value) != 2:
            raise Unresolvable("malformed Fn::Join")
        delimiter, items = self.resolve(value[0]), self.resolve(value[1])
        if not isinstance(delimiter, str) or not isinstance(items, list):
            raise Unresolvable("Fn::Join of a non-list")
        if any(isinstance(item, (list, dict)) for item in items):
            raise Unresolvable("Fn::Join of a structured value")
        return delimiter.join(str(item) for item in items)

    def _select(self, value: Any) -> Any:
        if not isinstance(value, list) or len(value) != 2:
            raise Unresolvable("malformed Fn::Select")
        index, items = self.resolve(value[0]), self.resolve(value[1])
        try:
            return items[int(index)]
        except (TypeError, ValueError, IndexError, KeyError) as exc:
            raise Unresolvable("Fn::Select out of range") from exc

    def _find_in_map(self, value: Any) -> Any:
        if not isinstance(value, list) or len(value) < 3:
            raise Unresolvable("malformed Fn::FindInMap")
        keys = [self.resolve(item) for item in value[:3]]
        try:
            return self.document["Mappings"][keys[0]][keys[1]][keys[2]]
        except (KeyError, TypeError) as exc:
            raise Unresolvable("Fn::FindInMap key not in the mapping") from exc


# ---------------------------------------------------------------------------------------------
# Detector registry


@dataclass
class DetectorContext:
    """What every detector sees: the template, its graph and the target."""

    template: Any  # orchestrator.template.Template
    graph: Any  # orchestrator.template.graph.DependencyGraph
    region: str = "us-east-1"
    partition: str = "aws"
    account_id: str = PLACEHOLDER_ACCOUNT
    parameters: dict = field(default_factory=dict)

    @property
    def document(self) -> dict:
        return self.template.document

    @property
    def resources(self) -> dict:
        return self.document.get("Resources") or {}

    @cached_property
    def resolver(self) -> StaticResolver:
        return StaticResolver(
            self.document,
            region=self.region,
            partition=self.partition,
            account_id=self.account_id,
            parameters=self.parameters,
        )

    def line(self, *parts: str | int) -> int | None:
        return self.template.line_of(list(parts))

    def rtype(self, lid: str) -> str:
        return str((self.resources.get(lid) or {}).get("Type", ""))

    def props(self, lid: str) -> dict:
        props = (self.resources.get(lid) or {}).get("Properties")
        return props if isinstance(props, dict) else {}


Detector = Callable[[DetectorContext], list[Finding]]
DETECTORS: dict[str, Detector] = {}


def register(name: str) -> Callable[[Detector], Detector]:
    """Register a detector under the name playbooks use in their `forecast:` key."""

    def wrap(func: Detector) -> Detector:
        if name in DETECTORS:
            raise ValueError(f"detector {name!r} is registered twice")
        DETECTORS[name] = func
        return func

    return wrap


def get(name: str) -> Detector:
    try:
        return DETECTORS[name]
    except KeyError:
        raise KeyError(f"unknown forecast detector {name!r}; known: {', '.join(sorted(DETECTORS))}") from None


# ---------------------------------------------------------------------------------------------
# managed_policy_catalog

MANAGED_POLICY_HOLDERS = {"AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"}


def _mentions_parameter(node: Any, parameters: dict) -> bool:
    if isinstance(node, dict):
        if "Ref" in node and node["Ref"] in parameters:
            return True
        sub = sub_parts(node)
        if sub is not None and any(name in parameters and name not in sub[1] for name in _sub_names(sub[0])):
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


@register("managed_policy_catalog")
def managed_policy_catalog(ctx: DetectorContext) -> list[Finding]:
    """AWS managed policy ARNs that the target partition's catalog does not hold."""
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


# ---------------------------------------------------------------------------------------------
# logs_kms_key_policy


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


@register("logs_kms_key_policy")
def logs_kms_key_policy(ctx: DetectorContext) -> list[Finding]:
    """Log groups encrypted with a template KMS key whose policy does not let CloudWatch Logs use it."""
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
            group_arn = ctx.resolver.log_group_arn(lid)
        except Unresolvable:
            group_arn = f"arn:{ctx.partition}:logs:{ctx.region}:{ctx.account_id}:log-group:{PLACEHOLDER_STACK}-{lid}-GENERATED"
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


# ---------------------------------------------------------------------------------------------
# dependson_cases


def load_dependson_cases() -> dict:
    """The documented DependsOn cases (orchestrator/data/dependson_cases.json)."""
    text = importlib_resources.files("orchestrator").joinpath("data/dependson_cases.json").read_text(encoding="utf-8")
    return json.loads(text)


class _Walker:
    """Follows references between resources along the hop paths of the DependsOn table."""

    def __init__(self, ctx: DetectorContext):
        self.ctx = ctx

    def hop(self, lids: Iterable[str], step: str) -> set[str]:
        resources = self.ctx.resources
        out: set[str] = set()
        lids = set(lids)
        if step.startswith("<-"):
            rtype, _, path = step[2:].partition(":")
            for other, resource in resources.items():
                if isinstance(resource, dict) and resource.get("Type") == rtype:
                    if any(refs_in(v, resources) & lids for v in select(self.ctx.props(other), path)):
                        out.add(other)
            return out
        for lid in lids:
            for value in select(self.ctx.props(lid), step):
                out |= refs_in(value, resources)
        return out

    def follow(self, lid: str, hops: Iterable[str]) -> set[str]:
        current = {lid}
        for step in hops:
            current = self.hop(current, step)
            if not current:
                break
        return current

    def condition(self, lid: str, cond: dict) -> bool:
        targets = self.follow(lid, cond.get("via", [])) if cond.get("via") else {lid}
        for target in targets:
            values = select(self.ctx.props(target), cond["path"])
            if "equals" in cond and any(scalar_equals(v, cond["equals"]) for v in values):
                return True
        return False


def _finding_dependson(ctx: DetectorContext, case: dict, consumer: str, needed: str, docs: str, extra: str = "") -> Finding:
    message = (
        f"{consumer} ({ctx.rtype(consumer)}) has no ordering with {needed} ({ctx.rtype(needed)}): {case['title']}"
        f"{extra}; add DependsOn: {needed} (see {docs})"
    )
    return Finding(
        playbook=case.get("playbook") or FailureKind.DEPENDS_ON.value,
        logical_id=consumer,
        resource_type=ctx.rtype(consumer),
        message=message,
        line=ctx.template.line_of(["Resources", consumer, "Type"]) or ctx.template.line_of(["Resources", consumer]),
        fixable=True,
        severity="error",
        details={"depends_on": needed, "case": case["id"], "docs": docs},
    )


def _igw_attachments_by_vpc(ctx: DetectorContext) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for lid in sorted(ctx.resources):
        if ctx.rtype(lid) != "AWS::EC2::VPCGatewayAttachment":
            continue
        props = ctx.props(lid)
        if "InternetGatewayId" not in props:
            continue
        for vpc in refs_in(props.get("VpcId"), ctx.resources):
            out.setdefault(vpc, []).append(lid)
    return out


def _needs(ctx: DetectorContext, walker: _Walker, case: dict, lid: str) -> list[tuple[str, str]]:
    """(needed logical id, extra message) pairs for one consumer under one case."""
    needs = case["needs"]
    kind = needs["kind"]
    props = ctx.props(lid)
    if kind == "gateway_attachment":
        gateways = {g for g in walker.follow(lid, [needs["via"]]) if ctx.rtype(g) in needs["gateway_types"]}
        out = []
        for other in sorted(ctx.resources):
            if ctx.rtype(other) == "AWS::EC2::VPCGatewayAttachment":
                if refs_in(ctx.props(other).get(needs["attachment_property"]), ctx.resources) & gateways:
                    out.append((other, ""))
        return out
    if kind == "vpc_internet_gateway_attachment":
        by_vpc = _igw_attachments_by_vpc(ctx)
        vpcs: set[str] = set()
        for hops in needs["vpc_via"]:
            vpcs |= {v for v in walker.follow(lid, hops) if ctx.rtype(v) == "AWS::EC2::VPC"}
        if not vpcs and needs.get("fallback_single_vpc"):
            all_vpcs = [v for v in ctx.resources if ctx.rtype(v) == "AWS::EC2::VPC"]
            if len(all_vpcs) == 1:
                vpcs = set(all_vpcs)
        return [(att, "") for vpc in sorted(vpcs) for att in by_vpc.get(vpc, [])]
    if kind == "all_siblings":
        apis = refs_in(props.get(needs["key"]), ctx.resources)
        if not apis:
            return []
        return [
            (other, "")
            for other in sorted(ctx.resources)
            if ctx.rtype(other) in needs["sibling_types"]
            and refs_in(ctx.props(other).get(needs["sibling_key"]), ctx.resources) & apis
        ]
    if kind == "any_forwarder":
        out = []
        for group in sorted(walker.follow(lid, [needs["via"]])):
            candidates = []
            for ftype, paths in needs["forwarders"].items():
                for other in sorted(ctx.resources):
                    if ctx.rtype(other) != ftype:
                        continue
                    if any(group in refs_in(v, ctx.resources) for p in paths for v in select(ctx.props(other), p)):
                        candidates.append(other)
            if candidates and not any(ctx.graph.is_ordered(lid, c) for c in candidates):
                out.append((candidates[0], f" (target group {group})"))
        return out
    if kind == "role_policy":
        return _role_policy_needs(ctx, needs, lid)
    raise ValueError(f"unknown DependsOn case kind {kind!r} in case {case['id']}")


def _role_keys(node: Any, pattern: re.Pattern) -> Iterator[Any]:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if isinstance(key, str) and pattern.search(key) and not key.startswith("Fn::"):
                    yield value
                else:
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)


def _role_policy_needs(ctx: DetectorContext, needs: dict, lid: str) -> list[tuple[str, str]]:
    pattern = re.compile(needs["role_key_pattern"])
    roles = set()
    for value in _role_keys(ctx.props(lid), pattern):
        roles |= {r for r in refs_in(value, ctx.resources) if ctx.rtype(r) in needs["role_types"]}
    out = []
    for role in sorted(roles):
        for other in sorted(ctx.resources):
            if ctx.rtype(other) in needs["policy_types"] and other != lid:
                attached = set()
                for value in select(ctx.props(other), needs["policy_roles_path"]):
                    attached |= refs_in(value, ctx.resources)
                if role in attached:
                    out.append((other, f" (role {role})"))
    return out


@register("dependson_cases")
def dependson_cases(ctx: DetectorContext, *, cases: Iterable[str] | None = None) -> list[Finding]:
    """Documented DependsOn cases where the graph has no path between the two resources."""
    table = load_dependson_cases()
    docs = table.get("docs", DEPENDS_ON_DOCS)
    wanted = set(cases) if cases is not None else None
    walker = _Walker(ctx)
    findings: list[Finding] = []
    seen: set[tuple[str, str]] = set()
    for case in table["cases"]:
        if wanted is not None and case["id"] not in wanted:
            continue
        types = case["consumer"]
        excluded = tuple(case.get("consumer_type_prefix_excluded", ()))
        for lid in sorted(ctx.resources):
            rtype = ctx.rtype(lid)
            if "*" not in types and rtype not in types:
                continue
            if excluded and rtype.startswith(excluded):
                continue
            if case.get("when") and not any(walker.condition(lid, c) for c in case["when"]):
                continue
            if any(walker.condition(lid, c) for c in case.get("unless", ())):
                continue
            for needed, extra in _needs(ctx, walker, case, lid):
                if needed == lid or (lid, needed) in seen:
                    continue
                # A Ref/GetAtt/DependsOn path in either direction already orders the two.
                if ctx.graph.is_ordered(lid, needed):
                    continue
                seen.add((lid, needed))
                findings.append(_finding_dependson(ctx, case, lid, needed, docs, extra))
    return findings
