"""Load, patch and dump CloudFormation templates (JSON and YAML) with line numbers, comments and short-form tags kept."""

from __future__ import annotations

import copy
import datetime as _dt
import difflib
import io
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Sequence

from cfnlint.decode import cfn_yaml
from cfnlint.decode.node import str_node
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar
from ruamel.yaml.error import CommentMark, MarkedYAMLError
from ruamel.yaml.tag import Tag
from ruamel.yaml.tokens import CommentToken
from yaml import YAMLError

from orchestrator.errors import BadInput
from orchestrator.model import PatchOp

__all__ = [
    "MAX_BYTES",
    "MAX_DEPTH",
    "PatchError",
    "SHORT_FORM_FUNCTIONS",
    "Template",
    "apply_patch",
    "load_template",
    "loads_template",
    "pointer",
    "read_data_yaml",
    "unified_diff",
    "write_atomic",
]

# CloudFormation's own limit for a template body uploaded through S3.
MAX_BYTES = 1_000_000
# Real templates nest a few dozen levels at most; deeper input is hostile or broken.
MAX_DEPTH = 100
# Nodes an alias may add beyond what the text itself spells out (billion-laughs guard).
_ALIAS_ALLOWANCE = 50_000

# Short-form tag -> long-form key. Rule functions (Fn::Contains ...) are valid in the Rules section.
SHORT_FORM_FUNCTIONS: dict[str, str] = {
    "Ref": "Ref",
    "Condition": "Condition",
    **{
        name: f"Fn::{name}"
        for name in (
            "Base64", "Cidr", "FindInMap", "GetAtt", "GetAZs", "ImportValue", "Join", "Select", "Split",
            "Sub", "Transform", "And", "Equals", "If", "Not", "Or", "ToJsonString", "Length",
            "Contains", "EachMemberEquals", "EachMemberIn", "RefAll", "ValueOf", "ValueOfAll", "Implies",
        )
    },
}
_LONG_TO_TAG = {long: f"!{short}" for short, long in SHORT_FORM_FUNCTIONS.items() if short != "Condition"}


class PatchError(ValueError):
    """A patch operation does not fit the document (missing path, bad index, unknown op)."""


class _Problem(Exception):
    """Raised inside parsing with a line; turned into BadInput once the file name is known."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line


# ---------------------------------------------------------------------------------------------
# Pointers


def pointer(*parts: str | int) -> str:
    """("Resources", "A", "Properties") -> "/Resources/A/Properties" (RFC 6901 escaping)."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _parts(ptr: str | Sequence[str | int]) -> tuple[str, ...]:
    if isinstance(ptr, str):
        if ptr == "":
            return ()
        if not ptr.startswith("/"):
            raise PatchError(f"JSON pointer must start with '/': {ptr!r}")
        return tuple(p.replace("~1", "/").replace("~0", "~") for p in ptr[1:].split("/"))
    return tuple(str(p) for p in ptr)


# ---------------------------------------------------------------------------------------------
# The template


class Template:
    """A loaded template: long-form document, input format and text, and the line of every node.

    A Template made by apply_patch renders its text lazily: the patch operations pile up and the
    YAML round trip (slow on big templates) runs once, when source, line_of() or dumps() first needs it.
    """

    def __init__(
        self,
        path: Path | None,
        fmt: str,
        source: str | None,
        document: dict,
        name: str = "<string>",
        _lines: dict[tuple[str, ...], int] | None = None,
        *,
        _pending: tuple[str, tuple[PatchOp, ...]] | None = None,
    ):
        self.path = path
        self.fmt = fmt  # "json" | "yaml"
        self.document = document
        self.name = name
        self._source = source
        self._lines = _lines if _lines is not None else {}
        # (text patched from, operations since): set when the text is still to be rendered.
        self._pending = _pending

    @property
    def source(self) -> str:
        """The template text: as read, or rendered from the patches applied since."""
        if self._source is None:
            self._render()
        return self._source  # type: ignore[return-value]

    def _render(self) -> None:
        base, ops = self._pending  # type: ignore[misc]
        self._source, self._lines = _render_text(self.fmt, base, ops, self.document)
        self._pending = None

    def line_of(self, ptr: str | Sequence[str | int]) -> int | None:
        """1-based line of the node at ptr; the nearest ancestor's line when the node has none."""
        if self._source is None:
            self._render()
        parts = _parts(ptr)
        while parts:
            line = self._lines.get(parts)
            if line is not None:
                return line
            parts = parts[:-1]
        return self._lines.get((), 1 if self.source else None)

    @property
    def resources(self) -> dict[str, dict]:
        res = self.document.get("Resources")
        return res if isinstance(res, dict) else {}

    def dumps(self) -> str:
        """The document in the input's format; the source itself when nothing changed."""
        original = _parse_text(self.source, self.fmt)[0]
        # JSON also honours a new key order; the YAML patch ops cannot express one.
        if _same(original, self.document) or (self.fmt == "yaml" and original == self.document):
            return self.source
        ops = _diff_ops(original, self.document, ()) if self.fmt == "yaml" else ()
        return _render_text(self.fmt, self.source, ops, self.document)[0]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Template):
            return NotImplemented
        return (self.path, self.fmt, self.document) == (other.path, other.fmt, other.document)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Template(name={self.name!r}, fmt={self.fmt!r}, resources={len(self.resources)})"


# ---------------------------------------------------------------------------------------------
# Loading


def load_template(path: str | Path, *, max_bytes: int = MAX_BYTES) -> Template:
    """Read a template file; any problem is a BadInput naming the file and, where known, the line."""
    p = Path(path)
    name = str(path)
    try:
        if not p.exists():
            raise BadInput("template file not found", file=name)
        if p.is_dir():
            raise BadInput("is a directory, not a template file", file=name)
        size = p.stat().st_size
        if size > max_bytes:
            raise BadInput(
                f"template is {size} bytes, over the {max_bytes}-byte limit CloudFormation accepts", file=name
            )
        data = p.read_bytes()
    except PermissionError:
        raise BadInput("permission denied reading the template", file=name) from None
    except OSError as exc:
        raise BadInput(f"cannot read the template: {exc.strerror or exc}", file=name) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BadInput(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})", file=name, line=line
        ) from None
    fmt = _format_for(p.suffix.lower(), text)
    return _build(text, fmt, name=name, path=p)


def loads_template(
    text: str, *, fmt: str | None = None, name: str = "<string>", max_bytes: int = MAX_BYTES
) -> Template:
    """Parse template text; fmt is guessed from the first character when not given."""
    size = len(text.encode("utf-8"))
    if size > max_bytes:
        raise BadInput(f"template is {size} bytes, over the {max_bytes}-byte limit CloudFormation accepts", file=name)
    if fmt not in (None, "json", "yaml"):
        raise ValueError(f"fmt must be 'json' or 'yaml', not {fmt!r}")
    return _build(text, fmt or _format_for("", text), name=name, path=None)


def _format_for(suffix: str, text: str) -> str:
    if suffix == ".json":
        return "json"
    if suffix in (".yaml", ".yml"):
        return "yaml"
    return "json" if text.lstrip().startswith("{") else "yaml"


def _build(text: str, fmt: str, *, name: str, path: Path | None) -> Template:
    try:
        document, lines = _parse_text(text, fmt)
        _validate(document, lines)
    except _Problem as exc:
        raise BadInput(exc.message, file=name, line=exc.line) from None
    return Template(path=path, fmt=fmt, source=text, document=document, name=name, _lines=lines)


def _parse_text(text: str, fmt: str) -> tuple[Any, dict[tuple[str, ...], int]]:
    return _parse_json(text) if fmt == "json" else _parse_yaml(text)


def _validate(document: Any, lines: dict[tuple[str, ...], int]) -> None:
    if document is None:
        raise _Problem("the template is empty, not a mapping with a Resources section")
    if not isinstance(document, dict):
        raise _Problem(f"the top level is a {_kind(document)}, not a mapping", 1)
    if "Resources" not in document:
        raise _Problem("no Resources section (CloudFormation requires at least one resource)", 1)
    resources = document["Resources"]
    line = lines.get(("Resources",))
    if not isinstance(resources, dict) or not resources:
        raise _Problem("Resources must be a mapping with at least one resource", line)
    for logical_id, body in resources.items():
        rline = lines.get(("Resources", logical_id), line)
        if not isinstance(body, dict):
            raise _Problem(f"resource '{logical_id}' is a {_kind(body)}, not a mapping", rline)
        if "Type" not in body:
            raise _Problem(f"resource '{logical_id}' has no Type", rline)
        if not isinstance(body["Type"], str):
            raise _Problem(f"resource '{logical_id}' has a Type that is not a string", rline)


def _kind(value: Any) -> str:
    return {dict: "mapping", list: "list", str: "string", bool: "boolean"}.get(type(value), type(value).__name__)


# --- JSON: the stdlib parser for values and errors, a token scan for lines and duplicate keys.

_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+')


def _parse_json(text: str) -> tuple[Any, dict[tuple[str, ...], int]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Problem(f"invalid JSON: {exc.msg} (column {exc.colno})", exc.lineno) from None
    except RecursionError:
        raise _Problem(f"nesting deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        # Python refuses integers of more than 4300 digits; CloudFormation has no use for them either.
        raise _Problem(f"invalid JSON: {str(exc).split(';')[0]}") from None
    return document, _json_lines(text)


def _json_lines(text: str) -> dict[tuple[str, ...], int]:
    """Line of every key and list item, by path; raises on duplicate keys and absurd depth."""
    lines: dict[tuple[str, ...], int] = {(): 1}
    # Frames: [is_dict, path, current key or index, keys seen]
    stack: list[list[Any]] = []
    line, last = 1, 0
    expect_key = False
    for match in _JSON_TOKEN.finditer(text):
        start = match.start()
        line += text.count("\n", last, start)
        last = start
        tok = match.group()
        ch = tok[0]
        if ch in "{[":
            if stack:
                top = stack[-1]
                path = top[1] + (top[2],) if top[0] else top[1] + (str(top[2]),)
                if not top[0]:
                    lines[path] = line
            else:
                path = ()
                lines[()] = line
            if len(stack) >= MAX_DEPTH:
                raise _Problem(f"nesting deeper than {MAX_DEPTH} levels", line)
            if ch == "{":
                stack.append([True, path, None, set()])
                expect_key = True
            else:
                stack.append([False, path, 0, None])
                expect_key = False
        elif ch in "}]":
            stack.pop()
            expect_key = False
        elif ch == ",":
            top = stack[-1]
            if top[0]:
                expect_key = True
            else:
                top[2] += 1
        elif ch == ":":
            expect_key = False
        elif stack:
            top = stack[-1]
            if top[0] and expect_key:
                key = tok[1:-1] if "\\" not in tok else json.loads(tok)
                if key in top[3]:
                    raise _Problem(f"duplicate key '{key}'", line)
                top[3].add(key)
                top[2] = key
                lines[top[1] + (key,)] = line
            elif not top[0]:
                lines[top[1] + (str(top[2]),)] = line
    return lines


def _inline_like_sibling(
    src: str,
    children: list[tuple[str | None, int, int, int, Any]],
    pieces: list[tuple[int | None, Any]],
    position: int,
    value: Any,
    style: _JsonStyle,
) -> bool:
    """Whether a new container goes on one line because its nearest kept sibling is a container on one line
    (a statement appended to a list of one-line statements stays one line)."""
    if not isinstance(value, (dict, list)) or len(style.inline(value)) > 160:
        return False
    order = [*range(position - 1, -1, -1), *range(position + 1, len(pieces))]
    for other in order:
        number = pieces[other][0]
        if number is None:
            continue
        _, _, value_start, value_end, old_value = children[number]
        if isinstance(old_value, (dict, list)):
            return "\n" not in src[value_start:value_end]
    return False


# --- YAML: cfn-lint's decoder (C parser, node marks, duplicate-key check), stricter about tags.


class _CfnLoader(cfn_yaml.CfnFullLoader):
    """cfn-lint's loader with unknown tags rejected and timestamps kept as the text written."""

    _MERGE_TAGS = ("tag:yaml.org,2002:merge", "tag:yaml.org,2002:value")

    def flatten_mapping(self, node: Any) -> None:
        # Scanning every mapping twice for "<<" keys is a fifth of the load time; only pay when present.
        for key_node, _ in node.value:
            if key_node.tag in self._MERGE_TAGS:
                cfn_yaml.NodeConstructor.flatten_mapping(self, node)
                return


def _multi_constructor(loader: Any, suffix: str, node: Any) -> Any:
    if suffix not in SHORT_FORM_FUNCTIONS:
        raise _Problem(f"unknown tag !{suffix}", node.start_mark.line + 1)
    return cfn_yaml.multi_constructor(loader, suffix, node)


def _timestamp_as_text(loader: Any, node: Any) -> Any:
    # CloudFormation reads 2012-10-17 as the string it is, never as a date.
    return str_node(node.value, node.start_mark, node.end_mark)


_CfnLoader.add_multi_constructor("!", _multi_constructor)
_CfnLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp_as_text)


def _parse_yaml(text: str) -> tuple[Any, dict[tuple[str, ...], int]]:
    try:
        loader = _CfnLoader(text, "<template>")
        try:
            node = loader.get_single_data()
        finally:
            loader.dispose()
    except _Problem:
        raise
    except cfn_yaml.CfnParseError as exc:
        match = exc.matches[0]
        message = re.sub(r" \(line \d+\)$", "", match.message)
        if message.startswith("Duplicate found"):
            # cfn-lint lists the first occurrence, then the repeats; the repeat is the mistake.
            raise _Problem("duplicate key " + message[len("Duplicate found ") :], exc.matches[-1].linenumber) from None
        if "recursion" in message:
            raise _Problem(f"nesting deeper than {MAX_DEPTH} levels") from None
        raise _Problem(f"invalid YAML: {message}", match.linenumber or None) from None
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        if "nesting depth" in problem:
            problem = f"nesting deeper than {MAX_DEPTH} levels"
            raise _Problem(problem, mark.line + 1 if mark else None) from None
        raise _Problem(f"invalid YAML: {problem}", mark.line + 1 if mark else None) from None
    except RecursionError:
        raise _Problem(f"nesting deeper than {MAX_DEPTH} levels") from None
    except (ValueError, TypeError) as exc:
        raise _Problem(f"invalid YAML: {exc}") from None
    except AttributeError as exc:
        # cfn-lint's duplicate-key check assumes string keys and trips over a repeated 1: or true: key.
        if "start_mark" in str(exc):
            raise _Problem("duplicate key: a mapping repeats a key that is not a string") from None
        raise _Problem(f"invalid YAML: {exc}") from None
    lines: dict[tuple[str, ...], int] = {(): 1}
    budget = [len(text) + _ALIAS_ALLOWANCE]
    document = _yaml_plain(node, (), lines, 0, budget, 1)
    return document, lines


def _mark_line(obj: Any) -> int | None:
    mark = getattr(obj, "start_mark", None)
    return mark.line + 1 if mark is not None else None


def _yaml_plain(node: Any, path: tuple[str, ...], lines: dict, depth: int, budget: list[int], line: int) -> Any:
    """cfn-lint nodes -> plain Python, recording each key's and list item's line."""
    budget[0] -= 1
    if budget[0] < 0:
        raise _Problem("the template expands to far more nodes than it spells out (YAML alias amplification)")
    if depth > MAX_DEPTH:
        raise _Problem(f"nesting deeper than {MAX_DEPTH} levels", line)
    if isinstance(node, dict):
        own = _mark_line(node) or line
        out: dict[str, Any] = {}
        for key, value in node.items():
            skey = _scalar_text(key)
            sub = path + (skey,)
            kline = _mark_line(key) or _mark_line(value) or own
            if skey in out:
                # 1: and '1': are two YAML keys but one template key.
                raise _Problem(f"duplicate key '{skey}'", kline)
            lines[sub] = kline
            out[skey] = _yaml_plain(value, sub, lines, depth + 1, budget, kline)
        return out
    if isinstance(node, list):
        own = _mark_line(node) or line
        items = []
        for index, value in enumerate(node):
            sub = path + (str(index),)
            iline = _mark_line(value) or own
            lines[sub] = iline
            items.append(_yaml_plain(value, sub, lines, depth + 1, budget, iline))
        return items
    if isinstance(node, str):
        return str(node)
    if isinstance(node, (_dt.date, _dt.datetime)):
        return node.isoformat()
    if isinstance(node, bytes):
        raise _Problem("binary values (!!binary) are not supported in templates", line)
    return node


def _scalar_text(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


# ---------------------------------------------------------------------------------------------
# Patching


def apply_patch(tpl: Template, ops: Sequence[PatchOp]) -> Template:
    """A new Template with ops applied (RFC 6902 add/replace/remove, "/-" appends); tpl is untouched.

    The document is patched now (PatchError if an op does not fit, BadInput if the result is no longer a
    template); the text in the input's format is rendered when first needed."""
    document = copy.deepcopy(tpl.document)
    frozen = tuple(PatchOp(op.op, op.path, copy.deepcopy(op.value)) for op in ops)
    for op in frozen:
        document = _apply_plain(document, op)
    try:
        _validate(document, {})
    except _Problem as exc:
        raise BadInput(f"after patching: {exc.message}", file=tpl.name) from None
    if tpl._pending is not None:
        base, earlier = tpl._pending
        pending = (base, earlier + frozen)
    else:
        pending = (tpl.source, frozen)
    if not frozen:
        return Template(tpl.path, tpl.fmt, tpl._source, document, tpl.name, dict(tpl._lines), _pending=tpl._pending)
    return Template(tpl.path, tpl.fmt, None, document, tpl.name, None, _pending=pending)


def _apply_plain(document: Any, op: PatchOp) -> Any:
    parts = _parts(op.path)
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
        return node[_index(node, part, path, allow_end=False)]
    raise PatchError(f"path {path}: cannot descend into a {type(node).__name__}")


def _index(seq: Sequence[Any], part: str, path: str, *, allow_end: bool) -> int:
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
        index = _index(parent, key, path, allow_end=op == "add")
        if op == "add":
            parent.insert(index, value)
        elif op == "replace":
            parent[index] = value
        else:
            del parent[index]
    else:
        raise PatchError(f"path {path}: parent is a {type(parent).__name__}, not a mapping or list")


def _diff_ops(old: Any, new: Any, path: tuple[str, ...]) -> list[PatchOp]:
    """Patch ops turning old into new; lists of different length are replaced whole."""
    if isinstance(old, dict) and isinstance(new, dict):
        ops = [PatchOp("remove", pointer(*path, k)) for k in old if k not in new]
        for key, value in new.items():
            if key not in old:
                ops.append(PatchOp("add", pointer(*path, key), value))
            elif old[key] != value:
                ops.extend(_diff_ops(old[key], value, path + (key,)))
        return ops
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        ops = []
        for index, (a, b) in enumerate(zip(old, new)):
            if a != b:
                ops.extend(_diff_ops(a, b, path + (str(index),)))
        return ops
    if type(old) is type(new) and old == new:
        return []
    return [PatchOp("replace", pointer(*path), new)]


# ---------------------------------------------------------------------------------------------
# Dumping
#
# The promise: the repaired template is written in the input's format with only the repaired lines
# changed. Each format first tries a splice (re-render only what changed and keep every other byte of
# the source), checks that the result parses to exactly the new document, and falls back to rendering
# the whole document when the splice cannot be made or does not check out.


def _render_text(fmt: str, base: str, ops: Sequence[PatchOp], document: Any) -> tuple[str, dict[tuple[str, ...], int]]:
    """The text of document, made from base (the text before ops), and the line of every node."""
    if fmt == "json":
        attempts = (lambda: _splice_json(base, document), lambda: _dump_json(document, base))
    else:
        attempts = (lambda: _splice_yaml_resources(base, ops), lambda: _dump_yaml_patched(base, ops))
    for attempt in attempts[:-1]:
        try:
            text = attempt()
            if text is None:
                continue
            parsed, lines = _parse_text(text, fmt)
        except Exception:  # a splice meeting text it does not handle gives way to the full rendering
            continue
        if _same(parsed, document):
            return text, lines
    text = attempts[-1]()
    try:
        _, lines = _parse_text(text, fmt)
    except _Problem as exc:
        raise PatchError(f"the patched template does not parse: {exc.message}") from None
    return text, lines


def _fingerprint(value: Any) -> str:
    # json.dumps tells true from 1 and 1 from 1.0 and keeps key order, unlike ==; and runs in C.
    return json.dumps(value, ensure_ascii=False, default=str)


def _same(a: Any, b: Any) -> bool:
    return a == b and _fingerprint(a) == _fingerprint(b)


# --- JSON


_WS = re.compile(r"[ \t\n\r]*")
_JSON_DECODER = json.JSONDecoder()


class _JsonStyle:
    """How the file writes JSON: indent unit and separators, read from the source."""

    def __init__(self, source: str):
        self.indent: int | str | None = None
        match = re.search(r"\n([ \t]+)\S", source)
        if match:
            ws = match.group(1)
            self.indent = ws if "\t" in ws else len(ws)
        self.item_sep = ", " if ", " in source or self.indent is not None else ","
        self.key_sep = ": " if '": ' in source or self.indent is not None else ":"
        self.ensure_ascii = source.isascii()

    def inline(self, value: Any) -> str:
        return json.dumps(value, ensure_ascii=self.ensure_ascii, separators=(self.item_sep, self.key_sep))

    def block(self, value: Any, column: str) -> str:
        if self.indent is None:
            return self.inline(value)
        text = json.dumps(value, indent=self.indent, ensure_ascii=self.ensure_ascii)
        return text.replace("\n", "\n" + column)


def _dump_json(document: Any, source: str) -> str:
    style = _JsonStyle(source)
    if style.indent is None:
        text = style.inline(document)
    else:
        text = json.dumps(document, indent=style.indent, ensure_ascii=style.ensure_ascii)
    if source.endswith("\n"):
        text += "\n"
    return text


def _splice_json(source: str, document: Any) -> str:
    """source with only the smallest changed subtrees re-rendered so that it reads as document."""
    start = _WS.match(source).end()
    old, end = _JSON_DECODER.raw_decode(source, start)
    if _WS.match(source, end).end() != len(source):
        raise ValueError("text after the JSON document")
    return source[:start] + _json_node(source, start, end, old, document, _JsonStyle(source)) + source[end:]


def _json_children(text: str, start: int) -> list[tuple[str | None, int, int, int, Any]]:
    """(key, member start, value start, value end, value) of each child of the container at start."""
    is_object = text[start] == "{"
    close = "}" if is_object else "]"
    pos = _WS.match(text, start + 1).end()
    children: list[tuple[str | None, int, int, int, Any]] = []
    if text[pos] == close:
        return children
    while True:
        member_start, key = pos, None
        if is_object:
            key, pos = json.decoder.scanstring(text, pos + 1)
            pos = _WS.match(text, pos).end()
            if text[pos] != ":":
                raise ValueError("expected ':'")
            pos = _WS.match(text, pos + 1).end()
        value, end = _JSON_DECODER.raw_decode(text, pos)
        children.append((key, member_start, pos, end, value))
        pos = _WS.match(text, end).end()
        if text[pos] == ",":
            pos = _WS.match(text, pos + 1).end()
        elif text[pos] == close:
            return children
        else:
            raise ValueError(f"unexpected {text[pos]!r}")


def _line_indent(text: str, offset: int) -> str:
    line_start = text.rfind("\n", 0, offset) + 1
    return _WS.match(text, line_start).group().replace("\n", "").replace("\r", "")


def _json_node(src: str, start: int, end: int, old: Any, new: Any, style: _JsonStyle) -> str:
    """The text for new where src[start:end] spells old."""
    if _same(old, new):
        return src[start:end]
    if isinstance(old, dict) and isinstance(new, dict) and old and new:
        kept_old = [k for k in old if k in new]
        if kept_old and kept_old == [k for k in new if k in old]:
            children = _json_children(src, start)
            index = {child[0]: number for number, child in enumerate(children)}
            pieces: list[tuple[int | None, Any]] = []
            for key, value in new.items():
                if key in old:
                    number = index[key]
                    _, member_start, value_start, value_end, old_value = children[number]
                    text = src[member_start:value_start] + _json_node(
                        src, value_start, value_end, old_value, value, style
                    )
                    pieces.append((number, text))
                else:
                    pieces.append((None, (key, value)))
            return _json_join(src, start, end, children, pieces, style)
    elif isinstance(old, list) and isinstance(new, list) and old and new:
        children = _json_children(src, start)
        matcher = difflib.SequenceMatcher(
            None, [_fingerprint(v) for v in old], [_fingerprint(v) for v in new], autojunk=False
        )
        pieces = []
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            paired = min(i2 - i1, j2 - j1) if tag == "replace" else (i2 - i1 if tag == "equal" else 0)
            for offset in range(paired):
                _, member_start, value_start, value_end, old_value = children[i1 + offset]
                text = _json_node(src, value_start, value_end, old_value, new[j1 + offset], style)
                pieces.append((i1 + offset, text))
            for j in range(j1 + paired, j2):
                pieces.append((None, (None, new[j])))
        if any(number is not None for number, _ in pieces):
            return _json_join(src, start, end, children, pieces, style)
    original = src[start:end]
    column = _line_indent(src, start)
    # A node written on one line stays on one line while it is short.
    if "\n" not in original and (not isinstance(new, (dict, list)) or len(style.inline(new)) <= 80):
        return style.inline(new)
    return style.block(new, column)


def _json_join(
    src: str,
    start: int,
    end: int,
    children: list[tuple[str | None, int, int, int, Any]],
    pieces: list[tuple[int | None, Any]],
    style: _JsonStyle,
) -> str:
    """The container rebuilt from pieces: (index of a kept child, its text) or (None, (key, new value))."""
    leading = src[start + 1 : children[0][1]]
    trailing = src[children[-1][3] : end - 1]
    separators = [src[children[i][3] : children[i + 1][1]] for i in range(len(children) - 1)]
    if separators:
        default_sep = separators[-1]
    elif "\n" in leading:
        default_sep = "," + leading
    else:
        default_sep = style.item_sep
    parts = [src[start], leading]
    previous: int | None = None
    for position, (number, piece) in enumerate(pieces):
        if position:
            # A kept child brings the separator that followed it; anything else takes the last one.
            parts.append(separators[previous] if previous is not None and previous < len(separators) else default_sep)
        if number is None:
            key, value = piece
            sep = parts[-1] if position else leading
            if "\n" in sep and not _inline_like_sibling(src, children, pieces, position, value, style):
                rendered = style.block(value, sep[sep.rfind("\n") + 1 :])
            else:
                rendered = style.inline(value)
            if key is not None:
                rendered = json.dumps(key, ensure_ascii=style.ensure_ascii) + style.key_sep + rendered
            parts.append(rendered)
        else:
            parts.append(piece)
        previous = number
    parts.extend((trailing, src[end - 1]))
    return "".join(parts)




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


def _dump_yaml_patched(source: str, ops: Sequence[PatchOp]) -> str:
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


def _splice_yaml_resources(source: str, ops: Sequence[PatchOp]) -> str | None:
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
        parts = _parts(op.path)
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
    parts = _parts(op.path)
    if not parts:
        return _to_rt(op.value)
    parent, key, node = None, None, root
    for index, part in enumerate(parts[:-1]):
        if _tag_of(node) is not None and parent is not None:
            # Inside a short-form function: edit it in long form and write it back whole.
            plain = _apply_plain(_from_rt(node), PatchOp(op.op, pointer(*parts[index:]), op.value))
            _keeping_trailing(parent, lambda: _rt_set(parent, key, _to_rt(plain)))
            return root
        parent, key = node, part
        node = _rt_child(node, part, op.path)
    last = parts[-1]
    if _tag_of(node) is not None and parent is not None:
        plain = _apply_plain(_from_rt(node), PatchOp(op.op, pointer(last), op.value))
        _keeping_trailing(parent, lambda: _rt_set(parent, key, _to_rt(plain)))
        return root
    _keeping_trailing(node, lambda: _rt_set_child(node, last, op))
    return root


def _rt_set_child(node: Any, last: str, op: PatchOp) -> None:
    if isinstance(node, CommentedMap):
        if op.op == "remove":
            real = next((k for k in node if _scalar_text(k) == last), last)
            del node[real]
        else:
            real = next((k for k in node if _scalar_text(k) == last), last)
            node[real] = _to_rt(op.value)
    elif isinstance(node, CommentedSeq):
        index = _index(node, last, op.path, allow_end=op.op == "add")
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
            if _scalar_text(key) == part:
                return node[key]
        raise PatchError(f"path {path}: no key {part!r}")
    if isinstance(node, CommentedSeq):
        return node[_index(node, part, path, allow_end=False)]
    raise PatchError(f"path {path}: cannot descend into a scalar")


def _rt_set(parent: Any, key: str | None, value: Any) -> None:
    if isinstance(parent, CommentedMap):
        real = next((k for k in parent if _scalar_text(k) == key), key)
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
        return {_scalar_text(k): _from_rt(v) for k, v in node.items()}
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
            tag = _LONG_TO_TAG.get(key)
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
            return len(v) == 1 and next(iter(v)) in _LONG_TO_TAG and simple(next(iter(v.values())))
        return not isinstance(v, str) or "\n" not in v
    return simple(value) and len(json.dumps(value)) <= 100


# ---------------------------------------------------------------------------------------------
# Files and data


def write_atomic(path: str | Path, text: str) -> None:
    """Write text to path through a temporary file in the same directory and os.replace."""
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if target.exists():
            os.chmod(tmp, target.stat().st_mode & 0o7777)
        else:
            umask = os.umask(0)
            os.umask(umask)
            os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def read_data_yaml(path: str | Path) -> Any:
    """Plain safe YAML (playbooks, verify matrices); BadInput with file and line on any problem."""
    p = Path(path)
    name = str(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput("file not found", file=name) from None
    except IsADirectoryError:
        raise BadInput("is a directory, not a YAML file", file=name) from None
    except UnicodeDecodeError:
        raise BadInput("not UTF-8 text", file=name) from None
    except OSError as exc:
        raise BadInput(f"cannot read: {exc.strerror or exc}", file=name) from None
    yaml = YAML(typ="safe", pure=True)
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise BadInput(f"invalid YAML: {exc.problem or exc.context}", file=name, line=mark.line + 1 if mark else None) from None
    except Exception as exc:  # ruamel raises a few unmarked errors (e.g. constructor errors)
        raise BadInput(f"invalid YAML: {exc}", file=name) from None


def unified_diff(before: Template, after: Template) -> str:
    """A unified diff of the two templates' text, named after the input file."""
    name = before.name
    return "".join(
        difflib.unified_diff(
            before.dumps().splitlines(keepends=True),
            after.dumps().splitlines(keepends=True),
            fromfile=f"a/{Path(name).name}",
            tofile=f"b/{Path(after.name).name}",
        )
    )
