"""Physical-name rules (property, length, characters) of resource types, read from cfn-lint's resource schemas
(checked at start-up by template/cfnlint_seams.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

SOURCE_URL = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-name.html"
_BOUND = re.compile(r"\{1,(\d+)\}")


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


def _schema(resource_type: str, region: str) -> dict[str, Any] | None:
    # cfn-lint's internals are guarded: a missing schema or a changed API means "no rule known", never a crash.
    try:
        from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

        return PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
    except Exception:  # noqa: BLE001 - ResourceNotFoundError and any change of cfn-lint's internals
        return None


@lru_cache(maxsize=512)
def name_rule(resource_type: str, region: str = "us-east-1") -> NameRule | None:
    """The rule of the type's custom-name property (the "Name type" of the CloudFormation user guide):
    `<Type>Name` or `Name`, when it is create-only (a physical name) and the schema bounds it."""
    schema = _schema(resource_type, region)
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
        if max_length is None and isinstance(pattern, str):
            bound = _BOUND.search(pattern)
            max_length = int(bound.group(1)) if bound else None
        if max_length is None and pattern is None:
            continue
        return NameRule(resource_type, prop, max_length, pattern if isinstance(pattern, str) else None)
    return None
