"""Repair for an Availability Zone that does not offer the resource (or does not exist): pin an offered zone."""

from __future__ import annotations

import re

from orchestrator.model import Failure, PatchOp, RepairPlan
from orchestrator.repairs.base import Repair, props, ptr, resources_of
from orchestrator.regions import zones

_LIST = re.compile(r"(?:choosing|availability zones:)\s*(?P<zones>[a-z0-9-]+(?:,\s*[a-z0-9-]+)*)", re.I)


def _offered(failures: list[Failure]) -> list[str]:
    for failure in failures:
        text = str(failure.details.get("offered") or "")
        match = _LIST.search(failure.status_reason or "") if not text else None
        text = text or (match["zones"] if match else "")
        found = [z.strip() for z in text.split(",") if z.strip()]
        if found:
            return found
    return []


class AvailabilityZone(Repair):
    """Move every resource pinned to the refused zone (the zone the failure names, or any zone the region
    lacks) to the first zone EC2 offers in its message, else the region's first zone.

    A zone is a placement, not a permission or a name others use: moving it is deterministic and safe,
    except that resources that must share a zone (a volume and its instance) move together, as here."""

    id = "availability-zone"
    description = "replace an Availability Zone that does not offer the resource by an offered zone of the region"
    source_url = "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ec2-instance-capacity.html"

    def plan(self, template, graph, failures: list[Failure], params: dict) -> RepairPlan:
        region = str((params or {}).get("region") or "us-east-1")
        region_zones = list(zones(region))
        refused = {str(f.details.get(key)) for f in failures for key in ("zone", "bad_zone") if f.details.get(key)}
        offered = [z for z in _offered(failures) if z not in refused] or [z for z in region_zones if z not in refused]
        operations: list[PatchOp] = []
        touched: list[str] = []
        if not offered:
            return RepairPlan(repair=self.id, operations=[], rationale=f"no offered zone of {region} is known; "
                              "nothing changed", notes=[f"region {region}: zone list unknown"])
        choice = offered[0]
        for logical_id, resource in sorted(resources_of(template.document).items()):
            zone = props(resource).get("AvailabilityZone")
            if not isinstance(zone, str):
                continue
            if zone in refused or (region_zones and zone.startswith(region) and zone not in region_zones):
                operations.append(PatchOp("replace", ptr("Resources", logical_id, "Properties", "AvailabilityZone"), choice))
                touched.append(logical_id)
        rationale = (
            f"Moved {', '.join(touched)} from {', '.join(sorted(refused)) or 'a zone the region lacks'} to {choice}, "
            f"a zone of {region} that offers it." if touched else "No resource is pinned to a refused zone; nothing to change."
        )
        return RepairPlan(repair=self.id, operations=operations, rationale=rationale, resources=touched)
