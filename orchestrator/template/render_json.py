"""Rendering a patched document as JSON in the source's own style, splicing only what changed."""

from __future__ import annotations

import difflib
import json
import re
from typing import Any


from orchestrator.template.jsonpatch import fingerprint, same_document

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


def dump_json(document: Any, source: str) -> str:
    style = _JsonStyle(source)
    if style.indent is None:
        text = style.inline(document)
    else:
        text = json.dumps(document, indent=style.indent, ensure_ascii=style.ensure_ascii)
    if source.endswith("\n"):
        text += "\n"
    return text


def splice_json(source: str, document: Any) -> str:
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
    if same_document(old, new):
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
            None, [fingerprint(v) for v in old], [fingerprint(v) for v in new], autojunk=False
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




