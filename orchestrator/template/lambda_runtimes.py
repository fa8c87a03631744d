"""Lambda runtime lifecycle (deprecation, create and update blocks) and the same-family successor of a runtime."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from orchestrator.errors import AutofixError
from orchestrator.template.cfnlint_seams import data_path

SOURCE_URL = "https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtimes.html"
# Families whose newer runtimes run the same code after a version bump; go1.x moved to the OS-only
# provided.al2023 runtime, which needs the code rebuilt as a `bootstrap` binary, so it has no safe successor.
_FAMILY = re.compile(r"^(?P<family>nodejs|python|java|dotnetcore|dotnet|ruby|provided)")
_NOTES = {
    "nodejs": "Node.js 18 and later ship the AWS SDK for JavaScript v3 only; code that requires 'aws-sdk' (v2) must bundle it.",
    "python": "Check third-party wheels built for the old Python version.",
    "java": "Recompile against the new Java version if the code uses removed APIs.",
    "dotnet": "Retarget the project to the new .NET version and rebuild.",
    "ruby": "Check gems with native extensions.",
    "provided": "The bootstrap binary must run on the newer Amazon Linux.",
}


@dataclass(frozen=True)
class Lifecycle:
    runtime: str
    deprecated: date | None
    create_block: date | None
    update_block: date | None


@lru_cache(maxsize=1)
def _table() -> dict[str, Lifecycle]:
    # cfn-lint maintains the lifecycle table from the Lambda runtimes page (its rules E2531/W2531 use it);
    # guarded like moto's internals: a cfn-lint without it is a clear error, not a KeyError deep inside.
    try:
        raw = json.loads(data_path("AdditionalSpecs", "LmbdRuntimeLifecycle.json").read_text("utf-8"))
    except (AutofixError, OSError, ValueError) as exc:
        raise AutofixError(f"cfn-lint's Lambda runtime lifecycle table is missing or unreadable ({exc}); "
                           "reinstall the pinned cfn-lint") from None

    def day(value: str | None) -> date | None:
        return date.fromisoformat(value) if value else None

    return {
        name: Lifecycle(name, day(v.get("deprecated")), day(v.get("create-block")), day(v.get("update-block")))
        for name, v in raw.items()
    }


def lifecycle(runtime: str) -> Lifecycle | None:
    return _table().get(runtime)


def family(runtime: str) -> str | None:
    match = _FAMILY.match(runtime or "")
    if not match:
        return None
    return "dotnet" if match["family"] == "dotnetcore" else match["family"]


def blocked_for_create(runtime: str, today: date) -> bool:
    item = lifecycle(runtime)
    return bool(item and item.create_block and item.create_block <= today)


def deprecated(runtime: str, today: date) -> bool:
    item = lifecycle(runtime)
    return bool(item and item.deprecated and item.deprecated <= today)


def _version(runtime: str) -> tuple:
    numbers = [int(n) for n in re.findall(r"\d+", runtime)]
    return (tuple(numbers), runtime)


def successor(runtime: str, today: date) -> tuple[str, str] | None:
    """(runtime, rationale): the oldest runtime of the same family that is not deprecated on `today` -- the
    smallest step for the code -- or None when the family has none (go1.x, unknown runtimes)."""
    fam = family(runtime)
    if fam is None:
        return None
    candidates = sorted(
        (item for item in _table().values()
         if family(item.runtime) == fam and not item.runtime.endswith("-edge")
         and not (item.deprecated and item.deprecated <= today)
         and not (item.create_block and item.create_block <= today)
         and _version(item.runtime) > _version(runtime)),
        key=lambda item: _version(item.runtime),
    )
    if fam == "java" and candidates:
        # java8.al2 is Java 8 on a newer OS: the closest step for java8.
        candidates.sort(key=lambda item: (item.runtime != f"{runtime}.al2", _version(item.runtime)))
    if not candidates:
        return None
    chosen = candidates[0].runtime
    until = candidates[0].deprecated
    rationale = (
        f"{runtime} is deprecated and Lambda refuses it for creating functions; {chosen} is the oldest runtime of "
        f"the same family ({fam}) still supported on {today.isoformat()}"
        + (f" (deprecation scheduled {until.isoformat()})" if until else "")
        + f", the smallest step for the code. {_NOTES.get(fam, '')} Source: {SOURCE_URL}"
    )
    return chosen, rationale.strip()
