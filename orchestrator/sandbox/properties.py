"""CloudFormation property forms moto's models misread, put into the form those models expect.

Each fix-up runs on the resolved properties of one resource before moto's model sees them and states the
AWS behaviour it preserves; none decides whether the resource fails (that is the rules' job).
"""

from __future__ import annotations

import json
from typing import Any, Callable

# Protocols for which EC2 ignores ports: an omitted FromPort/ToPort means "all" (-1).
_PORTLESS_PROTOCOLS = {"-1", "all", "icmp", "icmpv6", "1", "58"}


def kms_key_tags(resource_type: str, properties: dict) -> None:
    """AWS::KMS::Key Tags are {Key, Value} pairs as everywhere in CloudFormation; moto's model reads
    KMS's own API form {TagKey, TagValue} and raises KeyError otherwise."""
    if resource_type != "AWS::KMS::Key" or not isinstance(properties.get("Tags"), list):
        return
    properties["Tags"] = [
        {"TagKey": tag.get("Key", tag.get("TagKey")), "TagValue": tag.get("Value", tag.get("TagValue", ""))}
        for tag in properties["Tags"] if isinstance(tag, dict)
    ]


def security_group_ports(resource_type: str, properties: dict) -> None:
    """EC2 (AuthorizeSecurityGroupIngress): for protocol -1 (all), ICMP and ICMPv6 the port range may be
    omitted and means every port/type (-1); moto's model indexes FromPort/ToPort unconditionally."""
    rules: list[Any] = []
    if resource_type == "AWS::EC2::SecurityGroup":
        for key in ("SecurityGroupIngress", "SecurityGroupEgress"):
            if isinstance(properties.get(key), list):
                rules.extend(properties[key])
    elif resource_type in ("AWS::EC2::SecurityGroupIngress", "AWS::EC2::SecurityGroupEgress"):
        rules.append(properties)
    for rule in rules:
        if not isinstance(rule, dict):
            continue
        protocol = str(rule.get("IpProtocol", "")).lower()
        if protocol in _PORTLESS_PROTOCOLS:
            rule.setdefault("FromPort", -1)
            rule.setdefault("ToPort", -1)
        for key in ("FromPort", "ToPort"):
            if isinstance(rule.get(key), str) and rule[key].lstrip("-").isdigit():
                rule[key] = int(rule[key])


def rds_engine_case(resource_type: str, properties: dict) -> None:
    """RDS treats Engine case-insensitively (CloudFormation accepts "MySQL" and RDS reports "mysql");
    moto compares it case-sensitively against its engine list."""
    if resource_type in ("AWS::RDS::DBInstance", "AWS::RDS::DBCluster") and isinstance(properties.get("Engine"), str):
        properties["Engine"] = properties["Engine"].lower()


def inline_policy_documents(resource_type: str, properties: dict) -> None:
    """IAM stores inline policy documents as JSON (GetRolePolicy answers JSON); moto's role, user and group
    models keep the template's mapping and answer its Python repr, which no client can parse."""
    if resource_type not in ("AWS::IAM::Role", "AWS::IAM::User"):
        return
    for policy in properties.get("Policies") or []:
        if isinstance(policy, dict) and isinstance(policy.get("PolicyDocument"), (dict, list)):
            policy["PolicyDocument"] = json.dumps(policy["PolicyDocument"])


def rest_api_name_from_definition(resource_type: str, properties: dict) -> None:
    """API Gateway (ImportRestApi): a RestApi defined by an OpenAPI Body takes its name from info.title, so
    CloudFormation does not require Name then; moto's model always reads Name."""
    if resource_type != "AWS::ApiGateway::RestApi" or properties.get("Name"):
        return
    body = properties.get("Body")
    title = ((body.get("info") or {}).get("title")) if isinstance(body, dict) else None
    if isinstance(title, str) and title:
        properties["Name"] = title


def ssm_parameter_tags(resource_type: str, properties: dict) -> None:
    """AWS::SSM::Parameter Tags are a JSON object {key: value} (its schema, unlike most types'); SSM's
    PutParameter takes [{Key, Value}], which is what moto's model indexes, so the map form crashed it."""
    if resource_type == "AWS::SSM::Parameter" and isinstance(properties.get("Tags"), dict):
        properties["Tags"] = [{"Key": str(k), "Value": str(v)} for k, v in properties["Tags"].items()]


def method_integration_optionals(resource_type: str, properties: dict) -> None:
    """API Gateway (PutIntegration): a MOCK integration has no IntegrationHttpMethod and no Uri, and
    CloudFormation requires neither; moto's Method model indexes both unconditionally."""
    integration = properties.get("Integration") if resource_type == "AWS::ApiGateway::Method" else None
    if isinstance(integration, dict):
        integration.setdefault("IntegrationHttpMethod", None)
        integration.setdefault("Uri", None)


def eip_domain(resource_type: str, properties: dict) -> None:
    """EC2-Classic is retired: every new Elastic IP is a VPC address with an AllocationId, Domain given or
    not; moto's model makes a Classic address (no AllocationId) when Domain is left out."""
    if resource_type == "AWS::EC2::EIP" and not properties.get("Domain"):
        properties["Domain"] = "vpc"


class _Named(str):
    """A name that is still a string everywhere, with the `.name` moto's RDS model reads from a Ref."""

    @property
    def name(self) -> str:
        return str(self)


def rds_group_names(resource_type: str, properties: dict) -> None:
    """AWS::RDS::DBInstance DBSubnetGroupName and DBSecurityGroups are names (a Ref, an import or a literal);
    moto's model expects its own group objects there and crashed on a name (AttributeError 'name')."""
    if resource_type != "AWS::RDS::DBInstance":
        return
    if isinstance(properties.get("DBSubnetGroupName"), str):
        properties["DBSubnetGroupName"] = _Named(properties["DBSubnetGroupName"])
    if isinstance(properties.get("DBSecurityGroups"), list):
        properties["DBSecurityGroups"] = [_Named(g) if isinstance(g, str) else g for g in properties["DBSecurityGroups"]]


FIXUPS: tuple[Callable[[str, dict], None], ...] = (kms_key_tags, security_group_ports, rds_engine_case,
                                                   inline_policy_documents, rest_api_name_from_definition,
                                                   method_integration_optionals, eip_domain, ssm_parameter_tags,
                                                   rds_group_names)


def apply(resource_type: str, properties: dict) -> None:
    for fixup in FIXUPS:
        fixup(resource_type, properties)


def import_rest_api_body(check: Any, model: Any) -> None:
    """A RestApi's OpenAPI Body defines its resources and methods (API Gateway PutRestApi); moto's model
    ignores Body, and the Deployment then fails "The REST API doesn't contain any methods"."""
    body = check.properties.get("Body")
    if check.resource_type != "AWS::ApiGateway::RestApi" or not isinstance(body, dict) or not body.get("paths"):
        return
    from moto.apigateway.models import apigateway_backends

    # API Gateway imports Swagger 2.0 as well as OpenAPI 3; moto reads only the latter, whose paths and
    # methods have the same shape.
    document = {k: v for k, v in body.items() if k != "swagger"}
    document.update(openapi=str(body.get("openapi") or "3.0.1"), info={"description": "", **(body.get("info") or {})})
    apigateway_backends[check.account_id][check.region].put_rest_api(model.id, document, False, mode="overwrite")
