"""The one intrinsic-function evaluator: Ref, Fn::Sub, Fn::Join, Fn::GetAtt ... over a pluggable source of values.

Every function is evaluated here once, with CloudFormation's own error texts ("Template error: ...") and
its rules: AWS::NoValue removes the enclosing list item or key, Fn::Cidr, Fn::Length, Fn::ToJsonString
and Fn::FindInMap defaults (AWS::LanguageExtensions), conditions compare parameters as text. What only a
deployment knows comes from a ValueSource (orchestrator.template.values): forecast detectors and repairs
use `PlaceholderValues`, the sandbox its stack's real state. Conditions (and Fn::If) are three-valued for
a static source — decided only from given parameters, Defaults and the target, never from a stand-in;
else unknown (None) — and must decide (or fail with AWS's text) for a `strict` source.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from typing import Any

from orchestrator.template.refs import SUB_VARIABLE, getatt_parts, sub_parts
from orchestrator.template.values import (
    NO_VALUE,
    PLACEHOLDER_ACCOUNT,
    PLACEHOLDER_STACK,
    PSEUDO_PARAMETERS,
    KnownValues,
    PlaceholderValues,
    TemplateError,
    Unresolvable,
    ValueSource,
    partition_for_region,
    scalar_text,
)

__all__ = [
    "NO_VALUE", "PLACEHOLDER_ACCOUNT", "PLACEHOLDER_STACK", "PSEUDO_PARAMETERS", "KnownValues", "PlaceholderValues",
    "Resolver", "TemplateError", "Unresolvable", "ValueSource", "cidr", "partition_for_region", "resolve_known",
    "scalar_text", "static_resolver",
]

_JOIN_TEXT = ("Template error: every Fn::Join object requires two parameters, "
              "(1) a string delimiter and (2) a list of strings to be joined")
_SPLIT_TEXT = ("Template error: every Fn::Split object requires two parameters, (1) a string delimiter and "
               "(2) a string to be split or a function that returns a string to be split.")


def cidr(block: str, count: int, bits: int) -> list[str]:
    """Fn::Cidr: `count` subnets of `bits` host bits carved from `block`, in order."""
    try:
        network = ipaddress.ip_network(block, strict=False)
    except ValueError as exc:
        raise TemplateError(f"Template error: Fn::Cidr: invalid ipBlock {block!r}") from exc
    prefix = network.max_prefixlen - int(bits)
    if prefix < network.prefixlen or not 1 <= int(count) <= 256:
        raise TemplateError("Template error: Fn::Cidr: the requested count and cidrBits do not fit the ipBlock")
    subnets = []
    for subnet in network.subnets(new_prefix=prefix):
        subnets.append(str(subnet))
        if len(subnets) == int(count):
            break
    if len(subnets) < int(count):
        raise TemplateError("Template error: Fn::Cidr: the requested count and cidrBits do not fit the ipBlock")
    return subnets


class Resolver:
    """Evaluates the intrinsic functions and conditions of a long-form document with values from a ValueSource.

    `strict` is for a source with the deployment's own values (the sandbox): every condition decides or
    is a TemplateError, and functions the evaluator does not know are left as written."""

    def __init__(self, document: dict, values: ValueSource, *, strict: bool = False):
        self.document = document if isinstance(document, dict) else {}
        resources = self.document.get("Resources")
        self.resources = resources if isinstance(resources, dict) else {}
        parameters = self.document.get("Parameters")
        self.parameters = parameters if isinstance(parameters, dict) else {}
        conditions = self.document.get("Conditions")
        self.conditions = conditions if isinstance(conditions, dict) else {}
        self.values = values
        self.strict = strict
        self._resolving: set[tuple[str, str]] = set()
        self._decided: dict[str, bool | None] = {}
        self._deciding: set[str] = set()
        self._comparing = 0  # > 0 while deciding Fn::Equals: placeholders decide nothing

    # -- values ----------------------------------------------------------------------------------
    def resolve(self, node: Any) -> Any:
        """The value of node; AWS::NoValue where a value is required is a TemplateError."""
        value = self.evaluate(node)
        if value is NO_VALUE:
            raise TemplateError("Template error: AWS::NoValue used where a value is required")
        return value

    def evaluate(self, node: Any) -> Any:
        """The value of node, NO_VALUE possible; NO_VALUE items and keys are removed from containers."""
        if isinstance(node, list):
            return [v for v in (self.evaluate(item) for item in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            key, value = next(iter(node.items()))
            handler = _FUNCTIONS.get(key)
            if handler is not None:
                return handler(self, value)
            if not self.strict and (key.startswith("Fn::") or key == "Condition"):
                raise Unresolvable(f"{key} is only known at deploy time")
        out = {}
        for key, value in node.items():
            resolved = self.evaluate(value)
            if resolved is not NO_VALUE:
                out[key] = resolved
        return out

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
            raise TemplateError(f"Template error: instance of Fn::GetAtt references undefined resource {lid}")
        return self.values.getatt(lid, self.resources[lid], attr, self)

    # -- conditions ------------------------------------------------------------------------------
    def condition_state(self, name: str) -> bool | None:
        """A named condition's value, or None (static sources only) when it depends on deploy-time values."""
        if name in self._decided:
            return self._decided[name]
        if name not in self.conditions:
            raise TemplateError(f"Template format error: Unresolved dependencies [{name}]. "
                                f"Cannot reference resources in the Conditions block of the template")
        if name in self._deciding:
            if self.strict:
                raise TemplateError(f"Template error: circular dependency between conditions [{name}]")
            return None  # a cycle (which CloudFormation rejects) stays unknown
        self._deciding.add(name)
        try:
            decided = self._truth(self.conditions[name])
        finally:
            self._deciding.discard(name)
        self._decided[name] = decided
        return decided

    def condition(self, name: str) -> bool:
        """A named condition's value; Unresolvable when it is only known at deploy time."""
        state = self.condition_state(name)
        if state is None:
            raise Unresolvable(f"condition {name} is only known at deploy time")
        return state

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
        try:
            return self._decide(node)
        except Unresolvable:
            if self.strict:
                raise
            return None

    def _decide(self, node: Any) -> bool | None:
        if isinstance(node, dict) and len(node) == 1:
            key, value = next(iter(node.items()))
            if key == "Condition" and isinstance(value, str):
                return self.condition_state(value)
            if key in _LOGIC:
                return _LOGIC[key](self, value)
        value = self.resolve(node)
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise TemplateError("Template error: every Fn::And, Fn::Or and Fn::Not and Condition must evaluate to a boolean")

    def _equals(self, value: Any) -> bool:
        if not isinstance(value, list) or len(value) != 2:
            raise TemplateError("Template error: Fn::Equals requires a list of two values")
        self._comparing += 1
        try:
            left, right = [self.resolve(v) for v in value]
        finally:
            self._comparing -= 1
        if isinstance(left, (list, dict)) or isinstance(right, (list, dict)):
            return left == right
        return scalar_text(left) == scalar_text(right)

    def _and_or(self, key: str, value: Any) -> bool | None:
        if not isinstance(value, list) or not 1 <= len(value) <= 10:
            raise TemplateError(f"Template error: {key} requires a list of 1 to 10 conditions")
        results = [self._truth(v) for v in value]
        decisive = key == "Fn::Or"  # Or is decided by one True, And by one False, even beside unknowns
        if decisive in results:
            return decisive
        return None if None in results else not decisive

    def _not(self, value: Any) -> bool | None:
        if not isinstance(value, list) or len(value) != 1:
            raise TemplateError("Template error: Fn::Not requires a list of one condition")
        inner = self._truth(value[0])
        return None if inner is None else not inner

    def _boolean(self, key: str, value: Any) -> bool:
        """Fn::Equals / And / Or / Not met as a value (a condition written inline)."""
        state = self._truth({key: value})
        if state is None:
            raise Unresolvable(f"{key} is only known at deploy time")
        return state

    def _if(self, value: Any) -> Any:
        if not isinstance(value, list) or len(value) != 3 or not isinstance(value[0], str):
            raise TemplateError("Template error: Fn::If requires a list of a condition name and two values")
        return self.evaluate(value[1] if self.condition(value[0]) else value[2])

    # -- functions -------------------------------------------------------------------------------
    def _ref(self, name: Any) -> Any:
        if not isinstance(name, str):
            raise TemplateError("Template error: every Ref object must have a single String value.")
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in PSEUDO_PARAMETERS:
            if self._comparing and not self._pseudo_known(name):
                raise Unresolvable(f"{name} is only known at deploy time")
            return self.values.pseudo(name)
        if name in self.parameters:
            spec = self.parameters[name]
            given = getattr(self.values, "parameters", None)
            if self._comparing and isinstance(given, dict) and name not in given and (
                    not isinstance(spec, dict) or spec.get("Default") is None):
                raise Unresolvable(f"parameter {name} has no value and no Default")
            return self.values.parameter(name, spec if isinstance(spec, dict) else {})
        if name in self.resources:
            return self.physical_id(name)
        return self.values.unknown(name)

    def _pseudo_known(self, name: str) -> bool:
        """Whether a pseudo parameter's value is the deployment's own, not a stand-in (a condition may use it)."""
        if not isinstance(self.values, PlaceholderValues):
            return True
        if name in ("AWS::StackName", "AWS::StackId"):
            return False
        if name == "AWS::AccountId":
            return self.values.account_id != PLACEHOLDER_ACCOUNT
        return True

    def _getatt(self, value: Any) -> Any:
        parts = getatt_parts(value)
        if not parts:
            raise TemplateError("Template error: every Fn::GetAtt object requires two non-empty parameters")
        attribute = parts[1]
        if not attribute and isinstance(value, list) and len(value) == 2:
            attribute = self.resolve(value[1])  # a computed attribute name (Ref of a parameter)
        if not isinstance(attribute, str) or not attribute:
            raise TemplateError("Template error: every Fn::GetAtt object requires two non-empty parameters")
        return self.getatt(parts[0], attribute)

    def _sub(self, value: Any) -> str:
        parts = sub_parts({"Fn::Sub": value})
        if parts is None:
            raise TemplateError("Template error: Fn::Sub requires a string or a list of a string and a map")
        text, variables = parts

        def replace(match: re.Match) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            name = name.strip()
            if name in variables:
                found = self.resolve(variables[name])
            elif "." in name and not name.startswith("AWS::"):
                found = self.getatt(*name.split(".", 1))
            else:
                found = self._ref(name)
            if isinstance(found, (list, dict)) or found is NO_VALUE or found is None:
                raise TemplateError(f"Template error: variable {name} in Fn::Sub expression does not resolve to a string")
            return scalar_text(found)

        return SUB_VARIABLE.sub(replace, text)

    def _join(self, value: Any) -> str:
        if not isinstance(value, list) or len(value) != 2:
            raise TemplateError(_JOIN_TEXT)
        delimiter, items = self.resolve(value[0]), self.resolve(value[1])
        if not isinstance(delimiter, str) or not isinstance(items, list) or any(
                isinstance(i, (list, dict)) or i is None for i in items):
            raise TemplateError(_JOIN_TEXT)
        return delimiter.join(scalar_text(i) for i in items)

    def _select(self, value: Any) -> Any:
        if not isinstance(value, list) or len(value) != 2:
            raise TemplateError("Template error: Fn::Select requires a list of two elements")
        index, items = self.resolve(value[0]), self.resolve(value[1])
        try:
            position = int(index)
        except (TypeError, ValueError):
            raise TemplateError("Template error: Fn::Select requires a list of two elements, "
                                "the first an integer index") from None
        if not isinstance(items, list):
            raise TemplateError("Template error: Fn::Select requires a list of two elements, the second a list")
        if not 0 <= position < len(items):
            raise TemplateError(f"Template error: Fn::Select cannot select nonexistent value at index {position}")
        return items[position]

    def _split(self, value: Any) -> list[str]:
        if not isinstance(value, list) or len(value) != 2:
            raise TemplateError(_SPLIT_TEXT)
        delimiter, text = self.resolve(value[0]), self.resolve(value[1])
        if not isinstance(delimiter, str) or not isinstance(text, str):
            raise TemplateError(_SPLIT_TEXT)
        return text.split(delimiter)

    def _find_in_map(self, value: Any) -> Any:
        if not isinstance(value, list) or len(value) not in (3, 4):
            raise TemplateError("Template error: every Fn::FindInMap object requires three parameters, "
                                "the map name, map key and the attribute for return value")
        default = NO_VALUE
        if len(value) == 4:
            option = value[3]
            if not isinstance(option, dict) or "DefaultValue" not in option:
                raise TemplateError("Template error: the fourth Fn::FindInMap parameter must be {DefaultValue: value}")
            default = option["DefaultValue"]
        names = [self.resolve(v) for v in value[:3]]
        mapping = (self.document.get("Mappings") or {}).get(scalar_text(names[0]))
        try:
            return self.resolve(mapping[scalar_text(names[1])][scalar_text(names[2])])
        except (KeyError, TypeError):
            if default is not NO_VALUE:
                return self.resolve(default)
            raise TemplateError(f"Template error: Unable to get mapping for {names[0]}::{names[1]}::{names[2]}") from None

    def _base64(self, value: Any) -> str:
        text = self.resolve(value)
        if not isinstance(text, str):
            raise TemplateError("Template error: Fn::Base64 requires a string")
        return base64.b64encode(text.encode("utf-8")).decode("ascii")

    def _get_azs(self, value: Any) -> list[str]:
        region = self.resolve(value) if value not in (None, "") else ""
        if not isinstance(region, str) or not region:
            region = self.values.pseudo("AWS::Region")
        azs = getattr(self.values, "azs", None)
        return azs(region) if azs is not None else [f"{region}{suffix}" for suffix in "abc"]

    def _cidr(self, value: Any) -> list[str]:
        if not isinstance(value, list) or len(value) != 3:
            raise TemplateError("Template error: Fn::Cidr requires a list of ipBlock, count and cidrBits")
        block, count, bits = [self.resolve(v) for v in value]
        try:
            return cidr(str(block), int(count), int(bits))
        except (TypeError, ValueError):
            raise TemplateError("Template error: Fn::Cidr count and cidrBits must be integers") from None

    def _import(self, value: Any) -> Any:
        name = self.resolve(value)
        if not isinstance(name, str):
            raise TemplateError("Template error: Fn::ImportValue requires a string export name")
        source = getattr(self.values, "import_value", None)
        if source is None:
            raise Unresolvable(f"Fn::ImportValue {name} is only known at deploy time")
        return source(name)

    def _length(self, value: Any) -> int:
        items = self.resolve(value)
        if not isinstance(items, list):
            raise TemplateError("Template error: Fn::Length requires a list")
        return len(items)

    def _to_json_string(self, value: Any) -> str:
        return json.dumps(self.resolve(value), separators=(",", ":"))


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
    "Fn::Cidr": Resolver._cidr,
    "Fn::ImportValue": Resolver._import,
    "Fn::Length": Resolver._length,
    "Fn::ToJsonString": Resolver._to_json_string,
    "Fn::If": Resolver._if,
    "Fn::Equals": lambda self, value: self._boolean("Fn::Equals", value),
    "Fn::And": lambda self, value: self._boolean("Fn::And", value),
    "Fn::Or": lambda self, value: self._boolean("Fn::Or", value),
    "Fn::Not": lambda self, value: self._boolean("Fn::Not", value),
}
_LOGIC = {
    "Fn::Equals": Resolver._equals,
    "Fn::And": lambda self, value: self._and_or("Fn::And", value),
    "Fn::Or": lambda self, value: self._and_or("Fn::Or", value),
    "Fn::Not": Resolver._not,
}


def static_resolver(document: dict, **target: Any) -> Resolver:
    """A Resolver over PlaceholderValues for one target (region, partition, account_id, stack_name, parameters)."""
    return Resolver(document, PlaceholderValues(**target))


def resolve_known(node: Any, known: dict[str, Any]) -> Any:
    """A copy of node with every intrinsic that evaluates from `known` alone (pseudo parameters and
    parameters by name) replaced by its value; everything else kept as written."""
    return Resolver({}, KnownValues(known)).resolve_partial(node)
