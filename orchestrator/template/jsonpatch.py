"""JSON pointers and RFC 6902 patch operations on plain documents (add / replace / remove, and diffs)."""

from __future__ import annotations

import copy
import json
from typing import Any, Sequence


from orchestrator.model import PatchOp

class PatchError(ValueError):
    """A patch operation does not fit the document (missing path, bad index, unknown op)."""


# ---------------------------------------------------------------------------------------------
# Pointers


def pointer(*parts: str | int) -> str:
    """("Resources", "A", "Properties") -> "/Resources/A/Properties" (RFC 6901 escaping)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def split_pointer(ptr: str | Sequence[str | int]) -> tuple[str, ...]:
    if isinstance(ptr, str):
        if ptr == "":
            return ()
        if not ptr.startswith("/"):
            raise PatchError(f"JSON pointer must start with '/': {ptr!r}")
        return tuple(p.replace("~1", "/").replace("~0", "~") for p in ptr[1:].split("/"))
    return tuple(str(p) for p in ptr)


def apply_op(document: Any, op: PatchOp) -> Any:
    parts = split_pointer(op.path)
    if op.op not in ("add", "replace", "remove"):
        raise PatchError(f"unsupported patch op {op.op!r} at {op.path}")
    value = copy.deepcopy(op.value)
    if not parts:
        if op.op == "remove":
            raise PatchError("cannot remove the whole document")
        return value
    parent = document
    for part in parts[:-1]:
        parent = _child(parent, part, op.path)
    _set(parent, parts[-1], op.op, value, op.path)
    return document


def _child(node: Any, part: str, path: str) -> Any:
    if isinstance(node, dict):
        if part not in node:
            raise PatchError(f"path {path}: no key {part!r}")
        return node[part]
    if isinstance(node, list):
        return node[list_index(node, part, path, allow_end=False)]
    raise PatchError(f"path {path}: cannot descend into a {type(node).__name__}")


def list_index(seq: Sequence[Any], part: str, path: str, *, allow_end: bool) -> int:
    if part == "-" and allow_end:
        return len(seq)
    if not part.isdigit() or (len(part) > 1 and part.startswith("0")):
        raise PatchError(f"path {path}: {part!r} is not a list index")
    index = int(part)
    if index > len(seq) or (index == len(seq) and not allow_end):
        raise PatchError(f"path {path}: index {index} out of range")
    return index


def _set(parent: Any, key: str, op: str, value: Any, path: str) -> None:
    if isinstance(parent, dict):
        if op != "add" and key not in parent:
            raise PatchError(f"path {path}: no key {key!r} to {op}")
        if op == "remove":
            del parent[key]
        else:
            parent[key] = value
    elif isinstance(parent, list):
        index = list_index(parent, key, path, allow_end=op == "add")
        if op == "add":
            parent.insert(index, value)
        elif op == "replace":
            parent[index] = value
        else:
            del parent[index]
    else:
        raise PatchError(f"path {path}: parent is a {type(parent).__name__}, not a mapping or list")


def diff_ops(old: Any, new: Any, path: tuple[str, ...]) -> list[PatchOp]:
    """Patch ops turning old into new; lists of different length are replaced whole."""
    if isinstance(old, dict) and isinstance(new, dict):
        ops = [PatchOp("remove", pointer(*path, k)) for k in old if k not in new]
        for key, value in new.items():
            if key not in old:
                ops.append(PatchOp("add", pointer(*path, key), value))
            elif old[key] != value:
                ops.extend(diff_ops(old[key], value, path + (key,)))
        return ops
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        ops = []
        for index, (a, b) in enumerate(zip(old, new)):
            if a != b:
                ops.extend(diff_ops(a, b, path + (str(index),)))
        return ops
    if type(old) is type(new) and old == new:
        return []
    return [PatchOp("replace", pointer(*path), new)]


def fingerprint(value: Any) -> str:
    # json.dumps tells true from 1 and 1 from 1.0 and keeps key order, unlike ==; and runs in C.
    return json.dumps(value, ensure_ascii=False, default=str)


def same_document(a: Any, b: Any) -> bool:
    return a == b and fingerprint(a) == fingerprint(b)
