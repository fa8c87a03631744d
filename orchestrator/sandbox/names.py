"""Physical names as CloudFormation generates them, within each name property's schema limits."""

from __future__ import annotations

import hashlib
import json
import re
import string
from functools import lru_cache
from typing import Any

from orchestrator.template.names import resource_schema

# Limits the services enforce that the shipped schemas do not state (ELBv2 API reference: names of
# load balancers and target groups are at most 32 characters).
_EXTRA_MAX_LENGTH = {
    ("AWS::ElasticLoadBalancingV2::TargetGroup", "Name"): 32,
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", "Name"): 32,
    ("AWS::ElasticLoadBalancing::LoadBalancer", "LoadBalancerName"): 32,
    ("AWS::IAM::Role", "RoleName"): 64,
    ("AWS::IAM::User", "UserName"): 64,
    ("AWS::IAM::Group", "GroupName"): 128,
    ("AWS::Lambda::Function", "FunctionName"): 64,
    ("AWS::SQS::Queue", "QueueName"): 80,
}
SUFFIX_LENGTH = 12
DEFAULT_MAX_LENGTH = 255


def name_property(resource_type: str) -> str | None:
    """The property that names a resource of this type (BucketName, RoleName, Name, ...), if any."""
    from moto.cloudformation import parsing

    try:
        known = parsing.resource_name_property_from_type(resource_type)
    except Exception:  # noqa: BLE001 - moto's lookup is a convenience; the schema decides otherwise
        known = None
    properties = resource_schema(resource_type).get("properties") or {}
    if known and (known in properties or not properties):
        return known
    kind = resource_type.split("::")[-1]
    for candidate in (f"{kind}Name", "Name"):
        if candidate in properties and (properties[candidate].get("type") in ("string", None)):
            return candidate
    return None


def suffix(seed: str, length: int = SUFFIX_LENGTH) -> str:
    """CloudFormation's random suffix (upper-case alphanumerics), derived from a seed to be reproducible."""
    digest = hashlib.sha256(seed.encode()).digest()
    alphabet = string.ascii_uppercase + string.digits
    return "".join(alphabet[b % len(alphabet)] for b in digest[:length])


def _limits(resource_type: str, prop: str | None) -> tuple[int, bool, str | None]:
    """(max length, lower case only, pattern) for the name property."""
    spec = ((resource_schema(resource_type).get("properties") or {}).get(prop or "") or {}) if prop else {}
    max_length = _EXTRA_MAX_LENGTH.get((resource_type, prop or "")) or spec.get("maxLength") or DEFAULT_MAX_LENGTH
    pattern = spec.get("pattern") if isinstance(spec.get("pattern"), str) else None
    description = str(spec.get("description") or "").lower()
    lower = "converts it to lowercase" in description or "lowercase letters" in description and "uppercase" not in description
    if pattern and not lower and "a-z" in pattern and "A-Z" not in pattern and "\\w" not in pattern:
        lower = True
    return int(max_length), lower, pattern


def physical_name(resource_type: str, stack_name: str, logical_id: str, seed: str = "") -> str:
    """`<stack>-<logical>-<SUFFIX>` shortened to the name property's maxLength, lower-cased where the
    service allows only lower case (S3 buckets, ECR repositories, RDS identifiers), never with a double
    or trailing hyphen, as CloudFormation generates names for resources the template leaves unnamed."""
    prop = name_property(resource_type)
    max_length, lower, pattern = _limits(resource_type, prop)
    tail = suffix(seed or f"{stack_name}/{logical_id}")
    budget = max(1, max_length - len(tail) - 1)
    stack_part, logical_part = stack_name, logical_id
    if len(stack_part) + 1 + len(logical_part) > budget:
        # CloudFormation keeps the start of both parts; the stack name gives way first.
        logical_part = logical_part[: max(1, budget // 2)]
        stack_part = stack_part[: max(1, budget - len(logical_part) - 1)]
    name = re.sub(r"-{2,}", "-", f"{stack_part}-{logical_part}".strip("-"))[:budget].rstrip("-") + "-" + tail
    if lower:
        name = name.lower()
    if pattern:
        try:
            if not re.search(pattern, name):
                cleaned = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-")
                name = cleaned.lower() if re.search(pattern, cleaned.lower()) else cleaned
        except re.error:
            pass
    return name
