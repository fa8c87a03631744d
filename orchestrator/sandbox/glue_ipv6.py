"""A subnet's IPv6 block as EC2 makes it: AWS::EC2::Subnet created with every CreateSubnet input (moto's own model
drops Ipv6CidrBlock and the launch attributes) and AWS::EC2::SubnetCidrBlock, which moto's EC2 has but its
CloudFormation lacks; GetAtt Ipv6CidrBlocks answers the subnet's associated blocks."""

from __future__ import annotations

import ipaddress
from typing import Any

from orchestrator.sandbox.glue import _BackendModel


def _check_ipv6_block(backend: Any, vpc_id: str, block: str) -> None:
    """EC2 takes a subnet's IPv6 block only as a /64 inside one of its VPC's IPv6 blocks (InvalidSubnet.Range)."""
    from moto.ec2.exceptions import InvalidSubnetRangeError

    try:
        wanted = ipaddress.IPv6Network(str(block))
    except ValueError as exc:
        raise InvalidSubnetRangeError(block) from exc
    owned = [ipaddress.IPv6Network(c["cidr_block"]) for c in backend.get_vpc(vpc_id).get_cidr_block_association_set(ipv6=True)]
    if wanted.prefixlen != 64 or not any(wanted.subnet_of(vpc_block) for vpc_block in owned):
        raise InvalidSubnetRangeError(block)


def _flag(value: Any) -> bool:
    return str(value).lower() == "true"


def create_subnet(name: str, resolved: dict, account_id: str, region: str, **_: Any) -> Any:
    """AWS::EC2::Subnet through CreateSubnet with the IPv6 block, zone (name or id), IPv6-only flag and tags, then
    ModifySubnetAttribute for MapPublicIpOnLaunch and AssignIpv6AddressOnCreation (false unless set, as EC2
    makes a new subnet; moto alone makes the first subnet of a zone public)."""
    from moto.ec2.models import ec2_backends

    props = resolved.get("Properties") or {}
    backend = ec2_backends[account_id][region]
    ipv6 = props.get("Ipv6CidrBlock")
    if ipv6:
        _check_ipv6_block(backend, props["VpcId"], ipv6)
    subnet = backend.create_subnet(
        vpc_id=props["VpcId"], cidr_block=props.get("CidrBlock"), ipv6_cidr_block=ipv6 or None,
        availability_zone=props.get("AvailabilityZone"), availability_zone_id=props.get("AvailabilityZoneId"),
        ipv6_native=_flag(props.get("Ipv6Native")))
    backend.modify_subnet_attribute(subnet.id, "map_public_ip_on_launch", _flag(props.get("MapPublicIpOnLaunch")))
    backend.modify_subnet_attribute(subnet.id, "assign_ipv6_address_on_creation",
                                    _flag(props.get("AssignIpv6AddressOnCreation")))
    tags = {t["Key"]: str(t.get("Value", "")) for t in props.get("Tags") or [] if isinstance(t, dict) and "Key" in t}
    if tags:
        backend.create_tags([subnet.id], tags)
    return subnet


def subnet_ipv6_blocks(model: Any) -> list[str]:
    """GetAtt Subnet.Ipv6CidrBlocks: the blocks associated with the subnet, [] when none."""
    return [a["ipv6CidrBlock"] for a in model.ipv6_cidr_block_associations.values()
            if a["ipv6CidrBlockState"]["State"] == "associated"]


class SubnetCidrBlock(_BackendModel):
    """AWS::EC2::SubnetCidrBlock: EC2 AssociateSubnetCidrBlock (a /64 of the VPC's IPv6 block); Ref and GetAtt Id
    are the subnet-cidr-assoc- id. A block from an IPAM pool is not modelled (a declared sandbox limitation)."""

    resource_type = "AWS::EC2::SubnetCidrBlock"
    service = "ec2"
    attributes = {"Id": "physical_resource_id"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        block = props.get("Ipv6CidrBlock")
        if not block:
            raise NotImplementedError("the sandbox associates an explicit Ipv6CidrBlock only, not one from an IPAM pool")
        subnet = backend.get_subnet(props["SubnetId"])
        _check_ipv6_block(backend, subnet.vpc_id, block)
        return backend.associate_subnet_cidr_block(subnet.id, block)["associationId"]

    def _delete(self, backend: Any) -> None:
        if backend.get_subnet_from_ipv6_association(self.physical_resource_id) is not None:
            backend.disassociate_subnet_cidr_block(self.physical_resource_id)


MODELS = (SubnetCidrBlock,)
