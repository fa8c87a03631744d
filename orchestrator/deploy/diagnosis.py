"""Diagnosis: from stack events to root-cause failures, each matched to the first playbook that fits."""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import structlog

from orchestrator.catalog.playbooks import Playbook, load_playbooks, match_failure
from orchestrator.model import Failure, FailureKind, StackEvent, is_cascade_reason

log = structlog.get_logger(__name__)

if TYPE_CHECKING:
    from orchestrator.template.graph import DependencyGraph

# Consequence texts beyond model.CASCADE_REASONS that CloudFormation writes on updates, rollbacks and for
# nested stacks (a parent's view of a failed child: the child's own events hold the root cause).
_MORE_CASCADES = ("Resource update cancelled", "Resource deletion cancelled")
_EMBEDDED = re.compile(r"^Embedded stack (?P<stack_id>\S+) was not successfully (?:created|updated|deleted)")
_RESOLVING = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE")
_NEW_ATTEMPT = ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "IMPORT_IN_PROGRESS")
_OPERATION_START = (*_NEW_ATTEMPT, "DELETE_IN_PROGRESS")
_STACK_FAILED = ("_FAILED", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE")
_BENIGN = ("User Initiated", "Transformation succeeded", "Resource creation Initiated")
NestedEvents = Callable[[str], "Sequence[StackEvent] | None"]


@dataclass
class Diagnosis:
    failures: list[Failure] = field(default_factory=list)  # root causes of CREATE/UPDATE failures, earliest first
    delete_failures: list[Failure] = field(default_factory=list)  # DELETE_FAILED, reported apart (cleanup)
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (logical id, why it is not a root cause)
    nested: list[str] = field(default_factory=list)  # nested stacks whose events were followed

    @property
    def root_cause(self) -> Failure | None:
        """The earliest real failure (cascades, dependants and nested-stack summaries left out)."""
        return self.failures[0] if self.failures else None


def _chronological(events: Iterable[StackEvent]) -> list[StackEvent]:
    """Oldest first: by timestamp where every event has one, else reversing AWS's newest-first order."""
    items = list(events)
    if items and all(e.timestamp is not None for e in items):
        def key(pair: tuple[int, StackEvent]) -> tuple[datetime, int]:
            index, event = pair
            stamp = event.timestamp
            if stamp.tzinfo is None:
                stamp = stamp.replace(tzinfo=timezone.utc)
            # Same-second events keep AWS's newest-first order reversed.
            return stamp, -index

        return [event for _, event in sorted(enumerate(items), key=key)]
    return list(reversed(items))


def _normal(reason: str | None) -> str:
    return " ".join((reason or "").split())


def _is_cascade(reason: str) -> bool:
    text = _normal(reason)
    return (
        is_cascade_reason(text)
        or any(text.startswith(more) for more in _MORE_CASCADES)
        or _EMBEDDED.match(text) is not None
    )


def _is_own(event: StackEvent) -> bool:
    """An event of the stack itself, not of a nested stack resource (both have the Stack resource type)."""
    return event.is_stack_event and (event.logical_id == event.stack_name or not event.logical_id)


def _is_nested(event: StackEvent) -> bool:
    return event.is_stack_event and not _is_own(event)


def _last_failed_operation(ordered: list[StackEvent]) -> list[StackEvent]:
    """The events of the newest operation (create, update, delete) that failed, else of the newest one."""
    segments: list[list[StackEvent]] = [[]]
    for event in ordered:
        if _is_own(event) and event.status in _OPERATION_START and segments[-1]:
            segments.append([])
        segments[-1].append(event)

    def failed(segment: list[StackEvent]) -> bool:
        return any(
            e.status.endswith("_FAILED") or (_is_own(e) and e.reason and e.status.endswith(_STACK_FAILED))
            for e in segment
        )

    for segment in reversed(segments):
        if failed(segment):
            return segment
    return segments[-1]


def diagnose_events(
    events: Iterable[StackEvent],
    graph: "DependencyGraph | None" = None,
    playbooks: Sequence[Playbook] | None = None,
    nested: NestedEvents | None = None,
) -> Diagnosis:
    """Root causes of a failed deployment (one per resource, the newest attempt's), matched to playbooks.

    Only the newest failed operation counts. Dropped: cascade texts ("Resource creation cancelled", "Embedded
    stack ... was not successfully created"...), stack-level events, failures a later CREATE/UPDATE_COMPLETE of
    the same resource resolved, failures during the rollback of an earlier failure, and failures of resources
    that depend (in `graph`) on another failed root cause. A failed nested stack is followed through `nested`
    (stack id -> that stack's events): its root causes take its place; without them it stays, as unknown. A
    stack-level failure with no resource root cause becomes the only failure, so the evidence is kept.
    """
    if playbooks is None:
        playbooks = load_playbooks()
    everything = _chronological(events)
    ordered = _last_failed_operation(everything)
    physical_ids = {e.physical_id: e.logical_id for e in everything if e.physical_id and not _is_own(e)}
    diagnosis = Diagnosis()
    latest: dict[tuple[str, bool], StackEvent] = {}
    stack_failures: list[StackEvent] = []
    nested_failed: dict[str, StackEvent] = {}
    rolling_back = False
    first_failure_seen = False
    for event in ordered:
        if _is_own(event):
            if "ROLLBACK" in event.status:
                rolling_back = True
            elif event.status in _NEW_ATTEMPT:
                rolling_back = False
            reason = _normal(event.reason)
            if reason and reason not in _BENIGN and not _is_cascade(reason):
                if event.status.endswith(_STACK_FAILED) or match_failure(_failure(event, {}), playbooks).playbook != (
                    FailureKind.UNKNOWN.value
                ):
                    stack_failures.append(event)
            continue
        # During a rollback, UPDATE_COMPLETE means "restored", not "the failure went away".
        if event.status in _RESOLVING and not rolling_back:
            latest.pop((event.logical_id, False), None)
            nested_failed.pop(event.logical_id, None)
            continue
        if not event.status.endswith("_FAILED"):
            continue
        deleting = event.status == "DELETE_FAILED"
        # A nested stack cancelled because a sibling failed ("Resource creation cancelled") is a consequence
        # like any other resource's; only an embedded stack's own failure is followed.
        cancelled = _is_cascade(event.reason) and _EMBEDDED.match(_normal(event.reason)) is None
        if _is_nested(event) and not deleting and not cancelled:
            nested_failed[event.logical_id] = event
            first_failure_seen = True
            continue
        if _is_cascade(event.reason):
            diagnosis.dropped.append((event.logical_id, f"cascade: {_normal(event.reason)}"))
            continue
        if rolling_back and first_failure_seen and not deleting:
            diagnosis.dropped.append((event.logical_id, f"failed during the rollback: {_normal(event.reason)}"))
            continue
        first_failure_seen = first_failure_seen or not deleting
        latest[(event.logical_id, deleting)] = event

    def failure_of(event: StackEvent) -> Failure:
        details: dict = {"physical_ids": dict(physical_ids)}
        if event.physical_id:
            details["physical_id"] = event.physical_id
        return match_failure(_failure(event, details), playbooks)

    roots = [event for (logical_id, deleting), event in latest.items() if not deleting]
    failed = {event.logical_id for event in roots} | set(nested_failed)
    found: list[tuple[StackEvent, list[Failure]]] = []
    for event in roots:
        if graph is not None and event.logical_id in graph:
            culprits = sorted(
                other for other in failed
                if other != event.logical_id and other in graph and graph.depends_on(event.logical_id, other)
            )
            if culprits:
                diagnosis.dropped.append((event.logical_id, f"depends on failed {', '.join(culprits)}"))
                continue
        found.append((event, [failure_of(event)]))
    for logical_id, event in nested_failed.items():
        found.append((event, _follow(event, playbooks, nested, diagnosis, failure_of)))
    found.sort(key=lambda pair: ordered.index(pair[0]))
    diagnosis.failures = [failure for _, failures in found for failure in failures]
    diagnosis.delete_failures = [failure_of(e) for (_, deleting), e in latest.items() if deleting]
    if not diagnosis.failures and not diagnosis.delete_failures and stack_failures:
        diagnosis.failures.append(failure_of(stack_failures[0]))
    elif not diagnosis.failures and stack_failures and not latest:
        diagnosis.failures.append(failure_of(stack_failures[0]))
    for failure in diagnosis.failures:
        log.info(
            "root_cause",
            logical_id=failure.logical_id,
            resource_type=failure.resource_type,
            status=failure.status,
            playbook=failure.playbook,
        )
        if failure.playbook == FailureKind.UNKNOWN.value:
            log.warning("unknown_failure", logical_id=failure.logical_id, reason=failure.status_reason)
    return diagnosis


def _failure(event: StackEvent, details: dict) -> Failure:
    return Failure(
        logical_id=event.logical_id,
        resource_type=event.resource_type,
        status_reason=event.reason,
        status=event.status,
        details=details,
    )


def _follow(
    event: StackEvent,
    playbooks: Sequence[Playbook],
    nested: NestedEvents | None,
    diagnosis: Diagnosis,
    failure_of: Callable[[StackEvent], Failure],
) -> list[Failure]:
    """The root causes inside a failed nested stack, each marked with the stack it happened in; the nested
    stack resource itself (unknown, with where to look) when its events cannot be read."""
    embedded = _EMBEDDED.match(_normal(event.reason))
    stack_id = event.physical_id or (embedded["stack_id"] if embedded else "")
    child_events = nested(stack_id) if nested is not None and stack_id else None
    if child_events:
        child = diagnose_events(child_events, None, playbooks, nested)
        if child.failures:
            diagnosis.dropped.append((event.logical_id, f"nested stack: root cause in {stack_id}"))
            diagnosis.nested.append(stack_id)
            diagnosis.nested.extend(child.nested)
            diagnosis.dropped.extend(child.dropped)
            for failure in child.failures:
                failure.details.setdefault("stack", child_events[0].stack_name or stack_id)
                failure.details.setdefault("stack_id", stack_id)
            return child.failures
    if embedded or _is_cascade(event.reason):
        # The parent's summary names no cause; saying "unknown" with where to look beats a guess.
        unknown = _failure(event, {"physical_id": stack_id, "nested_stack": stack_id,
                                   "note": f"the root cause is in the nested stack {stack_id}; its events were not given"})
        return [dataclasses.replace(unknown, playbook=FailureKind.UNKNOWN.value)]
    return [failure_of(event)]


def diagnose(
    events: Iterable[StackEvent],
    graph: "DependencyGraph | None" = None,
    playbooks: Sequence[Playbook] | None = None,
    nested: NestedEvents | None = None,
) -> list[Failure]:
    """The root-cause failures of `events` (see diagnose_events), each with its playbook id or "unknown"."""
    return diagnose_events(events, graph, playbooks, nested).failures
