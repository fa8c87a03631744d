"""Leftovers of this tool's own earlier runs that hold a custom name a new run needs: find the owner, sweep it."""

from __future__ import annotations

from typing import Any

import structlog

from orchestrator.aws.session import RUN_ID_TAG, AwsError, AwsSession

log = structlog.get_logger(__name__)


def leftover_owner(session: AwsSession, physical_name: str, current_stack: str) -> dict[str, Any] | None:
    """The live stack of an earlier run of this tool (it carries the run-id tag) whose resource has this
    physical name; None when no stack of ours holds it (then the name is someone else's)."""
    if not physical_name:
        return None
    for stack in session.list_tagged_stacks(RUN_ID_TAG):
        if current_stack in (stack["stack_name"], stack["stack_id"]):
            continue
        try:
            resources = session.stack_resources(stack["stack_id"])
        except AwsError as exc:
            log.warning("leftover_stack_unreadable", stack=stack["stack_name"], error=str(exc))
            continue
        if any(item.get("physical_id") == physical_name for item in resources):
            return stack
    return None


def sweep_leftover(session: AwsSession, stack: dict[str, Any], timeout: float = 1800.0) -> None:
    """Delete an earlier run's stack (DeleteStack refuses a stack without our tag) and wait until it is gone."""
    log.info("leftover_sweeping", stack=stack["stack_name"], run_id=stack.get("tags", {}).get(RUN_ID_TAG))
    session.delete_stack(stack["stack_id"])
    session.wait_deleted(stack["stack_id"], timeout=timeout)
