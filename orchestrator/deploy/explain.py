"""Explaining a stack that already failed: saved events files, root causes with class and docs, text/JSON/SARIF."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Sequence

from orchestrator.catalog.playbooks import Playbook
from orchestrator.deploy.diagnosis import Diagnosis, diagnose_events
from orchestrator.errors import BadInput
from orchestrator.model import Failure, FailureKind, Finding, StackEvent

_REQUIRED = ("EventId", "LogicalResourceId", "ResourceType", "ResourceStatus")


@dataclass
class EventsFile:
    """One `aws cloudformation describe-stack-events --output json` file: its stack's id and events."""

    path: Path
    stack_id: str
    events: list[StackEvent]


def load_events_file(path: Path) -> EventsFile:
    """The events of a saved DescribeStackEvents answer; BadInput (file, line, what) on anything else."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BadInput("events file not found", file=path) from None
    except IsADirectoryError:
        raise BadInput("events file is a directory", file=path) from None
    except UnicodeDecodeError:
        raise BadInput("events file is not UTF-8 text", file=path) from None
    except OSError as exc:
        raise BadInput(f"cannot read the events file: {exc.strerror}", file=path) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"not JSON: {exc.msg} (column {exc.colno})", file=path, line=exc.lineno) from None
    if not isinstance(data, dict) or not isinstance(data.get("StackEvents"), list):
        raise BadInput(
            'not a describe-stack-events answer: expected {"StackEvents": [...]} '
            "(aws cloudformation describe-stack-events --output json)",
            file=path,
        )
    events = []
    stack_id = ""
    for index, raw in enumerate(data["StackEvents"]):
        if not isinstance(raw, dict):
            raise BadInput(f"StackEvents[{index}] is not an object", file=path)
        missing = [key for key in _REQUIRED if not isinstance(raw.get(key), str) or not raw.get(key)]
        if missing:
            raise BadInput(f"StackEvents[{index}] has no {missing[0]}", file=path)
        stamp = raw.get("Timestamp")
        when = None
        if stamp is not None:
            try:
                when = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
            except ValueError:
                raise BadInput(f"StackEvents[{index}].Timestamp {stamp!r} is not an ISO 8601 time", file=path) from None
        stack_id = stack_id or str(raw.get("StackId") or "")
        events.append(
            StackEvent(
                event_id=raw["EventId"],
                stack_name=str(raw.get("StackName") or ""),
                logical_id=raw["LogicalResourceId"],
                resource_type=raw["ResourceType"],
                status=raw["ResourceStatus"],
                reason=str(raw.get("ResourceStatusReason") or ""),
                physical_id=str(raw.get("PhysicalResourceId") or ""),
                timestamp=when,
            )
        )
    return EventsFile(path=path, stack_id=stack_id, events=events)


def nested_from_files(files: Sequence[EventsFile]) -> Callable[[str], Sequence[StackEvent] | None]:
    """stack id -> events, for nested stacks given as further events files (matched by their StackId)."""
    by_id: dict[str, list[StackEvent]] = {}
    for item in files:
        for key in {item.stack_id, *(e.physical_id for e in item.events if e.logical_id == e.stack_name)}:
            if key:
                by_id.setdefault(key, item.events)
    return by_id.get


@dataclass
class Explained:
    """What `diagnose` reports: the root causes with class, playbook, explanation and docs."""

    source: str
    diagnosis: Diagnosis
    books: dict[str, Playbook]
    repaired_template: str | None = None
    repairs: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)

    @property
    def root_causes(self) -> list[Failure]:
        return list(self.diagnosis.failures) + list(self.diagnosis.delete_failures)

    @property
    def unknown(self) -> list[Failure]:
        return [f for f in self.root_causes if f.playbook not in self.books]

    def cause_json(self, failure: Failure) -> dict[str, Any]:
        book = self.books.get(failure.playbook or "")
        data = {
            "logical_id": failure.logical_id,
            "resource_type": failure.resource_type,
            "status": failure.status,
            "status_reason": failure.status_reason,
            "class": book.failure_class if book else FailureKind.UNKNOWN.value,
            "playbook": book.id if book else None,
            "explanation": book.explanation if book else _unknown_explanation(failure),
            "docs": book.docs if book else None,
            "repair": book.repair if book else None,
        }
        if failure.details.get("stack_id"):
            data["stack_id"] = failure.details["stack_id"]
        return data

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "source": self.source,
            "root_causes": [self.cause_json(f) for f in self.root_causes],
            "dropped": [{"logical_id": logical_id, "why": why} for logical_id, why in self.diagnosis.dropped],
            "nested_stacks": list(self.diagnosis.nested),
        }
        if self.repaired_template is not None or self.repairs or self.rejected:
            data.update(repaired_template=self.repaired_template, repairs=self.repairs, rejected_repairs=self.rejected)
        return data

    def to_text(self) -> str:
        causes = self.root_causes
        if not causes:
            return f"{self.source}: no failure found in the newest operation\n"
        lines = []
        for failure in causes:
            item = self.cause_json(failure)
            where = f" in {item['stack_id']}" if item.get("stack_id") else ""
            lines.append(f"{item['logical_id']} ({item['resource_type']}){where}: {item['class']}")
            lines.append(f"  reason: {' '.join(item['status_reason'].split())}")
            lines.append(f"  why:    {item['explanation']}")
            if item["docs"]:
                lines.append(f"  docs:   {item['docs']}")
        if self.repaired_template:
            applied = ", ".join(r["repair"] for r in self.repairs) or "none"
            lines.append(f"repaired template: {self.repaired_template} (repairs: {applied})")
        return "\n".join(lines) + "\n"

    def to_sarif(self, artifact: str, line_of: Callable[[str], int | None]) -> str:
        from orchestrator.forecast import sarif

        findings = []
        rules: dict[str, Any] = {}
        for failure in self.root_causes:
            item = self.cause_json(failure)
            findings.append(Finding(
                playbook=item["class"], logical_id=failure.logical_id, resource_type=failure.resource_type,
                message=" ".join(failure.status_reason.split()) or failure.status,
                line=line_of(failure.logical_id), fixable=item["repair"] not in (None, "needs-human"),
            ))
            book = self.books.get(failure.playbook or "")
            # SARIF rule ids are the class ids (the contract), described by the matching playbook.
            rules.setdefault(item["class"], SimpleNamespace(
                id=item["class"], title=book.title if book else "No playbook matches this failure",
                docs=book.docs if book else None, explanation=item["explanation"],
            ))
        return sarif.dumps({artifact: findings}, playbooks=list(rules.values()))


def _unknown_explanation(failure: Failure) -> str:
    note = failure.details.get("note")
    if note:
        return str(note)
    return "no playbook matches this failure; the status reason above is the evidence"


def explain(
    events: Sequence[StackEvent],
    playbooks: Sequence[Playbook],
    *,
    source: str,
    graph: Any = None,
    nested: Callable[[str], Sequence[StackEvent] | None] | None = None,
) -> Explained:
    """Diagnose `events` (nested stacks through `nested`) and keep what the report needs."""
    diagnosis = diagnose_events(events, graph, playbooks, nested)
    return Explained(source=source, diagnosis=diagnosis, books={book.id: book for book in playbooks})
