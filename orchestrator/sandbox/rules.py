"""Fidelity rules: the AWS behaviours moto lacks, each a small check or fix-up run by the sandbox engine."""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
from typing import Any, Callable

from orchestrator.iam.policy import logs_can_use_key, managed_policy
from orchestrator.sandbox.checks import Check, Rule, RuleFailure, TemplateGraph, request_id_factory
from orchestrator.sandbox.properties import import_rest_api_body
from orchestrator.template import refs

__all__ = ["CHECKS", "POST_CREATE_FIXUPS", "PRE_CREATE_FIXUPS", "Check", "Rule", "RuleFailure", "TemplateGraph",
           "request_id_factory", "run_checks"]

# ---------------------------------------------------------------------------------------------- rule: managed policies


def managed_policy_arns(check: Check) -> RuleFailure | None:
    """AWS::IAM::Role/User/Group ManagedPolicyArns must name attachable policies.

    AWS: IAM AttachRolePolicy/AttachUserPolicy/AttachGroupPolicy answer NoSuchEntity (HTTP 404)
    "Policy <arn> does not exist or is not attachable." for an ARN that is not an AWS managed policy at
    exactly that path (e.g. arn:aws:iam::aws:policy/AWSCodeDeployRole, which lives under service-role/)
    or a customer policy that does not exist; CloudFormation fails the resource with HandlerErrorCode
    NotFound. moto ignores the property.
    """
    if check.resource_type not in ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"):
        return None
    for arn in check.properties.get("ManagedPolicyArns") or []:
        if not _policy_exists(check, arn):
            return RuleFailure(f"Policy {arn} does not exist or is not attachable.", "NotFound", "Iam", 404)
    return None


def _policy_exists(check: Check, arn: Any) -> bool:
    if not isinstance(arn, str):
        return False
    if ":iam::aws:policy/" in arn:
        return managed_policy(arn) is not None
    from moto.iam.models import iam_backends

    return arn in iam_backends[check.account_id][check.partition].managed_policies


def attach_managed_policies(check: Check, model: Any) -> None:
    """Attach the (validated) ManagedPolicyArns so ListAttachedRolePolicies shows them as on AWS.

    AWS managed policies are copied from moto's catalog into the account on first use, as if they had
    always been there (moto only preloads them with MOTO_IAM_LOAD_MANAGED_POLICIES).
    """
    if check.resource_type not in ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"):
        return
    from moto.iam.models import AWSManagedPolicy, iam_backends

    from orchestrator.iam.policy import managed_policy_catalog

    backend = iam_backends[check.account_id][check.partition]
    wanted = list(check.properties.get("ManagedPolicyArns") or [])
    for arn, policy in list(getattr(model, "managed_policies", {}).items()):
        if arn not in wanted:
            policy.detach_from(model)
    for arn in wanted:
        if arn in getattr(model, "managed_policies", {}):
            continue
        if arn not in backend.managed_policies and ":iam::aws:policy/" in arn:
            entry = managed_policy(arn)
            data = managed_policy_catalog()[entry["name"]]
            backend.managed_policies[arn] = AWSManagedPolicy.from_data(entry["name"], check.account_id, check.region, data)
        policy = backend.managed_policies[arn]
        name = getattr(model, "name", None) or check.physical_name
        if check.resource_type == "AWS::IAM::Role":
            policy.attach_to(backend.get_role(name))
        elif check.resource_type == "AWS::IAM::User":
            policy.attach_to(backend.get_user(name))
        elif check.resource_type == "AWS::IAM::Group":
            policy.attach_to(backend.get_group(name))


# ---------------------------------------------------------------------------------------------- rule: logs + KMS


def log_group_arn(check: Check) -> str:
    return f"arn:{check.partition}:logs:{check.region}:{check.account_id}:log-group:{check.physical_name}"


def logs_kms_key(check: Check) -> RuleFailure | None:
    """AWS::Logs::LogGroup KmsKeyId must be a key whose policy lets CloudWatch Logs use it.

    AWS (CloudWatch Logs, "Encrypt log data using AWS KMS"): CreateLogGroup/AssociateKmsKey fail with
    "The specified KMS key does not exist or is not allowed to be used with Arn '<log group arn>'" unless
    the key exists and its policy allows logs.<region>.amazonaws.com the KMS actions, with any
    kms:EncryptionContext:aws:logs:arn condition matching the group. moto drops KmsKeyId.
    """
    if check.resource_type != "AWS::Logs::LogGroup" or not check.properties.get("KmsKeyId"):
        return None
    arn = log_group_arn(check)
    failure = RuleFailure(
        f"The specified KMS key does not exist or is not allowed to be used with Arn '{arn}'",
        "InvalidRequest", "CloudWatchLogs", 400,
    )
    key = find_kms_key(check.account_id, check.region, str(check.properties["KmsKeyId"]))
    if key is None:
        return failure
    allowed, _why = logs_can_use_key(key.policy, region=check.region, account_id=check.account_id,
                                     log_group_arn=arn, partition=check.partition)
    return None if allowed else failure


def find_kms_key(account_id: str, region: str, key_ref: str) -> Any:
    from moto.kms.models import kms_backends

    match = re.match(r"^arn:[^:]+:kms:([^:]+):(\d{12}):", key_ref)
    if match:
        region, account_id = match.group(1), match.group(2)
    backend = kms_backends[account_id][region]
    try:
        return backend.keys.get(backend.any_id_to_key_id(key_ref))
    except Exception:  # noqa: BLE001 - moto raises various errors for unknown aliases; all mean "no such key"
        return None


def keep_log_group_kms_key(check: Check, model: Any) -> None:
    """Keep KmsKeyId on the group so DescribeLogGroups reports kmsKeyId as AWS does (moto drops it)."""
    if check.resource_type == "AWS::Logs::LogGroup" and check.properties.get("KmsKeyId"):
        model.kms_key_id = check.properties["KmsKeyId"]


def store_key_policy_as_json(check: Check, model: Any) -> None:
    """AWS::KMS::Key KeyPolicy is a JSON document on AWS; moto keeps the template's dict, which later breaks
    DescribeKey/GetKeyPolicy, and ignores a changed KeyPolicy on update. Store the template's policy as
    JSON text on create and update."""
    if check.resource_type != "AWS::KMS::Key":
        return
    policy = check.properties.get("KeyPolicy")
    if isinstance(policy, (dict, list)):
        model.policy = json.dumps(policy)
    elif isinstance(getattr(model, "policy", None), (dict, list)):
        model.policy = json.dumps(model.policy)


def default_key_policy(check: Check) -> None:
    """KeyPolicy is optional on AWS (a default policy applies); moto's model requires it."""
    if check.resource_type == "AWS::KMS::Key":
        check.properties.setdefault("KeyPolicy", None)


# ---------------------------------------------------------------------------------------------- rule: gateway race


def _attachments(graph: TemplateGraph) -> list[tuple[str, str, str | None]]:
    """(attachment, internet gateway, vpc) logical ids of every IGW VPCGatewayAttachment in the template."""
    if "attachments" in graph.memo:
        return graph.memo["attachments"]
    found = graph.memo["attachments"] = []
    for logical_id, definition in graph.resources.items():
        if definition.get("Type") != "AWS::EC2::VPCGatewayAttachment":
            continue
        props = definition.get("Properties") or {}
        igw = refs.target_of(props.get("InternetGatewayId"))
        if igw:
            found.append((logical_id, igw, refs.target_of(props.get("VpcId"))))
    return found


def _vpc_of_subnet(graph: TemplateGraph, subnet: str | None) -> str | None:
    definition = graph.resources.get(subnet or "")
    if not definition or definition.get("Type") != "AWS::EC2::Subnet":
        return None
    return refs.target_of((definition.get("Properties") or {}).get("VpcId"))


def _subnet_is_public(graph: TemplateGraph, subnet: str | None) -> bool:
    props = (graph.resources.get(subnet or "") or {}).get("Properties") or {}
    return str(props.get("MapPublicIpOnLaunch", "false")).lower() == "true"


def _launch_template_public(graph: TemplateGraph, spec: Any) -> bool:
    if not isinstance(spec, dict):
        return False
    template = refs.target_of(spec.get("LaunchTemplateId")) or refs.target_of(spec.get("LaunchTemplateName"))
    data = ((graph.resources.get(template or "") or {}).get("Properties") or {}).get("LaunchTemplateData") or {}
    return any(str(ni.get("AssociatePublicIpAddress", "false")).lower() == "true"
               for ni in data.get("NetworkInterfaces") or [] if isinstance(ni, dict))


def _needs_internet_gateway(check: Check) -> tuple[str | None, str]:
    """(vpc logical id, message kind) when the resource needs an attached internet gateway, else (None, "")."""
    graph, raw, kind = check.graph, check.raw, check.resource_type
    attachments = _attachments(graph)
    if kind == "AWS::EC2::EIP":
        # AllocateAddress checks no VPC; associating the address (AssociateAddress) needs the attached gateway.
        if not raw.get("InstanceId") and not raw.get("NetworkInterfaceId"):
            return None, ""
        instance = graph.resources.get(refs.target_of(raw.get("InstanceId")) or "") or {}
        vpc = _vpc_of_subnet(graph, refs.target_of((instance.get("Properties") or {}).get("SubnetId")))
        if vpc is None and attachments:
            vpc = attachments[0][2]
        return vpc, "network"
    if kind == "AWS::EC2::NatGateway":
        if str(raw.get("ConnectivityType", "public")).lower() == "private":
            return None, ""
        return _vpc_of_subnet(graph, refs.target_of(raw.get("SubnetId"))), "network"
    if kind == "AWS::EC2::Instance":
        subnets = [refs.target_of(raw.get("SubnetId"))]
        public = _subnet_is_public(graph, subnets[0])
        for ni in raw.get("NetworkInterfaces") or []:
            if isinstance(ni, dict):
                subnets.append(refs.target_of(ni.get("SubnetId")))
                public = public or str(ni.get("AssociatePublicIpAddress", "false")).lower() == "true"
        vpcs = [v for v in (_vpc_of_subnet(graph, s) for s in subnets) if v]
        return (vpcs[0], "network") if public and vpcs else (None, "")
    if kind == "AWS::AutoScaling::AutoScalingGroup":
        subnets = [refs.target_of(s) for s in raw.get("VPCZoneIdentifier") or []] if isinstance(raw.get("VPCZoneIdentifier"), list) else []
        public = any(_subnet_is_public(graph, s) for s in subnets) or _launch_template_public(graph, raw.get("LaunchTemplate"))
        vpcs = [v for v in (_vpc_of_subnet(graph, s) for s in subnets) if v]
        return (vpcs[0], "network") if public and vpcs else (None, "")
    if kind in ("AWS::ElasticLoadBalancingV2::LoadBalancer", "AWS::ElasticLoadBalancing::LoadBalancer"):
        if str(raw.get("Scheme", "internet-facing")).lower() == "internal":
            return None, ""
        subnets = raw.get("Subnets") if isinstance(raw.get("Subnets"), list) else []
        subnets = [refs.target_of(s) for s in subnets]
        subnets += [refs.target_of(m.get("SubnetId")) for m in raw.get("SubnetMappings") or [] if isinstance(m, dict)]
        vpcs = [v for v in (_vpc_of_subnet(graph, s) for s in subnets) if v]
        return (vpcs[0], "vpc") if vpcs else (None, "")
    return None, ""


def gateway_attachment_race(check: Check) -> RuleFailure | None:
    """Resources that need the VPC's internet gateway attached must be ordered after the attachment.

    AWS DependsOn attribute page: a route through an internet gateway, an EIP in a VPC, a NAT gateway and
    instances, Auto Scaling groups and load balancers with public addresses need the
    AWS::EC2::VPCGatewayAttachment; EC2/ELB reject them when the gateway is not attached at the moment
    they are created. The sandbox lets the simulated clock decide: the consumer loses only when the
    attachment has not completed when the consumer starts (with SandboxConfig.race_probability, 1.0:
    always), so any ordering that gets there first, by whatever path, wins.
    """
    attachments = _attachments(check.graph)
    if not attachments:
        return None
    if check.resource_type == "AWS::EC2::Route":
        igw = refs.target_of(check.raw.get("GatewayId"))
        for attachment, gateway, _vpc in attachments:
            if gateway == igw and not check.is_ready(attachment) and check.ctx.loses_race():
                rtb = check.properties.get("RouteTableId") or check.physical_id_of(refs.target_of(check.raw.get("RouteTableId")) or "")
                return RuleFailure(
                    f"Route table {rtb} and network gateway {check.properties.get('GatewayId') or igw} belong to different networks",
                    "InvalidRequest", "Ec2", 400,
                )
        return None
    vpc, kind = _needs_internet_gateway(check)
    if vpc is None:
        return None
    for attachment, _gateway, attached_vpc in attachments:
        if attached_vpc == vpc and not check.is_ready(attachment) and check.ctx.loses_race():
            vpc_id = check.physical_id_of(vpc)
            if not str(vpc_id).startswith("vpc-"):
                # The VPC is still being created in the same wave: AWS names the network by an id all the same.
                vpc_id = "vpc-" + hashlib.sha1(f"{check.ctx.account_id}:{vpc}".encode()).hexdigest()[:17]
            if kind == "vpc":
                return RuleFailure(f"VPC {vpc_id} has no internet gateway", "InvalidRequest", "ElasticLoadBalancingV2",
                                   400, "InvalidSubnet", form="legacy")
            if check.resource_type in ("AWS::EC2::EIP", "AWS::EC2::Instance", "AWS::AutoScaling::AutoScalingGroup"):
                return RuleFailure(f"Network {vpc_id} has no Internet gateway attached", "InvalidRequest",
                                   "AmazonEC2", 400, "Gateway.NotAttached", form="legacy")
            return RuleFailure(f"Network {vpc_id} has no Internet gateway attached", "InvalidRequest", "Ec2", 400)
    return None


# ---------------------------------------------------------------------------------------------- rule: role policy race

# Where each consumer type names its role.
ROLE_PROPERTIES = {
    "AWS::Lambda::Function": "Role",
    "AWS::CodeBuild::Project": "ServiceRole",
    "AWS::CodePipeline::Pipeline": "RoleArn",
    "AWS::StepFunctions::StateMachine": "RoleArn",
    "AWS::CodeDeploy::DeploymentGroup": "ServiceRoleArn",
    "AWS::ECS::Service": "Role",
}


def role_policy_race(check: Check) -> RuleFailure | None:
    """A resource whose role gets its permissions from a separate AWS::IAM::Policy fails when the service
    checks the role before that policy is attached.

    AWS DependsOn attribute page ("IAM role policy"): CloudFormation may create the resource before the
    policy attaches, and the service then fails it with an authorisation error. The simulated clock
    decides: the consumer loses only when the policy has not completed when the consumer starts (with
    SandboxConfig.race_probability, 1.0: always). Lambda's CreateFunction evaluates no policy of the role
    except for a function in a VPC, which needs the EC2 network-interface permissions at creation.
    """
    prop = ROLE_PROPERTIES.get(check.resource_type)
    role = refs.target_of(check.raw.get(prop)) if prop else None
    if not role or (check.graph.resources.get(role) or {}).get("Type") != "AWS::IAM::Role":
        return None
    if check.resource_type == "AWS::Lambda::Function":
        return _lambda_vpc_permissions(check, role)
    for logical_id, props in _separate_policies(check, role):
        if check.is_ready(logical_id) or not check.ctx.loses_race():
            continue
        role_arn = getattr(check.lookup(role), "arn", None) or f"arn:{check.partition}:iam::{check.account_id}:role/{role}"
        if check.resource_type == "AWS::CodeBuild::Project":
            return RuleFailure(f"CodeBuild is not authorized to perform: sts:AssumeRole on {role_arn}",
                               "InvalidRequest", "AWSCodeBuild", 400, "InvalidInputException", form="legacy")
        action = _first_action(props.get("PolicyDocument")) or "iam:PassRole"
        role_name = role_arn.rsplit("/", 1)[-1]
        return RuleFailure(
            f"User: arn:{check.partition}:sts::{check.account_id}:assumed-role/{role_name}/AWSCloudFormation "
            f"is not authorized to perform: {action} because no identity-based policy allows the {action} action",
            "AccessDenied", check.resource_type.split("::")[1], 403,
        )
    return None


def _separate_policies(check: Check, role: str) -> list[tuple[str, dict]]:
    found = []
    for logical_id, definition in check.graph.resources.items():
        if definition.get("Type") not in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            continue
        props = definition.get("Properties") or {}
        if role in [refs.target_of(r) for r in props.get("Roles") or []]:
            found.append((logical_id, props))
    return found


ENI_ACTION = "ec2:CreateNetworkInterface"


def _lambda_vpc_permissions(check: Check, role: str) -> RuleFailure | None:
    """Lambda CreateFunction with VpcConfig: the execution role must allow ec2:CreateNetworkInterface
    (and the other ENI actions) at that moment, else "The provided execution role does not have
    permissions to call CreateNetworkInterface on EC2"."""
    if not check.raw.get("VpcConfig"):
        return None
    role_props = (check.graph.resources.get(role) or {}).get("Properties") or {}
    documents = [p.get("PolicyDocument") for p in role_props.get("Policies") or [] if isinstance(p, dict)]
    model = check.lookup(role)
    for policy in (getattr(model, "managed_policies", None) or {}).values():
        version = getattr(policy, "default_version", None) or (policy.versions[-1] if getattr(policy, "versions", None) else None)
        documents.append(getattr(version, "document", None))
    for arn in role_props.get("ManagedPolicyArns") or []:
        entry = managed_policy(arn) if isinstance(arn, str) else None
        documents.append(entry["document"] if entry else None)
    documents += [props.get("PolicyDocument") for lid, props in _separate_policies(check, role) if check.is_ready(lid)]
    if any(_allows(document, ENI_ACTION) for document in documents) or not check.ctx.loses_race():
        return None
    return RuleFailure("The provided execution role does not have permissions to call CreateNetworkInterface on EC2",
                       "InvalidRequest", "Lambda", 400)


def _allows(document: Any, action: str) -> bool:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return False
    statements = document.get("Statement") if isinstance(document, dict) else None
    statements = statements if isinstance(statements, list) else [statements] if statements else []
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        actions = statement.get("Action")
        actions = [actions] if isinstance(actions, str) else actions if isinstance(actions, list) else []
        if any(isinstance(a, str) and fnmatch.fnmatchcase(action.lower(), a.lower()) for a in actions):
            return True
    return False


def _first_action(document: Any) -> str | None:
    statements = (document or {}).get("Statement") if isinstance(document, dict) else None
    for statement in statements if isinstance(statements, list) else [statements] if statements else []:
        actions = statement.get("Action") if isinstance(statement, dict) else None
        actions = [actions] if isinstance(actions, str) else actions or []
        if actions and isinstance(actions[0], str):
            return actions[0]
    return None


# ---------------------------------------------------------------------------------------------- rule: transient


def transient_failure(check: Check) -> RuleFailure | None:
    """FaultConfig.failing_resources fail once with "Internal Failure", then succeed.

    AWS: CloudFormation occasionally reports a bare "Internal Failure" for a resource; the same template
    succeeds when deployed again.
    """
    if check.logical_id not in check.ctx.config.faults.failing_resources:
        return None
    if check.logical_id in check.ctx.transient_failed:
        return None
    check.ctx.transient_failed.add(check.logical_id)
    return RuleFailure("Internal Failure", "InternalFailure", form="plain")


# ---------------------------------------------------------------------------------------------- tables

PRE_CREATE_FIXUPS: tuple[Callable[[Check], None], ...] = (default_key_policy,)
CHECKS: tuple[Rule, ...] = (managed_policy_arns, logs_kms_key, gateway_attachment_race, role_policy_race, transient_failure)
POST_CREATE_FIXUPS: tuple[Callable[[Check, Any], None], ...] = (
    store_key_policy_as_json,
    keep_log_group_kms_key,
    attach_managed_policies,
    import_rest_api_body,
)


def run_checks(check: Check) -> RuleFailure | None:
    from orchestrator.sandbox.service_rules import SERVICE_RULES  # registered here; defined apart (issue 13)

    for rule in (*CHECKS, *SERVICE_RULES):
        failure = rule(check)
        if failure is not None:
            return failure
    return None
