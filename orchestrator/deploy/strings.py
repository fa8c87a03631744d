"""What a plain String parameter given `auto` names, read from its name, else its description or AllowedPattern.

A `String` has no AWS type to go by, so `auto` is honoured only when the parameter says unambiguously what it
names: its name first (`VpcId`, `KmsKeyArn`, `ArtifactBucket`), else its Description or AllowedPattern
(`^vpc-[0-9a-f]+$`); a description that names two kinds is ambiguous. What it names is either a fixture kind
(docs/fixtures.md) or something no sandbox can make up (an S3 object with the author's code, a GitHub
token): then the run stops with `prerequisite-missing` naming the parameter, before any deployment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# (pattern on the parameter's name, AWS type or fixture kind); the first match wins.
_NAME_HINTS = (
    (re.compile(r"subnets$", re.I), "List<AWS::EC2::Subnet::Id>"),
    (re.compile(r"subnet", re.I), "AWS::EC2::Subnet::Id"),
    (re.compile(r"^vpc(_?id)?$|vpc_?id$", re.I), "AWS::EC2::VPC::Id"),
    (re.compile(r"security_?groups?(_?id)?$", re.I), "AWS::EC2::SecurityGroup::Id"),
    (re.compile(r"key_?(pair|name)", re.I), "AWS::EC2::KeyPair::KeyName"),
    (re.compile(r"hosted_?zone(_?id)?$", re.I), "AWS::Route53::HostedZone::Id"),
    (re.compile(r"(image|ami)_?id$", re.I), "AWS::EC2::Image::Id"),
    (re.compile(r"kms_?key(_?(arn|id))?$|^kms_?(arn|id)$", re.I), "kms-key"),
    (re.compile(r"certificate(_?arn)?$|^(acm_?)?cert(_?arn)?$", re.I), "certificate"),
    (re.compile(r"domain(_?name)?$|hosted_?zone_?name$", re.I), "domain"),
    (re.compile(r"user_?pool(_?(arn|id))?$", re.I), "user-pool"),
    (re.compile(r"web_?acl(_?(arn|id))?$", re.I), "web-acl"),
    (re.compile(r"bucket(_?name)?$", re.I), "s3-bucket"),
)
# Prose: a description names one of these, or more than one (ambiguous).
_DESCRIPTION_HINTS = (
    (re.compile(r"\bsubnets\b", re.I), "List<AWS::EC2::Subnet::Id>"),
    (re.compile(r"\bsubnet\b", re.I), "AWS::EC2::Subnet::Id"),
    (re.compile(r"\bvpc\b", re.I), "AWS::EC2::VPC::Id"),
    (re.compile(r"\bsecurity groups?\b", re.I), "AWS::EC2::SecurityGroup::Id"),
    (re.compile(r"\bkey ?pair\b", re.I), "AWS::EC2::KeyPair::KeyName"),
    (re.compile(r"\bhosted zone\b", re.I), "AWS::Route53::HostedZone::Id"),
    (re.compile(r"\b(ami|image id)\b", re.I), "AWS::EC2::Image::Id"),
    (re.compile(r"\bkms key\b", re.I), "kms-key"),
    (re.compile(r"\b(acm )?certificate\b", re.I), "certificate"),
    (re.compile(r"\bdomain name\b", re.I), "domain"),
    (re.compile(r"\buser pool\b", re.I), "user-pool"),
    (re.compile(r"\bweb ?acl\b", re.I), "web-acl"),
    (re.compile(r"\bbucket\b", re.I), "s3-bucket"),
)
# An AllowedPattern anchored on an EC2 id prefix.
_PATTERN_HINTS = (
    (re.compile(r"^\^?\(?vpc-"), "AWS::EC2::VPC::Id"),
    (re.compile(r"^\^?\(?subnet-"), "AWS::EC2::Subnet::Id"),
    (re.compile(r"^\^?\(?sg-"), "AWS::EC2::SecurityGroup::Id"),
    (re.compile(r"^\^?\(?ami-"), "AWS::EC2::Image::Id"),
)
# Kinds a parameter can name that no fixture provides, with what the user has to bring.
_UNPROVIDABLE = (
    (re.compile(r"token|password|secret|oauth", re.I), "a credential only you have"),
    (re.compile(r"s3_?(object_?)?key$|object_?key\b|\bobject key\b", re.I),
     "an existing S3 object (the template author's artifact; no fixture can make up its content)"),
)


@dataclass(frozen=True)
class StringKind:
    """What a String parameter given `auto` names: an AWS type/fixture kind, else why nothing can provide it."""

    type_name: str | None
    why_not: str | None = None
    creates: bool = False  # an s3-bucket name the template itself gives to a bucket it creates


def _text(spec: dict, key: str) -> str:
    value = spec.get(key)
    return value if isinstance(value, str) else ""


def string_kind(name: str, spec: dict, document: dict) -> StringKind:
    """What the String parameter `name` names (see the module docstring)."""
    hint = next((t for pattern, t in _NAME_HINTS if pattern.search(name)), None)
    if hint is None:
        allowed = _text(spec, "AllowedPattern")
        hint = next((t for pattern, t in _PATTERN_HINTS if pattern.search(allowed)), None)
    description = _text(spec, "Description")
    # A value constrained to a pattern that is no AWS id (a CIDR) or to listed values is not an existing
    # resource, whatever its description mentions ("CIDR block of the VPC").
    constrained = bool(_text(spec, "AllowedPattern")) or bool(spec.get("AllowedValues"))
    if hint is None and not constrained:
        found = [t for pattern, t in _DESCRIPTION_HINTS if pattern.search(description)]
        # "subnets" also matches the singular pattern's word boundary only for "subnet": keep the listed form alone.
        kinds = {t.removeprefix("List<").removesuffix(">") for t in found}
        if len(kinds) > 1:
            return StringKind(None, "its description names more than one kind of resource "
                                    f"({', '.join(sorted(kinds))}); give a value")
        hint = found[0] if found else None
    if hint is None:
        why = next((w for pattern, w in _UNPROVIDABLE if pattern.search(name) or pattern.search(description)), None)
        return StringKind(None, f"it names {why}" if why else
                          "no fixture provides what it names (docs/fixtures.md lists what fixtures provide)")
    if hint == "s3-bucket":
        return StringKind(hint, creates=_bucket_created(name, document))
    return StringKind(hint)


def _bucket_created(name: str, document: dict) -> bool:
    """Whether the template names a bucket it creates with the parameter (then it wants a new name, not a bucket)."""
    resources = document.get("Resources") or {}
    for resource in resources.values() if isinstance(resources, dict) else ():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::S3::Bucket":
            continue
        value: Any = (resource.get("Properties") or {}).get("BucketName") if isinstance(resource.get("Properties"), dict) else None
        if value == {"Ref": name} or (isinstance(value, dict) and "${" + name + "}" in str(value.get("Fn::Sub", ""))):
            return True
    return False
