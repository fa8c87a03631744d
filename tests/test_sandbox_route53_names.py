"""Hosted zones found by name as Route 53 compares names: the trailing dot is optional and case does not matter."""

from __future__ import annotations

import pytest

from orchestrator.aws.targets import sandbox_client
from orchestrator.sandbox import patches_route53



@pytest.mark.parametrize("zone, named", [("example.org", "example.org."), ("example.net.", "example.net"),
                                         ("Example.COM", "example.com.")])
def test_a_record_set_finds_its_zone_by_name_with_or_without_the_dot(sandbox, stack_outcome, zone, named) -> None:
    resources = {
        "Zone": {"Type": "AWS::Route53::HostedZone", "Properties": {"Name": zone}},
        "Www": {"Type": "AWS::Route53::RecordSet", "DependsOn": "Zone", "Properties": {
            "HostedZoneName": named, "Name": f"www.{named.rstrip('.').lower()}.", "Type": "A", "TTL": "60",
            "ResourceRecords": ["192.0.2.10"]}},
    }
    status, failed = stack_outcome(resources, "zone-" + zone.rstrip(".").replace(".", "-").lower())
    assert (status, failed) == ("CREATE_COMPLETE", {})
    route53 = sandbox_client(sandbox, "route53")
    [hosted] = [z for z in route53.list_hosted_zones()["HostedZones"] if patches_route53.same_domain(z["Name"], zone)]
    records = route53.list_resource_record_sets(HostedZoneId=hosted["Id"])["ResourceRecordSets"]
    assert [r["ResourceRecords"] for r in records if r["Type"] == "A"] == [[{"Value": "192.0.2.10"}]]


def test_a_zone_of_another_name_is_still_not_found(stack_outcome) -> None:
    resources = {
        "Zone": {"Type": "AWS::Route53::HostedZone", "Properties": {"Name": "example.io"}},
        "Www": {"Type": "AWS::Route53::RecordSet", "DependsOn": "Zone", "Properties": {
            "HostedZoneName": "example.iot.", "Name": "www.example.iot.", "Type": "A", "TTL": "60",
            "ResourceRecords": ["192.0.2.10"]}},
    }
    status, failed = stack_outcome(resources, "zone-other")
    assert status == "CREATE_FAILED" and "Www" in failed


def test_the_seam_still_fits_moto() -> None:
    assert patches_route53.problems() == []
    assert patches_route53.same_domain("A.example.com.", "a.EXAMPLE.com") and not patches_route53.same_domain("a.com", "b.com")
