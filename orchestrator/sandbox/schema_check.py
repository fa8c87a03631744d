"""Pre-deployment property validation of stand-ins against the type's registry schema, with AWS's texts.

CloudFormation validates a registry type's properties against its schema before the handler runs and
fails the resource with "Properties validation failed for resource X with message: [#: ...]". A stand-in
(a type no service model covers) still gets that check, so a misspelt property or a bad enum is caught
with AWS's text even where nothing is built. Checked: required and unknown keys, enums, string lengths,
patterns, and the basic JSON type of each top-level property (numeric and boolean strings are accepted,
as CloudFormation converts them).
"""

from __future__ import annotations

import re
from typing import Any

from orchestrator.sandbox.names import resource_schema

_TYPES = {"string": "String", "integer": "Integer", "number": "Number", "boolean": "Boolean", "array": "JSONArray",
          "object": "JSONObject"}


def violations(resource_type: str, properties: dict) -> list[str]:
    """AWS's messages for each violation, in the order CloudFormation reports them ([] when valid)."""
    schema = resource_schema(resource_type)
    declared = schema.get("properties") if isinstance(schema.get("properties"), dict) else None
    if not declared:
        return []
    found = []
    read_only = {p.rsplit("/", 1)[-1] for p in schema.get("readOnlyProperties") or [] if p.count("/") == 2}
    for key in schema.get("required") or []:
        if key not in properties and key not in read_only:
            found.append(f"#: required key [{key}] not found")
    if schema.get("additionalProperties") is False:
        for key in properties:
            if key not in declared:
                found.append(f"#: extraneous key [{key}] is not permitted")
    for key, value in properties.items():
        spec = _resolve(schema, declared.get(key))
        if spec:
            found.extend(_check_value(f"#/{key}", spec, value))
    return found


def message(resource_type: str, logical_id: str, properties: dict) -> str | None:
    found = violations(resource_type, properties)
    if not found:
        return None
    return f"Properties validation failed for resource {logical_id} with message: [{', '.join(found)}]"


def _resolve(schema: dict, spec: Any) -> dict:
    if not isinstance(spec, dict):
        return {}
    ref = spec.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/definitions/"):
        target = (schema.get("definitions") or {}).get(ref.rsplit("/", 1)[-1])
        return target if isinstance(target, dict) else {}
    return spec


def _check_value(where: str, spec: dict, value: Any) -> list[str]:
    kind = spec.get("type")
    if isinstance(kind, list) or kind is None:
        return []
    if not _has_type(kind, value):
        return [f"{where}: expected type: {_TYPES.get(kind, kind)}, found: {_found(value)}"]
    if kind != "string" or not isinstance(value, str):
        return []
    problems = []
    enum = spec.get("enum")
    if isinstance(enum, list) and value not in enum:
        problems.append(f"{where}: failed validation constraint for keyword [enum]")
    if isinstance(spec.get("maxLength"), int) and len(value) > spec["maxLength"]:
        problems.append(f"{where}: expected maxLength: {spec['maxLength']}, actual: {len(value)}")
    if isinstance(spec.get("minLength"), int) and len(value) < spec["minLength"]:
        problems.append(f"{where}: expected minLength: {spec['minLength']}, actual: {len(value)}")
    pattern = spec.get("pattern")
    if isinstance(pattern, str):
        try:
            if not re.search(pattern, value):
                problems.append(f"{where}: failed validation constraint for keyword [pattern]")
        except re.error:
            pass  # an ECMA-only construct Python cannot compile: not checked rather than guessed
    return problems


def _has_type(kind: str, value: Any) -> bool:
    if kind == "string":
        return not isinstance(value, (list, dict))
    if kind in ("integer", "number"):
        if isinstance(value, bool):
            return False
        if isinstance(value, (int, float)):
            return True
        return isinstance(value, str) and re.fullmatch(r"-?\d+(\.\d+)?", value.strip()) is not None
    if kind == "boolean":
        return isinstance(value, bool) or (isinstance(value, str) and value.lower() in ("true", "false"))
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    return True


def _found(value: Any) -> str:
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, (int, float)):
        return "Integer" if isinstance(value, int) else "Number"
    if isinstance(value, list):
        return "JSONArray"
    if isinstance(value, dict):
        return "JSONObject"
    return "String"
