"""The one account guard: a target that can reach a real account is identity-checked and allow-listed before any write."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import structlog

from orchestrator.errors import Refusal

log = structlog.get_logger(__name__)

ACTIONS = ("deploy", "verify", "sweep")
# Names that always mean this machine (RFC 6761 reserves "localhost" and its subdomains).
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
_AWS_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".api.aws")


def _host(url: str | None) -> str:
    try:
        return (urlsplit(url or "").hostname or "").rstrip(".").lower()
    except ValueError:
        return ""


def endpoint_is_loopback(url: str | None) -> bool:
    """True only for a literal loopback address or a localhost name: a DNS name is never trusted to stay local."""
    host = _host(url)
    if not host:
        return False
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _normal(url: str) -> str:
    return url.strip().rstrip("/").lower()


@dataclass(frozen=True)
class Guard:
    """Who may be written to: `allowed_accounts` (12-digit ids) and the endpoints declared to be emulators.

    `action` names the command in refusal texts ("refusing to sweep: ...").
    """

    action: str = "deploy"
    allowed_accounts: tuple[str, ...] = ()
    emulator_endpoints: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, cfg: Any, action: str = "deploy", *, allowed: Iterable[str] | None = None) -> Guard:
        aws = getattr(cfg, "aws", None)
        accounts = allowed if allowed is not None else getattr(aws, "allowed_accounts", ()) or ()
        emulators = getattr(aws, "emulator_endpoints", ()) or ()
        return cls(action=action, allowed_accounts=tuple(str(a) for a in accounts),
                   emulator_endpoints=tuple(str(e) for e in emulators))

    def applies(self, kind: str, endpoint_url: str | None) -> bool:
        """Whether a target of this kind at this URL can reach a real account (everything but local emulators)."""
        if kind == "embedded":
            return False
        if kind == "aws":
            return True
        if not (endpoint_url or "").lower().startswith(("http://", "https://")):
            return False  # no URL or not HTTP: bad input, rejected when the target is opened, before any call
        if endpoint_is_loopback(endpoint_url):
            return False
        declared = {_normal(e) for e in self.emulator_endpoints}
        return not (endpoint_url and _normal(endpoint_url) in declared)

    def refuse_without_network(self, kind: str, endpoint_url: str | None) -> None:
        """An empty allow-list can only refuse: do so before any network call."""
        if not self.allowed_accounts:
            if kind == "aws":
                where, hint = "real AWS", ""
            else:
                where = f"{endpoint_url} (not a loopback address, so treated as AWS)"
                hint = ", or declare the endpoint an emulator (--emulator, [aws] emulator_endpoints)"
            raise Refusal(f"refusing to {self.action}: [aws] allowed_accounts is empty, so nothing may be written "
                          f"to {where}; list the sandbox account ids{hint}")

    def check(self, session: Any) -> str:
        """STS GetCallerIdentity, then the allow-list; returns the account id or raises Refusal (exit 3)."""
        from orchestrator.aws.session import AwsCredentialsMissing, AwsError

        self.refuse_without_network(session.target.kind, session.target.endpoint_url)
        try:
            identity = session.caller_identity()
        except AwsCredentialsMissing as exc:
            raise Refusal(f"refusing to {self.action}: no usable AWS credentials ({exc.message})") from exc
        except AwsError as exc:
            raise Refusal(f"refusing to {self.action}: cannot confirm which account the credentials belong to "
                          f"({exc.message})") from exc
        account = str(identity.get("Account", ""))
        allowed = list(self.allowed_accounts)
        if account not in allowed:
            shown = "[" + ", ".join(allowed) + "]"
            raise Refusal(f"refusing to {self.action}: account {account} is not in [aws] allowed_accounts {shown}")
        log.info("sandbox_account_allowed", account_id=account, action=self.action)
        return account


def identity_target(target: Any) -> Any:
    """The target STS is asked through: AWS's own STS when the endpoint is an AWS service host
    (a CloudFormation URL does not answer STS), else the endpoint itself (an emulator answers for its accounts)."""
    host = _host(getattr(target, "endpoint_url", None))
    if host.endswith(_AWS_SUFFIXES):
        return replace(target, endpoint_url=None)
    return target


def guard_target(target: Any, guard: Guard, *, retry: Any = None) -> str | None:
    """Run the guard for an opened target when it applies; returns the confirmed account id (None: no guard needed)."""
    if not guard.applies(target.kind, target.endpoint_url):
        return None
    guard.refuse_without_network(target.kind, target.endpoint_url)
    from orchestrator.aws.session import AwsSession  # the boto3 boundary

    return guard.check(AwsSession(identity_target(target), retry=retry))
