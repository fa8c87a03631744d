"""CloudFormation's template processing for sandbox stacks: parameters, conditions, intrinsic functions.

Done before any service model sees a resource, with the one evaluator (orchestrator.template.intrinsics)
over a value source that reads the stack's real state; errors are AWS's ValidationError texts.
"""

from __future__ import annotations

import re
from typing import Any

from moto.cloudformation.exceptions import ExportNotFound, ValidationError

from orchestrator.template.intrinsics import NO_VALUE, Resolver, TemplateError, scalar_text

_SCALARS = (str, int, float, bool, list, dict)


def physical_id(model: Any) -> Any:
    """What Ref returns for a built resource: its physical id; for the few moto models without one, the
    name (DB parameter groups, option groups) or id CloudFormation documents as Ref's value."""
    for attribute in ("physical_resource_id", "name", "id", "arn"):
        value = getattr(model, attribute, None)
        if isinstance(value, str) and value:
            return value
    return model


class StackSource:
    """The evaluator's ValueSource for a sandbox stack: Ref / GetAtt / ImportValue / GetAZs answered from
    its moto ResourceMap (parameters and pseudo parameters are in there too)."""

    def __init__(self, rmap: Any):
        self.rmap = rmap

    def ref(self, name: str) -> Any:
        parsed = self.rmap._parsed_resources
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in parsed and parsed[name] is not None:
            value = parsed[name]
            return value if isinstance(value, _SCALARS) else physical_id(value)
        if name in (self.rmap._resource_json_map or {}):
            raise TemplateError(f"Template format error: Unresolved resource dependencies [{name}] in the "
                                f"Resources block of the template")
        raise TemplateError(f"Template format error: Unresolved resource dependencies [{name}] in the Resources "
                            f"block of the template")

    def pseudo(self, name: str) -> Any:
        return self.ref(name)

    def parameter(self, name: str, spec: dict) -> Any:
        return self.ref(name)

    def physical_id(self, lid: str, resource: dict, resolver: Resolver) -> Any:
        return self.ref(lid)

    def unknown(self, name: str) -> Any:
        return self.ref(name)

    def getatt(self, logical_id: str, resource: dict, attribute: str, resolver: Resolver) -> Any:
        from moto.cloudformation.exceptions import UnformattedGetAttTemplateException

        from orchestrator.sandbox.emulated import fallback_attribute

        if logical_id not in (self.rmap._resource_json_map or {}):
            raise TemplateError(f"Template error: instance of Fn::GetAtt references undefined resource {logical_id}")
        resource = self.rmap._parsed_resources.get(logical_id)
        if resource is None:
            raise TemplateError(f"Template format error: Unresolved resource dependencies [{logical_id}] in the "
                                f"Resources block of the template")
        try:
            return resource.get_cfn_attribute(attribute)
        except (AttributeError, NotImplementedError, UnformattedGetAttTemplateException, KeyError):
            return fallback_attribute(resource, attribute, self.rmap._region_name)

    def import_value(self, name: str) -> Any:
        exports = self.rmap.cross_stack_resources or {}
        if name not in exports:
            raise ExportNotFound(name)
        return exports[name].value

    def azs(self, region: str) -> list[str]:
        from orchestrator.sandbox.patches_template import availability_zones

        return availability_zones(region or self.rmap._region_name)


def evaluator_for(rmap: Any) -> Resolver:
    """One evaluator per template version of a stack (conditions are decided once)."""
    cached = getattr(rmap, "_sbx_evaluator", None)
    if cached is None or cached[0] is not rmap._template:
        cached = (rmap._template, Resolver(rmap._template, StackSource(rmap), strict=True))
        rmap._sbx_evaluator = cached
    return cached[1]


def clean(node: Any, rmap: Any) -> Any:
    """moto's clean_json, done by the one evaluator: AWS::NoValue removed, AWS's texts on errors."""
    try:
        value = evaluator_for(rmap).evaluate(node)
    except TemplateError as exc:
        raise ValidationError(message=str(exc)) from None
    return None if value is NO_VALUE else value


def decide_conditions(rmap: Any) -> dict[str, bool]:
    evaluator = evaluator_for(rmap)
    try:
        return {name: evaluator.condition(name) for name in (rmap._template.get("Conditions") or {})}
    except TemplateError as exc:
        raise ValidationError(message=str(exc)) from None


# ---------------------------------------------------------------------------------------------- parameters

_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")


def validate_parameters(template: dict, inputs: dict[str, Any]) -> None:
    """Parameter values against their declared Type and constraints, as CreateStack checks them.

    AWS's ValidationError texts: "Parameters: [X] must have values", "Parameter 'X' must be a number.",
    "Parameter 'X' must be one of AllowedValues", "Parameter 'X' must match pattern P",
    "Parameter 'X' must contain at least/most N characters", "Parameter 'X' must be a number not
    less/greater than N"; a ConstraintDescription replaces the constraint's own text.
    """
    declared = template.get("Parameters") or {}
    if not isinstance(declared, dict):
        raise ValidationError(message="Template format error: Parameters must be an object")
    missing = [name for name, spec in declared.items()
               if name not in inputs and (not isinstance(spec, dict) or "Default" not in spec)]
    if missing:
        raise ValidationError(message=f"Parameters: [{', '.join(missing)}] must have values")
    for name, spec in declared.items():
        value = inputs.get(name, spec.get("Default"))
        kind = str(spec.get("Type", "String"))
        if kind.startswith("AWS::SSM::Parameter::"):
            continue
        values = _as_list(value) if kind.startswith("List<") or kind == "CommaDelimitedList" else [value]
        for item in values:
            _check_one(name, spec, kind, scalar_text(item).strip() if kind.startswith("List<") else scalar_text(item))


def _as_list(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    return [part for part in scalar_text(value).split(",")] if value not in (None, "") else []


def _check_one(name: str, spec: dict, kind: str, text: str) -> None:
    described = spec.get("ConstraintDescription")

    def fail(default: str) -> None:
        raise ValidationError(message=f"Parameter '{name}' {described or default}")

    if kind in ("Number", "List<Number>") and not _NUMBER.match(text):
        raise ValidationError(message=f"Parameter '{name}' must be a number.")
    allowed = spec.get("AllowedValues")
    if isinstance(allowed, list) and text not in [scalar_text(a) for a in allowed]:
        fail("must be one of AllowedValues")
    pattern = spec.get("AllowedPattern")
    if isinstance(pattern, str):
        try:
            if not re.fullmatch(pattern, text):
                fail(f"must match pattern {pattern}")
        except re.error:
            pass
    if "MinLength" in spec and len(text) < int(spec["MinLength"]):
        fail(f"must contain at least {spec['MinLength']} characters")
    if "MaxLength" in spec and len(text) > int(spec["MaxLength"]):
        fail(f"must contain at most {spec['MaxLength']} characters")
    if kind in ("Number", "List<Number>"):
        number = float(text)
        if "MinValue" in spec and number < float(spec["MinValue"]):
            fail(f"must be a number not less than {spec['MinValue']}")
        if "MaxValue" in spec and number > float(spec["MaxValue"]):
            fail(f"must be a number not greater than {spec['MaxValue']}")
