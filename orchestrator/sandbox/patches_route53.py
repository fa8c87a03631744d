"""Route 53 seam of the sandbox (a hosted zone found by its name as Route 53 compares names), installed when moto's Route 53 loads.

Route 53 treats a domain name with and without its trailing dot as identical (API reference, CreateHostedZone
Name and ResourceRecordSet Name: "Route 53 treats www.example.com (without a trailing dot) and
www.example.com. (with a trailing dot) as identical"), and DNS names compare without regard to case.
moto compares the stored text exactly, and a zone created through CloudFormation keeps its Name as the
template wrote it, so a record set naming its zone by `HostedZoneName` ("example.com." against a zone
created as "example.com") found nothing and failed inside moto's model (KeyError 'HostedZoneId').
"""

from __future__ import annotations

import types
from typing import Any

from orchestrator.sandbox import post_import

MODULE = "moto.route53.models"
ORIGINALS: dict[str, Any] = {}


def same_domain(a: str, b: str) -> bool:
    """Whether two domain names are the same name to Route 53 (trailing dot optional, case ignored)."""
    return a.rstrip(".").lower() == b.rstrip(".").lower()


def _get_hosted_zone_by_name(self: Any, name: str) -> Any:
    exact = ORIGINALS["get_hosted_zone_by_name"](self, name)
    if exact is not None or not isinstance(name, str):
        return exact
    return next((zone for zone in self.zones.values() if same_domain(zone.name, name)), None)


def _install(module: types.ModuleType) -> None:
    backend = module.Route53Backend
    if backend.get_hosted_zone_by_name is _get_hosted_zone_by_name:
        return
    ORIGINALS["get_hosted_zone_by_name"] = backend.get_hosted_zone_by_name
    backend.get_hosted_zone_by_name = _get_hosted_zone_by_name


def problems() -> list[str]:
    """What no longer holds in moto for the seam, read from its source text (importing Route 53 at start-up
    would cost what the lazy import saves)."""
    import re
    from pathlib import Path

    import moto

    source = Path(moto.__file__).parent.joinpath(*MODULE.split(".")[1:]).with_suffix(".py")
    if not source.is_file():
        return [f"{MODULE} is missing"]
    text = source.read_text(encoding="utf-8")
    if not re.search(r"\n    def get_hosted_zone_by_name\(self, name: str\)", text):
        return ["moto's Route53Backend.get_hosted_zone_by_name(self, name) is missing"]
    if "for zone in self.zones.values()" not in text:
        return ["moto's Route53Backend no longer keeps its zones in self.zones"]
    return []


def install() -> None:
    """Install the Route 53 seam when moto's Route 53 models module is (or has been) imported."""
    post_import.when_imported(MODULE, _install)
