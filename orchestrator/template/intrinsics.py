"""The one intrinsic-function evaluator: Ref, Fn::Sub, Fn::Join, Fn::GetAtt ... over a pluggable source of values.

Forecast detectors and repairs evaluate templates with `PlaceholderValues` (pseudo parameters fixed for
one target, stable stand-ins for what only a deployment knows), so both see the same names: an unnamed
log group is `<stack>-<logical id>-GENERATED` for each of them. A caller that knows real values (the
sandbox, a failure's ARNs) supplies its own `ValueSource`. Conditions (and Fn::If) are three-valued:
decided only from given parameters, Defaults and the target, never from a stand-in; else unknown (None).
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Protocol

from orchestrator.template.refs import SUB_VARIABLE, getatt_parts, sub_parts

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


NO_VALUE = object()  # what AWS::NoValue evaluates to: the enclosing key or list item disappears


def partition_for_region(region: str) -> str:
    """The AWS partition a region belongs to."""
    for prefix, partition in (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-isob-", "aws-iso-b"), ("us-iso-", "aws-iso")):
        if region.startswith(prefix):
            return partition
    return "aws"


class ValueSource(Protocol):
    """Where a Resolver gets what the template itself does not say."""

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


class Resolver:
    """Evaluates the intrinsic functions of a long-form document with values from a ValueSource."""

    def __init__(self, document: dict, values: ValueSource):
        self.document = document if isinstance(document, dict) else {}
        resources = self.document.get("Resources")
        self.resources = resources if isinstance(resources, dict) else {}
        parameters = self.document.get("Parameters")
        self.parameters = parameters if isinstance(parameters, dict) else {}
        self.values = values
        self._resolving: set[tuple[str, str]] = set()
        conditions = self.document.get("Conditions")
        self.conditions = conditions if isinstance(conditions, dict) else {}
        self._decided: dict[str, bool | None] = {}
        self._strict = 0  # > 0 while deciding a condition: placeholders decide nothing

    def resolve(self, node: Any) -> Any:
        """The value of node; Unresolvable when any part of it is only known at deploy time."""
        value = self._resolve(node)
        if value is NO_VALUE:
            raise Unresolvable("AWS::NoValue where a value is needed")
        return value

    def resolve_string(self, node: Any) -> str | None:
        """The string node evaluates to, or None (unresolvable, or not a string)."""
        try:
            value = self.resolve(node)
        except Unresolvable:
            return None
        return value if isinstance(value, str) else None

    def resolve_partial(self, node: Any) -> Any:
        """A copy of node with every intrinsic function that evaluates replaced by its value; the rest kept."""
        if isinstance(node, list):
            return [self.resolve_partial(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1 and (next(iter(node)) == "Ref" or next(iter(node)).startswith("Fn::")):
            try:
                return self.resolve(node)
            except Unresolvable:
                pass
        return {key: self.resolve_partial(value) for key, value in node.items()}

    def physical_id(self, lid: str) -> Any:
        if lid not in self.resources:
            raise Unresolvable(f"Ref to unknown {lid}")
        return self.values.physical_id(lid, self.resources[lid], self)

    def resolve_property(self, lid: str, name: str) -> Any:
        """A resource property's value, refusing a property that (through others) refers to itself."""
        key = (lid, name)
        if key in self._resolving:
            raise Unresolvable(f"{lid}.{name} refers to itself")
        self._resolving.add(key)
        try:
            return self.resolve((self.resources[lid].get("Properties") or {})[name])
        finally:
            self._resolving.discard(key)

    def getatt(self, lid: str, attr: str) -> Any:
        if lid not in self.resources:
            raise Unresolvable(f"Fn::GetAtt of unknown resource {lid}")
        return self.values.getatt(lid, self.resources[lid], attr, self)

    # -- conditions: three-valued (True, False, None = unknown without the deployment's values) ---
    def condition_state(self, name: str) -> bool | None:
        """A named condition's value, or None when it depends on something not known statically."""
        if name in self._decided:
            return self._decided[name]
        if name not in self.conditions:
            raise Unresolvable(f"unknown condition {name}")
        self._decided[name] = None  # a cycle (which CloudFormation rejects) stays unknown
        self._decided[name] = self._truth(self.conditions[name])
        return self._decided[name]

    def resource_condition(self, lid: str) -> bool | None:
        """Whether resource `lid` is created: True without a Condition, else its condition's value."""
        name = (self.resources.get(lid) or {}).get("Condition")
        if not isinstance(name, str):
            return True
        try:
            return self.condition_state(name)
        except Unresolvable:
            return None

    def _truth(self, node: Any) -> bool | None:
        if isinstance(node, bool):
            return node
        if isinstance(node, str) and node.lower() in ("true", "false"):
            return node.lower() == "true"
        if not isinstance(node, dict) or len(node) != 1:
            return None
        key, value = next(iter(node.items()))
        try:
            if key == "Condition" and isinstance(value, str):
                return self.condition_state(value)
            if key == "Fn::Equals" and isinstance(value, list) and len(value) == 2:
                self._strict += 1
                try:
                    left, right = (self.resolve(v) for v in value)
                finally:
                    self._strict -= 1
                if isinstance(left, (list, dict)) or isinstance(right, (list, dict)):
                    return left == right
                return _scalar_text(left) == _scalar_text(right)
        except Unresolvable:
            return None
        if key in ("Fn::And", "Fn::Or") and isinstance(value, list) and value:
            results = [self._truth(v) for v in value]
            decisive = key == "Fn::Or"  # Or is decided by one True, And by one False, even beside unknowns
            if decisive in results:
                return decisive
            return None if None in results else not decisive
        if key == "Fn::Not" and isinstance(value, list) and len(value) == 1:
            inner = self._truth(value[0])
            return None if inner is None else not inner
        return None

    def _if(self, value: Any, node: Any) -> Any:
        if not isinstance(value, list) or len(value) != 3 or not isinstance(value[0], str):
            raise Unresolvable("malformed Fn::If")
        decided = self.condition_state(value[0])
        if decided is None:
            raise Unresolvable(f"condition {value[0]} is only known at deploy time")
        return self._resolve(value[1] if decided else value[2])

    # -- the evaluator ---------------------------------------------------------------------------
    def _resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            out = [self._resolve(item) for item in node]
            return [item for item in out if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            key, value = next(iter(node.items()))
            handler = _FUNCTIONS.get(key)
            if handler is not None:
                return handler(self, value, node)
            if key.startswith("Fn::") or key == "Condition":
                raise Unresolvable(f"{key} is only known at deploy time")
        out = {}
        for key, value in node.items():
            resolved = self._resolve(value)
            if resolved is not NO_VALUE:
                out[key] = resolved
        return out

    def _ref(self, name: Any, node: Any = None) -> Any:
        if not isinstance(name, str):
            raise Unresolvable("Ref to a computed name")
        if name in PSEUDO_PARAMETERS:
            if self._strict and not self._pseudo_known(name):
                raise Unresolvable(f"{name} is only known at deploy time")
            return self.values.pseudo(name)
        if name in self.parameters:
            spec = self.parameters[name]
            given = getattr(self.values, "parameters", None)
            if self._strict and isinstance(given, dict) and name not in given and (
                    not isinstance(spec, dict) or spec.get("Default") is None):
                raise Unresolvable(f"parameter {name} has no value and no Default")
            return self.values.parameter(name, spec if isinstance(spec, dict) else {})
        if name in self.resources:
            return self.physical_id(name)
        return self.values.unknown(name)

    def _pseudo_known(self, name: str) -> bool:
        """Whether a pseudo parameter's value is the deployment's own, not a stand-in (a condition may use it)."""
        if name in ("AWS::StackName", "AWS::StackId"):
            return not isinstance(self.values, PlaceholderValues)
        if name == "AWS::AccountId":
            return getattr(self.values, "account_id", None) not in (None, PLACEHOLDER_ACCOUNT)
        return True

    def _getatt(self, value: Any, node: Any) -> Any:
        parts = getatt_parts(value)
        if not parts or not parts[1]:
            raise Unresolvable("Fn::GetAtt with a computed attribute")
        return self.getatt(*parts)

    def _sub(self, value: Any, node: Any) -> str:
        parts = sub_parts(node)
        if parts is None:
            raise Unresolvable("malformed Fn::Sub")
        text, variables = parts

        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            name = name.strip()
            if name in variables:
                found = self.resolve(variables[name])
            elif "." in name and name.split(".", 1)[0] in self.resources:
                found = self.getatt(*name.split(".", 1))
            else:
                found = self._ref(name)
            if isinstance(found, (list, dict)) or found is NO_VALUE:
                raise Unresolvable(f"${{{name}}} is not a string")
            return str(found)

        return SUB_VARIABLE.sub(replace, text)

    def _join(self, value: Any, node: Any) -> str:
        if not isinstance(value, list) or len(value) != 2:
            raise Unresolvable("malformed Fn::Join")
        delimiter, items = self.resolve(value[0]), self.resolve(value[1])
        if not isinstance(delimiter, str) or not isinstance(items, list):
            raise Unresolvable("Fn::Join of a non-list")
        if any(isinstance(item, (list, dict)) for item in items):
            raise Unresolvable("Fn::Join of a structured value")
        return delimiter.join(str(item) for item in items)

    def _select(self, value: Any, node: Any) -> Any:
        if not isinstance(value, list) or len(value) != 2:
            raise Unresolvable("malformed Fn::Select")
        index, items = self.resolve(value[0]), self.resolve(value[1])
        try:
            return items[int(index)]
        except (TypeError, ValueError, IndexError, KeyError) as exc:
            raise Unresolvable("Fn::Select out of range") from exc

    def _split(self, value: Any, node: Any) -> list:
        if not isinstance(value, list) or len(value) != 2:
            raise Unresolvable("malformed Fn::Split")
        delimiter, text = self.resolve(value[0]), self.resolve(value[1])
        if not isinstance(delimiter, str) or not isinstance(text, str):
            raise Unresolvable("Fn::Split of a non-string")
        return text.split(delimiter)

    def _find_in_map(self, value: Any, node: Any) -> Any:
        if not isinstance(value, list) or len(value) < 3:
            raise Unresolvable("malformed Fn::FindInMap")
        keys = [self.resolve(item) for item in value[:3]]
        try:
            return self.document["Mappings"][keys[0]][keys[1]][keys[2]]
        except (KeyError, TypeError) as exc:
            raise Unresolvable("Fn::FindInMap key not in the mapping") from exc

    def _get_azs(self, value: Any, node: Any) -> list[str]:
        region = self.values.pseudo("AWS::Region")
        return [f"{region}{suffix}" for suffix in "abc"]

    def _base64(self, value: Any, node: Any) -> Any:
        return self.resolve(value)


_FUNCTIONS = {
    "Ref": Resolver._ref,
    "Fn::GetAtt": Resolver._getatt,
    "Fn::Sub": Resolver._sub,
    "Fn::Join": Resolver._join,
    "Fn::Select": Resolver._select,
    "Fn::Split": Resolver._split,
    "Fn::FindInMap": Resolver._find_in_map,
    "Fn::GetAZs": Resolver._get_azs,
    "Fn::Base64": Resolver._base64,
    "Fn::If": Resolver._if,
}


def _scalar_text(value: Any) -> str:
    """A scalar as CloudFormation compares it in Fn::Equals: parameters are strings; YAML booleans read as true/false."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def static_resolver(document: dict, **target: Any) -> Resolver:
    """A Resolver over PlaceholderValues for one target (region, partition, account_id, stack_name, parameters)."""
    return Resolver(document, PlaceholderValues(**target))


def resolve_known(node: Any, known: dict[str, Any]) -> Any:
    """A copy of node with every intrinsic that evaluates from `known` alone (pseudo parameters and
    parameters by name) replaced by its value; everything else kept as written."""
    return Resolver({}, KnownValues(known)).resolve_partial(node)
