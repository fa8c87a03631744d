"""A run's state and how it ends: the stack cleaned up, the repaired template and the report written."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from orchestrator import redact
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
        return [repair for attempt in self.attempts for repair in attempt["repairs"]]


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
    emulated: list[dict] = field(default_factory=list)
    deployments: int = 0
    status: str = "failed"
    stop_reason: str = ""
    stack_deleted: bool = False
    stack_left: bool = False
    physical_ids: dict[str, str] = field(default_factory=dict)
    # Requests whose outcome the client could not see (a timeout, a reset), and what a look-up then found.
    reconciled: list[dict] = field(default_factory=list)


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
        if stack is not None:
            stack_id = stack.get("StackId", run.stack_name)
            session.delete_stack(stack_id, run_id=run.run_id)
            session.wait_deleted(stack_id, timeout=600)
        journal.mark_deleted(run.run_id, run.stack_name)
        run.stack_deleted = True
        log.info("stack_deleted")
    except KeyboardInterrupt:
        run.stack_left = True
        log.warning("stack_cleanup_interrupted", hint="cfn-autofix sweep removes it")
    except Exception as exc:  # cleanup failure must not hide the run's outcome; the journal keeps the stack
        run.stack_left = True
        log.warning("stack_cleanup_failed", error=str(exc), hint="cfn-autofix sweep removes it")


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
    duration = round(time.monotonic() - run.started, 3)
    report = redact.current().value(build_report(run, repaired_path=repaired_path, duration_s=duration))
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
