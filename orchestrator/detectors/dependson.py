"""Detector: documented creation-time ordering cases where nothing orders a resource after the one it needs."""

from __future__ import annotations

from collections.abc import Iterable

from orchestrator.detectors.base import Detector, DetectorContext
from orchestrator.iam.policy import grants
from orchestrator.model import FailureKind, Finding
from orchestrator.template.ordering import OrderingGap, documentation_url, ordering_gaps

DEPENDS_ON_DOCS = "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-dependson.html"
# Every finding here is a race, not a certain failure: with no path between the two resources CloudFormation
# creates them in parallel, and the create call fails only when it runs before the needed resource is done
# (often won: the attachment is quick; lost in the wild, e.g. aws-cloudformation-templates#75, aws-cdk#1129).
RACE = "race"


class DependsOnCases(Detector):
    id = "dependson_cases"
    description = ("Creation-time ordering cases (DependsOn attribute page; permissions a create call checks) "
                   "where the graph has no path between the two resources; one finding per resource and class.")
    source_url = DEPENDS_ON_DOCS

    def find(self, ctx: DetectorContext, *, cases: Iterable[str] | None = None) -> list[Finding]:
        docs = documentation_url()
        gaps = ordering_gaps(ctx.document, ctx.graph, cases=cases, resolver=ctx.resolver, grants=grants)
        grouped: dict[tuple[str, str], list[OrderingGap]] = {}
        for gap in gaps:
            grouped.setdefault((gap.consumer, _playbook(gap)), []).append(gap)
        return [_finding(ctx, consumer, playbook, group, docs) for (consumer, playbook), group in grouped.items()]


def _playbook(gap: OrderingGap) -> str:
    return gap.case.get("playbook") or FailureKind.DEPENDS_ON.value


def _part(ctx: DetectorContext, gap: OrderingGap, docs: str, line: int | None) -> Finding:
    consumer, needed = gap.consumer, gap.needed
    case_docs = gap.case.get("docs") or docs
    if gap.certain:
        advice = f"add DependsOn: {needed}"
    else:
        advice = f"not repaired: {gap.doubt}"
    return Finding(
        playbook=_playbook(gap),
        logical_id=consumer,
        resource_type=ctx.rtype(consumer),
        message=(f"{consumer} ({ctx.rtype(consumer)}) has no ordering with {needed} ({ctx.rtype(needed)}): "
                 f"{gap.case['title']}{gap.extra}; {advice} (see {case_docs})"),
        line=line,
        fixable=gap.certain,
        severity="error" if gap.certain else "warning",
        details={"depends_on": needed, "case": gap.case["id"], "docs": case_docs, "timing": RACE,
                 **({"doubt": gap.doubt} if gap.doubt else {})},
    )


def _finding(ctx: DetectorContext, consumer: str, playbook: str, gaps: list[OrderingGap], docs: str) -> Finding:
    line = ctx.template.line_of(["Resources", consumer, "Type"]) or ctx.template.line_of(["Resources", consumer])
    parts = [_part(ctx, gap, docs, line) for gap in gaps]
    if len(parts) == 1:
        return parts[0]
    certain = [gap.needed for gap in gaps if gap.certain]
    doubtful = [gap.needed for gap in gaps if not gap.certain]
    titles = "; ".join(dict.fromkeys(gap.case["title"] + gap.extra for gap in gaps))
    advice = []
    if certain:
        advice.append(f"add DependsOn: {', '.join(certain)}")
    if doubtful:
        advice.append(f"not repaired ({', '.join(doubtful)}): " + "; ".join(g.doubt for g in gaps if not g.certain))
    return Finding(
        playbook=playbook,
        logical_id=consumer,
        resource_type=ctx.rtype(consumer),
        message=(f"{consumer} ({ctx.rtype(consumer)}) has no ordering with {', '.join(g.needed for g in gaps)}: "
                 f"{titles}; {'; '.join(advice)}"),
        line=line,
        fixable=bool(certain),
        severity="error" if certain else "warning",
        details={"depends_on": certain, "cases": sorted({g.case["id"] for g in gaps}),
                 "docs": sorted({p.details["docs"] for p in parts}), "timing": RACE},
        contributing=parts,
    )
