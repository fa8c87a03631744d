"""Availability Zones of each region, from moto's EC2 region table (the sandbox's regions)."""

from __future__ import annotations

from functools import lru_cache

SOURCE_URL = "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-regions-availability-zones.html"


@lru_cache(maxsize=64)
def zones(region: str) -> tuple[str, ...]:
    """Zone names of `region` (empty when the region is unknown); moto's table mirrors AWS's public list."""
    try:
        from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend
    except ImportError:  # guarded like the other moto internals
        return ()
    return tuple(zone.name for zone in RegionsAndZonesBackend.zones.get(region, []))
