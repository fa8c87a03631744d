"""Rendering a patched document as round-trip YAML (ruamel): comments, tags and layout kept."""

from __future__ import annotations

import datetime as _dt
import io
import json
import re
from typing import Any, Sequence

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import CommentMark, MarkedYAMLError
from ruamel.yaml.tag import Tag
from ruamel.yaml.tokens import CommentToken

from orchestrator.model import PatchOp
from orchestrator.template.decode import LONG_TO_TAG, SHORT_FORM_FUNCTIONS, scalar_text
from orchestrator.template.jsonpatch import PatchError, apply_op, list_index, pointer, split_pointer

# --- YAML


def _rt_yaml(source: str) -> YAML:
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap long lines the author wrote on one line
    mapping, offset = _guess_indent(source)
    yaml.indent(mapping=mapping, sequence=offset + 2 if offset + 2 >= mapping else mapping, offset=offset)
    return yaml


def _guess_indent(source: str) -> tuple[int, int]:
    """(mapping indent, dash offset) as written in the source; (2, 0) when nothing tells."""
    mapping = offset = None
    prev_key_indent = None
    for raw in source.splitlines():
        stripped = raw.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(raw) - len(stripped)
        if prev_key_indent is not None and indent > prev_key_indent:
            if stripped.startswith("- "):
                offset = offset if offset is not None else indent - prev_key_indent
            elif mapping is None:
                mapping = indent - prev_key_indent
        body = stripped.split(" #", 1)[0].rstrip()
        prev_key_indent = indent if body.endswith(":") and not stripped.startswith("- ") else None
        if mapping is not None and offset is not None:
            break
    return mapping or 2, offset or 0


def _braces_single_pairs(tree: Any, source: str) -> bool:
    """Whether the source writes a one-pair mapping inside a flow sequence with braces: [{Port: 80}].

    The round-trip tree keeps the flow style but not the braces, and ruamel drops them by default
    ([Port: 80]); the source decides. A file that mixes both forms gets braces, the common form."""
    lines = source.splitlines()
    braced = bare = False
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, CommentedMap):
            stack.extend(node.values())
        elif isinstance(node, CommentedSeq):
            flow = node.fa.flow_style()
            for item in node:
                if flow and isinstance(item, CommentedMap) and len(item) == 1:
                    line, col = item.lc.line, item.lc.col
                    if line is not None and line < len(lines) and lines[line][col : col + 1] == "{":
                        braced = True
                    else:
                        bare = True
                stack.append(item)
    return braced or not bare


def dump_yaml_patched(source: str, ops: Sequence[PatchOp]) -> str:
    yaml = _rt_yaml(source)
    try:
        tree = yaml.load(source)
    except MarkedYAMLError as exc:
        raise PatchError(f"cannot round-trip the YAML source: {exc.problem}") from None
    yaml.brace_single_entry_mapping_in_flow_sequence = _braces_single_pairs(tree, source)
    for op in ops:
        tree = _rt_apply(tree, op)
    out = io.StringIO()
    yaml.dump(tree, out)
    return out.getvalue()


_TOP_KEY = re.compile(r"(?:Resources|\"Resources\"|'Resources')[ \t]*:[ \t]*(?:#.*)?$")
# A resource key line: a double-quoted, single-quoted or plain key, then ':'.
_BLOCK_KEY = re.compile(
    r"""(?:"((?:[^"\\]|\\.)*)"|'((?:[^']|'')*)'|([^\s#'"{\[&*!|>%@`,?:-][^:#]*?))[ \t]*:(?:[ \t]|$)"""
)


def _resource_blocks(source: str) -> tuple[int, list[tuple[str, int, int]]] | None:
    """The indent of the resource keys and each resource's (logical id, first line, end line) in source.

    A block runs from its key line to the next resource's key line (or the end of Resources), so the
    blank lines after a resource travel with it. None when Resources is not a block mapping."""
    lines = source.splitlines(keepends=True)
    header = next((i for i, line in enumerate(lines) if _TOP_KEY.match(line.rstrip("\r\n"))), None)
    if header is None:
        return None
    indent = None
    blocks: list[tuple[str, int, int]] = []
    end = len(lines)
    for number in range(header + 1, len(lines)):
        line = lines[number]
        stripped = line.lstrip(" ")
        if not stripped.strip() or stripped.startswith("#"):
            continue
        column = len(line) - len(stripped)
        if indent is None:
            if column == 0:
                return None
            indent = column
        if column < indent:
            end = number
            break
        if column == indent:
            match = _BLOCK_KEY.match(stripped)
            if match is None:
                return None
            double, single, plain = match.groups()
            if double is not None:
                key = json.loads(f'"{double}"')
            elif single is not None:
                key = single.replace("''", "'")
            else:
                key = plain
            if blocks:
                blocks[-1] = (blocks[-1][0], blocks[-1][1], number)
            blocks.append((key, number, end))
    if indent is None or not blocks:
        return None
    blocks[-1] = (blocks[-1][0], blocks[-1][1], end)
    return indent, [(key, first, _block_end(lines, first, last, indent)) for key, first, last in blocks]


def _block_end(lines: list[str], first: int, end: int, indent: int) -> int:
    """Where a block really ends: a comment at or left of the resource keys' column after the block's last
    content line introduces what follows (the next resource, the next section), so it stays outside."""
    content = first
    for number in range(first, end):
        stripped = lines[number].strip()
        if stripped and not stripped.startswith("#"):
            content = number
    for number in range(content + 1, end):
        line = lines[number]
        if line.strip().startswith("#") and len(line) - len(line.lstrip(" ")) <= indent:
            return number
    return end


def splice_yaml_resources(source: str, ops: Sequence[PatchOp]) -> str | None:
    """Re-render only the resource blocks the ops touch and splice them into source; None when the ops
    reach outside Resources or the source is not laid out in plain blocks (then the whole file is rendered)."""
    if "\r" in source or not ops:
        return None
    found = _resource_blocks(source)
    if found is None:
        return None
    indent, blocks = found
    by_id = {key: number for number, (key, _, _) in enumerate(blocks)}
    if len(by_id) != len(blocks):
        return None
    groups: dict[int, list[PatchOp]] = {}
    for op in ops:
        parts = split_pointer(op.path)
        if len(parts) < 2 or parts[0] != "Resources":
            return None
        number = by_id.get(parts[1])
        if number is None:
            if len(parts) != 2 or op.op != "add":
                return None
            # A new resource goes after the last one: render it with the last block.
            by_id[parts[1]] = number = len(blocks) - 1
        groups.setdefault(number, []).append(op)
    lines = source.splitlines(keepends=True)
    yaml = _rt_yaml(source)
    replacements: dict[int, str] = {}
    for number, block_ops in groups.items():
        _, first, end = blocks[number]
        block = "".join(lines[first:end])
        newline_added = not block.endswith("\n")
        mini = f"Resources:\n{block}" + ("\n" if newline_added else "")
        tree = yaml.load(mini)
        yaml.brace_single_entry_mapping_in_flow_sequence = _braces_single_pairs(tree, mini)
        for op in block_ops:
            tree = _rt_apply(tree, op)
        out = io.StringIO()
        yaml.dump(tree, out)
        text = out.getvalue()
        head, _, body = text.partition("\n")
        if head.strip() not in ("Resources:", "Resources: {}"):
            return None
        if head.strip() == "Resources: {}":
            body = ""
        elif not body.startswith(" " * indent) or body[indent : indent + 1] == " ":
            return None
        if newline_added and body.endswith("\n"):
            body = body[:-1]
        replacements[number] = body
    pieces = []
    cursor = 0
    for number in sorted(replacements):
        _, first, end = blocks[number]
        pieces.append("".join(lines[cursor:first]))
        pieces.append(replacements[number])
        cursor = end
    pieces.append("".join(lines[cursor:]))
    return "".join(pieces)


def _tag_of(node: Any) -> str | None:
    """The short-form tag ("!Ref") of a round-trip node, or None for an untagged one."""
    if isinstance(node, TaggedScalar):
        tag = node.tag.value
    elif isinstance(node, (CommentedMap, CommentedSeq)):
        tag = getattr(node, Tag.attrib, None)
        tag = tag.value if tag is not None else None
    else:
        return None
    if tag and tag.startswith("!") and not tag.startswith("!!"):
        return tag
    return None


def _rt_apply(root: Any, op: PatchOp) -> Any:
    parts = split_pointer(op.path)
    if not parts:
        return _to_rt(op.value)
    parent, key, node = None, None, root
    for index, part in enumerate(parts[:-1]):
        if _tag_of(node) is not None and parent is not None:
            # Inside a short-form function: edit it in long form and write it back whole.
            plain = apply_op(_from_rt(node), PatchOp(op.op, pointer(*parts[index:]), op.value))
            _keeping_trailing(parent, lambda: _rt_set(parent, key, _to_rt(plain)))
            return root
        parent, key = node, part
        node = _rt_child(node, part, op.path)
    last = parts[-1]
    if _tag_of(node) is not None and parent is not None:
        plain = apply_op(_from_rt(node), PatchOp(op.op, pointer(last), op.value))
        _keeping_trailing(parent, lambda: _rt_set(parent, key, _to_rt(plain)))
        return root
    _keeping_trailing(node, lambda: _rt_set_child(node, last, op))
    return root


def _rt_set_child(node: Any, last: str, op: PatchOp) -> None:
    if isinstance(node, CommentedMap):
        if op.op == "remove":
            real = next((k for k in node if scalar_text(k) == last), last)
            del node[real]
        else:
            real = next((k for k in node if scalar_text(k) == last), last)
            node[real] = _to_rt(op.value)
    elif isinstance(node, CommentedSeq):
        index = list_index(node, last, op.path, allow_end=op.op == "add")
        if op.op == "add":
            node.insert(index, _to_rt(op.value))
        elif op.op == "replace":
            node[index] = _to_rt(op.value)
        else:
            del node[index]
    else:
        raise PatchError(f"path {op.path}: parent is not a mapping or list")


def _keeping_trailing(container: Any, change: Any) -> None:
    """Run change() on a collection, keeping the blank lines/comments that follow its last entry in place.

    ruamel stores what follows a block on its deepest last scalar, so appending or removing the
    last entry would otherwise move a blank line into the middle of the output."""
    tail = _pop_trailing(container)
    change()
    if tail:
        _attach_trailing(container, tail)


def _trailing_slot(container: Any) -> tuple[Any, Any, int] | None:
    node = container
    while True:
        if isinstance(node, CommentedMap) and len(node):
            key = next(reversed(list(node.keys())))
            slot = 2
        elif isinstance(node, CommentedSeq) and len(node):
            key = len(node) - 1
            slot = 0
        else:
            return None
        value = node[key]
        if isinstance(value, (CommentedMap, CommentedSeq)) and len(value) and not value.fa.flow_style():
            node = value
            continue
        return node, key, slot


def _pop_trailing(container: Any) -> str | None:
    found = _trailing_slot(container)
    if found is None:
        return None
    holder, key, slot = found
    entry = holder.ca.items.get(key)
    if not entry or len(entry) <= slot or entry[slot] is None or not isinstance(entry[slot].value, str):
        return None
    value = entry[slot].value
    newline = value.find("\n")
    if newline < 0 or newline == len(value) - 1:
        return None
    head, tail = value[: newline + 1], value[newline + 1 :]
    if head.strip():
        entry[slot].value = head
    else:
        entry[slot] = None
    return tail


def _attach_trailing(container: Any, tail: str) -> None:
    found = _trailing_slot(container)
    if found is None:
        return
    holder, key, slot = found
    entry = holder.ca.items.setdefault(key, [None, None, None, None] if slot == 2 else [None, None])
    if entry[slot] is not None:
        entry[slot].value = entry[slot].value + tail
    else:
        entry[slot] = CommentToken("\n" + tail, CommentMark(0), None)


def _rt_child(node: Any, part: str, path: str) -> Any:
    if isinstance(node, CommentedMap):
        for key in node:
            if scalar_text(key) == part:
                return node[key]
        raise PatchError(f"path {path}: no key {part!r}")
    if isinstance(node, CommentedSeq):
        return node[list_index(node, part, path, allow_end=False)]
    raise PatchError(f"path {path}: cannot descend into a scalar")


def _rt_set(parent: Any, key: str | None, value: Any) -> None:
    if isinstance(parent, CommentedMap):
        real = next((k for k in parent if scalar_text(k) == key), key)
        parent[real] = value
    else:
        parent[int(key)] = value


def _from_rt(node: Any) -> Any:
    """Round-trip node -> plain long-form value."""
    tag = _tag_of(node)
    if tag is not None:
        long_key = SHORT_FORM_FUNCTIONS.get(tag[1:], f"Fn::{tag[1:]}")
        if isinstance(node, TaggedScalar):
            value: Any = _from_rt(node.value)
            if long_key == "Fn::GetAtt" and isinstance(value, str):
                value = value.split(".", 1)
            return {long_key: value}
        inner = CommentedMap(node) if isinstance(node, CommentedMap) else list(node)
        return {long_key: _from_rt(inner)}
    if isinstance(node, dict):
        return {scalar_text(k): _from_rt(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_from_rt(v) for v in node]
    if isinstance(node, bool):
        return bool(node)
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, (_dt.date, _dt.datetime)):
        return node.isoformat()
    return node


def _to_rt(value: Any) -> Any:
    """Plain long-form value -> round-trip node, using short-form tags where YAML allows."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, inner),) = value.items()
            tag = LONG_TO_TAG.get(key)
            if tag is not None:
                node = _tagged(tag, key, inner)
                if node is not None:
                    return node
        out = CommentedMap()
        for key, inner in value.items():
            out[key] = _to_rt(inner)
        return out
    if isinstance(value, list):
        seq = CommentedSeq(_to_rt(v) for v in value)
        return seq
    return value


def _tagged(tag: str, key: str, inner: Any) -> Any:
    if key == "Fn::GetAtt" and isinstance(inner, list) and len(inner) == 2 and all(isinstance(v, str) for v in inner):
        return TaggedScalar(f"{inner[0]}.{inner[1]}", tag=tag)
    if isinstance(inner, str):
        return TaggedScalar(inner, tag=tag)
    if isinstance(inner, (dict, list)):
        node = _to_rt(inner)
        # A node carries one tag only: !Base64 of a !Sub stays "Fn::Base64: !Sub ...".
        if _tag_of(node) is not None:
            return None
        node.yaml_set_ctag(Tag(suffix=tag))
        if isinstance(node, CommentedSeq) and _is_flat(inner):
            node.fa.set_flow_style()
        return node
    return None


def _is_flat(value: Any) -> bool:
    """Short lists of scalars and short-form references read best in flow style: [a, !Ref B]."""
    def simple(v: Any) -> bool:
        if isinstance(v, list):
            return all(simple(x) for x in v)
        if isinstance(v, dict):
            return len(v) == 1 and next(iter(v)) in LONG_TO_TAG and simple(next(iter(v.values())))
        return not isinstance(v, str) or "\n" not in v
    return simple(value) and len(json.dumps(value)) <= 100


