"""The one reference walker: every Ref, Fn::GetAtt, Fn::Sub variable, Fn::If condition and Fn::FindInMap of a node, with its path.

The dependency graph, the detectors, the repairs and the sandbox all read references through this
module, so a template means the same thing to each of them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")


@dataclass(frozen=True)
class Reference:
    """One reference found in a node.

    kind: "Ref", "GetAtt" or "Sub" (a logical id, parameter or pseudo parameter in `target`),
    "Condition" (a condition name) or "FindInMap" (a mapping name). `attribute` is set for GetAtt and for
    `${X.Attr}` in a Sub. `path` is the path of the intrinsic function's node (the mapping that holds
    the function key), or of the condition name inside Fn::If.
    """

    kind: str
    target: str
    path: tuple[str, ...]
    attribute: str | None = None

    @property
    def pseudo(self) -> bool:
        return self.target.startswith("AWS::")


def sub_parts(node: Any) -> tuple[str, dict] | None:
    """(template string, variables) of a Fn::Sub node, or None."""
    if not isinstance(node, dict) or len(node) != 1 or "Fn::Sub" not in node:
        return None
    value = node["Fn::Sub"]
    if isinstance(value, str):
        return value, {}
    if isinstance(value, list) and value and isinstance(value[0], str):
        variables = value[1] if len(value) > 1 and isinstance(value[1], dict) else {}
        return value[0], variables
    return None


def sub_names(text: str) -> Iterator[str]:
    """The variable names of a Fn::Sub string, `${!Literal}` escapes and empty names left out."""
    for match in SUB_VARIABLE.finditer(text):
        name = match.group(1).strip()
        if name and not name.startswith("!"):
            yield name


def getatt_parts(value: Any) -> tuple[str, str] | None:
    """(logical id, attribute) of a Fn::GetAtt argument; the attribute is "" when computed."""
    if isinstance(value, list) and value and isinstance(value[0], str):
        rest = value[1:]
        return value[0], ".".join(rest) if rest and all(isinstance(v, str) for v in rest) else ""
    if isinstance(value, str) and "." in value:
        lid, _, attr = value.partition(".")
        return lid, attr
    return None


def walk(node: Any, path: tuple[str, ...] = (), *, in_condition: bool = False) -> Iterator[Reference]:
    """Every reference below `node`, in document order. Inside the Conditions section (in_condition)
    a `{"Condition": name}` node is a reference to another condition."""
    if isinstance(node, dict):
        if len(node) == 1:
            key, arg = next(iter(node.items()))
            handled = _function(key, arg, path, in_condition)
            if handled is not None:
                yield from handled
                return
        for key, inner in node.items():
            yield from walk(inner, path + (key,), in_condition=in_condition)
    elif isinstance(node, list):
        for index, inner in enumerate(node):
            yield from walk(inner, path + (str(index),), in_condition=in_condition)


def _function(key: str, arg: Any, path: tuple[str, ...], in_condition: bool) -> Iterator[Reference] | None:
    """The references of an intrinsic function node; None when the node is not one (walk it generically)."""
    if key == "Ref":
        return iter([Reference("Ref", arg, path)]) if isinstance(arg, str) else None
    if key == "Fn::GetAtt":
        parts = getatt_parts(arg)
        if parts is None:
            return None
        return _chain(
            [Reference("GetAtt", parts[0], path, parts[1])],
            *(walk(inner, path + (key, str(i)), in_condition=in_condition)
              for i, inner in enumerate(arg[1:] if isinstance(arg, list) else [], start=1)),
        )
    if key == "Fn::Sub":
        return _sub(arg, path)
    if key == "Fn::If":
        if isinstance(arg, list) and arg and isinstance(arg[0], str):
            return _chain(
                [Reference("Condition", arg[0], path + (key, "0"))],
                *(walk(inner, path + (key, str(i)), in_condition=in_condition) for i, inner in enumerate(arg[1:], start=1)),
            )
        return None
    if key == "Fn::FindInMap":
        if isinstance(arg, list) and arg and isinstance(arg[0], str):
            return _chain(
                [Reference("FindInMap", arg[0], path)],
                *(walk(inner, path + (key, str(i)), in_condition=in_condition) for i, inner in enumerate(arg[1:], start=1)),
            )
        return None
    if key in ("Fn::And", "Fn::Or", "Fn::Not"):
        return walk(arg, path + (key,), in_condition=True)
    if key == "Condition" and in_condition and isinstance(arg, str):
        return iter([Reference("Condition", arg, path)])
    return None


def _sub(arg: Any, path: tuple[str, ...]) -> Iterator[Reference]:
    if isinstance(arg, str):
        text, variables = arg, {}
    elif isinstance(arg, list) and arg and isinstance(arg[0], str):
        text = arg[0]
        variables = arg[1] if len(arg) > 1 and isinstance(arg[1], dict) else {}
        if len(arg) > 1:
            yield from walk(arg[1], path + ("Fn::Sub", "1"))
    else:
        yield from walk(arg, path + ("Fn::Sub",))
        return
    for name in sub_names(text):
        if name in variables:
            continue
        if "." in name:
            resource, attribute = name.split(".", 1)
            yield Reference("Sub", resource, path, attribute)
        else:
            yield Reference("Sub", name, path)


def _chain(first: list[Reference], *rest: Iterator[Reference]) -> Iterator[Reference]:
    yield from first
    for part in rest:
        yield from part


def targets(node: Any) -> set[str]:
    """Every logical id or parameter `node` names through Ref, Fn::GetAtt or Fn::Sub (pseudo parameters left out)."""
    return {r.target for r in walk(node) if r.kind in ("Ref", "GetAtt", "Sub") and not r.pseudo}


def refs_in(node: Any, resources: Any) -> set[str]:
    """The logical ids among `resources` that `node` refers to through Ref, Fn::GetAtt or Fn::Sub."""
    return {name for name in targets(node) if name in resources}


def target_of(value: Any) -> str | None:
    """The one thing a value points at: a Ref, a Fn::GetAtt, or a Fn::Sub string with a single variable."""
    if not isinstance(value, dict) or len(value) != 1:
        return None
    key, arg = next(iter(value.items()))
    if key == "Ref":
        return arg if isinstance(arg, str) else None
    if key == "Fn::GetAtt":
        parts = getatt_parts(arg)
        return parts[0] if parts else None
    if key == "Fn::Sub" and isinstance(arg, str):
        names = list(sub_names(arg))
        if len(names) == 1:
            return names[0].split(".", 1)[0]
    return None


def depends_on(resource: Any) -> list[str]:
    """The DependsOn names of a resource body, whether written as a string or a list."""
    value = resource.get("DependsOn") if isinstance(resource, dict) else None
    if isinstance(value, str):
        return [value]
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []
