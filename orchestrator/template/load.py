"""The Template: loading files and text, applying patches, and rendering the result in the input's format."""

from __future__ import annotations

import copy
import difflib
from pathlib import Path
from typing import Any, Sequence


from orchestrator.errors import BadInput, TemplateWarning
from orchestrator.inputs import STDIN, read_input
from orchestrator.model import PatchOp
from orchestrator.template.decode import MAX_BYTES, DecodeProblem, parse_text, validate
from orchestrator.template.jsonpatch import PatchError, apply_op, diff_ops, same_document, split_pointer
from orchestrator.template.render_json import dump_json, splice_json

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
        # The parse of `source`, made once: dumps() compares the document with it on every call.
        self._parsed: Any = None

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
        parts = split_pointer(ptr)
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
        if self._parsed is None:
            self._parsed = parse_text(self.source, self.fmt)[0]
        original = self._parsed
        # JSON also honours a new key order; the YAML patch ops cannot express one.
        if same_document(original, self.document) or (self.fmt == "yaml" and original == self.document):
            return self.source
        ops = diff_ops(original, self.document, ()) if self.fmt == "yaml" else ()
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
    """Read a template file (or "-": stdin); any problem is a BadInput naming the file and, where known, the line.

    Only a regular file is read, and never more than max_bytes of it (CloudFormation's own limit by default).
    """
    stdin = str(path) == STDIN
    p = Path(path)
    name = "<stdin>" if stdin else str(path)
    data = read_input(path, max_bytes=max_bytes, what="template file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BadInput(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})", file=name, line=line
        ) from None
    fmt = _format_for("" if stdin else p.suffix.lower(), text)
    return _build(text, fmt, name=name, path=None if stdin else p)


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
        document, lines = parse_text(text, fmt)
        validate(document, lines)
    except DecodeProblem as exc:
        raise BadInput(exc.message, file=name, line=exc.line) from None
    fallback = getattr(lines, "read_as_yaml", None)
    if fallback:
        import warnings

        warnings.warn(TemplateWarning(f"{name}:{fallback[0]}: not valid JSON ({fallback[1]}); read as YAML, as "
                                      "CloudFormation and cfn-lint read it"), stacklevel=3)
    return Template(path=path, fmt=fmt, source=text, document=document, name=name, _lines=lines)


# ---------------------------------------------------------------------------------------------
# Patching


def apply_patch(tpl: Template, ops: Sequence[PatchOp]) -> Template:
    """A new Template with ops applied (RFC 6902 add/replace/remove, "/-" appends); tpl is untouched.

    The document is patched now (PatchError if an op does not fit, BadInput if the result is no longer a
    template); the text in the input's format is rendered when first needed."""
    document = copy.deepcopy(tpl.document)
    frozen = tuple(PatchOp(op.op, op.path, copy.deepcopy(op.value)) for op in ops)
    for op in frozen:
        document = apply_op(document, op)
    try:
        validate(document, {})
    except DecodeProblem as exc:
        raise BadInput(f"after patching: {exc.message}", file=tpl.name) from None
    if tpl._pending is not None:
        base, earlier = tpl._pending
        pending = (base, earlier + frozen)
    else:
        pending = (tpl.source, frozen)
    if not frozen:
        return Template(tpl.path, tpl.fmt, tpl._source, document, tpl.name, dict(tpl._lines), _pending=tpl._pending)
    return Template(tpl.path, tpl.fmt, None, document, tpl.name, None, _pending=pending)


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
        attempts = (lambda: splice_json(base, document), lambda: dump_json(document, base))
    else:
        # ruamel (round-trip YAML) is imported only when a YAML template is rendered: reading one never needs it.
        from orchestrator.template.render_yaml import dump_yaml_patched, splice_yaml_resources

        attempts = (lambda: splice_yaml_resources(base, ops), lambda: dump_yaml_patched(base, ops))
    for attempt in attempts[:-1]:
        try:
            text = attempt()
            if text is None:
                continue
            parsed, lines = parse_text(text, fmt)
        except Exception:  # a splice meeting text it does not handle gives way to the full rendering
            continue
        if same_document(parsed, document):
            return text, lines
    text = attempts[-1]()
    try:
        _, lines = parse_text(text, fmt)
    except DecodeProblem as exc:
        raise PatchError(f"the patched template does not parse: {exc.message}") from None
    return text, lines


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
