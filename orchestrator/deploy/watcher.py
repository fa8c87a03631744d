"""Watch a stack's events until it settles: each event read once, adaptive polling, the first failure reported at once."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import structlog

from orchestrator.model import StackEvent, StackStatus, is_cascade_reason

log = structlog.get_logger(__name__)


@dataclass
class WatchResult:
    """What one watch saw. `final_status` is terminal unless the watch was cancelled, timed out, or stopped at rollback."""

    final_status: StackStatus
    events: list[StackEvent]
    first_failure_at: datetime | None = None  # when the watcher saw the first root-cause failure (UTC)
    first_failure: StackEvent | None = None
    last_event_id: str | None = None  # the cursor for the next watch of the same stack
    cancelled: bool = False
    timed_out: bool = False
    stopped_at_rollback: bool = False
    polls: int = 0

    @property
    def terminal(self) -> bool:
        return self.final_status.is_terminal

    @property
    def failures(self) -> list[StackEvent]:
        """Root-cause resource failures, oldest first (cascade events such as "Resource creation cancelled" dropped)."""
        return [e for e in self.events if is_root_failure(e)]


def is_stack_level(event: StackEvent) -> bool:
    """The stack's own status event (a nested stack resource has its own logical id, so it is not one)."""
    return event.is_stack_event and event.logical_id == event.stack_name


def is_root_failure(event: StackEvent) -> bool:
    return event.status.endswith("_FAILED") and not is_stack_level(event) and not is_cascade_reason(event.reason)


@dataclass(frozen=True)
class WatchOptions:
    """How watch() follows a stack: the cursor, the callbacks, polling bounds, cancellation and timeout."""

    after_event_id: str | None = None
    on_event: Callable[[StackEvent], None] | None = None
    on_failure: Callable[[StackEvent], None] | None = None
    stop_on_first_failure: bool = True
    poll_min: float = 0.5
    poll_max: float = 5.0
    cancel_event: threading.Event | None = None
    timeout_s: float | None = None
    sleep: Callable[[float], None] | None = None


def watch(session: Any, stack_name: str, options: WatchOptions | None = None, **fields: Any) -> WatchResult:
    """Follow `stack_name` (a name or, better, a StackId) from the cursor `after_event_id` until it settles.

    The keywords are WatchOptions' fields. Every new event goes to `on_event` in order, exactly once. The first root-cause failure goes to
    `on_failure` as soon as it is read, so diagnosis need not wait for the rest. The watch ends when the
    stack status is terminal; with `stop_on_first_failure` it also ends once a failure has been seen and
    the stack has entered rollback, since a rollback only deletes and adds no new root causes (with
    DisableRollback a failed create goes straight to terminal CREATE_FAILED, so nothing is lost).
    The interval is `poll_min` while events arrive and doubles up to `poll_max` while none do.
    `cancel_event` interrupts the wait between polls (the result then has cancelled=True).
    """
    o = options or WatchOptions(**fields)
    after_event_id, on_event, on_failure = o.after_event_id, o.on_event, o.on_failure
    stop_on_first_failure, poll_min, poll_max = o.stop_on_first_failure, o.poll_min, o.poll_max
    cancel_event, timeout_s, sleep = o.cancel_event, o.timeout_s, o.sleep
    from orchestrator.aws.session import StackNotFound  # aws.py is the boto3 boundary; loaded only with a session

    bound = log.bind(stack=stack_name)
    cursor = after_event_id
    seen: set[str] = set()
    events: list[StackEvent] = []
    first_failure: StackEvent | None = None
    first_failure_at: datetime | None = None
    interval = poll_min
    started = time.monotonic()
    result_flags: dict[str, bool] = {}
    polls = 0
    status = StackStatus.CREATE_IN_PROGRESS

    while True:
        polls += 1
        gone = False
        # Status first, events second: the events read then include everything up to that status.
        try:
            status = session.stack_status(stack_name)
        except StackNotFound:
            gone = True
            status = StackStatus.DELETE_COMPLETE
        fresh: list[StackEvent] = []
        if not gone:
            try:
                fresh = [e for e in session.iter_new_events(stack_name, cursor) if e.event_id not in seen]
            except StackNotFound:
                status = StackStatus.DELETE_COMPLETE
        for event in fresh:
            seen.add(event.event_id)
            cursor = event.event_id
            events.append(event)
            bound.info(
                "stack_event",
                logical_id=event.logical_id,
                resource_type=event.resource_type,
                status=event.status,
                reason=event.reason,
            )
            if on_event is not None:
                on_event(event)
            if first_failure is None and is_root_failure(event):
                first_failure = event
                first_failure_at = datetime.now(timezone.utc)
                bound.warning(
                    "stack_failure_detected",
                    logical_id=event.logical_id,
                    status=event.status,
                    reason=event.reason,
                    after_s=round(time.monotonic() - started, 3),
                )
                if on_failure is not None:
                    on_failure(event)

        if status.is_terminal:
            break
        if stop_on_first_failure and first_failure is not None and status.is_rollback:
            result_flags["stopped_at_rollback"] = True
            break
        if timeout_s is not None and time.monotonic() - started >= timeout_s:
            result_flags["timed_out"] = True
            bound.warning("watch_timed_out", status=status.value, timeout_s=timeout_s)
            break
        interval = poll_min if fresh else min(poll_max, max(interval, 0.05) * 2)
        if _wait(interval, cancel_event, sleep):
            result_flags["cancelled"] = True
            bound.warning("watch_cancelled", status=status.value)
            break

    bound.info("stack_settled", status=status.value, events=len(events), polls=polls)
    return WatchResult(
        final_status=status,
        events=events,
        first_failure_at=first_failure_at,
        first_failure=first_failure,
        last_event_id=cursor,
        polls=polls,
        **result_flags,
    )


def _wait(interval: float, cancel_event: threading.Event | None, sleep: Callable[[float], None] | None) -> bool:
    """Sleep between polls; True when the run was cancelled meanwhile."""
    if sleep is not None:
        sleep(interval)
        return bool(cancel_event and cancel_event.is_set())
    if cancel_event is not None:
        return cancel_event.wait(interval)
    time.sleep(interval)
    return False


@dataclass
class EventCollector:
    """A small on_event sink that fans one event out to several callbacks (e.g. progress view + diagnosis)."""

    callbacks: list[Callable[[StackEvent], None]] = field(default_factory=list)

    def __call__(self, event: StackEvent) -> None:
        for callback in self.callbacks:
            callback(event)
