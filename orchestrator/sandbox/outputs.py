"""A sandbox stack's Outputs and exports, evaluated once when an operation completes, as CloudFormation stores them."""

from __future__ import annotations

from typing import Any

import structlog
from moto.cloudformation import parsing
from moto.cloudformation.models import Stack

from orchestrator.model import SANDBOX_LIMITATION_MARKER
from orchestrator.sandbox import models

log = structlog.get_logger(__name__)


class FrozenOutputs(dict):
    """Outputs and exports evaluated once when an operation completes, as CloudFormation stores them
    (moto evaluates them on every DescribeStacks, where an error became an HTTP 500)."""

    def __init__(self, outputs: dict[str, Any] | None = None, exports: list[Any] | None = None):
        super().__init__(outputs or {})
        self.exports = list(exports or [])

    @property
    def outputs(self) -> list[str]:
        return list(self.keys())


def evaluate(stack: Stack) -> str | None:
    """Evaluate Outputs and exports; None when they could be computed, else the stack's failure reason.

    AWS: an output CloudFormation cannot compute fails the operation ("No export named X found.",
    "Template error: ..."); a stack that did not complete shows no outputs.
    """
    live = stack._create_output_map()
    try:
        values = {key: live[key] for key in live.outputs}
        # Only outputs whose Condition holds export anything (moto evaluates every Export).
        exports = [parsing.Export(stack.stack_id, parsing.clean_json(spec["Export"].get("Name"), stack.resource_map),
                                  values[key].value)
                   for key, spec in (stack.template_dict.get("Outputs") or {}).items()
                   if isinstance(spec, dict) and isinstance(spec.get("Export"), dict) and values.get(key) is not None]
    except Exception as exc:  # noqa: BLE001 - every way an output fails must fail the stack, not the API
        stack.output_map = FrozenOutputs()
        if models.is_client_error(exc):
            return str(getattr(exc, "message", exc))
        log.warning("outputs_failed", stack=stack.name, error=repr(exc))
        return (f"{SANDBOX_LIMITATION_MARKER} the embedded sandbox could not compute the stack's Outputs "
                f"({type(exc).__name__}: {exc})")
    stack.output_map = FrozenOutputs({k: v for k, v in values.items() if v is not None}, exports)
    return None
