"""Detector: documented DependsOn cases where nothing orders a resource after the one it needs."""

from __future__ import annotations

from collections.abc import Iterable

from orchestrator.detectors.base import Detector, DetectorContext
from orchestrator.model import FailureKind, Finding
from orchestrator.template.ordering import OrderingGap, documentation_url, ordering_gaps

DEPENDS_ON_DOCS = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-dependson.html"


class DependsOnCases(Detector):
    id = "dependson_cases"
    description = "Documented DependsOn cases where the graph has no path between the two resources."
    source_url = DEPENDS_ON_DOCS

    def find(self, ctx: DetectorContext, *, cases: Iterable[str] | None = None) -> list[Finding]:
        docs = documentation_url()
        return [_finding(ctx, gap, docs) for gap in ordering_gaps(ctx.document, ctx.graph, cases=cases)]


def _finding(ctx: DetectorContext, gap: OrderingGap, docs: str) -> Finding:
    consumer, needed = gap.consumer, gap.needed
    message = (
        f"{consumer} ({ctx.rtype(consumer)}) has no ordering with {needed} ({ctx.rtype(needed)}): {gap.case['title']}"
        f"{gap.extra}; add DependsOn: {needed} (see {docs})"
    )
    return Finding(
        playbook=gap.case.get("playbook") or FailureKind.DEPENDS_ON.value,
        logical_id=consumer,
        resource_type=ctx.rtype(consumer),
        message=message,
        line=ctx.template.line_of(["Resources", consumer, "Type"]) or ctx.template.line_of(["Resources", consumer]),
        fixable=True,
        severity="error",
        details={"depends_on": needed, "case": gap.case["id"], "docs": docs},
    )
