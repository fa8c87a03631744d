"""Detector: Lambda functions on a runtime Lambda has deprecated (an error once it refuses creating functions)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from orchestrator.detectors.base import Detector, DetectorContext
from orchestrator.model import Finding
from orchestrator.template import lambda_runtimes

FUNCTION_TYPES = ("AWS::Lambda::Function", "AWS::Serverless::Function")


class LambdaRuntimeDeprecated(Detector):
    id = "lambda_runtime_deprecated"
    description = "Lambda functions pinned to a deprecated runtime (refused for create after its block date)."
    source_url = lambda_runtimes.SOURCE_URL

    def __init__(self, today: date | None = None) -> None:
        self.today = today

    def find(self, ctx: DetectorContext, *, cases: Iterable[str] | None = None) -> list[Finding]:
        today = self.today or date.today()
        findings = []
        for lid, resource in sorted(ctx.resources.items()):
            if not isinstance(resource, dict) or resource.get("Type") not in FUNCTION_TYPES:
                continue
            runtime = ctx.props(lid).get("Runtime")
            item = lambda_runtimes.lifecycle(runtime) if isinstance(runtime, str) else None
            if item is None or item.deprecated is None or item.deprecated > today:
                continue
            blocked = lambda_runtimes.blocked_for_create(runtime, today)
            found = lambda_runtimes.successor(runtime, today)
            then = (f"Lambda refuses creating functions on it since {item.create_block.isoformat()}" if blocked
                    else f"Lambda will refuse creating functions on it from {item.create_block.isoformat()}"
                    if item.create_block else "Lambda no longer patches it")
            message = f"{lid}: runtime {runtime} is deprecated since {item.deprecated.isoformat()}; {then}" + (
                f"; {found[0]} is the oldest supported runtime of the same family" if found else "")
            findings.append(Finding(
                playbook="lambda-runtime-deprecated", logical_id=lid, resource_type=str(resource["Type"]),
                message=message, line=ctx.line("Resources", lid, "Properties", "Runtime"),
                fixable=blocked and found is not None, severity="error" if blocked else "warning",
                details={"runtime": runtime, "successor": found[0] if found else None},
            ))
        return findings
