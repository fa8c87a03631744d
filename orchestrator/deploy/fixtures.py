"""Prerequisite fixtures: real sandbox resources for AWS-typed parameters given no value (or `auto`).

A VPC with public and private subnets across the region's zones, an internet gateway and a security
group are one CloudFormation stack (`<stack>-fixtures`, tagged with the run id and journaled, so it
lives, dies and is swept like the run's own stacks); key pairs, images and zone names come from the
EC2/SSM APIs. Every value handed out is consistent: subnets belong to the VPC given, zone lists match
the subnets' zones. Created only on sandbox targets; see docs/fixtures.md for the table.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import structlog

from orchestrator.deploy.values import AUTO
from orchestrator.errors import BadInput

log = structlog.get_logger(__name__)

# Parameter type (without List<...>) -> fixture kind (the corpus manifest's prerequisite names).
KINDS = {
    "AWS::EC2::VPC::Id": "vpc",
    "AWS::EC2::Subnet::Id": "subnet",
    "AWS::EC2::SecurityGroup::Id": "security-group",
    "AWS::EC2::SecurityGroup::GroupName": "security-group",
    "AWS::EC2::KeyPair::KeyName": "keypair",
    "AWS::Route53::HostedZone::Id": "hosted-zone",
    "AWS::EC2::Image::Id": "image",
    "AWS::EC2::AvailabilityZone::Name": "availability-zone",
}
_AZ_COUNT = re.compile(r"^(number_?of_?azs?|az_?count|num_?azs?)$", re.I)
MAX_ZONES = 3  # most multi-AZ templates select two or three zones
IMAGE_PARAMETER = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64"
CREATING_TARGETS = ("embedded", "endpoint")


# Kinds a plain String given `auto` can name beyond the AWS types (deploy/strings.py reads which).
STRING_KINDS = ("kms-key", "s3-bucket", "domain", "certificate", "user-pool", "web-acl")
# WAF serves CloudFront from this region only (a CLOUDFRONT-scoped web ACL is made nowhere else).
CLOUDFRONT_WAF_REGION = "us-east-1"


@dataclass(frozen=True)
class Need:
    parameter: str
    type_name: str  # the AWS type without List<>, or a STRING_KINDS kind
    listed: bool
    declared_type: str
    why_not: str | None = None  # set when nothing can provide it: the run stops with prerequisite-missing
    creates: bool = False  # a bucket name the template gives to a bucket it creates: a fresh name, no bucket
    scope: str = ""  # a web-acl's WAF scope: CLOUDFRONT when a distribution uses it, else REGIONAL

    @property
    def kind(self) -> str:
        return KINDS.get(self.type_name, self.type_name)


def _split_type(type_name: str) -> tuple[str, bool]:
    match = re.fullmatch(r"List<(.+)>", type_name.strip())
    return (match.group(1).strip(), True) if match else (type_name.strip(), False)


def needs(document: dict, parameters: dict[str, str], region: str = CLOUDFRONT_WAF_REGION) -> list[Need]:
    """Parameters that get a fixture: an AWS-specific type with no value and no Default, or the value `auto`.

    A plain String given `auto` gets one when it says what it names (deploy/strings.py); otherwise its Need
    carries `why_not`, and the run stops with `prerequisite-missing` naming the parameter (never a guess)."""
    from orchestrator.deploy.strings import string_kind

    found: list[Need] = []
    declared = document.get("Parameters") or {}
    for name, spec in declared.items() if isinstance(declared, dict) else ():
        if not isinstance(spec, dict):
            continue
        value = parameters.get(name)
        if not (value == AUTO or (value is None and "Default" not in spec)):
            continue
        declared_type = str(spec.get("Type", "String"))
        base, listed = _split_type(declared_type)
        if base in KINDS:
            found.append(Need(name, base, listed, declared_type))
        elif value == AUTO and base in ("String", "CommaDelimitedList"):
            named = string_kind(name, spec, document)
            if named.type_name is None:
                found.append(Need(name, declared_type, False, declared_type, why_not=named.why_not))
                continue
            hint, hint_listed = _split_type(named.type_name)
            scope = _web_acl_scope(name, document) if hint == "web-acl" else ""
            if scope == "CLOUDFRONT" and region != CLOUDFRONT_WAF_REGION:
                found.append(Need(name, declared_type, False, declared_type, why_not=(
                    f"it names a CLOUDFRONT-scoped WAF web ACL, which WAF makes only in {CLOUDFRONT_WAF_REGION} "
                    f"(this run deploys to {region})")))
                continue
            found.append(Need(name, hint, hint_listed or base == "CommaDelimitedList", declared_type,
                              creates=named.creates, scope=scope))
        elif value == AUTO:
            raise BadInput(f"parameter {name} ({declared_type}) is `auto`, but no fixture provides that type; "
                           "give a value (docs/fixtures.md lists the types fixtures provide)")
    return found


def _web_acl_scope(parameter: str, document: dict) -> str:
    """CLOUDFRONT when a CloudFront distribution of the template takes the parameter as its WebACLId, else REGIONAL
    (a load balancer's or an API stage's WebACLAssociation)."""
    resources = document.get("Resources") or {}
    for resource in resources.values() if isinstance(resources, dict) else ():
        if isinstance(resource, dict) and resource.get("Type") == "AWS::CloudFront::Distribution":
            config = ((resource.get("Properties") or {}).get("DistributionConfig") or {})
            if isinstance(config, dict) and config.get("WebACLId") == {"Ref": parameter}:
                return "CLOUDFRONT"
    return "REGIONAL"


def unprovided(wanted: list[Need]) -> list[dict]:
    """The prerequisite-missing items of the needs nothing can provide, naming each parameter."""
    return [{"class": "prerequisite-missing", "logical_id": n.parameter, "resource_type": n.declared_type,
             "property": f"Parameters.{n.parameter}", "what": f"parameter {n.parameter}",
             "reason": f"{n.parameter} is `auto`, but {n.why_not}; pass --param {n.parameter}=VALUE"}
            for n in wanted if n.why_not]


@dataclass
class Fixtures:
    """The fixtures of one run: created before its stack, deleted after it."""

    session: Any
    run_id: str
    stack_name: str
    region: str
    journal: Any = None
    endpoint_url: str | None = None
    target: str = "embedded"
    report: list[dict] = field(default_factory=list)
    network_stack: str | None = None
    key_pairs: list[str] = field(default_factory=list)
    certificates: list[str] = field(default_factory=list)
    user_pools: list[dict[str, str]] = field(default_factory=list)

    def provide(self, wanted: list[Need], document: dict, parameters: dict[str, str]) -> dict[str, str]:
        """Create what `wanted` needs; returns the parameter values to use."""
        from orchestrator.aws import prereqs

        if not wanted:
            return {}
        zones = prereqs.availability_zones(self.session)
        if not zones:
            raise BadInput(f"the sandbox reports no availability zones in {self.region}")
        use = _zone_count(document, parameters, len(zones))
        net_zones = zones[: max(use, min(MAX_ZONES, len(zones)))]
        kinds = {n.kind for n in wanted}
        buckets = [n.parameter for n in wanted if n.kind == "s3-bucket" and not n.creates]
        outputs: dict[str, str] = {}
        if kinds & {"vpc", "subnet", "security-group", "hosted-zone", "keypair", "kms-key", "domain", "certificate",
                    "user-pool", "web-acl"} or buckets:
            # Even a key pair alone gets the (then empty) fixtures stack: it is what `sweep` finds for the run.
            outputs = self._network(net_zones, FixtureSet(
                network=bool(kinds & {"vpc", "subnet", "security-group"}), zone=bool(kinds & {"hosted-zone", "domain"}),
                kms_key="kms-key" in kinds, buckets=tuple(buckets),
                web_acls=tuple(sorted({n.scope for n in wanted if n.kind == "web-acl"}))))
        values: dict[str, str] = {}
        taken: dict[str, int] = {}
        for need in wanted:
            value, resource = self._value(need, outputs, zones[:use] if need.listed else zones, taken)
            values[need.parameter] = value
            self.report.append({"parameter": need.parameter, "kind": need.kind, "type": need.declared_type,
                                "value": value, "resource": resource})
        log.info("fixtures_provided", parameters=sorted(values))
        return values

    def _value(self, need: Need, outputs: dict[str, str], zones: list[str], taken: dict[str, int]) -> tuple[str, str]:
        from orchestrator.aws import prereqs

        kind, where = need.kind, f"stack {self.network_stack}"
        if kind == "vpc":
            return outputs["VpcId"], f"{where} (Vpc)"
        if kind == "subnet":
            tier = "Private" if "private" in need.parameter.lower() else "Public"
            pool = outputs[f"{tier}Subnets"].split(",")
            if need.listed:
                # Each list parameter starts at another subnet: templates that Select 0 of two lists want two.
                shift = taken.get(f"{tier}-list", 0)
                taken[f"{tier}-list"] = shift + 1
                pool = pool[shift % len(pool):] + pool[:shift % len(pool)]
                return ",".join(pool), f"{where} ({tier.lower()} subnets)"
            index = taken.get(tier, 0)
            taken[tier] = index + 1
            return pool[index % len(pool)], f"{where} ({tier}Subnet{index % len(pool) + 1})"
        if kind == "security-group":
            key = "SecurityGroupName" if need.type_name.endswith("GroupName") else "SecurityGroupId"
            return outputs[key], f"{where} (SecurityGroup)"
        if kind == "hosted-zone":
            return outputs["HostedZoneId"], f"{where} (HostedZone)"
        if kind == "domain":
            return fixture_domain(self.run_id), f"{where} (HostedZone's name)"
        if kind == "certificate":
            if not self.certificates:
                from orchestrator.deploy.selfsigned import self_signed

                body, key = self_signed(fixture_domain(self.run_id))
                self.certificates.append(prereqs.import_certificate(self.session, body, key, self.run_id))
            return self.certificates[0], f"ACM certificate imported for {fixture_domain(self.run_id)} (self-signed)"
        if kind == "user-pool":
            if not self.user_pools:
                self.user_pools.append(prereqs.create_user_pool(self.session, f"cfn-autofix-{self.run_id}", self.run_id))
            arn = not re.search(r"id$", need.parameter, re.I)
            return self.user_pools[0]["Arn" if arn else "Id"], "Cognito user pool"
        if kind == "web-acl":  # CloudFront and WebACLAssociation both take a WAFv2 web ACL by its ARN
            return outputs[f"WebAcl{need.scope.title()}Arn"], f"{where} (WebAcl{need.scope.title()}, {need.scope}, allows all)"
        if kind == "kms-key":
            arn = not re.search(r"id$", need.parameter, re.I)
            return outputs["KmsKeyArn" if arn else "KmsKeyId"], f"{where} (KmsKey)"
        if kind == "s3-bucket":
            if need.creates:  # the template creates a bucket of that name: a fresh, valid, unused name
                return f"cfn-autofix-{self.run_id}-{need.parameter}".lower()[:63], "a new bucket name (the template creates it)"
            logical = _bucket_id(need.parameter)
            return outputs[logical], f"{where} ({logical}, empty)"
        if kind == "keypair":
            if not self.key_pairs:
                prereqs.create_key_pair(self.session, f"cfn-autofix-{self.run_id}", self.run_id)
                self.key_pairs.append(f"cfn-autofix-{self.run_id}")
            return self.key_pairs[0], "EC2 key pair"
        if kind == "image":
            image = prereqs.ssm_parameter(self.session, IMAGE_PARAMETER) or prereqs.amazon_image(self.session)
            if not image:
                raise BadInput(f"parameter {need.parameter}: the sandbox has no Amazon image in {self.region}")
            return image, f"SSM public parameter {IMAGE_PARAMETER}"
        if need.listed:
            return ",".join(zones), "availability zones of the region"
        index = taken.get("zone", 0)
        taken["zone"] = index + 1
        return zones[index % len(zones)], "availability zone of the region"

    def _network(self, zones: list[str], wanted: "FixtureSet") -> dict[str, str]:
        from orchestrator.aws import prereqs
        from orchestrator.aws.session import RUN_ID_TAG
        from orchestrator.deploy.watcher import watch

        name = f"{self.stack_name}-fixtures"[:128]
        body = network_template(zones, self.run_id, wanted)
        if self.journal is not None:
            self.journal.record_stack(run_id=self.run_id, stack_name=name, target=self.target,
                                      region=self.region, endpoint_url=self.endpoint_url)
        self.session.create_stack(name, json.dumps(body), tags={RUN_ID_TAG: self.run_id}, disable_rollback=False)
        self.network_stack = name
        result = watch(self.session, name, stop_on_first_failure=False, poll_min=0.2, poll_max=2.0)
        if not result.final_status.is_green:
            reasons = "; ".join(f"{e.logical_id}: {e.reason}" for e in result.events if e.status.endswith("FAILED"))
            raise BadInput(f"the sandbox could not create the fixture network ({result.final_status.value}): {reasons}")
        log.info("fixture_stack_created", stack=name, zones=zones)
        outputs = prereqs.stack_outputs(self.session, name)
        if wanted.network:
            outputs["SecurityGroupId"] = prereqs.security_group_id(
                self.session, outputs["VpcId"], outputs["SecurityGroupName"]) or outputs["SecurityGroupId"]
        return outputs

    def teardown(self) -> None:
        """Delete what provide() created; a failure leaves the journal entry for `sweep`."""
        from orchestrator.aws import prereqs

        # Made through their APIs, not by the fixtures stack: deleted one by one.
        made = [(prereqs.delete_certificate, arn, "certificate") for arn in self.certificates]
        made += [(prereqs.delete_user_pool, pool["Id"], "user_pool") for pool in self.user_pools]
        made += [(prereqs.delete_key_pair, key, "key_pair") for key in self.key_pairs]
        for delete, ident, what in made:
            try:
                delete(self.session, ident)
            except Exception as exc:  # cleanup must not hide the run's outcome; sweep finds the tagged rest
                log.warning("fixture_cleanup_failed", **{what: ident}, error=str(exc))
        if self.network_stack:
            try:
                stack = self.session.describe_stack(self.network_stack)
                if stack is not None:
                    self.session.delete_stack(stack.get("StackId", self.network_stack), run_id=self.run_id)
                    self.session.wait_deleted(stack.get("StackId", self.network_stack), timeout=600)
                if self.journal is not None:
                    self.journal.mark_deleted(self.run_id, self.network_stack)
                log.info("fixture_stack_deleted", stack=self.network_stack)
            except Exception as exc:  # the journal keeps the stack for sweep
                log.warning("fixture_cleanup_failed", stack=self.network_stack, error=str(exc))


def _zone_count(document: dict, parameters: dict[str, str], available: int) -> int:
    """How many zones a zone list gets: the template's NumberOfAZs-like parameter, else up to three."""
    for name, spec in (document.get("Parameters") or {}).items():
        if _AZ_COUNT.match(name) and isinstance(spec, dict):
            raw = parameters.get(name, spec.get("Default"))
            if str(raw).isdigit() and 1 <= int(raw) <= available:
                return int(raw)
    return min(MAX_ZONES, available)


@dataclass(frozen=True)
class FixtureSet:
    """What the fixtures stack holds besides the anchor."""

    network: bool = True  # VPC, IGW, subnets, route tables, security group
    zone: bool = False  # a public hosted zone
    kms_key: bool = False  # a symmetric KMS key the account administers
    buckets: tuple[str, ...] = ()  # an empty S3 bucket per parameter named
    web_acls: tuple[str, ...] = ()  # a WAFv2 web ACL per scope named (CLOUDFRONT, REGIONAL)


def fixture_domain(run_id: str) -> str:
    """The fixture hosted zone's name (also the `domain` fixture and the certificate's subject)."""
    return f"cfn-autofix-{run_id}.example.com".lower()


def _bucket_id(parameter: str) -> str:
    return "Bucket" + re.sub(r"[^A-Za-z0-9]", "", parameter)


def network_template(zones: list[str], run_id: str, wanted: FixtureSet | None = None) -> dict:
    """The fixtures stack as a template: VPC, IGW, public and private subnets per zone, a security group; a hosted
    zone, a KMS key and empty buckets when asked for."""
    wanted = wanted or FixtureSet()
    tags = [{"Key": "Name", "Value": f"cfn-autofix-fixture-{run_id}"}]
    resources: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    if wanted.network:
        resources.update({
            "Vpc": {"Type": "AWS::EC2::VPC", "Properties": {
                "CidrBlock": "10.192.0.0/16", "EnableDnsSupport": True, "EnableDnsHostnames": True, "Tags": tags}},
            "InternetGateway": {"Type": "AWS::EC2::InternetGateway", "Properties": {"Tags": tags}},
            "GatewayAttachment": {"Type": "AWS::EC2::VPCGatewayAttachment", "Properties": {
                "VpcId": {"Ref": "Vpc"}, "InternetGatewayId": {"Ref": "InternetGateway"}}},
            "PublicRouteTable": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}}},
            "PublicRoute": {"Type": "AWS::EC2::Route", "DependsOn": "GatewayAttachment", "Properties": {
                "RouteTableId": {"Ref": "PublicRouteTable"}, "DestinationCidrBlock": "0.0.0.0/0",
                "GatewayId": {"Ref": "InternetGateway"}}},
            "PrivateRouteTable": {"Type": "AWS::EC2::RouteTable", "Properties": {"VpcId": {"Ref": "Vpc"}}},
            "SecurityGroup": {"Type": "AWS::EC2::SecurityGroup", "Properties": {
                "GroupName": f"cfn-autofix-fixture-{run_id}", "GroupDescription": "cfn-autofix fixture",
                "VpcId": {"Ref": "Vpc"},
                "SecurityGroupIngress": [{"IpProtocol": "-1", "FromPort": -1, "ToPort": -1,
                                          "CidrIp": "10.192.0.0/16"}]}},
        })
        for tier, offset, public in (("Public", 0, True), ("Private", 100, False)):
            ids = []
            for index, zone in enumerate(zones, start=1):
                subnet = f"{tier}Subnet{index}"
                resources[subnet] = {"Type": "AWS::EC2::Subnet", "Properties": {
                    "VpcId": {"Ref": "Vpc"}, "AvailabilityZone": zone, "MapPublicIpOnLaunch": public,
                    "CidrBlock": f"10.192.{offset + index}.0/24", "Tags": tags}}
                resources[f"{subnet}RouteTableAssociation"] = {
                    "Type": "AWS::EC2::SubnetRouteTableAssociation",
                    "Properties": {"SubnetId": {"Ref": subnet}, "RouteTableId": {"Ref": f"{tier}RouteTable"}}}
                ids.append({"Ref": subnet})
            outputs[f"{tier}Subnets"] = {"Value": {"Fn::Join": [",", ids]}}
        outputs["VpcId"] = {"Value": {"Ref": "Vpc"}}
        outputs["SecurityGroupId"] = {"Value": {"Fn::GetAtt": ["SecurityGroup", "GroupId"]}}
        outputs["SecurityGroupName"] = {"Value": f"cfn-autofix-fixture-{run_id}"}
    if wanted.kms_key:
        resources["KmsKey"] = {"Type": "AWS::KMS::Key", "Properties": {
            "Description": f"cfn-autofix fixture of run {run_id}", "PendingWindowInDays": 7, "Tags": tags,
            "KeyPolicy": {"Version": "2012-10-17", "Statement": [{
                "Sid": "AccountAdministers", "Effect": "Allow", "Action": "kms:*", "Resource": "*",
                "Principal": {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}}]}}}
        outputs["KmsKeyArn"] = {"Value": {"Fn::GetAtt": ["KmsKey", "Arn"]}}
        outputs["KmsKeyId"] = {"Value": {"Ref": "KmsKey"}}
    for parameter in wanted.buckets:
        resources[_bucket_id(parameter)] = {"Type": "AWS::S3::Bucket", "Properties": {"Tags": tags}}
        outputs[_bucket_id(parameter)] = {"Value": {"Ref": _bucket_id(parameter)}}
    for scope in wanted.web_acls:
        logical = f"WebAcl{scope.title()}"
        resources[logical] = {"Type": "AWS::WAFv2::WebACL", "Properties": {
            "Name": f"cfn-autofix-{run_id}-{scope.lower()}", "Scope": scope, "DefaultAction": {"Allow": {}},
            "Description": f"cfn-autofix fixture of run {run_id}: allows every request",
            "VisibilityConfig": {"SampledRequestsEnabled": False, "CloudWatchMetricsEnabled": False,
                                 "MetricName": f"cfn-autofix-{scope.lower()}"}, "Tags": tags}}
        outputs[f"{logical}Arn"] = {"Value": {"Fn::GetAtt": [logical, "Arn"]}}
    if wanted.zone:
        resources["HostedZone"] = {"Type": "AWS::Route53::HostedZone", "Properties": {
            "Name": fixture_domain(run_id)}}
        outputs["HostedZoneId"] = {"Value": {"Ref": "HostedZone"}}
    if not resources:
        resources["SweepAnchor"] = {"Type": "AWS::CloudFormation::WaitConditionHandle"}
    return {"AWSTemplateFormatVersion": "2010-09-09",
            "Description": f"cfn-autofix prerequisite fixtures of run {run_id}",
            "Resources": resources, "Outputs": outputs}
