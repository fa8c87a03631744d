"""Playbooks: failure classes as data (match -> repair -> docs), loaded from YAML, checked once at start."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from importlib import resources as importlib_resources
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Iterable, Sequence

from orchestrator.errors import BadInput
from orchestrator.model import Failure, FailureKind, Impact, is_sandbox_limitation
from orchestrator.template import read_data_yaml

ENTRY_POINT_GROUP = "cfn_autofix.playbooks"
TOP_KEYS = {"id", "class", "priority", "title", "impact", "match", "forecast", "repair", "params", "docs", "explanation"}
REQUIRED_KEYS = ("id", "class", "priority", "title", "impact", "match", "repair", "docs", "explanation")
PRIORITY_RANGE = (0, 1000)
MATCH_KEYS = {"resource_types", "status", "reason"}
_ID = re.compile(r"[a-z0-9][a-z0-9-]*")


@dataclass(frozen=True)
class PlaybookMatch:
    """Flat match keys, all of which must hold; an absent key matches anything."""

    resource_types: tuple[str, ...] = ()  # exact types or fnmatch patterns ("AWS::EC2::*")
    status: tuple[str, ...] = ()
    reason: re.Pattern | None = None  # searched anywhere in the status reason


@dataclass(frozen=True)
class Playbook:
    """One way a failure class shows itself: `failure_class` is the contract id (reports, SARIF, `diagnose`);
    `priority` decides which playbook wins when several match (higher first, then id), never file order."""

    id: str
    failure_class: str
    priority: int
    title: str
    impact: Impact
    match: PlaybookMatch
    repair: str
    docs: str
    explanation: str
    forecast: str | None = None
    params: dict = field(default_factory=dict)
    source: str = ""  # where it was loaded from, for error messages and `cfn-autofix playbooks`

    def matches(self, failure: Failure) -> dict | None:
        """The reason regex's named groups (possibly empty) when every match key holds, else None."""
        if self.match.resource_types and not any(
            fnmatchcase(failure.resource_type or "", pattern) for pattern in self.match.resource_types
        ):
            return None
        if self.match.status and failure.status not in self.match.status:
            return None
        if self.match.reason is None:
            return {}
        # Sources and consoles re-wrap texts; whitespace runs carry no meaning in a status reason.
        found = self.match.reason.search(" ".join((failure.status_reason or "").split()))
        if found is None:
            return None
        return {name: value for name, value in found.groupdict().items() if value is not None}

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "class": self.failure_class,
            "priority": self.priority,
            "title": self.title,
            "impact": self.impact.value,
            "match": {
                "resource_types": list(self.match.resource_types),
                "status": list(self.match.status),
                "reason": self.match.reason.pattern if self.match.reason else None,
            },
            "forecast": self.forecast,
            "repair": self.repair,
            "params": dict(self.params),
            "docs": self.docs,
            "explanation": self.explanation,
            "source": self.source,
        }


def _strings(value: Any, key: str, source: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not all(isinstance(item, str) and item for item in items):
        raise BadInput(f"playbook key '{key}' must be a string or a list of strings", file=source)
    return tuple(items)


def parse_playbook(data: Any, source: str) -> Playbook:
    """One playbook from its plain data; BadInput naming `source` and the key on any problem."""
    if not isinstance(data, dict):
        raise BadInput("a playbook must be a mapping of keys", file=source)
    unknown = sorted(set(map(str, data)) - TOP_KEYS)
    if unknown:
        raise BadInput(f"unknown playbook key '{unknown[0]}' (allowed: {', '.join(sorted(TOP_KEYS))})", file=source)
    for key in REQUIRED_KEYS:
        if data.get(key) in (None, "", {}):
            raise BadInput(f"playbook key '{key}' is required", file=source)
    for key in ("id", "class", "title", "repair", "docs", "explanation"):
        if not isinstance(data[key], str):
            raise BadInput(f"playbook key '{key}' must be a string", file=source)
    for key in ("id", "class"):
        if not _ID.fullmatch(data[key]):
            raise BadInput(f"playbook key '{key}': {data[key]!r} is not lower-case-with-dashes", file=source)
        if data[key] in (FailureKind.UNKNOWN.value, FailureKind.SANDBOX_LIMITATION.value):
            raise BadInput(f"playbook key '{key}': {data[key]!r} is reserved (unmatched failures, sandbox gaps)",
                           file=source)
    priority = data["priority"]
    low, high = PRIORITY_RANGE
    if isinstance(priority, bool) or not isinstance(priority, int) or not low <= priority <= high:
        raise BadInput(f"playbook key 'priority' must be an integer from {low} to {high} (higher wins)", file=source)
    try:
        impact = Impact(data["impact"])
    except ValueError:
        allowed = ", ".join(i.value for i in Impact)
        raise BadInput(f"playbook key 'impact': {data['impact']!r} is not one of {allowed}", file=source) from None
    if not re.match(r"https?://", data["docs"]):
        raise BadInput("playbook key 'docs' must be an http(s) URL", file=source)

    match = data["match"]
    if not isinstance(match, dict):
        raise BadInput("playbook key 'match' must be a mapping of resource_types, status, reason", file=source)
    unknown = sorted(set(map(str, match)) - MATCH_KEYS)
    if unknown:
        raise BadInput(
            f"unknown playbook key 'match.{unknown[0]}' (match keys are flat and AND-ed: resource_types, status, reason)",
            file=source,
        )
    reason = None
    if "reason" in match:
        if not isinstance(match["reason"], str) or not match["reason"]:
            raise BadInput("playbook key 'match.reason' must be one regular expression (a string)", file=source)
        try:
            reason = re.compile(match["reason"])
        except re.error as exc:
            raise BadInput(f"playbook key 'match.reason': bad regular expression: {exc}", file=source) from None
    parsed_match = PlaybookMatch(
        resource_types=_strings(match["resource_types"], "match.resource_types", source) if "resource_types" in match else (),
        status=_strings(match["status"], "match.status", source) if "status" in match else (),
        reason=reason,
    )
    if parsed_match == PlaybookMatch():
        raise BadInput("playbook key 'match' needs at least one of resource_types, status, reason", file=source)

    forecast = data.get("forecast")
    if forecast is not None and not isinstance(forecast, str):
        raise BadInput("playbook key 'forecast' must be a detector name or null", file=source)
    params = data.get("params") or {}
    if not isinstance(params, dict):
        raise BadInput("playbook key 'params' must be a mapping", file=source)
    return Playbook(
        id=data["id"],
        failure_class=data["class"],
        priority=priority,
        title=data["title"].strip(),
        impact=impact,
        match=parsed_match,
        repair=data["repair"],
        docs=data["docs"],
        explanation=" ".join(data["explanation"].split()),
        forecast=forecast,
        params=dict(params),
        source=source,
    )


def _yaml_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def _from_path(path: Path) -> list[Playbook]:
    if path.is_dir():
        return [parse_playbook(read_data_yaml(p), str(p)) for p in _yaml_files(path)]
    return [parse_playbook(read_data_yaml(path), str(path))]


def _packaged() -> list[Playbook]:
    return list(_packaged_once())


@functools.cache
def _packaged_once() -> tuple[Playbook, ...]:
    """The package's own playbooks are read once per process: they cannot change."""
    return tuple(read_folder(importlib_resources.files("orchestrator.playbooks"), "playbooks/"))


INDEX_NAME = "index.json"


def read_folder(folder: Any, prefix: str) -> list[Playbook]:
    """The playbooks of a packaged folder (a Path or an importlib Traversable), in file-name order.

    Parsing 40 YAML files with the pure-Python parser is about a fifth of a forecast's whole process, so the
    folder carries their parsed data in INDEX_NAME (tools/gen_playbook_index.py), each with the SHA-256 of
    the text it was parsed from. A file whose text is not the indexed one (edited, added) is parsed from its
    YAML: the index can be stale, never wrong.
    """
    index = _read_index(folder)
    found = []
    for item in sorted(folder.iterdir(), key=lambda t: t.name):
        if not item.name.endswith((".yaml", ".yml")):
            continue
        known = index.get(item.name)
        if known is not None and known[0] == hashlib.sha256(item.read_bytes()).hexdigest():
            data = known[1]
        else:
            with importlib_resources.as_file(item) as path:
                data = read_data_yaml(path)
        found.append(parse_playbook(data, prefix + item.name))
    return found


def _read_index(folder: Any) -> dict[str, tuple[str, Any]]:
    """file name -> (SHA-256 of its text, its parsed data); empty when the folder has no readable index."""
    try:
        entries = json.loads(folder.joinpath(INDEX_NAME).read_text(encoding="utf-8"))["playbooks"]
        return {name: (entry["sha256"], entry["data"]) for name, entry in entries.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def _from_entry_points() -> list[Playbook]:
    """Entry points in `cfn_autofix.playbooks` name a folder/file path, a mapping, a list of them, or a callable
    returning any of those."""
    found: list[Playbook] = []
    for entry in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        source = f"entry point {entry.name} = {entry.value}"
        try:
            obj = entry.load()
            if callable(obj):
                obj = obj()
        except Exception as exc:  # a broken third-party package is one clear line, not a traceback
            raise BadInput(f"cannot be loaded: {exc}", file=source) from None
        for item in obj if isinstance(obj, (list, tuple)) else [obj]:
            if isinstance(item, (str, Path)):
                found.extend(_from_path(Path(item)))
            else:
                found.append(parse_playbook(item, source))
    return found


def load_playbooks(
    extra_dirs: Iterable[str | Path] = (), *, entry_point_playbooks: bool = True, registry: Any = None
) -> list[Playbook]:
    """Packaged playbooks, each extra folder's and entry points', in precedence order (priority, highest first,
    then id); checks every named repair is registered and every id is unique."""
    from orchestrator import repairs
    from orchestrator.detectors import DETECTORS

    registry = registry if registry is not None else repairs.registry()
    books = _packaged()
    for directory in extra_dirs:
        path = Path(directory)
        if not path.is_dir():
            raise BadInput("playbook folder not found", file=str(path))
        books.extend(_from_path(path))
    if entry_point_playbooks:
        books.extend(_from_entry_points())
    seen: dict[str, str] = {}
    for book in books:
        if book.id in seen:
            raise BadInput(f"playbook id '{book.id}' is also defined in {seen[book.id]}", file=book.source)
        seen[book.id] = book.source
        if book.forecast is not None and book.forecast not in DETECTORS:
            raise BadInput(
                f"playbook key 'forecast': no detector named '{book.forecast}' (known: {', '.join(sorted(DETECTORS))})",
                file=book.source,
            )
        if book.repair not in registry:
            raise BadInput(
                f"playbook key 'repair': no repair named '{book.repair}' (registered: {', '.join(registry.ids())})",
                file=book.source,
            )
    return in_precedence(books)


def in_precedence(playbooks: Iterable[Playbook]) -> list[Playbook]:
    """Playbooks in the order diagnosis tries them: declared priority, highest first; ties by id."""
    return sorted(playbooks, key=lambda book: (-book.priority, book.id))


def match_failure(failure: Failure, playbooks: Sequence[Playbook]) -> Failure:
    """A copy of `failure` with `playbook` set to the matching playbook of highest priority (or "unknown") and
    the reason's named groups merged into `details`. A sandbox limitation is never a template failure: it is
    classified sandbox-limitation before any playbook is tried."""
    if is_sandbox_limitation(failure.status_reason):
        return dataclasses.replace(failure, playbook=FailureKind.SANDBOX_LIMITATION.value, details=dict(failure.details))
    for book in in_precedence(playbooks):
        groups = book.matches(failure)
        if groups is not None:
            return dataclasses.replace(failure, playbook=book.id, details={**failure.details, **groups})
    return dataclasses.replace(failure, playbook=FailureKind.UNKNOWN.value, details=dict(failure.details))


def by_id(playbooks: Sequence[Playbook]) -> dict[str, Playbook]:
    return {book.id: book for book in playbooks}


def class_of(playbook_id: str | None, playbooks: Sequence[Playbook]) -> str:
    """The failure class of a playbook id; "unknown" for no playbook."""
    for book in playbooks:
        if book.id == playbook_id:
            return book.failure_class
    return FailureKind.UNKNOWN.value
