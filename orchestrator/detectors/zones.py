"""Detector: resources pinned to an Availability Zone the target region does not have."""

from __future__ import annotations

from collections.abc import Iterable

from orchestrator.detectors.base import Detector, DetectorContext
from orchestrator.model import Finding
from orchestrator.regions import SOURCE_URL, zones


class ZoneNotInRegion(Detector):
    id = "zone_not_in_region"
    description = "Literal AvailabilityZone values that name no zone of the target region."
    source_url = SOURCE_URL

    def find(self, ctx: DetectorContext, *, cases: Iterable[str] | None = None) -> list[Finding]:
        offered = zones(ctx.region)
        if not offered:
            return []  # unknown region: nothing to compare with, so nothing to claim
        findings = []
        for lid, resource in sorted(ctx.resources.items()):
            zone = ctx.props(lid).get("AvailabilityZone") if isinstance(resource, dict) else None
            if not isinstance(zone, str) or zone in offered:
                continue
            findings.append(Finding(
                playbook="capacity-unavailable-zone", logical_id=lid, resource_type=str(resource.get("Type")),
                message=f"{lid}: Availability Zone {zone} is not a zone of {ctx.region} ({', '.join(offered)})",
                line=ctx.line("Resources", lid, "Properties", "AvailabilityZone"), fixable=True, severity="error",
                details={"bad_zone": zone, "offered": ", ".join(offered)},
            ))
        return findings
