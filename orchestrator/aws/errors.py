"""Typed AWS errors and the one retry policy: which failures are worth another try, and how long to wait."""

from __future__ import annotations

from dataclasses import dataclass

from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError
from tenacity import RetryCallState, wait_random_exponential

from orchestrator.config import Config
from orchestrator.errors import AutofixError, BadInput, Refusal

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestLimitExceeded",
        "TooManyRequestsException",
        "RequestThrottled",
        "RequestThrottledException",
        "SlowDown",
    }
)
SERVER_ERROR_CODES = frozenset({"InternalFailure", "InternalError", "InternalServerError", "ServiceUnavailable"})
CONNECTION_ERRORS = (EndpointConnectionError, ConnectionClosedError, ReadTimeoutError, ConnectTimeoutError)
CREDENTIAL_ERROR_CODES = frozenset(
    {
        "ExpiredToken",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "UnrecognizedClientException",
        "SignatureDoesNotMatch",
        "AuthFailure",
        "InvalidAccessKeyId",
    }
)
_TEMPLATE_ERROR_MARKERS = (
    "Template format error",
    "Template error",
    "Unresolved resource dependencies",
    "Invalid template",
    "Parameters: [",
    "Parameter validation failed",
)


class AwsError(AutofixError):
    """An AWS call failed for a reason retrying does not cure (or retries ran out)."""

    def __init__(
        self,
        message: str,
        *,
        operation: str | None = None,
        code: str | None = None,
        status_code: int | None = None,
        retryable: bool = False,
    ):
        self.message = message
        self.operation = operation
        self.code = code
        self.status_code = status_code
        self.retryable = retryable
        super().__init__(message)


class AwsCredentialsMissing(AwsError, Refusal):
    """No credentials, an unknown profile, or credentials AWS rejects (exit 3)."""

    exit_code = 3


class StackNotFound(AwsError):
    """The stack does not exist (or no longer exists)."""


class StackAlreadyExists(AwsError):
    """CreateStack for a name that is already taken."""


class NoUpdatesToPerform(AwsError):
    """UpdateStack with a template and parameters identical to the deployed ones."""


class StackNotUpdatable(AwsError):
    """UpdateStack on a stack whose state forbids it (e.g. ROLLBACK_COMPLETE: delete and create instead)."""


class TemplateRejected(AwsError, BadInput):
    """CloudFormation rejected the template or its parameters as invalid (exit 2)."""

    exit_code = 2


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds for the tenacity retry layer: attempts AND total time; backoff is exponential with full jitter."""

    max_attempts: int = 6
    max_wait_s: float = 120.0
    base_s: float = 0.5
    cap_s: float = 20.0

    @classmethod
    def from_config(cls, config: Config) -> RetryPolicy:
        """The `[retry]` section of the configuration."""
        section = config.retry
        return cls(max_attempts=section.max_attempts, max_wait_s=section.max_wait_s, base_s=section.base_s,
                   cap_s=section.cap_s)

    def wait(self) -> wait_random_exponential:
        """The tenacity wait strategy of this policy: every backoff in the tool goes through it."""
        return wait_random_exponential(multiplier=self.base_s, max=self.cap_s)

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before try `attempt` + 1 (attempt counts from 1), computed by tenacity."""
        state = RetryCallState(retry_object=None, fn=None, args=(), kwargs={})
        state.attempt_number = attempt
        return float(self.wait()(state))


def is_retryable(exc: BaseException) -> bool:
    """Throttling, 5xx and connection failures are worth another try; nothing else is."""
    if isinstance(exc, CONNECTION_ERRORS):
        return True
    if isinstance(exc, ResponseParserError):
        # An HTML error page instead of an API answer (a proxy's or server's 5xx): as transient as a 5xx.
        return True
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = str(error.get("Message", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        return code in THROTTLING_CODES or "Rate exceeded" in message or status >= 500 or code in SERVER_ERROR_CODES
    return False


def error_summary(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Unknown')}: {error.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"
