"""Generated parameter values: $[autobucket], $[genaz_N], $[genpass_N], $[random_N], $[ssm:/path] ... and taskcat's spellings.

A parameter value may contain `$[NAME]` tokens; each is replaced before the stack is created, on every
target. Our names and taskcat's `$[taskcat_*]` names are both accepted, so a `.taskcat.yml`'s
parameters work unchanged. An unknown token is bad input, never passed through to CloudFormation.
"""

from __future__ import annotations

import re
import secrets
import string
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

from orchestrator.errors import BadInput

TOKEN = re.compile(r"\$\[([^\[\]]+)\]")
AUTO = "auto"
# taskcat's special-character alphabet without the characters RDS refuses in a master password (/ @ " space).
_SPECIAL = "!#$&*-_%+="


@dataclass
class ValueContext:
    """What generated values draw from; the callables are only called for tokens that need them."""

    region: str
    account: Callable[[], str]
    zones: Callable[[], list[str]]
    ssm: Callable[[str], str | None]
    autobucket: Callable[[], str]
    sandbox: bool = False
    project: str = ""
    test: str = ""
    generated: list[dict] = field(default_factory=list)


def _password(length: int, kind: str) -> str:
    if not 4 <= length <= 99:
        raise BadInput(f"a generated password needs 4 to 99 characters, not {length}")
    alphabet = string.ascii_letters + string.digits + (_SPECIAL if kind == "S" else "")
    while True:
        value = "".join(secrets.choice(alphabet) for _ in range(length))
        # Services demand mixed classes; redraw until every class (and a special one for S) is present.
        if (any(c.islower() for c in value) and any(c.isupper() for c in value) and any(c.isdigit() for c in value)
                and value[0].isalpha() and (kind != "S" or any(c in _SPECIAL for c in value))):
            return value


def _zones(ctx: ValueContext, count: int, name: str) -> list[str]:
    zones = ctx.zones()
    if count < 1 or count > len(zones):
        raise BadInput(f"$[{name}]: {ctx.region} has {len(zones)} availability zone(s), {count} asked for")
    return zones[:count]


def _ssm(ctx: ValueContext, path: str, name: str) -> str:
    value = ctx.ssm(path)
    if value is None:
        raise BadInput(f"$[{name}]: SSM parameter {path} does not exist in {ctx.region}")
    return value


def _generate(token: str, ctx: ValueContext, values: dict[str, str]) -> tuple[str, bool]:
    """The value of one token, and whether it is a secret (never reported)."""
    name = token.strip()
    bare = name[len("taskcat_"):] if name.lower().startswith("taskcat_") else name
    low = bare.lower()
    if low.startswith("ssm_") or low.startswith("ssm:"):
        return _ssm(ctx, bare[4:], name), False
    if low in ("autobucket", "getlicensebucket", "getmediabucket"):
        return ctx.autobucket(), False
    if low in ("region", "current_region"):
        return ctx.region, False
    if low in ("account", "account_id"):
        return ctx.account(), False
    if low in ("genuuid", "uuid"):
        return str(uuid.uuid4()), False
    if low == "random-string":
        return "".join(secrets.choice(string.ascii_lowercase) for _ in range(20)), False
    if low == "random-numbers":
        return "".join(secrets.choice(string.digits) for _ in range(20)), False
    if low == "getkeypair":
        if not ctx.sandbox:
            raise BadInput(f"$[{name}]: a key pair is created only on a sandbox; pass the key pair's name")
        return AUTO, False
    if low == "project_name":
        return ctx.project or "cfn-autofix", False
    if low == "test_name":
        return ctx.test or "default", False
    if low.startswith("getval_"):
        other = bare[len("getval_"):]
        if other not in values:
            raise BadInput(f"$[{name}]: parameter {other} has no value to copy")
        return values[other], False
    match = re.fullmatch(r"(genaz|getaz|gensingleaz|getsingleaz|random|genpass)_(\d{1,2})([as])?", low)
    if match:
        kind, count, suffix = match.group(1), int(match.group(2)), (match.group(3) or "").upper()
        if kind in ("genaz", "getaz"):  # taskcat reads both spellings as "N zones"
            return ",".join(_zones(ctx, count, name)), False
        if kind in ("gensingleaz", "getsingleaz"):
            return _zones(ctx, count, name)[-1], False
        if kind == "random":
            return "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(count)), False
        return _password(count, suffix or "A"), True
    raise BadInput(f"unknown generated value $[{name}]; see docs/fixtures.md for the names")


def expand(parameters: dict[str, str], ctx: ValueContext) -> dict[str, str]:
    """Every parameter with its $[...] tokens replaced; records what was generated in ctx.generated."""
    out = dict(parameters)
    # A $[getval_X] copies X's final value, so those come after every other parameter.
    for key in sorted(parameters, key=lambda k: "getval_" in parameters[k].lower()):
        value = parameters[key]
        if "$[" not in value:
            continue
        secret = False

        def replace(match: re.Match, key: str = key) -> str:
            nonlocal secret
            generated, hidden = _generate(match.group(1), ctx, out)
            secret = secret or hidden
            return generated

        try:
            out[key] = TOKEN.sub(replace, value)
        except BadInput as exc:
            raise BadInput(f"parameter {key}: {exc.message}") from None
        ctx.generated.append({"parameter": key, "expression": value, "value": "****" if secret else out[key]})
    return out


def has_tokens(parameters: dict[str, Any]) -> bool:
    return any(isinstance(v, str) and TOKEN.search(v) for v in parameters.values())
