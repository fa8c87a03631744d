"""One function for everything printed to a terminal: control characters escaped, so text cannot drive the terminal."""

from __future__ import annotations

import re

__all__ = ["term_safe"]

# C0 and C1 controls (ESC starts colour, title and clear-screen sequences; BEL ends OSC), DEL, and the Unicode
# characters that reorder or hide text (bidi overrides and isolates, zero-width, line and paragraph separators).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def term_safe(text: str, *, keep_newlines: bool = True) -> str:
    """`text` with every terminal control escaped as \\xNN / \\uNNNN (newline and tab kept unless asked)."""
    text = _UNSAFE.sub(_escape, str(text))
    if not keep_newlines:
        text = text.replace("\n", "\\x0a").replace("\t", "\\x09")
    return text
