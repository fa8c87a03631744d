"""CloudFormation models for EC2 network ACLs, which moto's EC2 backend has but its CloudFormation lacks."""

from __future__ import annotations

from typing import Any

from orchestrator.sandbox.glue import _GlueModel, _props, _tags


def _ec2(account_id: str, region: str) -> Any:
    from moto.ec2.models import ec2_backends

    return ec2_backends[account_id][region]


class NetworkAcl(_GlueModel):
    """AWS::EC2::NetworkAcl: EC2 CreateNetworkAcl; Ref and GetAtt Id are acl-."""

    resource_type = "AWS::EC2::NetworkAcl"
    attributes = {"Id": "physical_resource_id"}

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict, account_id: str,
                                        region_name: str, **kwargs: Any) -> "NetworkAcl":
        props = _props(cloudformation_json)
        acl = _ec2(account_id, region_name).create_network_acl(
            props["VpcId"], tags=[{"Key": k, "Value": v} for k, v in _tags(props).items()])
        return cls(acl.id, account_id, region_name)

    def delete(self, account_id: str, region_name: str) -> None:
        _ec2(account_id, region_name).delete_network_acl(self.physical_resource_id)


class NetworkAclEntry(_GlueModel):
    """AWS::EC2::NetworkAclEntry: EC2 CreateNetworkAclEntry (PortRange/Icmp as the API takes them)."""

    resource_type = "AWS::EC2::NetworkAclEntry"

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict, account_id: str,
                                        region_name: str, **kwargs: Any) -> "NetworkAclEntry":
        props = _props(cloudformation_json)
        ports, icmp = props.get("PortRange") or {}, props.get("Icmp") or {}
        egress = str(props.get("Egress", False)).lower() == "true"
        entry = _ec2(account_id, region_name).create_network_acl_entry(
            props["NetworkAclId"], int(props["RuleNumber"]), str(props["Protocol"]), props["RuleAction"], egress,
            props.get("CidrBlock"), icmp.get("Code"), icmp.get("Type"), ports.get("From"), ports.get("To"),
            props.get("Ipv6CidrBlock"))
        model = cls(resource_name, account_id, region_name)
        model.acl_id, model.rule_number, model.egress = props["NetworkAclId"], int(props["RuleNumber"]), egress
        model.entry = entry
        return model

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _ec2(account_id, region_name)
        if self.acl_id in backend.network_acls:
            backend.delete_network_acl_entry(self.acl_id, self.rule_number, self.egress)


class SubnetNetworkAclAssociation(_GlueModel):
    """AWS::EC2::SubnetNetworkAclAssociation: EC2 ReplaceNetworkAclAssociation of the subnet's current
    association; Ref and GetAtt AssociationId are aclassoc-. Deleting restores the VPC's default ACL."""

    resource_type = "AWS::EC2::SubnetNetworkAclAssociation"
    attributes = {"AssociationId": "physical_resource_id"}

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict, account_id: str,
                                        region_name: str, **kwargs: Any) -> "SubnetNetworkAclAssociation":
        props = _props(cloudformation_json)
        backend = _ec2(account_id, region_name)
        current = cls._current(backend, props["SubnetId"])
        association = backend.replace_network_acl_association(current, props["NetworkAclId"])
        model = cls(association.id, account_id, region_name)
        model.subnet_id = props["SubnetId"]
        return model

    @staticmethod
    def _current(backend: Any, subnet_id: str) -> str:
        for acl in backend.network_acls.values():
            for association_id, association in acl._associations.items():
                if association.subnet_id == subnet_id:
                    return association_id
        subnet = backend.get_subnet(subnet_id)
        backend.associate_default_network_acl_with_subnet(subnet_id, subnet.vpc_id)
        return SubnetNetworkAclAssociation._current(backend, subnet_id)

    def delete(self, account_id: str, region_name: str) -> None:
        backend = _ec2(account_id, region_name)
        for acl in list(backend.network_acls.values()):
            if self.physical_resource_id in acl._associations:
                default = next((a for a in backend.network_acls.values() if a.default and a.vpc_id == acl.vpc_id), None)
                if default is None:
                    del acl._associations[self.physical_resource_id]
                else:
                    backend.replace_network_acl_association(self.physical_resource_id, default.id)
                return


MODELS = (NetworkAcl, NetworkAclEntry, SubnetNetworkAclAssociation)
