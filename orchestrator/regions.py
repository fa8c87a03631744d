"""Availability Zones of each public region, from orchestrator/data/availability_zones.json."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

SOURCE_URL = "https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-regions-availability-zones.html"


@lru_cache(maxsize=1)
def _table() -> dict[str, list[str]]:
    text = resources.files("orchestrator.data").joinpath("availability_zones.json").read_text("utf-8")
    return json.loads(text)["zones"]


def zones(region: str) -> tuple[str, ...]:
    """Zone names of `region`; empty when the region is unknown (then nothing can be claimed about it)."""
    return tuple(_table().get(region, ()))
