"""Deployment targets (embedded sandbox, real AWS, any endpoint URL), the sandbox-account guard and stack naming."""

from __future__ import annotations

import os
import re
import secrets
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any

import structlog

from orchestrator.aws.guard import Guard, guard_target
from orchestrator.errors import BadInput

log = structlog.get_logger(__name__)

TARGET_KINDS = ("embedded", "aws", "endpoint")
DEFAULT_STACK_PREFIX = "cfa-"  # short: templates build names from the stack name (see stack_name_for)

# An endpoint such as a standalone moto server or LocalStack accepts any key pair.
DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

_CREDENTIAL_KEYS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token")

# Properties that give an IAM resource a custom name, which CloudFormation only accepts with CAPABILITY_NAMED_IAM.
_IAM_NAME_PROPERTIES = {
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::User": "UserName",
    "AWS::IAM::Group": "GroupName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::IAM::InstanceProfile": "InstanceProfileName",
}

# SAM resources that create an execution role of their own when no Role is given.
_SAM_ROLE_CREATORS = ("AWS::Serverless::Function", "AWS::Serverless::StateMachine")


@dataclass
class Target:
    """Where stacks are deployed; `credentials` never appear in repr or logs."""

    kind: str
    region: str = "us-east-1"
    endpoint_url: str | None = None
    profile: str | None = None
    role_arn: str | None = None
    credentials: dict[str, str] | None = field(default=None, repr=False)
    account_id: str | None = None
    allowed_accounts: tuple[str, ...] = ()
    # The running Sandbox of an embedded target (None otherwise).
    sandbox: Any = field(default=None, repr=False, compare=False)

    def describe(self) -> str:
        """A short human label, e.g. `embedded (us-east-1)` or `endpoint http://...`."""
        where = f" {self.endpoint_url}" if self.endpoint_url and self.kind != "embedded" else ""
        return f"{self.kind}{where} ({self.region})"

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "region": self.region,
            "endpoint_url": self.endpoint_url,
            "profile": self.profile,
            "role_arn": self.role_arn,
            "account_id": self.account_id,
        }


def _env_credentials() -> bool:
    return bool(os.environ.get("AWS_ACCESS_KEY_ID") and os.environ.get("AWS_SECRET_ACCESS_KEY"))


def _clean_credentials(credentials: Mapping[str, Any] | None) -> dict[str, str] | None:
    if not credentials:
        return None
    return {key: str(credentials[key]) for key in _CREDENTIAL_KEYS if credentials.get(key)}


def check_sandbox_account(session: Any, allowed_accounts: Sequence[str], action: str = "deploy") -> str:
    """Ask STS who we are and refuse unless that account is an allowed sandbox; returns the account id.

    Kept for callers of the old name: the guard itself lives in orchestrator.aws.guard.
    """
    return Guard(action=action, allowed_accounts=tuple(str(a) for a in allowed_accounts)).check(session)


@contextmanager
def open_target(
    spec: Target | str = "embedded",
    region: str = "us-east-1",
    *,
    sandbox_config: Any = None,
    retry: Any = None,
    session_name: str = "cfn-autofix",
    guard: Guard | None = None,
    read_only: bool = False,
    **fields: Any,
) -> Iterator[Target]:
    """Open a deployment target for the duration of a `with` block.

    `spec` is a Target, or its kind with the other Target fields as keywords (endpoint_url, profile,
    role_arn, credentials, allowed_accounts).
    - embedded: starts a fresh Sandbox (moto on 127.0.0.1, random port) and stops it at exit;
    - endpoint: talks to `endpoint_url` with the given credentials, dummy ones if none;
    - aws: uses `profile` and/or assumes `role_arn`, then refuses (errors.Refusal) unless the
      caller's account is in `allowed_accounts`. Nothing is written before that check.

    An endpoint that is not a loopback address (nor declared an emulator in `guard`) is treated as AWS:
    the same guard runs for it. `guard` defaults to Guard("deploy", allowed_accounts).
    With `read_only` (a caller that only describes, as `diagnose` does) any account is accepted: the
    guard protects accounts from changes, and a read-only caller makes none.
    """
    spec = fields.pop("kind", spec)  # the kind may come by keyword, as in Target(kind=...)
    if isinstance(spec, str):
        fields["allowed_accounts"] = tuple(str(a) for a in fields.get("allowed_accounts") or ())
        spec = Target(kind=spec, region=region, **fields)
    kind, region, endpoint_url = spec.kind, spec.region, spec.endpoint_url
    profile, role_arn, credentials, allowed_accounts = spec.profile, spec.role_arn, spec.credentials, spec.allowed_accounts
    guard = guard or Guard(action="deploy", allowed_accounts=tuple(str(a) for a in allowed_accounts))
    if kind not in TARGET_KINDS:
        raise BadInput(f"unknown target {kind!r}; expected one of {', '.join(TARGET_KINDS)}")
    if kind == "embedded":
        # Imported lazily: the sandbox pulls in moto, which the aws and endpoint targets never need.
        from orchestrator.sandbox import Sandbox

        sandbox = Sandbox(region=region, config=sandbox_config)
        sandbox.start()
        try:
            target = Target(
                kind="embedded",
                region=region,
                endpoint_url=sandbox.endpoint_url,
                credentials=_clean_credentials(sandbox.credentials),
                account_id=sandbox.account_id,
                sandbox=sandbox,
            )
            log.info("target_opened", target="embedded", region=region, endpoint_url=sandbox.endpoint_url)
            yield target
        finally:
            sandbox.stop()
        return
    if kind == "endpoint":
        if not endpoint_url:
            raise BadInput("target 'endpoint' needs an endpoint URL (--endpoint-url)")
        if not re.match(r"^https?://", endpoint_url):
            raise BadInput(f"endpoint URL {endpoint_url!r} must start with http:// or https://")
        if guard.applies("endpoint", endpoint_url) and not read_only:
            guard.refuse_without_network("endpoint", endpoint_url)
        target = Target(
            kind="endpoint",
            region=region,
            endpoint_url=endpoint_url.rstrip("/"),
            profile=profile,
            # Keys exported in the environment (as `cfn-autofix sandbox` prints them) select the endpoint's account;
            # dummy keys only when nothing else is given.
            credentials=_clean_credentials(credentials)
            or (None if profile or _env_credentials() else dict(DUMMY_CREDENTIALS)),
            allowed_accounts=guard.allowed_accounts,
        )
        if not read_only:
            target.account_id = guard_target(target, guard, retry=retry)
        # An endpoint served by a sandbox of this very process can say what it really built (fidelity);
        # looked up only when the sandbox module is already loaded, so plain endpoints never import moto.
        server = sys.modules.get("orchestrator.sandbox.server")
        if server is not None:
            target.sandbox = server.Sandbox.serving(target.endpoint_url,
                                                    (target.credentials or {}).get("aws_access_key_id"))
        log.info("target_opened", target="endpoint", region=region, endpoint_url=target.endpoint_url)
        yield target
        return

    if not read_only:
        guard.refuse_without_network("aws", endpoint_url)
    from orchestrator.aws.session import AwsSession  # the only boto3 boundary

    target = Target(
        kind="aws",
        region=region,
        endpoint_url=endpoint_url,
        profile=profile,
        role_arn=role_arn,
        credentials=_clean_credentials(credentials),
        allowed_accounts=guard.allowed_accounts,
    )
    if role_arn:
        # Explicit assumed-role keys take precedence over the profile they were obtained with.
        target = replace(target, credentials=AwsSession(target, retry=retry).assume_role(role_arn, session_name))
    if read_only:
        target.account_id = AwsSession(target, retry=retry).account_id()
    else:
        target.account_id = guard_target(target, guard, retry=retry)
    log.info("target_opened", target="aws", region=region, account_id=target.account_id, read_only=read_only)
    yield target


def required_capabilities(document: Mapping[str, Any]) -> list[str]:
    """The capabilities CreateStack needs for this template (long-form document), in a stable order.

    CAPABILITY_IAM for any IAM resource (or a SAM resource that makes its own role), CAPABILITY_NAMED_IAM
    when an IAM resource has a custom name, CAPABILITY_AUTO_EXPAND when a transform or macro is used.
    """
    caps: set[str] = set()
    resources = document.get("Resources") or {}
    if isinstance(resources, Mapping):
        for resource in resources.values():
            if not isinstance(resource, Mapping):
                continue
            rtype = str(resource.get("Type", ""))
            props = resource.get("Properties") or {}
            if not isinstance(props, Mapping):
                props = {}
            if rtype.startswith("AWS::IAM::"):
                caps.add("CAPABILITY_IAM")
                name_prop = _IAM_NAME_PROPERTIES.get(rtype)
                if name_prop and props.get(name_prop) not in (None, ""):
                    caps.add("CAPABILITY_NAMED_IAM")
            elif rtype in _SAM_ROLE_CREATORS and "Role" not in props:
                caps.add("CAPABILITY_IAM")
    if document.get("Transform") or _uses_fn_transform(document):
        caps.add("CAPABILITY_AUTO_EXPAND")
    order = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND")
    return [cap for cap in order if cap in caps]


def _uses_fn_transform(node: Any) -> bool:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            if "Fn::Transform" in item:
                return True
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


STEM_CHARS = 6
RUN_ID_CHARS = 6
# Longest default stack name. Templates build other names from it: "${AWS::StackName}-default" for a
# 32-character target group (aws-samples/ecs-refarch-cloudformation), 28-character OpenSearch domains,
# 40-character ElastiCache ids, 63-character buckets and RDS ids. Real stacks are named "production" or
# "ecs-cluster"; at most 20 characters leaves a 32-character name 12 for the template's own suffix.
STACK_NAME_MAX = 20


def new_run_id() -> str:
    """A short, sortable, unique run id usable in a stack name: UTC time plus random hex."""
    return datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S") + secrets.token_hex(3)


def stack_name_for(template_stem: str, run_id: str, prefix: str = DEFAULT_STACK_PREFIX) -> str:
    """`<prefix><stem>-<run id>`, lower case and at most STACK_NAME_MAX characters with the default prefix,
    so the names CloudFormation and templates derive from it (S3 buckets, ECR repositories, RDS identifiers,
    32-character target groups) stay valid, e.g. `cfa-webtie-a1b2c3`.

    The run id keeps its last RUN_ID_CHARS characters (the random, unique part) and the stem at most
    STEM_CHARS, fewer when a longer configured prefix needs the room (dropped below 3); a configured prefix
    is kept whole. Our stacks are identified by their run-id tag and the journal, never by the name. The
    result matches CloudFormation's [a-zA-Z][-a-zA-Z0-9]* with no double or trailing hyphen.
    """
    def clean(text: str) -> str:
        return re.sub(r"-{2,}", "-", re.sub(r"[^a-z0-9-]+", "-", text.lower())).strip("-")

    run = clean(run_id)[-RUN_ID_CHARS:].strip("-") or "run"
    head = clean(prefix)
    room = STACK_NAME_MAX - len(run) - 1 - (len(head) + 1 if head else 0)
    stem = clean(template_stem)[:min(STEM_CHARS, room)].strip("-")
    stem = (stem if len(stem) >= 3 else "") or ("stack" if room >= 5 and not head else "")
    name = clean("-".join(part for part in (head, stem, run) if part))[:128]
    if not name[0].isalpha():
        name = ("s" + name)[:128]
    return name


def target_for(options: Any) -> Target:
    """The Target a run's options (orchestrator.options.RunOptions) name, with the configured account guard."""
    return Target(
        kind=options.target, region=options.region, endpoint_url=options.endpoint_url, profile=options.profile,
        role_arn=options.role_arn, credentials=options.credentials,
        allowed_accounts=tuple(str(a) for a in options.config.aws.allowed_accounts or ()),
    )


def sandbox_client(sandbox: Any, service: str, **kwargs: Any) -> Any:
    """A plain boto3 client for an embedded Sandbox (tests and one-off checks; deployments use AwsSession)."""
    import boto3  # the only boto3 importers live in orchestrator/aws

    return boto3.client(service, endpoint_url=sandbox.endpoint_url, **sandbox.credentials, **kwargs)
