"""Read-only inspection of an existing stack: its events (nested stacks' on demand) and its template."""

from __future__ import annotations

import json
from typing import Any, Callable, Sequence

import structlog

from orchestrator.aws.session import AwsError, AwsSession, StackNotFound
from orchestrator.model import StackEvent

log = structlog.get_logger(__name__)

# The only calls `diagnose --stack-name` makes: none of them changes anything in the account.
READ_ONLY_CALLS = ("DescribeStackEvents", "GetTemplate", "DescribeStacks")


def stack_events(session: AwsSession, name: str) -> list[StackEvent]:
    """Every event of the stack (name or id), oldest first; StackNotFound when there is no such stack."""
    if session.describe_stack(name) is None:
        raise StackNotFound(f"stack {name!r} not found in {session.region}", code="ValidationError")
    return session.iter_new_events(name)


def nested_reader(session: AwsSession) -> Callable[[str], Sequence[StackEvent] | None]:
    """stack id -> that (nested) stack's events, None when it cannot be read (deleted long ago, no permission)."""

    def read(stack_id: str) -> Sequence[StackEvent] | None:
        try:
            return session.iter_new_events(stack_id)
        except AwsError as exc:
            log.warning("nested_stack_unreadable", stack_id=stack_id, error=str(exc))
            return None

    return read


def stack_template(session: AwsSession, name: str) -> str:
    """The stack's template body as deployed (GetTemplate, Original stage), as text."""
    answer: dict[str, Any] = session._call("cloudformation", "get_template", StackName=name, TemplateStage="Original")
    body = answer.get("TemplateBody")
    # boto3 decodes a JSON template body into a mapping; YAML stays text.
    return body if isinstance(body, str) else json.dumps(body, indent=1)
