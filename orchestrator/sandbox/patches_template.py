"""The sandbox's moto seams for CloudFormation's template processing: intrinsic functions, parameters,
conditions, transforms, template text, SSM parameters and IAM policy versions (installed by patches.py)."""

from __future__ import annotations

import hashlib
from typing import Any, Callable

from moto.cloudformation import parsing
from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import ChangeSet, Stack
from moto.cloudformation.parsing import ResourceMap
from moto.iam.policy_validation import IAMPolicyDocumentValidator

from orchestrator.sandbox.context import context_for

ORIGINALS: dict[str, Callable[..., Any]] = {}  # seam key -> moto's own implementation, for non-sandbox accounts


# ---------------------------------------------------------------------------------------------- availability zones


def availability_zones(region: str) -> list[str]:
    """Zone names of a region as moto's EC2 (and AWS) lists them: us-east-1 has six, us-west-1 two."""
    from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend

    zones = RegionsAndZonesBackend.zones.get(region)
    return [z.name for z in zones] if zones else [f"{region}{s}" for s in "abc"]


def _clean_json(resource_json: Any, resources_map: Any) -> Any:
    """Sandbox stacks evaluate intrinsic functions with the one evaluator (orchestrator.template.intrinsics):
    AWS::NoValue removed from lists and keys, Fn::Cidr, Fn::Length, FindInMap defaults, GetAZs per region."""
    if context_for(getattr(resources_map, "_account_id", None)) is not None:
        from orchestrator.sandbox.processing import clean

        return clean(resource_json, resources_map)
    return ORIGINALS["clean_json"](resource_json, resources_map)


def _load_parameters(self: ResourceMap) -> None:
    """Parameter types and constraints checked with AWS's ValidationError texts before moto resolves them."""
    if context_for(self._account_id) is not None:
        from orchestrator.sandbox.processing import validate_parameters

        validate_parameters(self._template, dict(self.input_parameters or {}))
    return ORIGINALS["load_parameters"](self)


def _create_resource_map(self: Stack) -> Any:
    """CloudFormation runs declared transforms (SAM) on the template, with the stack's parameters, before
    anything else reads it; GetTemplate still answers the original text."""
    if context_for(self.account_id) is not None:
        from orchestrator.sandbox.transforms import expand

        self.template_dict = expand(self.template_dict, self.parameters, self.region_name)
    return ORIGINALS["create_resource_map"](self)


def _load_conditions(self: ResourceMap) -> None:
    """Conditions decided once with CloudFormation's coercions (a Number default 2 equals "2")."""
    if context_for(self._account_id) is None:
        return ORIGINALS["load_conditions"](self)
    from orchestrator.sandbox.processing import decide_conditions

    self.lazy_condition_map = parsing.LazyDict(decide_conditions(self))
    return None


def public_parameter_value(name: str, region: str) -> str | None:
    """A plausible value for an AWS public SSM parameter (/aws/service/...) moto has no data for."""
    if not name.startswith("/aws/service/"):
        return None
    digest = hashlib.sha256(f"{region}:{name}".encode()).hexdigest()
    if any(word in name for word in ("ami", "image_id", "ubuntu", "windows", "bottlerocket", "debian", "suse")):
        return f"ami-{digest[:17]}"
    return digest[:16]


def _parse_ssm_parameter(self: ResourceMap, value: str, value_type: str) -> Any:
    """AWS::SSM::Parameter::Value<...> parameters resolve AWS public parameters in every region.

    AWS: templates read /aws/service/ami-amazon-linux-latest/... and similar public parameters; a
    parameter that does not exist fails CreateStack with a ValidationError.
    """
    if context_for(self._account_id) is None:
        return ORIGINALS["parse_ssm_parameter"](self, value, value_type)
    from moto.ssm.models import ssm_backends

    parameter = ssm_backends[self._account_id][self._region_name].get_parameter(value)
    actual = parameter.value if parameter is not None else public_parameter_value(value, self._region_name)
    if actual is None:
        raise ValidationError(message=f"Unable to fetch parameters [{value}] from parameter store for this account.")
    if "List" in value_type:
        return actual.split(",")
    return actual


# ---------------------------------------------------------------------------------------------- template text


def parse_template_text(template: Any) -> Any:
    """Template text as CloudFormation reads it: YAML short-form tags, `2012-10-17` stays a string (moto's
    PyYAML turns it into a date, which later fails JSON encoding with an HTTP 500), and text that is not
    a template is a ValidationError "Template format error: ...", never a server error."""
    if not isinstance(template, str):
        return template
    from orchestrator.errors import BadInput
    from orchestrator.template import loads_template

    try:
        return loads_template(template, name="template").document
    except BadInput as exc:
        where = f" (line {exc.line})" if getattr(exc, "line", None) else ""
        raise ValidationError(message=f"Template format error: {exc.message}{where}") from None


def _parse_change_set_template(self: Any) -> None:
    self.template_dict = parse_template_text(self.template)


# ---------------------------------------------------------------------------------------------- IAM


def _validate_policy_version(self: Any) -> None:
    """IAM accepts a policy document without Version (it then defaults to 2008-10-17) and one with
    Version 2008-10-17; moto demands 2012-10-17 ("Policy document must be version 2012-10-17 or
    greater."), which AWS says only of documents using policy variables."""
    version = self._policy_json.get("Version") if isinstance(self._policy_json, dict) else None
    if version is None or version == "2008-10-17":
        return None
    return ORIGINALS["validate_policy_version"](self)


TEMPLATE_SEAMS: list[tuple[str, Any, str, Callable[..., Any]]] = [
    ("parse_ssm_parameter", ResourceMap, "parse_ssm_parameter", _parse_ssm_parameter),
    ("clean_json", parsing, "clean_json", _clean_json),
    ("load_parameters", ResourceMap, "load_parameters", _load_parameters),
    ("load_conditions", ResourceMap, "load_conditions", _load_conditions),
    ("create_resource_map", Stack, "_create_resource_map", _create_resource_map),
    ("parse_template", Stack, "parse_template", staticmethod(parse_template_text)),
    ("parse_change_set_template", ChangeSet, "_parse_template", _parse_change_set_template),
    ("validate_policy_version", IAMPolicyDocumentValidator, "_validate_version", _validate_policy_version),
]
