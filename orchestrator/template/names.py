"""Physical-name rules (property, length, characters) of resource types, read from cfn-lint's resource schemas
(checked at start-up by template/cfnlint_seams.py)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from orchestrator.template.cfnlint_seams import data_path

SOURCE_URL = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-name.html"
_BOUND = re.compile(r"\{1,(\d+)\}")
_ELB_NAME = r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$"
# Names whose registry schema states no bound, with the limit their user-guide page documents (32 characters,
# alphanumerics and hyphens, no leading or trailing hyphen), which ELB enforces at create time.
_DOCUMENTED = {
    # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-elasticloadbalancingv2-targetgroup.html
    ("AWS::ElasticLoadBalancingV2::TargetGroup", "Name"): (32, _ELB_NAME),
    # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-elasticloadbalancingv2-loadbalancer.html
    ("AWS::ElasticLoadBalancingV2::LoadBalancer", "Name"): (32, _ELB_NAME),
    # https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-elasticloadbalancing-loadbalancer.html
    ("AWS::ElasticLoadBalancing::LoadBalancer", "LoadBalancerName"): (32, _ELB_NAME),
}


@dataclass(frozen=True)
class NameRule:
    resource_type: str
    prop: str
    max_length: int | None
    pattern: str | None

    def problem(self, name: str) -> str | None:
        """What is wrong with `name` under this rule, or None."""
        if self.max_length is not None and len(name) > self.max_length:
            return f"{len(name)} characters, over the limit of {self.max_length}"
        if self.pattern and not name.startswith("arn:"):
            try:
                if re.search(self.pattern, name) is None:
                    return f"does not match the pattern {self.pattern}"
            except re.error:  # a schema pattern in a dialect Python does not read
                return None
        return None


@lru_cache(maxsize=32)
def _provider_index(region: str) -> dict[str, str]:
    """Resource type -> file of its registry schema, as cfn-lint's schema manager maps them (a region it has no
    list for reads us-east-1's; SAM's types are in every region)."""
    providers = data_path("schemas", "providers")
    listed = providers / f"{region}.json"
    index = json.loads((listed if listed.is_file() else providers / "us-east-1.json").read_text(encoding="utf-8"))
    sam = providers / "sam.json"
    if sam.is_file():
        index.update(json.loads(sam.read_text(encoding="utf-8")))
    return index


@lru_cache(maxsize=1024)
def resource_schema(resource_type: str, region: str = "us-east-1") -> dict[str, Any]:
    """The CloudFormation registry schema cfn-lint ships for a type ({} when it has none).

    Read from cfn-lint's bundled files (template/cfnlint_seams.py checks they are there), not through its schema
    manager: importing that loads all of cfn-lint, a second of start-up for a few small JSON files.
    """
    try:
        digest = _provider_index(region).get(resource_type)
        if not digest:
            return {}
        return json.loads(data_path("schemas", "resources", f"{digest}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):  # a missing or unreadable file means "no rule known", never a crash
        return {}


@lru_cache(maxsize=512)
def name_rule(resource_type: str, region: str = "us-east-1") -> NameRule | None:
    """The rule of the type's custom-name property (the "Name type" of the CloudFormation user guide):
    `<Type>Name` or `Name`, when it is create-only (a physical name) and the schema bounds it."""
    schema = resource_schema(resource_type, region)
    if not schema:
        return None
    short = resource_type.split("::")[-1]
    create_only = {p.rsplit("/", 1)[-1] for p in schema.get("createOnlyProperties") or []}
    for prop in (f"{short}Name", "Name"):
        spec = (schema.get("properties") or {}).get(prop)
        if not isinstance(spec, dict) or prop not in create_only:
            continue
        max_length = spec.get("maxLength")
        pattern = spec.get("pattern")
        if max_length is None and pattern is None and (resource_type, prop) in _DOCUMENTED:
            max_length, pattern = _DOCUMENTED[(resource_type, prop)]
        if max_length is None and isinstance(pattern, str):
            bound = _BOUND.search(pattern)
            max_length = int(bound.group(1)) if bound else None
        if max_length is None and pattern is None:
            continue
        return NameRule(resource_type, prop, max_length, pattern if isinstance(pattern, str) else None)
    return None
