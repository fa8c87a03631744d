"""Service rules of the sandbox: how Lambda, IAM, S3, EC2, Logs, RDS and WAFv2 refuse requests that moto accepts.

Each rule models the service's own check (its API constraint, its lifecycle table, its account state) and
answers with the service's wording; none reuses a detector's or a repair's predicate.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any, Callable

from orchestrator.sandbox.rules import Check, RuleFailure
from orchestrator.template import lambda_runtimes


class ServiceRule:
    """One refusal of one service: an id, what it models, the page that documents it."""

    id: str = ""
    description: str = ""
    source_url: str = ""

    def __call__(self, check: Check) -> RuleFailure | None:  # pragma: no cover - interface
        raise NotImplementedError


class LambdaRuntimeSupport(ServiceRule):
    """CreateFunction refuses a runtime once its "block function create" date has passed (Lambda's runtime
    lifecycle table), with InvalidParameterValueException."""

    id = "lambda-runtime-support"
    description = "Lambda refuses to create functions on a runtime past its block-create date"
    source_url = "https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html#runtimes-deprecated"

    def __init__(self, today: Callable[[], date] = date.today) -> None:
        self.today = today

    def __call__(self, check: Check) -> RuleFailure | None:
        if check.resource_type != "AWS::Lambda::Function":
            return None
        runtime = check.properties.get("Runtime")
        item = lambda_runtimes.lifecycle(runtime) if isinstance(runtime, str) else None
        if item is None or item.create_block is None or self.today() < item.create_block:
            return None
        return RuleFailure(
            f"The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda "
            "functions.", "InvalidRequest", "Lambda", 400,
        )


def _effective_version(document: Any) -> str | None:
    if isinstance(document, str):
        try:
            document = json.loads(document)
        except ValueError:
            return None
    if not isinstance(document, dict):
        return None
    # IAM reads a document without Version with the original 2008-10-17 policy language.
    return str(document.get("Version", "2008-10-17"))


class PolicyLanguageVersion(ServiceRule):
    """IAM CreatePolicy/CreatePolicyVersion accept only the 2012-10-17 policy language for managed policies
    (MalformedPolicyDocument); S3 PutBucketPolicy refuses a Version that is not a policy language (MalformedPolicy)
    and accepts a document without one."""

    id = "policy-language-version"
    description = "IAM managed policies need the 2012-10-17 language; an S3 bucket policy's Version, when given, must be valid"
    source_url = "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_version.html"

    def __call__(self, check: Check) -> RuleFailure | None:
        document = check.properties.get("PolicyDocument")
        if check.resource_type == "AWS::IAM::ManagedPolicy":
            version = _effective_version(document)
            if version is not None and version < "2012-10-17":
                return RuleFailure("Policy document must be version 2012-10-17 or greater.", "InvalidRequest",
                                   "Iam", 400, "MalformedPolicyDocument", form="legacy")
        if check.resource_type == "AWS::S3::BucketPolicy" and isinstance(document, dict):
            # S3 reads a bucket policy without Version as 2008-10-17 and stores it (the IAM Version element
            # page: "If you do not include a Version element, the value defaults to 2008-10-17"; the
            # S3-compatible versitygw reproduces exactly this, versity/versitygw#1536 and #1581); only a Version
            # that is present and not one of the two languages (an empty string included) is MalformedPolicy.
            if "Version" in document and document["Version"] not in ("2008-10-17", "2012-10-17"):
                return RuleFailure("The policy must Contain a valid Version String", "InvalidRequest",
                                   "Amazon S3", 400, "MalformedPolicy", form="legacy")
        return None


# API field, CloudFormation property and length limit of each service's name, from the services' API
# references (IAM CreateRole RoleName, Lambda CreateFunction FunctionName, EventBridge PutRule Name,
# SQS CreateQueue QueueName, SNS CreateTopic Name).
_NAME_LIMITS: dict[str, tuple[str, str, int]] = {
    "AWS::IAM::Role": ("RoleName", "roleName", 64),
    "AWS::Lambda::Function": ("FunctionName", "functionName", 64),
    "AWS::Events::Rule": ("Name", "name", 64),
    "AWS::SQS::Queue": ("QueueName", "queueName", 80),
    "AWS::SNS::Topic": ("TopicName", "name", 256),
}


class NameLength(ServiceRule):
    """The services validate name lengths before anything else: AWS's JSON/query protocols answer
    ValidationException "1 validation error detected: Value '<v>' at '<field>' failed to satisfy constraint:
    Member must have length less than or equal to <n>"; S3 CreateBucket answers InvalidBucketName."""

    id = "name-length"
    description = "service API length limits of custom names (IAM, Lambda, EventBridge, SQS, SNS, S3)"
    source_url = "https://docs.aws.amazon.com/IAM/latest/APIReference/API_CreateRole.html"

    def __call__(self, check: Check) -> RuleFailure | None:
        if check.resource_type == "AWS::S3::Bucket":
            name = check.properties.get("BucketName")
            if isinstance(name, str) and not 3 <= len(name) <= 63:
                return RuleFailure("Bucket name should be between 3 and 63 characters long", "InvalidRequest",
                                   "Amazon S3", 400, "InvalidBucketName", form="legacy")
            return None
        spec = _NAME_LIMITS.get(check.resource_type)
        if spec is None:
            return None
        prop, field, limit = spec
        name = check.properties.get(prop)
        if isinstance(name, str) and len(name) > limit:
            return RuleFailure(
                f"1 validation error detected: Value '{name}' at '{field}' failed to satisfy constraint: Member "
                f"must have length less than or equal to {limit}", "InvalidRequest", check.resource_type.split("::")[1],
                400,
            )
        return None


class SubnetZone(ServiceRule):
    """EC2 CreateSubnet refuses an Availability Zone the region (account) does not have, naming the ones it
    has (InvalidParameterValue); moto accepts any zone name."""

    id = "subnet-zone"
    description = "EC2 creates subnets only in the region's Availability Zones"
    source_url = "https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_CreateSubnet.html"

    def __call__(self, check: Check) -> RuleFailure | None:
        if check.resource_type != "AWS::EC2::Subnet":
            return None
        from moto.ec2.models.availability_zones_and_regions import RegionsAndZonesBackend

        zone = check.properties.get("AvailabilityZone")
        # The zones EC2 (moto's EC2 backend) describes for the region: the sandbox's own state, not our data file.
        offered = tuple(z.name for z in RegionsAndZonesBackend.zones.get(check.region, []))
        if not isinstance(zone, str) or not offered or zone in offered:
            return None
        return RuleFailure(
            f"Value ({zone}) for parameter availabilityZone is invalid. Subnets can currently only be created in "
            f"the following availability zones: {', '.join(offered)}.", "InvalidRequest", "Ec2", 400,
        )


class LogGroupExists(ServiceRule):
    """CloudWatch Logs CreateLogGroup answers ResourceAlreadyExistsException for a name the account already
    has (a leftover of an earlier stack or of a function's own logging); CloudFormation's handler reports it as
    AlreadyExists with the identifier."""

    id = "log-group-exists"
    description = "a log group name is unique per account and region"
    source_url = "https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_CreateLogGroup.html"

    def __call__(self, check: Check) -> RuleFailure | None:
        if check.resource_type != "AWS::Logs::LogGroup":
            return None
        name = check.properties.get("LogGroupName")
        if not isinstance(name, str):
            return None
        from moto.logs.models import logs_backends

        if name not in logs_backends[check.account_id][check.region].groups:
            return None
        identifier = json.dumps({"/properties/LogGroupName": name}, separators=(",", ":"))
        return RuleFailure(f"Resource of type 'AWS::Logs::LogGroup' with identifier '{identifier}' already exists.",
                           "AlreadyExists", "CloudWatchLogs", 400)


# RDS engines and engine versions that can no longer be created, with the date creation ended, from AWS's
# end-of-life notices: Aurora MySQL version 1 (engine "aurora", MySQL 5.6) and Aurora Serverless v1.
_AURORA_MYSQL1_EOL = date(2023, 2, 28)  # https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.MySQL56.EOL.html
_SERVERLESS_V1_EOL = date(2025, 3, 31)  # https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless.html
_RETIRED_ENGINES: dict[str, date] = {"aurora": _AURORA_MYSQL1_EOL}
# Version prefixes retired per engine (Aurora MySQL 1 versions were 5.6.10a and 5.6.mysql_aurora.1.x).
_RETIRED_VERSIONS: dict[str, tuple[tuple[str, date], ...]] = {
    "aurora": (("5.6.", _AURORA_MYSQL1_EOL),),
    "aurora-mysql": (("5.6.", _AURORA_MYSQL1_EOL),),
}
_RETIRED_ENGINE_MODES: dict[str, date] = {"serverless": _SERVERLESS_V1_EOL}


class RdsRetiredEngine(ServiceRule):
    """RDS CreateDBCluster/CreateDBInstance refuse an engine, engine version or engine mode past its end of
    life. Wording as RDS answers: a version it no longer offers is InvalidParameterCombination "Cannot find
    version <v> for <engine>"; the retired engine name itself is InvalidParameterValue "Unrecognized engine
    name: aurora"; a retired engine mode is "The engine mode <m> you requested is currently unavailable."."""

    id = "rds-retired-engine"
    description = "RDS creates no DB cluster or instance on a retired engine, engine version or engine mode"
    source_url = "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.MySQL56.EOL.html"

    def __init__(self, today: Callable[[], date] = date.today) -> None:
        self.today = today

    def _refusal(self, properties: dict) -> str | None:
        engine = properties.get("Engine")
        if not isinstance(engine, str):
            return None
        engine, today = engine.lower(), self.today()
        version = properties.get("EngineVersion")
        if isinstance(version, str):
            for prefix, end in _RETIRED_VERSIONS.get(engine, ()):
                if version.startswith(prefix) and today > end:
                    return f"Cannot find version {version} for {engine}"
        if engine in _RETIRED_ENGINES and today > _RETIRED_ENGINES[engine]:
            return f"Unrecognized engine name: {engine}"
        mode = properties.get("EngineMode")
        end = _RETIRED_ENGINE_MODES.get(mode.lower()) if isinstance(mode, str) else None
        if end is not None and today > end:
            return f"The engine mode {mode} you requested is currently unavailable."
        return None

    def __call__(self, check: Check) -> RuleFailure | None:
        if check.resource_type not in ("AWS::RDS::DBCluster", "AWS::RDS::DBInstance"):
            return None
        message = self._refusal(check.properties)
        return None if message is None else RuleFailure(message, "InvalidRequest", "Rds", 400)


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def _major(engine_data: dict, version: str) -> str | None:
    """The major version a version string belongs to ("15.3" -> "15"), None when RDS has no such major."""
    for major in engine_data["oldest_minor"]:
        if version == major or version.startswith(major + "."):
            return major
    return None


class RdsOrderable(ServiceRule):
    """RDS CreateDBInstance creates only what it offers (DescribeOrderableDBInstanceOptions): a version it no
    longer offers is InvalidParameterCombination "Cannot find version <v> for <engine>"; an instance class not
    offered with the version (the one given, else the engine's default) is InvalidParameterCombination "RDS
    does not support creating a DB instance with the following combination: ...". The offer is the sandbox's
    own data file (orchestrator/data/sandbox_rds_orderable.json, sources and date recorded there); moto ships
    orderable options for Aurora PostgreSQL and Neptune clusters only. Engines the file does not list are
    not checked."""

    id = "rds-orderable"
    description = "RDS creates DB instances only with engine versions and instance classes it offers"
    source_url = "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.DBInstanceClass.Support.html"

    def __init__(self) -> None:
        self._data: dict | None = None

    def offer(self) -> dict:
        if self._data is None:
            from importlib import resources

            text = resources.files("orchestrator.data").joinpath("sandbox_rds_orderable.json").read_text(encoding="utf-8")
            self._data = json.loads(text)["engines"]
        return self._data

    def refusal(self, properties: dict) -> str | None:
        engine = properties.get("Engine")
        data = self.offer().get(engine.lower()) if isinstance(engine, str) else None
        # A replica or a restore takes its engine version from its source.
        if data is None or properties.get("SourceDBInstanceIdentifier") or properties.get("DBSnapshotIdentifier"):
            return None
        engine, given = engine.lower(), properties.get("EngineVersion")
        version = str(given) if given not in (None, "") else data["default_version"]
        major = _major(data, version)
        if major is None or (version != major and _version_key(version) < _version_key(data["oldest_minor"][major])):
            return f"Cannot find version {version} for {engine}"
        klass = properties.get("DBInstanceClass")
        family = ".".join(klass.split(".")[:2]) if isinstance(klass, str) else ""
        if family not in data["instance_families"]:
            return None
        below = data["instance_families"][family]
        if below is not None and _version_key(major) < _version_key(below):
            return None
        return (f"RDS does not support creating a DB instance with the following combination: DBInstanceClass={klass}, "
                f"Engine={engine}, EngineVersion={version}, LicenseModel={data['license_model']}. For supported "
                "combinations of instance class and database engine version, see the documentation.")

    def __call__(self, check: Check) -> RuleFailure | None:
        if check.resource_type != "AWS::RDS::DBInstance" or check.properties.get("DBClusterIdentifier"):
            return None
        message = self.refusal(check.properties)
        return None if message is None else RuleFailure(message, "InvalidRequest", "Rds", 400)


class S3BucketExists(ServiceRule):
    """S3 PutBucketPolicy answers NoSuchBucket "The specified bucket does not exist" until the bucket is
    created. A bucket policy that names a bucket of the stack by its literal name (a Sub of the same text,
    not a Ref) has no ordering, so CloudFormation may start it while the bucket's creation is in progress.
    The simulated clock decides, by state: the policy loses when, at its start, the bucket of that name does
    not exist yet, or belongs to a resource of the stack whose creation has not completed (with
    SandboxConfig.race_probability, 1.0: always). A policy that starts after the bucket completed, by
    whatever path or timing, wins. The answer is S3's (404, legacy handler form) whichever the case."""

    id = "s3-bucket-exists"
    description = "S3 puts a bucket policy only on a bucket whose creation has completed"
    source_url = "https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html"

    def __call__(self, check: Check) -> RuleFailure | None:
        if check.resource_type != "AWS::S3::BucketPolicy" or not isinstance(check.properties.get("Bucket"), str):
            return None
        from moto.s3.models import s3_backends

        name = check.properties["Bucket"]
        exists = name in s3_backends[check.account_id][check.partition].buckets
        creating = [lid for lid, definition in check.graph.resources.items()
                    if definition.get("Type") == "AWS::S3::Bucket" and getattr(check.lookup(lid), "name", None) == name
                    and not check.is_ready(lid)]
        if exists and not (creating and check.ctx.loses_race()):
            return None
        return RuleFailure("The specified bucket does not exist", "NotFound", "Amazon S3", 404, "NoSuchBucket",
                           form="legacy")


class WafCloudFrontScope(ServiceRule):
    """WAFv2 keeps CLOUDFRONT-scoped web ACLs, IP sets, regex pattern sets and rule groups in US East
    (N. Virginia) only: asked through another region's endpoint (as a stack of that region asks it), it answers
    WAFInvalidParameterException on the Scope value."""

    id = "wafv2-cloudfront-scope"
    description = "WAFv2 creates CLOUDFRONT-scoped entities only through us-east-1"
    source_url = "https://docs.aws.amazon.com/waf/latest/APIReference/API_CreateWebACL.html#WAF-CreateWebACL-request-Scope"
    _TYPES = frozenset({"AWS::WAFv2::WebACL", "AWS::WAFv2::IPSet", "AWS::WAFv2::RegexPatternSet",
                        "AWS::WAFv2::RuleGroup"})

    def __call__(self, check: Check) -> RuleFailure | None:
        if (check.resource_type not in self._TYPES or check.properties.get("Scope") != "CLOUDFRONT"
                or check.partition != "aws" or check.region == "us-east-1"):
            return None
        return RuleFailure("Error reason: The scope is not valid., field: SCOPE_VALUE, parameter: CLOUDFRONT",
                           "InvalidRequest", "Wafv2", 400)


SERVICE_RULES: tuple[ServiceRule, ...] = (
    LambdaRuntimeSupport(),
    PolicyLanguageVersion(),
    NameLength(),
    SubnetZone(),
    LogGroupExists(),
    RdsRetiredEngine(),
    RdsOrderable(),
    S3BucketExists(),
    WafCloudFrontScope(),
)
