"""The only module that talks to AWS (boto3): CloudFormation, S3 and STS calls, retried with tenacity, errors translated."""

from __future__ import annotations

import hashlib
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any, TypeVar

import boto3
import structlog
from botocore.config import Config as BotoConfig
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
)
from botocore.parsers import ResponseParserError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
)

from orchestrator import __version__, redact
from orchestrator.redact import REDACTED, Redactor
from orchestrator.errors import Refusal
from orchestrator.aws.buckets import TemplateBuckets
from orchestrator.model import StackEvent, StackStatus
from orchestrator.aws.errors import (  # noqa: F401  re-exported: callers catch them as orchestrator.aws.session.X
    error_summary,
    AwsCredentialsMissing,
    AwsError,
    CONNECTION_ERRORS,
    CREDENTIAL_ERROR_CODES,
    NoUpdatesToPerform,
    RetryPolicy,
    StackAlreadyExists,
    StackNotFound,
    StackNotUpdatable,
    TemplateRejected,
    _TEMPLATE_ERROR_MARKERS,
    is_retryable,
)

log = structlog.get_logger(__name__)

T = TypeVar("T")

RUN_ID_TAG = "cfn-autofix:run-id"
# CreateStack/UpdateStack/ValidateTemplate accept at most this many bytes inline; beyond it the body goes via S3.
TEMPLATE_BODY_LIMIT = 51_200

def redact_parameters(parameters: Mapping[str, Any] | None, noecho: Iterable[str] = ()) -> dict[str, Any]:
    """Parameters as they may be logged: NoEcho values replaced by ****."""
    hidden = set(noecho)
    return {key: (REDACTED if key in hidden else value) for key, value in (parameters or {}).items()}


def _is_url(template: str) -> bool:
    return template.startswith(("https://", "http://")) and "\n" not in template and " " not in template


def _event_from(raw: Mapping[str, Any], redactor: Redactor) -> StackEvent:
    return StackEvent(
        event_id=str(raw["EventId"]),
        stack_name=str(raw.get("StackName", "")),
        logical_id=str(raw.get("LogicalResourceId", "")),
        resource_type=str(raw.get("ResourceType", "")),
        status=str(raw.get("ResourceStatus", "")),
        # A NoEcho value can come back inside a failure reason or a physical id (a name built from it).
        reason=redactor.text(str(raw.get("ResourceStatusReason") or "")),
        physical_id=redactor.text(str(raw.get("PhysicalResourceId") or "")),
        timestamp=raw.get("Timestamp"),
    )


def _tags_of(stack: Mapping[str, Any]) -> dict[str, str]:
    return {str(t["Key"]): str(t["Value"]) for t in stack.get("Tags") or []}


class AwsSession(TemplateBuckets):
    """boto3 clients for one Target; every call goes through one tenacity retry layer (botocore's is off)."""

    def __init__(self, target: Any, *, retry: RetryPolicy | None = None, sleep: Callable[[float], None] = time.sleep):
        self.target = target
        self.region: str = target.region
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        self._identity: dict[str, str] | None = None
        # Values of NoEcho parameters sent with this session: scrubbed from every event, answer and error text.
        self.redactor = redact.active_or_new()
        creds = dict(target.credentials or {})
        try:
            # Explicit keys (sandbox, endpoint, assumed role) win over a profile.
            self._session = boto3.session.Session(
                profile_name=None if creds else target.profile,
                region_name=target.region,
                **creds,
            )
        except ProfileNotFound as exc:
            raise AwsCredentialsMissing(f"AWS profile {target.profile!r} not found", code="ProfileNotFound") from exc
        self._boto_config = BotoConfig(
            region_name=target.region,
            # tenacity is the only retry layer: a second one inside botocore would multiply attempts and hide them.
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=10,
            read_timeout=60,
            user_agent_extra=f"cfn-autofix/{__version__}",
            # Bucket-in-hostname addressing cannot work against 127.0.0.1 or most emulators.
            s3={"addressing_style": "path"} if target.endpoint_url else None,
        )

    # -- plumbing -----------------------------------------------------------------------------

    def client(self, service: str) -> Any:
        """The (cached) boto3 client for a service; tests attach botocore Stubbers to it."""
        with self._lock:  # boto3 client creation is not thread-safe
            if service not in self._clients:
                self._clients[service] = self._session.client(
                    service, endpoint_url=self.target.endpoint_url, config=self._boto_config
                )
            return self._clients[service]

    def _retrying(self, operation: str, fn: Callable[[], T], *, secrets: Iterable[str] = ()) -> T:
        self.redactor.add(secrets)
        scrub = self.redactor.text

        def log_retry(state: RetryCallState) -> None:
            exc = state.outcome.exception() if state.outcome else None
            log.warning(
                "aws_retry",
                operation=operation,
                attempt=state.attempt_number,
                error=scrub(error_summary(exc)) if exc else "",
                wait_s=round(state.next_action.sleep, 3) if state.next_action else 0.0,
            )

        retryer = Retrying(
            stop=stop_after_attempt(self.retry.max_attempts) | stop_before_delay(self.retry.max_wait_s),
            wait=self.retry.wait(),
            retry=retry_if_exception(is_retryable),
            before_sleep=log_retry,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retryer(fn)
        except ClientError as exc:
            raise self._translate(operation, exc) from exc
        except (NoCredentialsError, PartialCredentialsError) as exc:
            raise AwsCredentialsMissing(
                f"no AWS credentials found for {operation} (set a profile, environment keys or a role)",
                operation=operation,
                code=type(exc).__name__,
            ) from exc
        except CONNECTION_ERRORS as exc:
            raise AwsError(
                f"{operation}: cannot reach the endpoint after retries ({scrub(str(exc))})",
                operation=operation,
                code=type(exc).__name__,
                retryable=True,
            ) from exc
        except BotoCoreError as exc:
            raise AwsError(f"{operation}: {scrub(str(exc))}", operation=operation, code=type(exc).__name__) from exc
        except ResponseParserError as exc:
            raise AwsError(
                f"{operation}: the endpoint kept answering with something that is not an API response",
                operation=operation,
                code="ResponseParserError",
                retryable=True,
            ) from exc

    def _translate(self, operation: str, exc: ClientError) -> AwsError:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = self.redactor.text(str(error.get("Message", "")))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0) or None
        kwargs = {"operation": operation, "code": code, "status_code": status}
        if is_retryable(exc):
            return AwsError(
                f"{operation} still failing after {self.retry.max_attempts} attempts or {self.retry.max_wait_s:g}s: {code}: {message}",
                retryable=True,
                **kwargs,
            )
        if code in CREDENTIAL_ERROR_CODES:
            return AwsCredentialsMissing(f"AWS rejected the credentials ({code}: {message})", **kwargs)
        if code == "AlreadyExistsException":
            return StackAlreadyExists(message or f"{operation}: stack already exists", **kwargs)
        if code == "ValidationError":
            if operation == "ValidateTemplate":
                return TemplateRejected(f"CloudFormation rejected the template: {message}", **kwargs)
            if "does not exist" in message:
                return StackNotFound(message, **kwargs)
            if "No updates are to be performed" in message:
                return NoUpdatesToPerform(message, **kwargs)
            if "can not be updated" in message or "cannot be updated" in message:
                return StackNotUpdatable(message, **kwargs)
            if any(marker in message for marker in _TEMPLATE_ERROR_MARKERS):
                return TemplateRejected(f"CloudFormation rejected the template: {message}", **kwargs)
        if code == "InsufficientCapabilitiesException":
            return AwsError(f"{operation}: missing capabilities: {message}", **kwargs)
        return AwsError(f"{operation} failed: {code}: {message}", **kwargs)

    def _call(self, service: str, operation: str, *, secrets: Iterable[str] = (), **kwargs: Any) -> dict[str, Any]:
        client = self.client(service)
        method = getattr(client, operation)
        api_name = client.meta.method_to_api_mapping.get(operation, operation)
        return self._retrying(api_name, lambda: method(**kwargs), secrets=secrets)

    # -- identity ------------------------------------------------------------------------------

    def caller_identity(self) -> dict[str, str]:
        """STS GetCallerIdentity: {"Account", "Arn", "UserId"} (cached for the session)."""
        if self._identity is None:
            answer = self._call("sts", "get_caller_identity")
            self._identity = {key: str(answer[key]) for key in ("Account", "Arn", "UserId") if key in answer}
        return dict(self._identity)

    @property
    def account_id(self) -> str:
        return self.target.account_id or self.caller_identity()["Account"]

    def assume_role(self, role_arn: str, session_name: str = "cfn-autofix") -> dict[str, str]:
        """STS AssumeRole; returns boto3-style credential keys (never logged)."""
        answer = self._call("sts", "assume_role", RoleArn=role_arn, RoleSessionName=session_name[:64])
        creds = answer["Credentials"]
        log.info("role_assumed", role_arn=role_arn)
        return {
            "aws_access_key_id": creds["AccessKeyId"],
            "aws_secret_access_key": creds["SecretAccessKey"],
            "aws_session_token": creds["SessionToken"],
        }

    # -- templates ------------------------------------------------------------------------------

    def _template_args(self, stack_name: str, template: str) -> dict[str, str]:
        if _is_url(template):
            return {"TemplateURL": template}
        data = template.encode("utf-8")
        if len(data) <= TEMPLATE_BODY_LIMIT:
            return {"TemplateBody": template}
        digest = hashlib.sha256(data).hexdigest()[:16]
        return {"TemplateURL": self.upload_template(self.template_bucket(), f"{stack_name}/{digest}.template", template)}

    def validate_template(self, template: str) -> dict[str, Any]:
        """ValidateTemplate (body or URL; large bodies go via S3); raises TemplateRejected when invalid."""
        answer = self._call("cloudformation", "validate_template", **self._template_args("validate", template))
        answer.pop("ResponseMetadata", None)
        return answer

    # -- stacks ---------------------------------------------------------------------------------

    def _stack_args(
        self,
        name: str,
        template: str,
        parameters: Mapping[str, Any] | None,
        capabilities: Iterable[str],
        tags: Mapping[str, str] | None,
    ) -> dict[str, Any]:
        args: dict[str, Any] = {"StackName": name, **self._template_args(name, template)}
        if parameters:
            args["Parameters"] = [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in parameters.items()]
        if capabilities:
            args["Capabilities"] = list(capabilities)
        if tags:
            args["Tags"] = [{"Key": k, "Value": str(v)} for k, v in tags.items()]
        return args

    def create_stack(
        self,
        name: str,
        template: str,
        *,
        parameters: Mapping[str, Any] | None = None,
        capabilities: Iterable[str] = (),
        tags: Mapping[str, str] | None = None,
        disable_rollback: bool = True,
        noecho: Iterable[str] = (),
    ) -> str:
        """CreateStack from a body (staged in S3 when over 51,200 bytes) or a TemplateURL; returns the StackId.

        `noecho` names parameters whose values must never reach a log line or an error message.
        """
        return self._send_stack("create_stack", name, template, parameters, capabilities, tags,
                                disable_rollback, noecho)

    def update_stack(
        self,
        name: str,
        template: str,
        *,
        parameters: Mapping[str, Any] | None = None,
        capabilities: Iterable[str] = (),
        tags: Mapping[str, str] | None = None,
        disable_rollback: bool = True,
        noecho: Iterable[str] = (),
    ) -> str:
        """UpdateStack in place (allowed from CREATE_FAILED when the create had DisableRollback); returns the StackId.

        Raises NoUpdatesToPerform when nothing changed and StackNotUpdatable for e.g. ROLLBACK_COMPLETE.
        """
        return self._send_stack("update_stack", name, template, parameters, capabilities, tags,
                                disable_rollback, noecho)

    def _send_stack(self, operation: str, name: str, template: str, parameters: Mapping[str, Any] | None,
                    capabilities: Iterable[str], tags: Mapping[str, str] | None, disable_rollback: bool,
                    noecho: Iterable[str]) -> str:
        """CreateStack or UpdateStack with the same arguments, logging and NoEcho redaction."""
        noecho = set(noecho)
        args = self._stack_args(name, template, parameters, capabilities, tags)
        args["DisableRollback"] = disable_rollback
        # One token for every retry of this request: CloudFormation then treats a retry of a request it
        # already accepted (a reset connection, a 5xx after the fact) as the same request.
        args["ClientRequestToken"] = f"cfn-autofix-{uuid.uuid4().hex}"
        log.info(
            "stack_create_requested" if operation == "create_stack" else "stack_update_requested",
            stack=name,
            parameters=redact_parameters(parameters, noecho),
            capabilities=list(capabilities),
            disable_rollback=disable_rollback,
            via_s3="TemplateURL" in args,
        )
        secrets = [str(v) for k, v in (parameters or {}).items() if k in noecho]
        return str(self._call("cloudformation", operation, secrets=secrets, **args)["StackId"])

    def describe_stack(self, name: str) -> dict[str, Any] | None:
        """DescribeStacks for one stack (name or id); None when it does not exist."""
        try:
            answer = self._call("cloudformation", "describe_stacks", StackName=name)
        except StackNotFound:
            return None
        stacks = answer.get("Stacks") or []
        if not stacks:
            return None
        stack = dict(stacks[0])
        if self.redactor:
            stack["StackStatusReason"] = self.redactor.text(str(stack.get("StackStatusReason") or ""))
            stack["Outputs"] = [{**o, "OutputValue": self.redactor.text(str(o.get("OutputValue", "")))}
                                for o in stack.get("Outputs") or []]
        return stack

    def stack_status(self, name: str) -> StackStatus:
        """The stack's current status; raises StackNotFound when there is no such stack."""
        stack = self.describe_stack(name)
        if stack is None:
            raise StackNotFound(f"Stack with id {name} does not exist", operation="DescribeStacks", code="ValidationError")
        return StackStatus(stack["StackStatus"])

    def delete_stack(self, name: str, *, run_id: str | None = None, tag_key: str = RUN_ID_TAG) -> str | None:
        """DeleteStack, only for a stack carrying the tool's run-id tag (and that run id when given).

        Returns the StackId (use it to watch the delete), or None when the stack does not exist.
        Raises errors.Refusal for a stack the tool did not create.
        """
        stack = self.describe_stack(name)
        if stack is None:
            return None
        tags = _tags_of(stack)
        if tag_key not in tags:
            raise Refusal(f"refusing to delete stack {name}: it does not carry the tag {tag_key}")
        if run_id is not None and tags[tag_key] != run_id:
            raise Refusal(f"refusing to delete stack {name}: its {tag_key} is {tags[tag_key]}, not {run_id}")
        stack_id = str(stack.get("StackId") or name)
        self._call("cloudformation", "delete_stack", StackName=stack_id)
        log.info("stack_delete_requested", stack=name, run_id=tags[tag_key])
        return stack_id

    def wait_deleted(self, name: str, timeout: float = 1800.0, poll_s: float = 2.0) -> StackStatus:
        """Poll until the stack is gone; returns DELETE_COMPLETE. Raises AwsError on DELETE_FAILED or timeout."""
        deadline = time.monotonic() + timeout
        while True:
            stack = self.describe_stack(name)
            if stack is None:
                return StackStatus.DELETE_COMPLETE
            status = StackStatus(stack["StackStatus"])
            if status is StackStatus.DELETE_COMPLETE:
                return status
            if status is StackStatus.DELETE_FAILED:
                reason = stack.get("StackStatusReason", "")
                raise AwsError(f"stack {name} could not be deleted: {reason}", operation="DeleteStack", code="DELETE_FAILED")
            if time.monotonic() >= deadline:
                raise AwsError(f"stack {name} still {status.value} after {timeout:g}s", operation="DeleteStack", code="Timeout")
            self._sleep(poll_s)

    # -- events ---------------------------------------------------------------------------------

    def iter_new_events(self, name: str, after_event_id: str | None = None) -> list[StackEvent]:
        """Events newer than `after_event_id` (all when None), oldest first.

        DescribeStackEvents pages run newest-first, so reading stops at the cursor and older pages are never
        fetched. A throttled page restarts the read from the top, which is safe for the same reason.
        """

        def read() -> tuple[list[dict[str, Any]], bool]:
            newer: list[dict[str, Any]] = []
            paginator = self.client("cloudformation").get_paginator("describe_stack_events")
            for page in paginator.paginate(StackName=name):
                for raw in page.get("StackEvents") or []:
                    if after_event_id is not None and raw.get("EventId") == after_event_id:
                        return newer, True
                    newer.append(raw)
            return newer, after_event_id is None

        raw_events, cursor_seen = self._retrying("DescribeStackEvents", read)
        if not cursor_seen:
            log.warning("event_cursor_not_found", stack=name, after_event_id=after_event_id)
        return [_event_from(raw, self.redactor) for raw in reversed(raw_events)]

    iter_stack_events = iter_new_events  # the name used in docs/CONTRACTS.md

    def latest_event_id(self, name: str) -> str | None:
        """The id of the newest event (the cursor to take before an UpdateStack); None when there is none."""
        answer = self._call("cloudformation", "describe_stack_events", StackName=name)
        events = answer.get("StackEvents") or []
        return str(events[0]["EventId"]) if events else None

    # -- sweep ----------------------------------------------------------------------------------

    def stack_resources(self, name: str) -> list[dict[str, Any]]:
        """ListStackResources, every page: [{"logical_id","physical_id","resource_type","status"}]."""

        def read() -> list[dict[str, Any]]:
            found = []
            for page in self.client("cloudformation").get_paginator("list_stack_resources").paginate(StackName=name):
                for res in page.get("StackResourceSummaries") or []:
                    found.append({
                        "logical_id": res.get("LogicalResourceId", ""),
                        "physical_id": res.get("PhysicalResourceId", ""),
                        "resource_type": res.get("ResourceType", ""),
                        "status": res.get("ResourceStatus", ""),
                    })
            return found

        return self._retrying("ListStackResources", read)

    def list_tagged_stacks(
        self,
        tag_key: str = RUN_ID_TAG,
        older_than: timedelta | datetime | None = None,
        *,
        tag_value: str | None = None,
    ) -> list[dict[str, Any]]:
        """Live stacks carrying `tag_key` (optionally = `tag_value`), optionally created before a cut-off.

        Each item: {"stack_name", "stack_id", "status", "created", "tags"}.
        """
        cutoff: datetime | None = None
        if isinstance(older_than, timedelta):
            cutoff = datetime.now(timezone.utc) - older_than
        elif isinstance(older_than, datetime):
            cutoff = older_than if older_than.tzinfo else older_than.replace(tzinfo=timezone.utc)

        def read() -> list[dict[str, Any]]:
            found = []
            for page in self.client("cloudformation").get_paginator("describe_stacks").paginate():
                for stack in page.get("Stacks") or []:
                    tags = _tags_of(stack)
                    if tag_key not in tags or (tag_value is not None and tags[tag_key] != tag_value):
                        continue
                    if stack.get("StackStatus") == StackStatus.DELETE_COMPLETE.value:
                        continue
                    created = stack.get("CreationTime")
                    if cutoff is not None and isinstance(created, datetime):
                        aware = created if created.tzinfo else created.replace(tzinfo=timezone.utc)
                        if aware >= cutoff:
                            continue
                    found.append(
                        {
                            "stack_name": stack["StackName"],
                            "stack_id": stack.get("StackId"),
                            "status": StackStatus(stack["StackStatus"]),
                            "created": created,
                            "tags": tags,
                        }
                    )
            return found

        return self._retrying("DescribeStacks", read)

    list_stacks_with_tag = list_tagged_stacks  # the name used in docs/CONTRACTS.md

