"""Diagnosis: from stack events to root-cause failures, each matched to the first playbook that fits."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Iterable, Sequence

import structlog

from orchestrator.catalog.playbooks import Playbook, load_playbooks, match_failure
from orchestrator.model import Failure, FailureKind, StackEvent, is_cascade_reason

log = structlog.get_logger(__name__)

if TYPE_CHECKING:
    from orchestrator.template.graph import DependencyGraph

# Consequence texts beyond model.CASCADE_REASONS that CloudFormation writes on updates and rollbacks.
_MORE_CASCADES = ("Resource update cancelled", "Resource deletion cancelled")
_RESOLVING = ("CREATE_COMPLETE", "UPDATE_COMPLETE", "IMPORT_COMPLETE")
_NEW_ATTEMPT = ("CREATE_IN_PROGRESS", "UPDATE_IN_PROGRESS", "IMPORT_IN_PROGRESS")


@dataclass
class Diagnosis:
    failures: list[Failure] = field(default_factory=list)  # root causes of CREATE/UPDATE failures
    delete_failures: list[Failure] = field(default_factory=list)  # DELETE_FAILED, reported apart (cleanup)
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (logical id, why it is not a root cause)


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


def _is_cascade(reason: str) -> bool:
    return is_cascade_reason(reason) or any((reason or "").startswith(text) for text in _MORE_CASCADES)


def diagnose_events(
    events: Iterable[StackEvent],
    graph: "DependencyGraph | None" = None,
    playbooks: Sequence[Playbook] | None = None,
) -> Diagnosis:
    """Root causes of a failed deployment (one per resource, the newest attempt's), matched to playbooks.

    Dropped: cascade texts ("Resource creation cancelled"...), stack-level events, failures a later
    CREATE/UPDATE_COMPLETE of the same resource resolved, and failures of resources that depend (in
    `graph`) on another failed root cause. A stack-level failure with no resource root cause becomes
    the only failure, so the evidence is kept and reported as unknown rather than lost.
    """
    if playbooks is None:
        playbooks = load_playbooks()
    ordered = _chronological(events)
    physical_ids = {e.physical_id: e.logical_id for e in ordered if e.physical_id and not e.is_stack_event}
    diagnosis = Diagnosis()
    latest: dict[tuple[str, bool], StackEvent] = {}
    stack_failure: StackEvent | None = None
    rolling_back = False
    for event in ordered:
        if event.is_stack_event:
            if "ROLLBACK" in event.status:
                rolling_back = True
            elif event.status in _NEW_ATTEMPT:
                rolling_back = False
            if event.status.endswith(("_FAILED", "ROLLBACK_IN_PROGRESS")) and event.reason and not _is_cascade(event.reason):
                stack_failure = event
            continue
        # During a rollback, UPDATE_COMPLETE means "restored", not "the failure went away".
        if event.status in _RESOLVING and not rolling_back:
            latest.pop((event.logical_id, False), None)
            continue
        if not event.status.endswith("_FAILED"):
            continue
        if _is_cascade(event.reason):
            diagnosis.dropped.append((event.logical_id, f"cascade: {event.reason}"))
            continue
        latest[(event.logical_id, event.status == "DELETE_FAILED")] = event

    def failure_of(event: StackEvent) -> Failure:
        details = {"physical_ids": dict(physical_ids)}
        if event.physical_id:
            details["physical_id"] = event.physical_id
        failure = Failure(
            logical_id=event.logical_id,
            resource_type=event.resource_type,
            status_reason=event.reason,
            status=event.status,
            details=details,
        )
        return match_failure(failure, playbooks)

    roots = [event for (logical_id, deleting), event in latest.items() if not deleting]
    failed = {event.logical_id for event in roots}
    for event in roots:
        if graph is not None and event.logical_id in graph.g:
            culprits = sorted(
                other for other in failed
                if other != event.logical_id and other in graph.g and graph.depends_on(event.logical_id, other)
            )
            if culprits:
                diagnosis.dropped.append((event.logical_id, f"depends on failed {', '.join(culprits)}"))
                continue
        diagnosis.failures.append(failure_of(event))
    diagnosis.delete_failures = [failure_of(e) for (_, deleting), e in latest.items() if deleting]
    if not diagnosis.failures and stack_failure is not None:
        diagnosis.failures.append(failure_of(stack_failure))
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


def diagnose(
    events: Iterable[StackEvent],
    graph: "DependencyGraph | None" = None,
    playbooks: Sequence[Playbook] | None = None,
) -> list[Failure]:
    """The root-cause failures of `events` (see diagnose_events), each with its playbook id or "unknown"."""
    return diagnose_events(events, graph, playbooks).failures
