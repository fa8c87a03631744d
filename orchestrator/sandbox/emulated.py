"""Generic stand-ins for resource types moto does not model: physical id, Ref and the usual GetAtt values."""

from __future__ import annotations

import hashlib
import re
import string
from typing import Any

from orchestrator.sandbox import standin_ids

# Types whose physical id CloudFormation takes from a name property (Ref returns that name).
_NAME_PROPERTIES = {
    "AWS::CodeDeploy::Application": "ApplicationName",
    "AWS::CodeDeploy::DeploymentGroup": "DeploymentGroupName",
    "AWS::CodeDeploy::DeploymentConfig": "DeploymentConfigName",
    "AWS::CodeBuild::Project": "Name",
    "AWS::CodePipeline::Pipeline": "Name",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
    "AWS::IAM::Group": "GroupName",
    "AWS::AutoScaling::LaunchConfiguration": "LaunchConfigurationName",
}
# Ref of a bucket policy is the bucket it is attached to on AWS; the id only has to be stable.
_ARN_FORMATS = {
    "AWS::CodeBuild::Project": "arn:{partition}:codebuild:{region}:{account}:project/{id}",
    "AWS::CloudWatch::Alarm": "arn:{partition}:cloudwatch:{region}:{account}:alarm:{id}",
    "AWS::CodePipeline::Pipeline": "arn:{partition}:codepipeline:{region}:{account}:{id}",
    "AWS::IAM::Group": "arn:{partition}:iam::{account}:group/{id}",
    "AWS::CodeDeploy::Application": "arn:{partition}:codedeploy:{region}:{account}:application:{id}",
    "AWS::MSK::Cluster": "arn:{partition}:kafka:{region}:{account}:cluster/{id}",
    "AWS::Cognito::UserPool": "arn:{partition}:cognito-idp:{region}:{account}:userpool/{id}",
}


def _suffix(seed: str, length: int = 12) -> str:
    # CloudFormation suffixes are upper-case alphanumerics; derived from a hash so runs are reproducible.
    digest = hashlib.sha256(seed.encode()).digest()
    alphabet = string.ascii_uppercase + string.digits
    return "".join(alphabet[b % len(alphabet)] for b in digest[:length])


class EmulatedResource:
    """A resource of a type moto lacks: it exists only in the sandbox's CloudFormation view."""

    def __init__(self, *, logical_id: str, resource_type: str, properties: dict, reason: str = "not modelled by moto",
                 **where: str):
        """`where`: the stack it belongs to (stack_name, stack_id, account_id, region, and partition [aws])."""
        missing = {"stack_name", "stack_id", "account_id", "region"} - set(where)
        if missing:
            raise TypeError(f"EmulatedResource needs {', '.join(sorted(missing))}")
        stack_name, stack_id = where["stack_name"], where["stack_id"]
        account_id, region, partition = where["account_id"], where["region"], where.get("partition", "aws")
        self.logical_resource_id = logical_id
        self.cf_resource_type = resource_type
        self.properties = properties or {}
        self.account_id = account_id
        self.region = region
        self.partition = partition
        self.reason = reason
        name_prop = _NAME_PROPERTIES.get(resource_type)
        given = self.properties.get(name_prop) if name_prop else None
        self.seed = stack_id + logical_id
        self.identifiers: dict[str, Any] = {}
        if isinstance(given, str) and given:
            self.physical_resource_id = given
        elif resource_type == "AWS::S3::BucketPolicy" and isinstance(self.properties.get("Bucket"), str):
            self.physical_resource_id = self.properties["Bucket"]
        else:
            ref, self.identifiers = standin_ids.identifiers(
                resource_type, self.properties, {"stack_name": stack_name, "logical_id": logical_id, "seed": self.seed,
                                                 "region": region}, self._arn_for)
            self.physical_resource_id = ref or f"{stack_name[:40]}-{logical_id[:40]}-{_suffix(self.seed)}"

    @property
    def arn(self) -> str:
        if self.physical_resource_id.startswith("arn:"):
            return self.physical_resource_id
        return self._arn_for(self.physical_resource_id)

    def _arn_for(self, resource_id: str) -> str:
        template = _ARN_FORMATS.get(self.cf_resource_type)
        values = {"partition": self.partition, "region": self.region, "account": self.account_id,
                  "id": resource_id}
        if template:
            return template.format(**values)
        service = self.cf_resource_type.split("::")[1].lower() if "::" in self.cf_resource_type else "custom"
        kind = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "-", self.cf_resource_type.split("::")[-1]).lower()
        return f"arn:{self.partition}:{service}:{self.region}:{self.account_id}:{kind}/{resource_id}"

    @classmethod
    def has_cfn_attr(cls, attr: str) -> bool:
        return True

    def get_cfn_attribute(self, attribute_name: str) -> Any:
        if attribute_name in self.identifiers:
            return self.identifiers[attribute_name]
        known = standin_ids.known_attribute(self.cf_resource_type, attribute_name, self.physical_resource_id,
                                            self.region, self.seed)
        if known is not None:
            return known
        if attribute_name == "Arn" or attribute_name.endswith("Arn"):
            return self.arn
        if attribute_name in ("Name", "Id") or attribute_name.endswith("Id"):
            return self.physical_resource_id
        # Unknown attributes still resolve to a stable, recognisable value instead of None.
        return f"{self.physical_resource_id}.{attribute_name}"

    def is_created(self) -> bool:
        return True

    def delete(self, account_id: str, region_name: str) -> None:
        self.properties = {}


def _arn_tail(arn: str, marker: str) -> str | None:
    # ELBv2 "full names" are the ARN's tail: app/<name>/<id>, targetgroup/<name>/<id>.
    if isinstance(arn, str) and marker in arn:
        return arn.split(":loadbalancer/")[-1] if marker == ":loadbalancer/" else arn.split(":")[-1]
    return None


def fallback_attribute(model: Any, attribute: str, region: str = "") -> Any:
    """A GetAtt value for a moto model that lacks the attribute: AWS's documented value where derivable."""
    arn = getattr(model, "arn", None)
    if attribute == "LoadBalancerFullName" and arn:
        return _arn_tail(arn, ":loadbalancer/")
    if attribute == "TargetGroupFullName" and arn:
        return _arn_tail(arn, ":targetgroup/")
    if attribute in ("TargetGroupName", "LoadBalancerName") and getattr(model, "name", None):
        return model.name
    if attribute in ("Arn", "TargetGroupArn", "LoadBalancerArn", "ListenerArn") and arn:
        return arn
    if attribute.startswith("SourceSecurityGroup.") and hasattr(model, "security_groups"):
        return _source_security_group(model, attribute.split(".", 1)[1], region)
    if attribute == "DefaultNetworkAcl" and hasattr(model, "get_cidr_block_association_set"):
        return _default_network_acl(model)
    if attribute == "Ipv6CidrBlocks" and hasattr(model, "get_cidr_block_association_set"):
        # AWS::EC2::VPC: the IPv6 blocks associated so far (by AWS::EC2::VPCCidrBlock), [] before any.
        return [c["cidr_block"] for c in model.get_cidr_block_association_set(ipv6=True)]
    if attribute == "Ipv6CidrBlocks" and hasattr(model, "ipv6_cidr_block_associations"):
        from orchestrator.sandbox.glue_ipv6 import subnet_ipv6_blocks

        return subnet_ipv6_blocks(model)
    snake = re.sub(r"(?<!^)(?=[A-Z])", "_", attribute).lower()
    if isinstance(getattr(model, snake, None), (str, int, float, list)):
        return getattr(model, snake)
    physical = getattr(model, "physical_resource_id", None) or "resource"
    if attribute.endswith("Id") or attribute == "Name":
        return physical
    return f"{physical}.{attribute}"


def _source_security_group(model: Any, field: str, region: str) -> Any:
    """AWS::ElasticLoadBalancing::LoadBalancer SourceSecurityGroup.GroupName / .OwnerAlias: in a VPC, the
    name of the load balancer's (first) security group, which ELB creates when none is given, and the
    account that owns it."""
    if field == "OwnerAlias":
        return getattr(model, "account_id", None)
    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[model.account_id][getattr(model, "region_name", None) or region]
    for group_id in getattr(model, "security_groups", None) or []:
        group = ec2.get_security_group_from_id(group_id)
        if group is not None:
            return group.name
    return None


def _default_network_acl(vpc: Any) -> Any:
    """AWS::EC2::VPC DefaultNetworkAcl: the acl- EC2 created with the VPC."""
    for acl in vpc.ec2_backend.network_acls.values():
        if acl.vpc_id == vpc.id and acl.default:
            return acl.id
    return None
