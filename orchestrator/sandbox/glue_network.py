"""CloudFormation models for EC2 network types moto's EC2 backend has but its CloudFormation lacks: network
ACLs, security-group egress rules, secondary VPC CIDR blocks, DHCP options and EIP associations."""

from __future__ import annotations

from typing import Any

from orchestrator.sandbox.glue import _BackendModel, _tags


class NetworkAcl(_BackendModel):
    """AWS::EC2::NetworkAcl: EC2 CreateNetworkAcl; Ref and GetAtt Id are acl-."""

    resource_type = "AWS::EC2::NetworkAcl"
    service = "ec2"
    attributes = {"Id": "physical_resource_id"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        return backend.create_network_acl(props["VpcId"], tags=[{"Key": k, "Value": v} for k, v in _tags(props).items()]).id

    def _delete(self, backend: Any) -> None:
        backend.delete_network_acl(self.physical_resource_id)


class NetworkAclEntry(_BackendModel):
    """AWS::EC2::NetworkAclEntry: EC2 CreateNetworkAclEntry (PortRange/Icmp as the API takes them)."""

    resource_type = "AWS::EC2::NetworkAclEntry"
    service = "ec2"

    def _create(self, backend: Any, props: dict, name: str) -> str:
        ports, icmp = props.get("PortRange") or {}, props.get("Icmp") or {}
        self.egress = str(props.get("Egress", False)).lower() == "true"
        self.acl_id, self.rule_number = props["NetworkAclId"], int(props["RuleNumber"])
        self.entry = backend.create_network_acl_entry(
            self.acl_id, self.rule_number, str(props["Protocol"]), props["RuleAction"], self.egress,
            props.get("CidrBlock"), icmp.get("Code"), icmp.get("Type"), ports.get("From"), ports.get("To"),
            props.get("Ipv6CidrBlock"))
        return name

    def _delete(self, backend: Any) -> None:
        if self.acl_id in backend.network_acls:
            backend.delete_network_acl_entry(self.acl_id, self.rule_number, self.egress)


class SubnetNetworkAclAssociation(_BackendModel):
    """AWS::EC2::SubnetNetworkAclAssociation: EC2 ReplaceNetworkAclAssociation of the subnet's current
    association; Ref and GetAtt AssociationId are aclassoc-. Deleting restores the VPC's default ACL."""

    resource_type = "AWS::EC2::SubnetNetworkAclAssociation"
    service = "ec2"
    attributes = {"AssociationId": "physical_resource_id"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        self.subnet_id = props["SubnetId"]
        current = self._current(backend, self.subnet_id)
        return backend.replace_network_acl_association(current, props["NetworkAclId"]).id

    @staticmethod
    def _current(backend: Any, subnet_id: str) -> str:
        for acl in backend.network_acls.values():
            for association_id, association in acl._associations.items():
                if association.subnet_id == subnet_id:
                    return association_id
        subnet = backend.get_subnet(subnet_id)
        backend.associate_default_network_acl_with_subnet(subnet_id, subnet.vpc_id)
        return SubnetNetworkAclAssociation._current(backend, subnet_id)

    def _delete(self, backend: Any) -> None:
        for acl in list(backend.network_acls.values()):
            if self.physical_resource_id in acl._associations:
                default = next((a for a in backend.network_acls.values() if a.default and a.vpc_id == acl.vpc_id), None)
                if default is None:
                    del acl._associations[self.physical_resource_id]
                else:
                    backend.replace_network_acl_association(self.physical_resource_id, default.id)
                return


class SecurityGroupEgress(_BackendModel):
    """AWS::EC2::SecurityGroupEgress: AuthorizeSecurityGroupEgress (a duplicate rule or an unknown group
    fails as on AWS); Ref and GetAtt Id are the rule's sgr- id."""

    resource_type = "AWS::EC2::SecurityGroupEgress"
    service = "ec2"
    attributes = {"Id": "physical_resource_id"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        ranges = [{"CidrIp": props["CidrIp"]}] if props.get("CidrIp") else []
        ranges += [{"CidrIpv6": props["CidrIpv6"]}] if props.get("CidrIpv6") else []
        for item in ranges:
            if props.get("Description"):
                item["Description"] = props["Description"]
        groups = [{"GroupId": props["DestinationSecurityGroupId"]}] if props.get("DestinationSecurityGroupId") else []
        prefixes = [{"PrefixListId": props["DestinationPrefixListId"]}] if props.get("DestinationPrefixListId") else []
        self.group_id = props["GroupId"]
        added, _ = backend.authorize_security_group_egress(
            self.group_id, str(props["IpProtocol"]), props.get("FromPort"), props.get("ToPort"), ranges,
            source_groups=groups, prefix_list_ids=prefixes)
        return added[0].id

    def _delete(self, backend: Any) -> None:
        group = backend.get_security_group_by_name_or_id(self.group_id, None)
        if group is not None and self.physical_resource_id in [rule.id for rule in group.egress_rules]:
            backend.revoke_security_group_egress(self.group_id, None, None, None, [],
                                                 security_rule_ids=[self.physical_resource_id])


class VpcCidrBlock(_BackendModel):
    """AWS::EC2::VPCCidrBlock: AssociateVpcCidrBlock (IPv4 or an Amazon-provided IPv6 /56); Ref and GetAtt Id
    are the vpc-cidr-assoc- id, GetAtt Ipv6CidrBlock the IPv6 block. The VPC's GetAtt Ipv6CidrBlocks then
    lists the block (emulated.fallback_attribute)."""

    resource_type = "AWS::EC2::VPCCidrBlock"
    service = "ec2"
    attributes = {"Id": "physical_resource_id", "Ipv6CidrBlock": "ipv6_cidr_block"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        amazon = str(props.get("AmazonProvidedIpv6CidrBlock", False)).lower() == "true"
        made = backend.associate_vpc_cidr_block(props["VpcId"], props.get("CidrBlock") or props.get("Ipv6CidrBlock"),
                                                amazon)
        self.ipv6_cidr_block = made["cidr_block"] if (amazon or props.get("Ipv6CidrBlock")) else None
        return made["association_id"]

    def _delete(self, backend: Any) -> None:
        for vpc in backend.vpcs.values():
            if self.physical_resource_id in vpc._cidr_block_association_set:
                backend.disassociate_vpc_cidr_block(self.physical_resource_id)
                return


class DhcpOptions(_BackendModel):
    """AWS::EC2::DHCPOptions: CreateDhcpOptions; Ref and GetAtt DhcpOptionsId are dopt-."""

    resource_type = "AWS::EC2::DHCPOptions"
    service = "ec2"
    attributes = {"DhcpOptionsId": "physical_resource_id"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        node_type = props.get("NetbiosNodeType")
        options = backend.create_dhcp_options(
            domain_name_servers=props.get("DomainNameServers"), domain_name=props.get("DomainName"),
            ntp_servers=props.get("NtpServers"), netbios_name_servers=props.get("NetbiosNameServers"),
            netbios_node_type=[str(node_type)] if node_type is not None else None)
        if _tags(props):
            backend.create_tags([options.id], _tags(props))
        return options.id

    def _delete(self, backend: Any) -> None:
        options = backend.dhcp_options_sets.get(self.physical_resource_id)
        if options is not None:
            if options.vpc is not None:
                backend.disassociate_dhcp_options(options.vpc)
            backend.delete_dhcp_options_set(self.physical_resource_id)


class VpcDhcpOptionsAssociation(_BackendModel):
    """AWS::EC2::VPCDHCPOptionsAssociation: AssociateDhcpOptions (both must exist); deleting leaves the VPC
    without options, as AWS's default."""

    resource_type = "AWS::EC2::VPCDHCPOptionsAssociation"
    service = "ec2"

    def _create(self, backend: Any, props: dict, name: str) -> str:
        from moto.ec2.exceptions import InvalidDHCPOptionsIdError

        options = backend.dhcp_options_sets.get(props["DhcpOptionsId"])
        if options is None:
            raise InvalidDHCPOptionsIdError(props["DhcpOptionsId"])
        self.vpc_id = props["VpcId"]
        backend.associate_dhcp_options(options, backend.get_vpc(self.vpc_id))
        return name

    def _delete(self, backend: Any) -> None:
        if self.vpc_id in backend.vpcs:
            backend.disassociate_dhcp_options(backend.vpcs[self.vpc_id])


class EipAssociation(_BackendModel):
    """AWS::EC2::EIPAssociation: AssociateAddress to an instance or network interface; Ref and GetAtt Id
    are the eipassoc- id (the EIP's public address for an EC2-Classic style association)."""

    resource_type = "AWS::EC2::EIPAssociation"
    service = "ec2"
    attributes = {"Id": "physical_resource_id"}

    def _create(self, backend: Any, props: dict, name: str) -> str:
        instance = backend.get_instance(props["InstanceId"]) if props.get("InstanceId") else None
        eni = backend.get_network_interface(props["NetworkInterfaceId"]) if props.get("NetworkInterfaceId") else None
        eip = backend.associate_address(instance=instance, eni=eni, address=props.get("EIP"),
                                        allocation_id=props.get("AllocationId"), reassociate=True)
        self.public_ip = eip.public_ip
        return eip.association_id or eip.public_ip

    def _delete(self, backend: Any) -> None:
        if backend.address_by_ip([self.public_ip], fail_if_not_found=False):
            backend.disassociate_address(address=self.public_ip)


MODELS = (NetworkAcl, NetworkAclEntry, SubnetNetworkAclAssociation, SecurityGroupEgress, VpcCidrBlock, DhcpOptions,
          VpcDhcpOptionsAssociation, EipAssociation)
