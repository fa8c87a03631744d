"""Where the intrinsic evaluator's values come from: the ValueSource protocol and the static value sources.

`PlaceholderValues` fixes pseudo parameters for one target and gives stable stand-ins for what only a
deployment knows, so forecast detectors and repairs see the same names (an unnamed log group is
`<stack>-<logical id>-GENERATED` for each of them); `KnownValues` answers only the names it is given.
A caller that knows real values (the sandbox's stack) supplies its own source.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from orchestrator.template.intrinsics import Resolver

# The account id every static evaluation uses: policies written with ${AWS::AccountId} resolve consistently.
PLACEHOLDER_ACCOUNT = "123456789012"
PLACEHOLDER_STACK = "cfn-autofix-forecast"

PSEUDO_PARAMETERS = frozenset({
    "AWS::Region",
    "AWS::AccountId",
    "AWS::Partition",
    "AWS::StackName",
    "AWS::StackId",
    "AWS::URLSuffix",
    "AWS::NoValue",
    "AWS::NotificationARNs",
})


class Unresolvable(Exception):
    """A value depends on something only known at deploy time (a condition, an import, a custom resource)."""


class TemplateError(Unresolvable):
    """A template CloudFormation rejects while evaluating it; str() is AWS's text.

    A subclass of Unresolvable: a static caller cannot evaluate a malformed template either."""


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Any = _NoValue()  # what AWS::NoValue evaluates to: the enclosing key or list item disappears


def scalar_text(value: Any) -> str:
    """A scalar as CloudFormation compares it: parameters are strings, so 2, "2" and 2.0 differ only
    where their text differs, and YAML booleans read as "true"/"false"."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def partition_for_region(region: str) -> str:
    """The AWS partition a region belongs to."""
    for prefix, partition in (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-isob-", "aws-iso-b"), ("us-iso-", "aws-iso")):
        if region.startswith(prefix):
            return partition
    return "aws"


class ValueSource(Protocol):
    """Where a Resolver gets what the template itself does not say.

    Optional: `import_value(name)` (Fn::ImportValue; without it the import is Unresolvable) and
    `azs(region)` (Fn::GetAZs; without it the region's a, b and c zones)."""

    def pseudo(self, name: str) -> Any: ...

    def parameter(self, name: str, spec: dict) -> Any: ...

    def physical_id(self, lid: str, resource: dict, resolver: "Resolver") -> Any: ...

    def getatt(self, lid: str, resource: dict, attr: str, resolver: "Resolver") -> Any: ...

    def unknown(self, name: str) -> Any: ...


class PlaceholderValues:
    """Stable stand-ins for one target (region, partition, account): the one placeholder semantics."""

    def __init__(
        self,
        *,
        region: str = "us-east-1",
        partition: str | None = None,
        account_id: str = PLACEHOLDER_ACCOUNT,
        stack_name: str = PLACEHOLDER_STACK,
        parameters: dict | None = None,
    ):
        self.region = region
        self.partition = partition or partition_for_region(region)
        self.account_id = account_id
        self.stack_name = stack_name
        self.parameters = dict(parameters or {})

    def pseudo(self, name: str) -> Any:
        values = {
            "AWS::Region": self.region,
            "AWS::AccountId": self.account_id,
            "AWS::Partition": self.partition,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": f"arn:{self.partition}:cloudformation:{self.region}:{self.account_id}:stack/"
                            f"{self.stack_name}/00000000-0000-0000-0000-000000000000",
            "AWS::URLSuffix": "amazonaws.com.cn" if self.partition == "aws-cn" else "amazonaws.com",
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }
        if name not in values:
            raise Unresolvable(f"unknown pseudo parameter {name}")
        return values[name]

    def parameter(self, name: str, spec: dict) -> Any:
        value = self.parameters.get(name, spec.get("Default"))
        if value is None:
            # Both sides of a comparison (a log group name and a key policy condition) that use the same
            # parameter see the same value.
            value = f"{name}-value"
        if str(spec.get("Type", "")).startswith(("List<", "CommaDelimitedList")) and isinstance(value, str):
            return [part.strip() for part in value.split(",")]
        return value

    def physical_id(self, lid: str, resource: dict, resolver: "Resolver") -> Any:
        rtype = resource.get("Type", "")
        props = resource.get("Properties") or {}
        if rtype == "AWS::Logs::LogGroup":
            if "LogGroupName" in props:
                return resolver.resolve_property(lid, "LogGroupName")
            return self.generated_name(lid)
        if rtype == "AWS::KMS::Key":
            return self.key_id(lid)
        if rtype == "AWS::KMS::Alias":
            return resolver.resolve_property(lid, "AliasName") if "AliasName" in props else f"alias/{lid}"
        return f"{self.stack_name}-{lid}"

    def generated_name(self, lid: str) -> str:
        """CloudFormation names an unnamed resource <stack>-<logical id>-<random suffix>; the suffix is fixed here."""
        return f"{self.stack_name}-{lid}-GENERATED"

    def key_id(self, lid: str) -> str:
        digest = hashlib.sha1(lid.encode()).hexdigest()
        return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"

    def getatt(self, lid: str, resource: dict, attr: str, resolver: "Resolver") -> Any:
        rtype = resource.get("Type", "")
        if rtype == "AWS::Logs::LogGroup" and attr == "Arn":
            return self.log_group_arn(resolver.physical_id(lid)) + ":*"
        if rtype == "AWS::KMS::Key" and attr == "Arn":
            return f"arn:{self.partition}:kms:{self.region}:{self.account_id}:key/{self.key_id(lid)}"
        if rtype == "AWS::KMS::Key" and attr == "KeyId":
            return self.key_id(lid)
        if rtype == "AWS::IAM::Role" and attr == "Arn":
            return f"arn:{self.partition}:iam::{self.account_id}:role/{self.stack_name}-{lid}"
        return f"{self.stack_name}-{lid}-{attr}"

    def log_group_arn(self, name: str) -> str:
        return f"arn:{self.partition}:logs:{self.region}:{self.account_id}:log-group:{name}"

    def unknown(self, name: str) -> Any:
        raise Unresolvable(f"Ref to unknown {name}")


class KnownValues:
    """Only the names given (pseudo parameters and parameters by name); everything else is Unresolvable."""

    def __init__(self, known: dict[str, Any]):
        self.known = dict(known)

    def pseudo(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.known:
            return self.known[name]
        raise Unresolvable(f"{name} is not known here")

    def parameter(self, name: str, spec: dict) -> Any:
        return self.pseudo(name)

    def physical_id(self, lid: str, resource: dict, resolver: "Resolver") -> Any:
        return self.pseudo(lid)

    def getatt(self, lid: str, resource: dict, attr: str, resolver: "Resolver") -> Any:
        return self.pseudo(f"{lid}.{attr}")

    def unknown(self, name: str) -> Any:
        return self.pseudo(name)
