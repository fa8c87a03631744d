"""Pure IAM/KMS policy logic shared by the sandbox, forecast and repairs: managed-policy catalog and key-policy checks."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from functools import lru_cache
from importlib import resources
from typing import Any


# Managed policies AWS retired in favour of a documented successor: data with sources (orchestrator/data).
@lru_cache(maxsize=1)
def rename_table() -> dict[str, dict[str, str]]:
    """old name -> {"new", "deprecated", "source"} from orchestrator/data/managed_policy_renames.json."""
    from importlib import resources

    data = json.loads(resources.files("orchestrator.data").joinpath("managed_policy_renames.json").read_text("utf-8"))
    return {item["old"]: item for item in data["renames"]}


_PARTITIONS = ("aws", "aws-cn", "aws-us-gov", "aws-iso", "aws-iso-b")
_MANAGED_ARN = re.compile(r"^arn:(?P<partition>[a-z-]+):iam::aws:policy(?P<path>/(?:[^/]+/)*)(?P<name>[^/]+)$")

# The concrete KMS operations CloudWatch Logs performs with a customer key; the documented key-policy
# statement grants them as kms:Encrypt*, kms:Decrypt*, kms:ReEncrypt*, kms:GenerateDataKey*, kms:Describe*.
LOGS_KMS_ACTIONS = (
    "kms:Encrypt",
    "kms:Decrypt",
    "kms:ReEncryptFrom",
    "kms:ReEncryptTo",
    "kms:GenerateDataKey",
    "kms:DescribeKey",
)
LOGS_CONTEXT_KEY = "kms:encryptioncontext:aws:logs:arn"


class _Catalog(Mapping):
    """The managed-policy catalog, name -> policy, each policy parsed on first use: a forecast looks up a few
    of ~1,600 names, and parsing all 3.6 MB of them is a tenth of its whole process."""

    def __init__(self, raw: dict[str, str]):
        self._raw = raw
        self._parsed: dict[str, dict[str, Any]] = {}

    def __getitem__(self, name: str) -> dict[str, Any]:
        found = self._parsed.get(name)
        if found is None:
            found = self._parsed[name] = json.loads(self._raw[name])
        return found

    def __contains__(self, name: object) -> bool:
        return name in self._raw

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)


def _entries(text: str) -> dict[str, str] | None:
    """name -> its policy's JSON text, when the file has tools/gen_managed_policies.py's form (one policy a
    line); None for any other form."""
    lines = text.split("\n")
    if lines[0] != "{" or lines[-2:] != ["}", ""]:
        return None
    raw = {}
    for line in lines[1:-2]:
        line = line.removesuffix(",")
        cut = line.find('":{')
        if not line.startswith('"') or cut < 0 or not line.endswith("}"):
            return None
        raw[json.loads(line[:cut + 1])] = line[cut + 2:]
    return raw


@lru_cache(maxsize=1)
def _catalog() -> Mapping[str, dict[str, Any]]:
    # A copy of moto's catalog (tools/gen_managed_policies.py; a test keeps them equal): importing moto for
    # it would cost the forecast a second and pull in boto3.
    text = resources.files("orchestrator.data").joinpath("managed_policies.json").read_text(encoding="utf-8")
    raw = _entries(text)
    return _Catalog(raw) if raw is not None else json.loads(text)


def managed_policy_catalog() -> Mapping[str, dict[str, Any]]:
    """The AWS managed-policy catalog (moto's), name -> {Path, Document, DefaultVersionId, CreateDate, ...}; each
    policy parsed once, on first use."""
    return _catalog()


def managed_policy(arn: str) -> dict | None:
    """The AWS managed policy at exactly this ARN: {"arn","path","name","document"}, or None."""
    match = _MANAGED_ARN.match(arn or "")
    if not match or match["partition"] not in _PARTITIONS:
        return None
    data = _catalog().get(match["name"])
    if data is None or data.get("Path", "/") != match["path"]:
        return None
    return {"arn": arn, "path": match["path"], "name": match["name"], "document": data["Document"]}


def find_managed_policy_by_name(name: str, partition: str = "aws") -> list[str]:
    """ARNs of AWS managed policies with this name (at whatever path the catalog has them)."""
    catalog = _catalog()
    names = [name] if name in catalog else [n for n in catalog if n.lower() == name.lower()]
    return [f"arn:{partition}:iam::aws:policy{catalog[n].get('Path', '/')}{n}" for n in names]


def known_rename(name: str) -> str | None:
    """The current name of a managed policy AWS renamed or retired, e.g. AWSConfigRole -> AWS_ConfigRole."""
    item = rename_table().get(name)
    new = item["new"] if item else None
    return new if new and new in _catalog() else None


# ---------------------------------------------------------------------------------------------- evaluation


def _as_list(value: Any) -> list:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _glob(pattern: str, value: str, *, case: bool = False) -> bool:
    if not isinstance(pattern, str):
        return False
    if not case:
        pattern, value = pattern.lower(), value.lower()
    return _glob_regex(pattern).fullmatch(value) is not None


@lru_cache(maxsize=4096)
def _glob_regex(pattern: str) -> re.Pattern:
    # IAM wildcards are * and ?; fnmatch's [..] classes must stay literal.
    return re.compile("".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern), flags=re.S)


def _statements(policy: dict | str | None) -> list[dict]:
    if isinstance(policy, str):
        try:
            policy = json.loads(policy)
        except ValueError:
            return []
    if not isinstance(policy, dict):
        return []
    return [s for s in _as_list(policy.get("Statement")) if isinstance(s, dict)]


def _action_matches(statement: dict, action: str) -> bool:
    if "NotAction" in statement:
        return not any(_glob(p, action) for p in _as_list(statement["NotAction"]))
    return any(_glob(p, action) for p in _as_list(statement.get("Action")))


def _principal_matches(statement: dict, service: str) -> bool:
    principal = statement.get("Principal")
    if principal == "*":
        return True
    if not isinstance(principal, dict):
        return False
    if "*" in _as_list(principal.get("AWS")):
        return True
    return service in _as_list(principal.get("Service"))


def _condition_value_matches(operator: str, patterns: list, value: str) -> bool:
    op = operator.split(":")[-1].removesuffix("IfExists")
    negated = "Not" in op
    base = op.replace("Not", "")
    if base in ("ArnLike", "StringLike"):
        hit = any(_glob(p, value, case=True) for p in patterns)
    elif base in ("ArnEquals", "StringEquals"):
        hit = value in patterns
    elif base == "StringEqualsIgnoreCase":
        hit = value.lower() in [str(p).lower() for p in patterns]
    else:
        # Operators that cannot apply to a string context value never match it.
        return False
    return not hit if negated else hit


def _conditions_hold(statement: dict, context: dict[str, str]) -> tuple[bool, str]:
    for operator, block in (statement.get("Condition") or {}).items():
        if not isinstance(block, dict):
            continue
        for key, patterns in block.items():
            value = context.get(key.lower())
            if value is None:
                # Keys CloudWatch Logs does not send are not evaluated (no false alarms on unknown keys).
                continue
            if not _condition_value_matches(operator, _as_list(patterns), value):
                return False, f"condition {operator} {key} {_as_list(patterns)} does not match {value}"
    return True, ""


def _dns_suffix(partition: str) -> str:
    return "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"


def logs_can_use_key(
    key_policy: dict, *, region: str, account_id: str, log_group_arn: str, partition: str = "aws"
) -> tuple[bool, str]:
    """Whether CloudWatch Logs in `region` may use a KMS key with this policy for the given log group.

    As documented in "Encrypt log data in CloudWatch Logs using AWS KMS": an Allow statement (several may
    share the work) must name the regional service principal logs.<region>.amazonaws.com (or "*") for
    kms:Encrypt*, kms:Decrypt*, kms:ReEncrypt*, kms:GenerateDataKey*, kms:Describe*; a condition on
    kms:EncryptionContext:aws:logs:arn must match the log group's ARN. A matching Deny wins.
    Returns (allowed, explanation).
    """
    service = f"logs.{region}.{_dns_suffix(partition)}"
    context = {
        LOGS_CONTEXT_KEY: log_group_arn,
        "aws:sourcearn": log_group_arn,
        "aws:sourceaccount": account_id,
        "kms:calleraccount": account_id,
    }
    statements = _statements(key_policy)
    if not statements:
        return False, "the key policy has no statements"
    allowed: set[str] = set()
    condition_misses: list[str] = []
    wrong_principal: set[str] = set()
    for statement in statements:
        actions = [a for a in LOGS_KMS_ACTIONS if _action_matches(statement, a)]
        if not actions:
            continue
        if not _principal_matches(statement, service):
            for name in _as_list((statement.get("Principal") or {}).get("Service") if isinstance(statement.get("Principal"), dict) else None):
                if isinstance(name, str) and name.startswith("logs."):
                    wrong_principal.add(name)
            continue
        holds, why = _conditions_hold(statement, context)
        if statement.get("Effect") == "Deny":
            if holds:
                return False, f"a Deny statement ({statement.get('Sid', 'no Sid')}) blocks {service} from {', '.join(actions)}"
            continue
        if statement.get("Effect") != "Allow":
            continue
        if holds:
            allowed.update(actions)
        else:
            condition_misses.append(f"{statement.get('Sid', 'statement')}: {why}")
    missing = [a for a in LOGS_KMS_ACTIONS if a not in allowed]
    if not missing:
        return True, f"{service} is allowed {', '.join(LOGS_KMS_ACTIONS)} for {log_group_arn}"
    parts = [f"no Allow statement lets {service} use {', '.join(missing)} for {log_group_arn}"]
    if wrong_principal:
        parts.append(f"the policy names {', '.join(sorted(wrong_principal))} instead of the regional principal {service}")
    if condition_misses:
        parts.append("; ".join(condition_misses))
    return False, "; ".join(parts)


# Privilege sets and deltas live in orchestrator.iam.privilege (one implementation, with wildcard expansion);
# re-exported here for callers that reach for the policy module.
from orchestrator.iam.privilege import privilege_delta, privilege_set  # noqa: E402,F401


def allows_action(document: dict | str | None, action: str) -> bool:
    """Whether a policy document has an Allow statement for `action` (wildcards and NotAction read as IAM
    reads them; the statement's Resource is not narrowed here: a grant on any resource counts)."""
    return any(
        s.get("Effect") == "Allow" and _action_matches(s, action) for s in _statements(document)
    )


def managed_policy_allows(arn: str, action: str) -> bool:
    """Whether the AWS managed policy at `arn` (moto's catalog) allows `action`."""
    found = managed_policy(arn) if isinstance(arn, str) else None
    return bool(found) and allows_action(found["document"], action)


def grants(policy: Any, action: str) -> bool:
    """Whether `policy` allows `action`: a policy document (dict or JSON text) or an AWS managed policy ARN."""
    if isinstance(policy, str) and policy.startswith("arn:"):
        return managed_policy_allows(policy, action)
    return allows_action(policy, action)
