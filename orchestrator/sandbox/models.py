"""The engine's moto glue: creating, updating and deleting moto's resource models for one stack."""

from __future__ import annotations

import copy
from typing import Any

import structlog
from moto.cloudformation import parsing
from moto.cloudformation.models import Stack
from moto.ec2.models.core import TaggedEC2Resource

from orchestrator.model import SANDBOX_LIMITATION_MARKER
from orchestrator.sandbox import glue, glue_ipv6, names, nested, rules, schema_check
from orchestrator.sandbox.context import SandboxContext
from orchestrator.sandbox.emulated import EmulatedResource

log = structlog.get_logger(__name__)


# moto's models of these types take their name from Properties only (None when CloudFormation generates it).
_NAME_READ_FROM_PROPERTIES = frozenset({"AWS::SSM::Parameter"})


class SandboxLimitation(Exception):
    """moto's model of a type raised on a template AWS accepts: a gap of the sandbox, reported as such."""

    def __init__(self, resource_type: str, step: str, error: Exception):
        super().__init__(f"{SANDBOX_LIMITATION_MARKER} the embedded sandbox's model of {resource_type} failed while "
                         f"{step} ({type(error).__name__}: {error}); AWS would not fail here for this reason, "
                         f"so the resource is neither repaired nor retried")


def is_client_error(exc: Exception) -> bool:
    """Whether exc is an AWS error moto raised on purpose (code and message), not a crash of its model."""
    return bool(getattr(exc, "code", None) and getattr(exc, "message", None) is not None)


def active_resources(template: dict, rmap: Any, rt: Any) -> dict[str, dict]:
    """Template resources whose Condition holds; the others are recorded on rt as skipped by their condition."""
    active, skipped = {}, []
    for logical_id, definition in (template.get("Resources") or {}).items():
        condition = definition.get("Condition")
        if condition and not rmap.lazy_condition_map[condition]:
            skipped.append(logical_id)
            continue
        active[logical_id] = definition
    rt.skipped_by_condition = skipped
    return active


def is_modelled(resource_type: str) -> bool:
    if glue.model_for(resource_type) is not None:
        return True
    return (
        resource_type not in parsing.NULL_MODELS
        and not resource_type.startswith("Custom::")
        and resource_type != "AWS::CloudFormation::CustomResource"
        and resource_type in parsing.get_model_map()
    )


def prepare(stack: Stack, logical_id: str, definition: dict) -> tuple[Any, dict, str]:
    """(moto class or None, resolved resource json, physical name) without creating anything."""
    rmap = stack.resource_map
    resource_type = definition["Type"]
    generated = names.physical_name(resource_type, stack.name, logical_id, seed=f"{stack.stack_id}/{logical_id}")
    if glue.model_for(resource_type) is not None:
        resolved_json = parsing.clean_json(copy.deepcopy({"Properties": definition.get("Properties") or {}}), rmap)
        prop = names.name_property(resource_type)
        given = (resolved_json.get("Properties") or {}).get(prop) if prop else None
        return glue.model_for(resource_type), {"Type": resource_type, **resolved_json}, given or generated
    if is_modelled(resource_type):
        resolved = parsing.parse_resource_and_generate_name(logical_id, copy.deepcopy(definition), rmap)
        if resolved:
            cls, resolved_json, name = resolved
            prop = names.name_property(resource_type)
            if not (prop and (resolved_json.get("Properties") or {}).get(prop)):
                name = generated
                if resource_type in _NAME_READ_FROM_PROPERTIES:
                    resolved_json.setdefault("Properties", {})[prop] = name
            return cls, resolved_json, name
    resolved_json = parsing.clean_json(copy.deepcopy({"Properties": definition.get("Properties") or {}}), rmap)
    return None, {"Type": resource_type, **resolved_json}, generated


def _elbv2_load_balancer(name: str, resolved: dict, account_id: str, region: str, **_: Any) -> Any:
    """AWS::ElasticLoadBalancingV2::LoadBalancer with every CreateLoadBalancer input: moto's own CloudFormation
    model passes only Subnets, SecurityGroups and Scheme, so an NLB placed by SubnetMappings (its Elastic
    IPs) failed "The specified subnet does not exist." and Type/IpAddressType/Tags were dropped."""
    from moto.elbv2.models import elbv2_backends

    props = resolved.get("Properties") or {}
    return elbv2_backends[account_id][region].create_load_balancer(
        name, props.get("SecurityGroups") or [], props.get("Subnets") or [],
        subnet_mappings=props.get("SubnetMappings"), scheme=props.get("Scheme") or "internet-facing",
        loadbalancer_type=props.get("Type"), ip_address_type=props.get("IpAddressType") or "ipv4",
        tags=props.get("Tags") or None)


def _security_group_ingress(name: str, resolved: dict, account_id: str, region: str, **kwargs: Any) -> Any:
    """AWS::EC2::SecurityGroupIngress whose rule the group already has (an identical inline rule of the
    group, say): CloudFormation's handler takes the rule as created and the stack goes on, where EC2 alone
    answers InvalidPermission.Duplicate (https://github.com/aws-cloudformation/cloudformation-coverage-roadmap/issues/612).
    Deleting the resource still revokes the shared rule, as on AWS."""
    from moto.ec2.exceptions import InvalidPermissionDuplicateError
    from moto.ec2.models import ec2_backends
    from moto.ec2.models.security_groups import SecurityGroupIngress

    try:
        return SecurityGroupIngress.create_from_cloudformation_json(name, resolved, account_id, region, **kwargs)
    except InvalidPermissionDuplicateError:
        props = resolved.get("Properties") or {}
        backend = ec2_backends[account_id][region]
        group = backend.describe_security_groups(group_ids=[props["GroupId"]])[0] if props.get("GroupId") \
            else backend.describe_security_groups(groupnames=[props.get("GroupName")])[0]
        log.debug("ingress_rule_already_present", group_id=group.id)
        return SecurityGroupIngress(group, props)


# Types whose moto CloudFormation model drops inputs the service API takes (or answers differently from
# CloudFormation's handler): created through the backend.
_FULL_CREATE = {"AWS::ElasticLoadBalancingV2::LoadBalancer": _elbv2_load_balancer,
                "AWS::EC2::SecurityGroupIngress": _security_group_ingress, "AWS::EC2::Subnet": glue_ipv6.create_subnet}


def create_model(stack: Stack, ctx: SandboxContext, logical_id: str, definition: dict, cls: Any,
                  resolved: dict, name: str) -> tuple[Any, bool, str]:
    """Create through moto when it models the type, else emulate. Returns (model, emulated, why)."""
    resource_type = definition["Type"]
    if resource_type == nested.STACK_TYPE:
        return nested.create_model(stack, ctx, logical_id, resolved.get("Properties") or {}), False, ""
    if cls is not None:
        validate_glue_properties(resource_type, logical_id, resolved)
        try:
            create = _FULL_CREATE.get(resource_type, cls.create_from_cloudformation_json)
            model = create(
                name, resolved, stack.account_id, stack.region_name,
                LogicalId=logical_id, StackId=stack.stack_id, ResourceType=resource_type,
            )
        except Exception as exc:
            if is_client_error(exc):
                raise
            # A moto model crashing on a valid template is a gap of the sandbox, said out loud.
            log.warning("moto_model_failed", logical_id=logical_id, resource_type=resource_type, error=repr(exc))
            raise SandboxLimitation(resource_type, "creating the resource", exc) from exc
        if model is not None:
            model.cf_resource_type = resource_type
            model.logical_resource_id = logical_id
            if isinstance(model, TaggedEC2Resource):
                tags = dict(stack.resource_map.tags)
                tags.update({"aws:cloudformation:stack-name": stack.name, "aws:cloudformation:stack-id": stack.stack_id,
                             "aws:cloudformation:logical-id": logical_id})
                from moto.ec2.models import ec2_backends

                ec2_backends[stack.account_id][stack.region_name].create_tags([model.physical_resource_id], tags)
            return model, False, ""
        raise SandboxLimitation(resource_type, "creating the resource", ValueError("the model returned nothing"))
    why = "not modelled by moto"
    emulated = EmulatedResource(
        logical_id=logical_id, resource_type=resource_type, properties=resolved.get("Properties") or {},
        stack_name=stack.name, stack_id=stack.stack_id, account_id=stack.account_id, region=stack.region_name,
        reason=why,
    )
    return emulated, True, why


def forget_model(stack: Stack, logical_id: str) -> None:
    """The stack lets go of a resource it keeps (DeletionPolicy Retain): the service's object stays."""
    stack.resource_map._parsed_resources.pop(logical_id, None)


def delete_model(stack: Stack, logical_id: str, definition: dict | None) -> str | None:
    """Delete the resource's model; the reason it is still there when it could not go (a child stack that ended
    DELETE_FAILED, with AWS's text), else None."""
    rmap = stack.resource_map
    model = rmap._parsed_resources.get(logical_id)
    if model is None or isinstance(model, (str, int, float, list, dict)):
        return None
    try:
        if isinstance(model, (EmulatedResource, nested.NestedStack)):
            model.delete(stack.account_id, stack.region_name)
            if isinstance(model, nested.NestedStack) and model.child.status == "DELETE_FAILED":
                # Still there, for the next DeleteStack.
                return (f"Embedded stack {model.child.stack_id} was not successfully deleted: "
                        f"{model.child.stack_status_reason}")
        elif delete_through_api(stack.account_id, stack.region_name,
                                      getattr(model, "cf_resource_type", ""), model):
            log.debug("deleted_through_api", logical_id=logical_id)
        else:
            rmap._delete_resource(model, definition or {"Type": getattr(model, "cf_resource_type", "")})
    except Exception as exc:  # noqa: BLE001 - a moto delete gap must not leave the stack half deleted
        log.warning("moto_delete_failed", logical_id=logical_id, error=repr(exc))
    rmap._parsed_resources.pop(logical_id, None)
    return None


def validate_glue_properties(resource_type: str, logical_id: str, resolved: dict) -> None:
    """The registry schema's pre-deployment validation, which AWS runs before a handler (glue types are
    registry types: moto has no model of its own that would check them)."""
    if glue.model_for(resource_type) is None:
        return
    invalid = schema_check.message(resource_type, logical_id, resolved.get("Properties") or {})
    if invalid:
        raise glue.PropertiesInvalid(invalid)


def client_error_failure(exc: Exception, resource_type: str) -> Any:
    if isinstance(exc, nested.NestedStackFailed):  # AWS's own wording for a child stack, not a handler message
        return exc.failure
    if isinstance(exc, glue.PropertiesInvalid):
        return rules.RuleFailure(exc.message, "InvalidRequest", form="plain")
    status = getattr(exc, "code", 400)
    status = status if isinstance(status, int) else 400
    message = getattr(exc, "message", None) or str(exc)
    code = {404: "NotFound", 403: "AccessDenied", 409: "AlreadyExists"}.get(status, "InvalidRequest")
    return rules.RuleFailure(message, code, resource_type.split("::")[1] if "::" in resource_type else "", status)


def update_model(stack: Stack, ctx: SandboxContext, lid: str, definition: dict, cls: Any, resolved: dict,
                  name: str) -> tuple[Any, bool, str]:
    current = stack.resource_map._parsed_resources.get(lid)
    if current is None:
        return create_model(stack, ctx, lid, definition, cls, resolved, name)
    if isinstance(current, nested.NestedStack):
        return nested.update_model(current, resolved.get("Properties") or {}), False, ""
    if cls is None or isinstance(current, EmulatedResource):
        emulated = EmulatedResource(logical_id=lid, resource_type=definition["Type"],
                                    properties=resolved.get("Properties") or {}, stack_name=stack.name,
                                    stack_id=stack.stack_id, account_id=stack.account_id, region=stack.region_name)
        emulated.physical_resource_id = getattr(current, "physical_resource_id", emulated.physical_resource_id)
        return emulated, True, "not modelled by moto"
    if hasattr(cls.update_from_cloudformation_json, "__isabstractmethod__"):
        return current, False, ""
    validate_glue_properties(definition["Type"], lid, resolved)
    try:
        model = cls.update_from_cloudformation_json(original_resource=current, new_resource_name=name,
                                                    cloudformation_json=resolved, account_id=stack.account_id,
                                                    region_name=stack.region_name)
    except Exception as exc:
        if is_client_error(exc):
            raise
        log.warning("moto_update_failed", logical_id=lid, error=repr(exc))
        raise SandboxLimitation(definition["Type"], "updating the resource", exc) from exc
    model.cf_resource_type = definition["Type"]
    model.logical_resource_id = lid
    return model, False, ""


def _revoke_ingress(backend: Any, model: Any) -> None:
    """RevokeSecurityGroupIngress of the rule moto's AWS::EC2::SecurityGroupIngress authorized (moto keeps
    the rule when the resource is deleted or its cancelled creation is retried, so an update after a
    repair failed "The specified rule already exists"). A rule already gone with its group is no error."""
    props = getattr(model, "properties", None) or {}
    group = getattr(model, "security_group", None)
    if group is None or backend.get_security_group_from_id(group.id) is None:
        return
    ranges = [{"CidrIp": props["CidrIp"], "Description": props.get("Description")}] if props.get("CidrIp") else []
    source = {key: props[prop] for key, prop in (("GroupId", "SourceSecurityGroupId"), ("GroupName", "SourceSecurityGroupName"))
              if props.get(prop)}
    try:
        backend.revoke_security_group_ingress(group.id, str(props.get("IpProtocol")), props.get("FromPort"),
                                              props.get("ToPort"), ranges, source_groups=[source] if source else [])
    except Exception as exc:  # noqa: BLE001 - InvalidPermission.NotFound: nothing left to revoke
        if not is_client_error(exc):
            raise


def delete_through_api(account_id: str, region: str, resource_type: str, model: Any) -> bool:
    """Delete types whose moto model has no CloudFormation delete, through the service backend.

    AWS: DeleteStack and rollback remove every resource the stack created (a VPC then goes away with its
    routes, associations, gateways and addresses). moto leaves these behind, which would also block the
    VPC's own deletion. Returns False for types handled by moto itself.
    """
    # Each service's backend only when the type is its own: building an account's EC2 backend loads
    # ~1,300 AMIs, which deleting a queue or a role must not pay.
    def ec2() -> Any:
        from moto.ec2.models import ec2_backends

        return ec2_backends[account_id][region]

    def elbv2() -> Any:
        from moto.elbv2.models import elbv2_backends

        return elbv2_backends[account_id][region]

    if resource_type == "AWS::EC2::VPCGatewayAttachment":
        if getattr(model, "gateway_id", "").startswith("igw-"):
            ec2().detach_internet_gateway(model.gateway_id, model.vpc_id)
        else:
            ec2().detach_vpn_gateway(model.gateway_id, model.vpc_id)
    elif resource_type == "AWS::EC2::InternetGateway":
        ec2().delete_internet_gateway(model.id)
    elif resource_type == "AWS::EC2::Route":
        ec2().delete_route(model.route_table.id, model.destination_cidr_block)
    elif resource_type == "AWS::EC2::SubnetRouteTableAssociation":
        table = ec2().get_route_table(model.route_table_id)
        for association_id, subnet_id in list(table._associations.items()):
            if subnet_id == model.subnet_id:
                ec2().disassociate_route_table(association_id)
    elif resource_type == "AWS::EC2::RouteTable":
        ec2().delete_route_table(model.id)
    elif resource_type == "AWS::EC2::EIP":
        ec2().release_address(allocation_id=getattr(model, "allocation_id", None)) if getattr(model, "allocation_id", None) \
            else ec2().release_address(address=model.public_ip)
    elif resource_type == "AWS::EC2::SecurityGroupIngress":
        _revoke_ingress(ec2(), model)
    elif resource_type == "AWS::EC2::NatGateway":
        ec2().delete_nat_gateway(model.id)
    elif resource_type == "AWS::EC2::LaunchTemplate":
        ec2().delete_launch_template(None, model.id)
    elif resource_type == "AWS::ElasticLoadBalancingV2::TargetGroup":
        elbv2().delete_target_group(model.arn)
    elif resource_type == "AWS::ElasticLoadBalancingV2::Listener":
        elbv2().delete_listener(model.arn)
    elif resource_type == "AWS::ElasticLoadBalancingV2::ListenerRule":
        # moto's rule has no CloudFormation delete: a deleted stack's rule kept its priority ("in use").
        elbv2().delete_rule(model.arn)
    elif resource_type == "AWS::ElasticLoadBalancingV2::LoadBalancer":
        elbv2().delete_load_balancer(model.arn)
    elif resource_type == "AWS::Logs::LogGroup":
        from moto.logs.models import logs_backends

        logs_backends[account_id][region].delete_log_group(model.name)
    elif resource_type == "AWS::IAM::Role":
        # IAM refuses DeleteRole while managed policies are attached; CloudFormation detaches them first.
        for policy in list(getattr(model, "managed_policies", {}).values()):
            policy.detach_from(model)
        return False
    elif resource_type == "AWS::IAM::User":
        for policy in list(getattr(model, "managed_policies", {}).values()):
            policy.detach_from(model)
        return False
    elif resource_type == "AWS::KMS::Key":
        from moto.kms.models import kms_backends

        # AWS schedules key deletion (PendingDeletion, 7-30 days) rather than removing the key.
        kms_backends[account_id][region].schedule_key_deletion(model.id, 7)
    else:
        return False
    return True
