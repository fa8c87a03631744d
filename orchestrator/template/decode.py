"""Decoding template text (JSON, and YAML through cfn-lint's decoder) into long-form documents with the line of every node."""

from __future__ import annotations

import datetime as _dt
import json
import re
from pathlib import Path
from typing import Any

from functools import cache

from orchestrator.errors import BadInput
from orchestrator.template import language_extensions
from orchestrator.template.cfnlint_seams import check_seams

# cfn-lint (its decoder pulls in all of cfn-lint: about a second) and ruamel are imported on first use,
# so that reading a JSON template, or a command that reads none, never pays for them.

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
LONG_TO_TAG = {long: f"!{short}" for short, long in SHORT_FORM_FUNCTIONS.items() if short != "Condition"}


class DecodeProblem(Exception):
    """Raised inside parsing with a line; turned into BadInput once the file name is known."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line


def parse_text(text: str, fmt: str) -> tuple[Any, dict[tuple[str, ...], int]]:
    return _parse_json(text) if fmt == "json" else _parse_yaml(text)


# CloudFormation's quotas and its rule for names in these sections (ASCII letters and digits), with its texts.
SECTION_LIMITS = {"Parameters": (200, "Parameter"), "Resources": (500, "Resource"), "Outputs": (200, "Output")}
MAX_NAME = 255
_NAME = re.compile(r"[A-Za-z0-9]+")


def _check_names(document: dict, lines: dict[tuple[str, ...], int]) -> None:
    loops = language_extensions.declares(document)
    for section, (limit, singular) in SECTION_LIMITS.items():
        body = document.get(section)
        if not isinstance(body, dict):
            continue
        line = lines.get((section,))
        if len(body) > limit:
            raise DecodeProblem(f"Template format error: Number of {section.lower()}, {len(body)}, is greater than "
                                f"maximum allowed, {limit}", line)
        for name in body:
            where = lines.get((section, name), line) if isinstance(name, str) else line
            if loops and isinstance(name, str) and name.startswith(language_extensions.PREFIX):
                continue  # expanded by the transform into names that are checked on the expansion
            if not isinstance(name, str) or not _NAME.fullmatch(name):
                raise DecodeProblem(f"Template format error: {singular} name {name} is non alphanumeric.", where)
            if len(name) > MAX_NAME:
                raise DecodeProblem(f"Template format error: {singular} name {name[:32]}... is {len(name)} characters "
                                    f"long; CloudFormation allows at most {MAX_NAME}", where)


def validate(document: Any, lines: dict[tuple[str, ...], int]) -> None:
    if document is None:
        raise DecodeProblem("the template is empty, not a mapping with a Resources section")
    if not isinstance(document, dict):
        raise DecodeProblem(f"the top level is a {_kind(document)}, not a mapping", 1)
    if "Resources" not in document:
        raise DecodeProblem("no Resources section (CloudFormation requires at least one resource)", 1)
    resources = document["Resources"]
    line = lines.get(("Resources",))
    if not isinstance(resources, dict) or not resources:
        raise DecodeProblem("Resources must be a mapping with at least one resource", line)
    _check_names(document, lines)
    if language_extensions.declares(document):
        try:
            resources = language_extensions.expand(document)["Resources"]
        except language_extensions.TemplateError as exc:
            raise DecodeProblem(str(exc), line) from None
        _check_names({"Resources": resources}, {})
    for logical_id, body in resources.items():
        rline = lines.get(("Resources", logical_id), line)
        if not isinstance(body, dict):
            raise DecodeProblem(f"resource '{logical_id}' is a {_kind(body)}, not a mapping", rline)
        if "Type" not in body:
            raise DecodeProblem(f"resource '{logical_id}' has no Type", rline)
        if not isinstance(body["Type"], str):
            raise DecodeProblem(f"resource '{logical_id}' has a Type that is not a string", rline)


def _kind(value: Any) -> str:
    return {dict: "mapping", list: "list", str: "string", bool: "boolean"}.get(type(value), type(value).__name__)


# --- JSON: the stdlib parser for values and errors, a token scan for lines and duplicate keys.

_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+')


def _parse_json(text: str) -> tuple[Any, dict[tuple[str, ...], int]]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        return _json_read_as_yaml(text, exc)
    except RecursionError:
        raise DecodeProblem(f"nesting deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        # Python refuses integers of more than 4300 digits; CloudFormation has no use for them either.
        raise DecodeProblem(f"invalid JSON: {str(exc).split(';')[0]}") from None
    return document, _json_lines(text)


def _json_read_as_yaml(text: str, error: json.JSONDecodeError) -> tuple[Any, dict[tuple[str, ...], int]]:
    """JSON that only a YAML parser reads (a trailing comma, a comment): CloudFormation reads templates as
    YAML, and cfn-lint falls back the same way. When YAML cannot read it either, the JSON error is the one
    that explains it."""
    try:
        document, lines = _parse_yaml(text)
    except DecodeProblem:
        raise DecodeProblem(f"invalid JSON: {error.msg} (column {error.colno})", error.lineno) from None
    # The loader warns once, naming the file; a re-parse of the same text (rendering) stays quiet.
    marked = LineMap(lines)
    marked.read_as_yaml = (error.lineno, error.msg)
    return document, marked


class LineMap(dict):
    """Path -> line, and whether JSON text had to be read as YAML ((line, JSON error) or None)."""

    read_as_yaml: tuple[int, str] | None = None


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
                raise DecodeProblem(f"nesting deeper than {MAX_DEPTH} levels", line)
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
                    raise DecodeProblem(f"duplicate key '{key}'", line)
                top[3].add(key)
                top[2] = key
                lines[top[1] + (key,)] = line
            elif not top[0]:
                lines[top[1] + (str(top[2]),)] = line
    return lines


# --- YAML: cfn-lint's decoder (C parser, node marks, duplicate-key check), stricter about tags.


@cache
def _cfn_loader() -> Any:
    """cfn-lint's loader with unknown tags rejected and timestamps kept as the text written."""
    # The decoder subclasses cfn-lint's internals: an incompatible cfn-lint fails here, by name, not later.
    # (At first use, not at import: a JSON template or a command that reads none never imports cfn-lint.)
    check_seams()
    from cfnlint.decode import cfn_yaml
    from cfnlint.decode.node import dict_node, str_node
    import yaml

    class CfnLoader(cfn_yaml.CfnFullLoader):
        _MERGE_TAGS = ("tag:yaml.org,2002:merge", "tag:yaml.org,2002:value")

        def flatten_mapping(self, node: Any) -> None:
            # Scanning every mapping twice for "<<" keys is a fifth of the load time; only pay when present.
            for key_node, _ in node.value:
                if key_node.tag in self._MERGE_TAGS:
                    cfn_yaml.NodeConstructor.flatten_mapping(self, node)
                    return

        def construct_yaml_map(self, node: Any) -> Any:
            """cfn-lint's mapping constructor, without its duplicate-key scan when the keys are distinct scalars.

            cfn-lint compares each key with every key before it (quadratic: most of the load time of a template
            with thousands of resources). One set tells whether a mapping can have a duplicate at all; only
            then (or with merge keys, or keys that are not plain scalars) does cfn-lint's own check run, so a
            duplicate is reported exactly as cfn-lint reports it.
            """
            seen: set[str] = set()
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag in self._MERGE_TAGS or key_node.value in seen:
                    return cfn_yaml.NodeConstructor.construct_yaml_map(self, node)
                seen.add(key_node.value)
            for key_node, value_node in node.value:
                if self.construct_object(key_node, False) is None:
                    return cfn_yaml.NodeConstructor.construct_yaml_map(self, node)  # raises its null-key error
                self.construct_object(value_node, False)
            (obj,) = yaml.constructor.SafeConstructor.construct_yaml_map(self, node)
            return dict_node(obj, node.start_mark, node.end_mark, getattr(node, "using_merge", False))

    def multi_constructor(loader: Any, suffix: str, node: Any) -> Any:
        if suffix not in SHORT_FORM_FUNCTIONS:
            raise DecodeProblem(f"unknown tag !{suffix}", node.start_mark.line + 1)
        return cfn_yaml.multi_constructor(loader, suffix, node)

    def timestamp_as_text(loader: Any, node: Any) -> Any:
        # CloudFormation reads 2012-10-17 as the string it is, never as a date.
        return str_node(node.value, node.start_mark, node.end_mark)

    CfnLoader.add_multi_constructor("!", multi_constructor)
    CfnLoader.add_constructor("tag:yaml.org,2002:map", CfnLoader.construct_yaml_map)
    CfnLoader.add_constructor("tag:yaml.org,2002:timestamp", timestamp_as_text)
    return CfnLoader


def _parse_yaml(text: str) -> tuple[Any, dict[tuple[str, ...], int]]:
    from cfnlint.decode import cfn_yaml
    from yaml import YAMLError

    try:
        loader = _cfn_loader()(text, "<template>")
        try:
            node = loader.get_single_data()
        finally:
            loader.dispose()
    except DecodeProblem:
        raise
    except cfn_yaml.CfnParseError as exc:
        match = exc.matches[0]
        message = re.sub(r" \(line \d+\)$", "", match.message)
        if message.startswith("Duplicate found"):
            # cfn-lint lists the first occurrence, then the repeats; the repeat is the mistake.
            raise DecodeProblem("duplicate key " + message[len("Duplicate found ") :], exc.matches[-1].linenumber) from None
        if "recursion" in message:
            raise DecodeProblem(f"nesting deeper than {MAX_DEPTH} levels") from None
        raise DecodeProblem(f"invalid YAML: {message}", match.linenumber or None) from None
    except YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        if "nesting depth" in problem:
            problem = f"nesting deeper than {MAX_DEPTH} levels"
            raise DecodeProblem(problem, mark.line + 1 if mark else None) from None
        raise DecodeProblem(f"invalid YAML: {problem}", mark.line + 1 if mark else None) from None
    except RecursionError:
        raise DecodeProblem(f"nesting deeper than {MAX_DEPTH} levels") from None
    except (ValueError, TypeError) as exc:
        raise DecodeProblem(f"invalid YAML: {exc}") from None
    except AttributeError as exc:
        # cfn-lint's duplicate-key check assumes string keys and trips over a repeated 1: or true: key.
        if "start_mark" in str(exc):
            raise DecodeProblem("duplicate key: a mapping repeats a key that is not a string") from None
        raise DecodeProblem(f"invalid YAML: {exc}") from None
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
        raise DecodeProblem("the template expands to far more nodes than it spells out (YAML alias amplification)")
    if depth > MAX_DEPTH:
        raise DecodeProblem(f"nesting deeper than {MAX_DEPTH} levels", line)
    if isinstance(node, dict):
        own = _mark_line(node) or line
        out: dict[str, Any] = {}
        for key, value in node.items():
            skey = scalar_text(key)
            sub = path + (skey,)
            kline = _mark_line(key) or _mark_line(value) or own
            if skey in out:
                # 1: and '1': are two YAML keys but one template key.
                raise DecodeProblem(f"duplicate key '{skey}'", kline)
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
        raise DecodeProblem("binary values (!!binary) are not supported in templates", line)
    return node


def scalar_text(key: Any) -> str:
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


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
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError

    yaml = YAML(typ="safe", pure=True)
    try:
        return yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise BadInput(f"invalid YAML: {exc.problem or exc.context}", file=name, line=mark.line + 1 if mark else None) from None
    except Exception as exc:  # ruamel raises a few unmarked errors (e.g. constructor errors)
        raise BadInput(f"invalid YAML: {exc}", file=name) from None


