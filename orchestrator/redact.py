"""The one redactor: NoEcho values (given and Default) replaced in every sink by longest-first exact match."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["MIN_TOKEN", "REDACTED", "Redactor", "active_or_new", "current", "noecho_parameters", "noecho_values"]

REDACTED = "****"
# A shorter secret ("a", "42") would turn every message into confetti and reveal itself by the holes it
# leaves: it is redacted only where it is the whole value of a field.
MIN_TOKEN = 4


class Redactor:
    """A growing set of secrets and the one way to hide them; thread-safe, shared by a run's threads.

    text(): the whole string when it equals a secret, else every occurrence of a secret of MIN_TOKEN or
    more characters, the longest first at each position (so a secret inside another never leaves a tail).
    value(): the same over a JSON-like structure, keys included.
    """

    def __init__(self, secrets: Iterable[Any] = ()):
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None
        self.add(secrets)

    def __bool__(self) -> bool:
        return bool(self._secrets)

    def __len__(self) -> int:
        return len(self._secrets)

    def add(self, values: Iterable[Any]) -> None:
        new = {str(v) for v in values if v is not None and str(v) != ""}
        with self._lock:
            if new <= self._secrets:
                return
            secrets = self._secrets | new
            tokens = sorted((s for s in secrets if len(s) >= MIN_TOKEN), key=lambda s: (-len(s), s))
            # Replaced together in one pass: a regex alternation tries its branches in order, longest first.
            self._pattern = re.compile("|".join(map(re.escape, tokens))) if tokens else None
            self._secrets = secrets

    def text(self, text: str) -> str:
        secrets, pattern = self._secrets, self._pattern
        if not secrets:
            return text
        if text in secrets:
            return REDACTED
        return pattern.sub(REDACTED, text) if pattern is not None else text

    def value(self, value: Any) -> Any:
        if not self._secrets:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            # Keys can hold secrets (physical ids keyed to logical ids), but a short one stays: a field name.
            return {self.text(k) if isinstance(k, str) and len(k) >= MIN_TOKEN else k: self.value(v)
                    for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return type(value)(self.value(v) for v in value) if isinstance(value, list) else tuple(
                self.value(v) for v in value)
        return value

    @contextmanager
    def active(self) -> Iterator[Redactor]:
        """Make this the redactor of the current context (and of threads started with a copy of it)."""
        token = _current.set(self)
        try:
            yield self
        finally:
            _current.reset(token)


_current: ContextVar[Redactor | None] = ContextVar("cfn_autofix_redactor", default=None)
_EMPTY = Redactor()


def current() -> Redactor:
    """The redactor of the running command or run (an empty one when none is active)."""
    return _current.get() or _EMPTY


def active_or_new() -> Redactor:
    """The active redactor, to add a run's secrets to; a fresh one when none is active."""
    return _current.get() or Redactor()


def noecho_parameters(document: Mapping[str, Any]) -> set[str]:
    """Names of the template's parameters declared NoEcho: true (or "true")."""
    params = document.get("Parameters") if isinstance(document, Mapping) else None
    if not isinstance(params, Mapping):
        return set()
    return {
        name
        for name, body in params.items()
        if isinstance(body, Mapping) and str(body.get("NoEcho", "")).lower() == "true"
    }


def noecho_values(document: Mapping[str, Any], parameters: Mapping[str, Any] | None = None) -> list[str]:
    """Every secret a template and its parameter values hold: NoEcho values given, NoEcho Defaults, and the
    items of NoEcho lists (a CommaDelimitedList's items reach resources one by one)."""
    declared = document.get("Parameters") if isinstance(document, Mapping) else None
    found: list[str] = []
    for name in noecho_parameters(document):
        body = declared.get(name) if isinstance(declared, Mapping) else None
        candidates = [(parameters or {}).get(name), body.get("Default") if isinstance(body, Mapping) else None]
        for value in candidates:
            if value is None or isinstance(value, (Mapping, list)):
                continue
            text = str(value)
            found.append(text)
            found.extend(item.strip() for item in text.split(",") if item.strip() != text and item.strip())
    return found
