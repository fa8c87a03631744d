"""CloudFormation models for EC2 VPC addressing (CIDR blocks, Elastic IP associations, DHCP options) that moto's EC2 backend has but its CloudFormation lacks."""

from __future__ import annotations

from typing import Any

from orchestrator.sandbox.glue import _GlueModel, _props, _tags


def _ec2(account_id: str, region: str) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account_id][region]


class VPCCidrBlock(_GlueModel):
    """AWS::EC2::VPCCidrBlock: EC2 AssociateVpcCidrBlock (a secondary IPv4 block, or an Amazon-provided IPv6 /56);
    Ref and GetAtt Id are the association id (vpc-cidr-assoc-). Once it exists the VPC's Ipv6CidrBlocks
    attribute lists the block, as on AWS; deleting disassociates it."""

    resource_type = "AWS::EC2::VPCCidrBlock"
    attributes = {"Id": "physical_resource_id", "Ipv6CidrBlock": "ipv6_cidr_block", "IpSource": "ip_source",
                  "Ipv6AddressAttribute": "ipv6_address_attribute"}

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict, account_id: str,
                                        region_name: str, **kwargs: Any) -> "VPCCidrBlock":
        props = _props(cloudformation_json)
        amazon_ipv6 = str(props.get("AmazonProvidedIpv6CidrBlock", False)).lower() == "true"
        association = _ec2(account_id, region_name).associate_vpc_cidr_block(
            props["VpcId"], cidr_block=props.get("CidrBlock") or props.get("Ipv6CidrBlock"),
            amazon_provided_ipv6_cidr_block=amazon_ipv6)
        model = cls(association["association_id"], account_id, region_name)
        model.vpc_id = props["VpcId"]
        block = association.get("cidr_block") or ""
        model.ipv6_cidr_block = block if "::" in block else ""
        model.ip_source = "amazon" if amazon_ipv6 else "none"
        model.ipv6_address_attribute = "public" if model.ipv6_cidr_block else ""
        return model

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _ec2(account_id, region_name)
        if self.vpc_id in backend.vpcs:
            backend.disassociate_vpc_cidr_block(self.physical_resource_id)


class EIPAssociation(_GlueModel):
    """AWS::EC2::EIPAssociation: EC2 AssociateAddress of an Elastic IP (AllocationId, or EIP for the public
    address) with an instance or a network interface; Ref and GetAtt Id are the association id (eipassoc-).
    Deleting disassociates the address, which stays allocated."""

    resource_type = "AWS::EC2::EIPAssociation"
    attributes = {"Id": "physical_resource_id"}

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict, account_id: str,
                                        region_name: str, **kwargs: Any) -> "EIPAssociation":
        props = _props(cloudformation_json)
        backend = _ec2(account_id, region_name)
        instance = backend.get_instance(props["InstanceId"]) if props.get("InstanceId") else None
        eni = backend.get_network_interface(props["NetworkInterfaceId"]) if props.get("NetworkInterfaceId") else None
        address = backend.associate_address(instance=instance, eni=eni, address=props.get("EIP"),
                                            allocation_id=props.get("AllocationId"), reassociate=True)
        model = cls(address.association_id or f"{address.public_ip}-{resource_name}", account_id, region_name)
        model.public_ip = address.public_ip
        return model

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _ec2(account_id, region_name)
        if any(a.public_ip == self.public_ip and (a.instance or a.eni) for a in backend.addresses):
            backend.disassociate_address(address=self.public_ip)


class DHCPOptions(_GlueModel):
    """AWS::EC2::DHCPOptions: EC2 CreateDhcpOptions; Ref and GetAtt DhcpOptionsId are dopt-."""

    resource_type = "AWS::EC2::DHCPOptions"
    attributes = {"DhcpOptionsId": "physical_resource_id"}

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict, account_id: str,
                                        region_name: str, **kwargs: Any) -> "DHCPOptions":
        props = _props(cloudformation_json)
        backend = _ec2(account_id, region_name)
        node_type = props.get("NetbiosNodeType")
        options = backend.create_dhcp_options(
            domain_name_servers=props.get("DomainNameServers"), domain_name=props.get("DomainName"),
            ntp_servers=props.get("NtpServers"), netbios_name_servers=props.get("NetbiosNameServers"),
            netbios_node_type=[str(node_type)] if node_type is not None else None)
        for key, value in _tags(props).items():
            options.add_tag(key, value)
        return cls(options.id, account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _ec2(account_id, region_name)
        if self.physical_resource_id in backend.dhcp_options_sets:
            backend.delete_dhcp_options_set(self.physical_resource_id)


class VPCDHCPOptionsAssociation(_GlueModel):
    """AWS::EC2::VPCDHCPOptionsAssociation: EC2 AssociateDhcpOptions; deleting restores the VPC's default."""

    resource_type = "AWS::EC2::VPCDHCPOptionsAssociation"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict, account_id: str,
                                        region_name: str, **kwargs: Any) -> "VPCDHCPOptionsAssociation":
        props = _props(cloudformation_json)
        backend = _ec2(account_id, region_name)
        vpc = backend.get_vpc(props["VpcId"])
        if props["DhcpOptionsId"] == "default":
            backend.disassociate_dhcp_options(vpc)
        else:
            backend.associate_dhcp_options(backend.describe_dhcp_options([props["DhcpOptionsId"]])[0], vpc)
        model = cls(f"{props['DhcpOptionsId']}|{props['VpcId']}", account_id, region_name)
        model.vpc_id = props["VpcId"]
        return model

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _ec2(account_id, region_name)
        if self.vpc_id in backend.vpcs:
            backend.disassociate_dhcp_options(backend.vpcs[self.vpc_id])


MODELS = (VPCCidrBlock, EIPAssociation, DHCPOptions, VPCDHCPOptionsAssociation)
