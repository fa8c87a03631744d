"""Privilege sets of IAM identity and key policy documents, and the privilege delta a repair makes."""

from __future__ import annotations

import json
from fnmatch import fnmatchcase
from functools import cache
import importlib.util
from pathlib import Path
from typing import Any, Iterable

from orchestrator.model import PrivilegeDelta

# (effect, principal, action, resource); actions lower-case because IAM compares them case-insensitively.
Privilege = tuple[str, str, str, str]

LOGS_CONTEXT_KEY = "kms:encryptioncontext:aws:logs:arn"
# What CloudWatch Logs needs on a key (encrypt-log-data-kms page); a grant limited to these is "required".
LOGS_REQUIRED_ACTIONS = ("kms:encrypt*", "kms:decrypt*", "kms:reencrypt*", "kms:generatedatakey*", "kms:describe*")


@cache
def action_catalog() -> dict[str, tuple[str, ...]]:
    """Service prefix -> its known actions (lower case), from the IAM data cfn-lint ships."""
    # Found without importing cfn-lint: its package __init__ loads all of cfn-lint (about a second).
    found = importlib.util.find_spec("cfnlint")
    if found is None or not found.submodule_search_locations:
        raise RuntimeError("cfn-lint is not installed: its IAM action data is needed")
    spec = Path(next(iter(found.submodule_search_locations))) / "data" / "AdditionalSpecs" / "Policies.json"
    data = json.loads(spec.read_text(encoding="utf-8"))
    return {
        service.lower(): tuple(sorted(action.lower() for action in info.get("Actions", {})))
        for service, info in data.items()
    }


def expand_action(pattern: str) -> tuple[str, ...]:
    """`kms:Describe*` -> every kms action it names; `*`, unknown services and unmatched patterns stay as written."""
    pattern = pattern.lower()
    if pattern == "*" or ":" not in pattern:
        return (pattern,)
    service, name = pattern.split(":", 1)
    if not any(ch in name for ch in "*?"):
        return (pattern,)
    known = action_catalog().get(service)
    if not known:
        return (pattern,)
    matched = [action for action in known if fnmatchcase(action, name)]
    return tuple(f"{service}:{action}" for action in matched) or (pattern,)


def _text(value: Any) -> str:
    # Intrinsic functions are compared by their canonical JSON: two identical Fn::Sub forms are one privilege.
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _principals(statement: dict, default: str) -> list[str]:
    for key, prefix in (("Principal", ""), ("NotPrincipal", "not:")):
        if key not in statement:
            continue
        principal = statement[key]
        if principal == "*":
            return [prefix + "*"]
        if isinstance(principal, dict) and not any(k.startswith("Fn::") or k == "Ref" for k in principal):
            return [
                f"{prefix}{kind}:{_text(item)}"
                for kind, values in sorted(principal.items())
                for item in _as_list(values)
            ]
        return [prefix + _text(principal)]
    return [default]


def statements(document: Any) -> list[dict]:
    """The statements of a policy document (a single statement object counts as a list of one)."""
    if not isinstance(document, dict):
        return []
    return [s for s in _as_list(document.get("Statement")) if isinstance(s, dict)]


def privilege_set(policy_documents: Iterable[dict], principal: str) -> set[Privilege]:
    """Every (effect, principal, action, resource) the documents state.

    Statements without a Principal (identity policies) are attributed to `principal`; key and
    resource policies name their own. NotAction/NotResource are kept as literal markers so they
    only ever match themselves, which errs towards reporting a change rather than hiding one.
    """
    result: set[Privilege] = set()
    for document in policy_documents:
        for statement in statements(document):
            effect = str(statement.get("Effect", "Allow"))
            if "NotAction" in statement:
                actions = ["notaction:" + ",".join(sorted(_text(a).lower() for a in _as_list(statement["NotAction"])))]
            else:
                actions = [a for item in _as_list(statement.get("Action")) for a in expand_action(_text(item))]
            if "NotResource" in statement:
                targets = ["notresource:" + ",".join(sorted(_text(r) for r in _as_list(statement["NotResource"])))]
            else:
                targets = [_text(r) for r in _as_list(statement.get("Resource", "*"))] or ["*"]
            for who in _principals(statement, principal):
                for action in actions:
                    for target in targets:
                        result.add((effect, who, action, target))
    return result


def _covers(wide: Privilege, narrow: Privilege) -> bool:
    if wide[0] != narrow[0] or wide[1] not in (narrow[1], "*"):
        return False
    if not fnmatchcase(narrow[2], wide[2]):
        return False
    return wide[3] == "*" or wide[3] == narrow[3] or fnmatchcase(narrow[3], wide[3])


def format_privilege(privilege: Privilege) -> str:
    effect, principal, action, resource = privilege
    return f"{effect} {principal} {action} {resource}"


def privilege_delta(before: set[Privilege], after: set[Privilege], *, required: Iterable[Privilege] = frozenset()) -> PrivilegeDelta:
    """What `after` adds to and removes from `before`.

    `widening` is True when an added Allow is not covered by anything `before` already granted,
    or a Deny `before` had is gone and nothing in `after` denies it still.

    `required` lists privileges the failure itself demands and that are scoped tightly enough to
    be granted without asking: a key-policy statement for the CloudWatch Logs service principal
    whose `kms:EncryptionContext:aws:logs:arn` condition limits it to log groups of the stack's own
    account and region (see `required_logs_grant`). Those are still listed in `added`, so the report
    shows them, but they do not make the delta `widening`; `allow_widening=False` therefore accepts
    the logs key-policy repair and rejects any other grant that is new.
    """
    required = set(required)
    added = after - before
    removed = before - after
    widening = any(
        priv[0] == "Allow" and priv not in required and not any(_covers(old, priv) for old in before)
        for priv in added
    ) or any(
        priv[0] == "Deny" and not any(_covers(new, priv) for new in after)
        for priv in removed
    )
    return PrivilegeDelta(
        added=sorted(format_privilege(p) for p in added),
        removed=sorted(format_privilege(p) for p in removed),
        widening=widening,
    )


def _mentions(value: Any, *texts: str) -> bool:
    flat = _text(value)
    return all(text in flat for text in texts)


def required_logs_grant(statement: dict, *, region: str | None = None, account_id: str | None = None) -> bool:
    """True for an Allow to the regional logs service principal, limited to the logs actions and to log groups
    of this account and region by the `kms:EncryptionContext:aws:logs:arn` condition.

    The scope is accepted written with pseudo parameters (`${AWS::Region}:${AWS::AccountId}`) or, when
    `region` and `account_id` are given, with those literal values.
    """
    if statement.get("Effect") != "Allow" or "NotAction" in statement or "NotPrincipal" in statement:
        return False
    principal = statement.get("Principal")
    services = _as_list(principal.get("Service")) if isinstance(principal, dict) else []
    if len(services) != 1 or set(principal) != {"Service"}:
        return False
    service = _text(services[0])
    regional = "logs.${AWS::Region}.amazonaws.com" in service or (region and service == f"logs.{region}.amazonaws.com")
    if not regional:
        return False
    actions = [_text(a).lower() for a in _as_list(statement.get("Action"))]
    if not actions or not all(
        any(fnmatchcase(a, allowed) for allowed in LOGS_REQUIRED_ACTIONS) for a in actions
    ):
        return False
    for operator, conditions in (statement.get("Condition") or {}).items():
        if operator not in ("ArnLike", "ArnEquals", "StringLike", "StringEquals"):
            continue
        for key, value in (conditions or {}).items():
            if key.lower() != LOGS_CONTEXT_KEY:
                continue
            values = _as_list(value)
            scoped = all(
                _mentions(v, ":logs:${AWS::Region}:${AWS::AccountId}:")
                or (region and account_id and _mentions(v, f":logs:{region}:{account_id}:"))
                for v in values
            )
            if values and scoped:
                return True
    return False
