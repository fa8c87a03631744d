"""Identifiers of stand-ins in the shape AWS gives them, read off the type's registry schema.

CloudFormation's Ref returns a type's primary identifier. For a stand-in that is the given name when the
identifier is a writable name property, CloudFormation's generated name when it is left out, the ARN when
the identifier is an ARN, and otherwise a service id in that service's format (E... for CloudFront,
<region>_... for Cognito user pools, tgw-/fs-/pl-... for EC2 and EFS, UUIDs for Backup). GetAtt of the
identifier's parts and of well-known read-only attributes (endpoints, domain names) answers consistently.
"""

from __future__ import annotations

import hashlib
import re
import string
from typing import Any

from orchestrator.sandbox import names

_LOWER = string.ascii_lowercase + string.digits
_UPPER = string.ascii_uppercase + string.digits
_MIXED = string.ascii_letters + string.digits
_HEX = "0123456789abcdef"

# (alphabet, length, prefix) of the read-only id of types whose format the schema does not state.
_ID_FORMATS: dict[str, tuple[str, int, str]] = {
    "AWS::CloudFront::Distribution": (_UPPER, 13, "E"),
    "AWS::CloudFront::OriginAccessControl": (_UPPER, 13, "E"),
    "AWS::CloudFront::CloudFrontOriginAccessIdentity": (_UPPER, 13, "E"),
    "AWS::CloudFront::CachePolicy": (_HEX, 32, "uuid"),
    "AWS::CloudFront::OriginRequestPolicy": (_HEX, 32, "uuid"),
    "AWS::CloudFront::ResponseHeadersPolicy": (_HEX, 32, "uuid"),
    "AWS::CloudFront::Function": (_UPPER, 13, "E"),
    "AWS::Cognito::UserPool": (_MIXED, 9, "{region}_"),
    "AWS::Cognito::UserPoolClient": (_LOWER, 26, ""),
    "AWS::Cognito::IdentityPool": (_HEX, 32, "{region}:uuid"),
    "AWS::ApiGateway::Authorizer": (_LOWER, 6, ""),
    "AWS::Backup::BackupPlan": (_HEX, 32, "uuid"),
    "AWS::Backup::BackupSelection": (_HEX, 32, "uuid"),
    "AWS::AmazonMQ::Broker": (_HEX, 32, "b-uuid"),
    "AWS::EC2::TransitGateway": (_HEX, 17, "tgw-"),
    "AWS::EC2::TransitGatewayAttachment": (_HEX, 17, "tgw-attach-"),
    "AWS::EC2::TransitGatewayRouteTable": (_HEX, 17, "tgw-rtb-"),
    "AWS::EC2::TransitGatewayVpcAttachment": (_HEX, 17, "tgw-attach-"),
    "AWS::EC2::PrefixList": (_HEX, 17, "pl-"),
    "AWS::EC2::VPCEndpointService": (_HEX, 17, "vpce-svc-"),
    "AWS::EC2::IPAM": (_HEX, 17, "ipam-"),
    "AWS::EC2::IPAMPool": (_HEX, 17, "ipam-pool-"),
    "AWS::EC2::CarrierGateway": (_HEX, 17, "cagw-"),
    "AWS::EC2::LocalGatewayRoute": (_HEX, 17, "lgw-rtb-"),
    "AWS::EC2::NetworkInsightsPath": (_HEX, 17, "nip-"),
    "AWS::EC2::PlacementGroup": (_LOWER, 12, "pg-"),
    "AWS::EC2::CapacityReservation": (_HEX, 17, "cr-"),
    "AWS::EC2::ClientVpnEndpoint": (_HEX, 17, "cvpn-endpoint-"),
    "AWS::EC2::TrafficMirrorSession": (_HEX, 17, "tms-"),
    "AWS::EFS::FileSystem": (_HEX, 17, "fs-"),
    "AWS::EFS::AccessPoint": (_HEX, 17, "fsap-"),
    "AWS::EFS::MountTarget": (_HEX, 17, "fsmt-"),
    "AWS::FSx::FileSystem": (_HEX, 17, "fs-"),
}
_ARN_ALIKE = re.compile(r"(^|[a-z])Arn$|ARN$")
# Types whose Ref is a property the template gives (the resource it attaches to), not their own identifier.
_REF_FROM_PROPERTY = {"AWS::SecretsManager::SecretTargetAttachment": "SecretId", "AWS::Lambda::Url": "TargetFunctionArn"}
# Types whose Ref joins every part of the identifier (WAFv2: "name|id|scope").
_JOINED_REF = frozenset({"AWS::WAFv2::WebACL", "AWS::WAFv2::RuleGroup", "AWS::WAFv2::IPSet", "AWS::WAFv2::RegexPatternSet"})


def _draw(seed: str, alphabet: str, length: int) -> str:
    digest = hashlib.sha256(seed.encode()).digest() * (1 + length // 32)
    return "".join(alphabet[b % len(alphabet)] for b in digest[:length])


def _uuid(seed: str) -> str:
    h = _draw(seed, _HEX, 32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def shaped_id(resource_type: str, prop: str, seed: str, region: str) -> str:
    """A read-only id in the service's format: the table above, else the literal prefix of the schema's
    pattern for the property (sg-, subnet-, ...), else the 10 lower-case alphanumerics many services use."""
    alphabet, length, prefix = _ID_FORMATS.get(resource_type, ("", 0, ""))
    if alphabet:
        if "uuid" in prefix:
            return prefix.replace("{region}", region).replace("uuid", _uuid(seed))
        return prefix.replace("{region}", region) + _draw(seed, alphabet, length)
    spec = (names.resource_schema(resource_type).get("properties") or {}).get(prop) or {}
    found = re.match(r"^\^?\(?([a-z][a-z0-9]*(?:-[a-z0-9]+)*-)", str(spec.get("pattern") or ""))
    if found:
        return found.group(1) + _draw(seed, _HEX, 17)
    return _draw(seed, _LOWER, 10)


def _primary_parts(resource_type: str) -> list[str]:
    schema = names.resource_schema(resource_type)
    return [p.rsplit("/", 1)[-1] for p in schema.get("primaryIdentifier") or [] if p.startswith("/properties/")]


def _read_only(resource_type: str) -> set[str]:
    schema = names.resource_schema(resource_type)
    return {p.rsplit("/", 1)[-1] for p in schema.get("readOnlyProperties") or [] if p.count("/") == 2}


def identifiers(resource_type: str, properties: dict, where: dict[str, str], arn_of: Any) -> tuple[str | None, dict]:
    """(Ref value or None when the schema does not say, {identifier part: value}) for a stand-in.

    `where`: stack_name, logical_id, seed, region. `arn_of(id)`: the ARN of the resource with that id."""
    parts = _primary_parts(resource_type)
    if not parts:
        return None, {}
    read_only = _read_only(resource_type)
    values: dict[str, Any] = {}
    for part in parts:
        given = properties.get(part)
        if isinstance(given, (str, int)) and given != "":
            values[part] = str(given)
        elif part not in read_only:
            values[part] = names.physical_name(resource_type, where["stack_name"], where["logical_id"], where["seed"])
    for part in parts:  # read-only ids after the given parts: an ARN may embed the resource's own id
        if part in values:
            continue
        if _ARN_ALIKE.search(part):
            values[part] = arn_of(shaped_id(resource_type, "Id", where["seed"], where["region"]))
        else:
            values[part] = shaped_id(resource_type, part, where["seed"] + part, where["region"])
    own = [p for p in parts if p in read_only]
    attached = properties.get(_REF_FROM_PROPERTY.get(resource_type, ""))
    if isinstance(attached, str) and attached:
        ref = attached
    elif resource_type in _JOINED_REF:
        ref = "|".join(values[p] for p in parts)
    elif len(parts) == 1:
        ref = values[parts[0]]
    elif len(own) == 1:
        ref = values[own[0]]  # a child's id under its parent (AuthorizerId, ClientId)
    elif not own:
        ref = values[parts[-1]]  # the child's own name under its parent (StageName, Domain)
    else:
        ref = "|".join(values[p] for p in parts)
    return ref, values


def known_attribute(resource_type: str, attribute: str, physical_id: str, region: str, seed: str) -> Any:
    """Read-only attributes whose shape is documented; None when this module does not know it."""
    if attribute == "DomainName" and resource_type == "AWS::CloudFront::Distribution":
        return f"d{_draw(seed, _LOWER, 13)}.cloudfront.net"
    if attribute == "ProviderName" and resource_type == "AWS::Cognito::UserPool":
        return f"cognito-idp.{region}.amazonaws.com/{physical_id}"
    if attribute == "ProviderURL" and resource_type == "AWS::Cognito::UserPool":
        return f"https://cognito-idp.{region}.amazonaws.com/{physical_id}"
    if attribute == "ApiEndpoint" and resource_type == "AWS::ApiGatewayV2::Api":
        return f"https://{physical_id}.execute-api.{region}.amazonaws.com"
    if attribute == "FunctionUrl" and resource_type == "AWS::Lambda::Url":
        return f"https://{_draw(seed, _LOWER, 32)}.lambda-url.{region}.on.aws/"
    if attribute == "S3CanonicalUserId":
        return _draw(seed, _HEX, 96)
    return None
