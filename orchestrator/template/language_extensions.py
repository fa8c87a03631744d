"""The AWS::LanguageExtensions transform's Fn::ForEach: one template fragment repeated for each item of a collection.

CloudFormation expands `Fn::ForEach::<LoopName>: [Identifier, Collection, {OutputKey: OutputValue}]` in the
Conditions, Resources and Outputs sections and inside resource properties, before anything else reads the
template. In the output key `${Identifier}` is replaced by the item and `&{Identifier}` by the item with its
non-alphanumeric characters removed; in the value `Ref: Identifier` and `${Identifier}` of Fn::Sub are replaced
by the item. The collection is a list or a Ref to a CommaDelimitedList/List parameter; loops nest.
Errors use CloudFormation's "Template format error: ..." texts.
(https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/intrinsic-function-reference-foreach.html)
"""

from __future__ import annotations

import copy
import re
from typing import Any

from orchestrator.template.values import TemplateError, scalar_text

TRANSFORM = "AWS::LanguageExtensions"
PREFIX = "Fn::ForEach::"
_SECTIONS = ("Conditions", "Resources", "Outputs")
_NON_ALNUM = re.compile(r"[^A-Za-z0-9]")


def declares(document: Any) -> bool:
    """Whether the template lists the AWS::LanguageExtensions transform."""
    declared = document.get("Transform") if isinstance(document, dict) else None
    items = declared if isinstance(declared, list) else [declared]
    return TRANSFORM in items


def has_for_each(document: Any) -> bool:
    return isinstance(document, dict) and any(
        isinstance(document.get(s), dict) and any(isinstance(k, str) and k.startswith(PREFIX) for k in document[s])
        for s in _SECTIONS)


def expand(document: dict, parameters: dict[str, Any] | None = None) -> dict:
    """A copy of document with every Fn::ForEach expanded (unchanged without the transform)."""
    if not declares(document):
        return document
    out = copy.deepcopy(document)
    given = parameters or {}
    for section in _SECTIONS:
        body = out.get(section)
        if isinstance(body, dict):
            out[section] = _expand_section(body, out, given, resources=section == "Resources")
    return out


def _expand_section(mapping: dict, document: dict, given: dict, *, resources: bool) -> dict:
    result: dict = {}
    for key, value in mapping.items():
        generated = _loop(key, value, document, given) if _is_loop(key) else {key: value}
        for out_key, out_value in generated.items():
            if out_key in result or (out_key != key and out_key in mapping):
                raise TemplateError(f"Template format error: {key} generates the key {out_key}, which already exists")
            result[out_key] = _properties(out_value, document, given) if resources else out_value
    return result


def _is_loop(key: Any) -> bool:
    return isinstance(key, str) and key.startswith(PREFIX)


def _properties(resource: Any, document: dict, given: dict) -> Any:
    """Loops inside a resource's Properties (a property per item) expand too."""
    if not isinstance(resource, dict) or not isinstance(resource.get("Properties"), dict):
        return resource
    return {**resource, "Properties": _expand_nested(resource["Properties"], document, given)}


def _expand_nested(node: Any, document: dict, given: dict) -> Any:
    if isinstance(node, list):
        return [_expand_nested(item, document, given) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict = {}
    for key, value in node.items():
        if _is_loop(key):
            for out_key, out_value in _loop(key, value, document, given).items():
                out[out_key] = _expand_nested(out_value, document, given)
        else:
            out[key] = _expand_nested(value, document, given)
    return out


def _loop(key: str, value: Any, document: dict, given: dict) -> dict:
    name = key[len(PREFIX):]
    if not name or _NON_ALNUM.search(name):
        raise TemplateError(f"Template format error: {key}: the loop name must be alphanumeric")
    if not isinstance(value, list) or len(value) != 3 or not isinstance(value[0], str) or not isinstance(value[2], dict):
        raise TemplateError(f"Template format error: {key} must be a list of an identifier, a collection and "
                            f"an output mapping")
    identifier, collection, fragment = value
    items = _collection(key, collection, document, given)
    generated: dict = {}
    for item in items:
        text = scalar_text(item)
        for out_key, out_value in fragment.items():
            if _is_loop(out_key):  # a nested loop, its own keys generated per item of this one
                inner = _substitute(out_value, identifier, text)
                for nested_key, nested_value in _loop(out_key, inner, document, given).items():
                    generated[nested_key] = nested_value
                continue
            new_key = _key(out_key, identifier, text)
            if new_key in generated:
                raise TemplateError(f"Template format error: {key} generates the key {new_key} more than once")
            generated[new_key] = _substitute(out_value, identifier, text)
    return generated


def _collection(key: str, collection: Any, document: dict, given: dict) -> list:
    if isinstance(collection, dict) and set(collection) == {"Ref"}:
        name = collection["Ref"]
        spec = (document.get("Parameters") or {}).get(name)
        if not isinstance(spec, dict):
            raise TemplateError(f"Template format error: {key}: the collection refers to {name}, which is not "
                                f"a parameter")
        raw = given.get(name, spec.get("Default"))
        if isinstance(raw, list):
            return [scalar_text(v) for v in raw]
        return [part.strip() for part in scalar_text(raw).split(",")] if raw not in (None, "") else []
    if isinstance(collection, list) and all(not isinstance(v, (dict, list)) for v in collection):
        return collection
    raise TemplateError(f"Template format error: {key}: the collection must be a list of strings or a Ref to a "
                        f"list parameter")


def _key(out_key: str, identifier: str, text: str) -> str:
    key = out_key.replace("${" + identifier + "}", text).replace("&{" + identifier + "}", _NON_ALNUM.sub("", text))
    return key


def _substitute(node: Any, identifier: str, text: str) -> Any:
    if isinstance(node, list):
        return [_substitute(item, identifier, text) for item in node]
    if isinstance(node, str):
        return node
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"} and node["Ref"] == identifier:
        return text
    if set(node) == {"Fn::Sub"}:
        return {"Fn::Sub": _sub(node["Fn::Sub"], identifier, text)}
    if set(node) == {"Fn::GetAtt"} and isinstance(node["Fn::GetAtt"], list) and node["Fn::GetAtt"]:
        # The transform lets a loop name the resource with Fn::Sub: [!Sub "Table${Name}", Arn].
        parts = [_substitute(v, identifier, text) for v in node["Fn::GetAtt"]]
        return {"Fn::GetAtt": [_literal(p) for p in parts]}
    if set(node) == {"Ref"} and isinstance(node["Ref"], dict):
        return {"Ref": _literal(_substitute(node["Ref"], identifier, text))}
    return {(_key(k, identifier, text) if isinstance(k, str) else k): _substitute(v, identifier, text)
            for k, v in node.items()}


def _literal(node: Any) -> Any:
    """A Fn::Sub with nothing left to substitute is its text (a logical id or attribute name)."""
    if isinstance(node, dict) and set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str) \
            and "${" not in node["Fn::Sub"]:
        return node["Fn::Sub"]
    return node


def _sub(value: Any, identifier: str, text: str) -> Any:
    marker = "${" + identifier + "}"
    if isinstance(value, str):
        return value.replace(marker, text)
    if isinstance(value, list) and value and isinstance(value[0], str):
        variables = value[1] if len(value) > 1 and isinstance(value[1], dict) else {}
        if identifier in variables:  # a Sub variable of the same name shadows the loop's identifier
            return [value[0], _substitute(variables, identifier, text)]
        return [value[0].replace(marker, text), *[_substitute(v, identifier, text) for v in value[1:]]]
    return value
