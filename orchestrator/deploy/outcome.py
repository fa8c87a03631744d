"""A run's state and how it ends: the stack cleaned up, the repaired template and the report written."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator import redact
from orchestrator.deploy import fidelity as fidelity_of
from orchestrator.template import Template, write_atomic


@dataclass
class DeployResult:
    """What one deploy-with-autofix run produced; `report` is exactly what --report-json writes."""

    status: str
    run_id: str
    target: str
    region: str
    stack_name: str
    attempts: list[dict]
    forecast: list[dict]
    repaired_template: Path | None
    template: Template
    deployments: int
    duration_s: float
    report: dict = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return {"succeeded": 0, "interrupted": 130}.get(self.status, 1)

    @property
    def repairs(self) -> list[dict]:
        """Every repair the run made, in order: the forecast's (before the first deployment), then each
        attempt's. Each is the report's repair object plus "stage": "forecast" or the attempt number."""
        forecast = [{**plan, "stage": "forecast"} for plan in self.report.get("forecast_repairs", [])]
        after = [{**repair, "stage": attempt["number"]} for attempt in self.attempts for repair in attempt["repairs"]]
        return forecast + after


def fixed_path(path: Path) -> Path:
    """NAME.fixed.EXT beside the input (.yaml for a file without a suffix)."""
    return path.with_name(f"{path.stem}.fixed{path.suffix or '.yaml'}")


@dataclass
class RunState:
    """Mutable state of one run, turned into the report at the end."""

    run_id: str
    target: str
    region: str
    stack_name: str
    strategy: str
    source: Template
    template: Template
    started: float = field(default_factory=time.monotonic)
    attempts: list[dict] = field(default_factory=list)
    forecast: list[dict] = field(default_factory=list)
    forecast_repairs: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)
    unknown: list[dict] = field(default_factory=list)
    needs_human: list[dict] = field(default_factory=list)  # failures of classes only a person can fix
    sandbox_limitations: list[dict] = field(default_factory=list)
    emulated: list[dict] = field(default_factory=list)
    fidelity: dict[str, list] = field(default_factory=fidelity_of.empty)
    deployments: int = 0
    status: str = "failed"
    stop_reason: str = ""
    stack_deleted: bool = False
    stack_left: bool = False
    retained: list[dict[str, str]] = field(default_factory=list)  # kept by DeletionPolicy when the stack went
    physical_ids: dict[str, str] = field(default_factory=dict)
    # Requests whose outcome the client could not see (a timeout, a reset), and what a look-up then found.
    reconciled: list[dict] = field(default_factory=list)
    prerequisites: dict = field(default_factory=dict)
    children: Any = field(default_factory=lambda: _children())
    companions: list[dict] = field(default_factory=list)


def _children() -> Any:
    from orchestrator.deploy.nested import Children

    return Children()


def event_json(event: Any) -> dict:
    return {
        "event_id": event.event_id, "logical_id": event.logical_id, "resource_type": event.resource_type,
        "status": event.status, "reason": event.reason, "physical_id": event.physical_id,
        "timestamp": event.timestamp.isoformat() if event.timestamp else None,
    }


def close_unborn(run: RunState, session: Any, journal: Any, log: Any) -> None:
    """A create that failed: close its journal entry when the stack demonstrably does not exist; when
    that cannot be confirmed, the report says the stack may be left and the entry stays for sweep."""
    try:
        exists = session.describe_stack(run.stack_name) is not None
    except Exception as exc:  # the endpoint is down: what exists is unknown, so sweep must look later
        run.stack_left = True
        log.warning("stack_existence_unknown", error=str(exc), hint="cfn-autofix sweep looks again")
        return
    if exists:
        run.stack_left = True
        log.warning("stack_left_after_failed_create", hint="cfn-autofix sweep removes it")
    else:
        journal.mark_deleted(run.run_id, run.stack_name, reason="never created")


def cleanup(run: RunState, session: Any, journal: Any, keep_stack: bool, log: Any, created: bool) -> None:
    """Delete the run's stack unless asked to keep it; a stack that cannot be deleted stays in the journal for sweep."""
    if not created:
        return
    if keep_stack:
        run.stack_left = True
        log.info("stack_kept", stack=run.stack_name)
        return
    try:
        stack = session.describe_stack(run.stack_name)
        emptied: list[str] = []
        if stack is not None:
            from orchestrator.aws.sweep import delete_emptying_buckets

            stack_id = stack.get("StackId", run.stack_name)
            cursor = _newest_event(session, stack_id)
            # A bucket something wrote into during the run blocks the delete (DELETE_FAILED): the run's own
            # stack is emptied and deleted again, as `sweep` would do later.
            emptied = delete_emptying_buckets(session, stack_id, run_id=run.run_id, timeout=600)
        journal.mark_deleted(run.run_id, run.stack_name)
        run.stack_deleted = True
        log.info("stack_deleted", buckets_emptied=emptied)
        if stack is not None and cursor is not None:
            run.retained = _retained(session, stack_id, cursor, log)
    except KeyboardInterrupt:
        run.stack_left = True
        log.warning("stack_cleanup_interrupted", hint="cfn-autofix sweep removes it")
    except Exception as exc:  # cleanup failure must not hide the run's outcome; the journal keeps the stack
        run.stack_left = True
        log.warning("stack_cleanup_failed", error=str(exc), hint="cfn-autofix sweep removes it")


def _newest_event(session: Any, stack_id: str) -> str | None:
    """The cursor from which the delete's own events are read; None when it cannot be read (then they are not)."""
    try:
        return session.latest_event_id(stack_id)
    except Exception:  # noqa: BLE001 - only the list of retained resources depends on it
        return None


def _retained(session: Any, stack_id: str, cursor: str, log: Any) -> list[dict[str, str]]:
    """What the delete kept (DELETE_SKIPPED: DeletionPolicy Retain): it outlives the stack, and `sweep` never
    touches it (on AWS it keeps costing until someone deletes it). Read after the stack is gone and recorded so;
    a failure or a Ctrl-C here loses only this list."""
    try:
        kept = [{"logical_id": e.logical_id, "resource_type": e.resource_type, "physical_id": e.physical_id}
                for e in session.iter_new_events(stack_id, cursor) if e.status == "DELETE_SKIPPED"]
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - see the docstring
        log.warning("retained_resources_unknown", error=repr(exc))
        return []
    if kept:
        log.warning("resources_retained", resources=[f"{r['logical_id']} ({r['physical_id']})" for r in kept],
                    hint="their DeletionPolicy keeps them after the stack is deleted")
    return kept


def finish(run: RunState, *, out: str | Path | None, report_json: str | Path | None, write_template: bool,
            log: Any) -> DeployResult:
    from orchestrator.deploy.report import build_report

    repaired_path: Path | None = None
    changed = run.template.document != run.source.document
    if write_template and changed:
        if out is not None:
            repaired_path = Path(out)
        elif run.source.path is not None:
            repaired_path = fixed_path(run.source.path)
        if repaired_path is not None:
            repaired_path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(repaired_path, run.template.dumps())
            log.info("repaired_template_written", path=str(repaired_path))
    repaired_children = []
    for child, template in run.children.changed() if write_template else ():
        # A nested stack's repair goes beside the child's own file; the input files are never modified.
        target = fixed_path(child)
        write_atomic(target, template.dumps())
        repaired_children.append({"template": str(child), "repaired_template": str(target)})
        log.info("repaired_child_template_written", template=str(child), path=str(target))
    duration = round(time.monotonic() - run.started, 3)
    report = redact.current().value(build_report(run, repaired_path=repaired_path, duration_s=duration))
    report["repaired_children"] = repaired_children
    if report_json is not None:
        path = Path(report_json)
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(report, indent=2, default=str) + "\n")
    log.info("run_finished", status=run.status, attempts=len(run.attempts), deployments=run.deployments,
             duration_s=duration, reason=run.stop_reason)
    return DeployResult(
        status=run.status, run_id=run.run_id, target=run.target, region=run.region, stack_name=run.stack_name,
        attempts=run.attempts, forecast=run.forecast, repaired_template=repaired_path, template=run.template,
        deployments=run.deployments, duration_s=duration, report=report,
    )
