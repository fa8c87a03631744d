"""What RDS offers for create, from cfn-lint's bundled RDS data: engines, engine versions (current and deprecated), instance classes.

cfn-lint generates these tables from RDS's DescribeDBEngineVersions and DescribeOrderableDBInstanceOptions
(its rules E3690/E3691 engine and version, W3690/W3691 deprecated versions, E3062 instance class per engine
version use them). They are read as data, never through an import of cfn-lint, and guarded like moto's
internals (orchestrator/template/cfnlint_seams.DATA_FILES): a cfn-lint without them is one clear error.
The sandbox's RDS rules use other data (dated retirements, moto's orderable options), so the forecast and
the sandbox stay independent.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from orchestrator.errors import AutofixError
from orchestrator.template.cfnlint_seams import data_path

SOURCE_URL = "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.VersionMgmt.html"
CLASS_SOURCE_URL = "https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.DBInstanceClass.Support.html"
_FOLDER = {"AWS::RDS::DBInstance": "aws_rds_dbinstance", "AWS::RDS::DBCluster": "aws_rds_dbcluster"}


def _read(folder: str, name: str) -> Any:
    try:
        return json.loads(data_path("schemas", "extensions", folder, name).read_text("utf-8"))
    except (AutofixError, OSError, ValueError) as exc:
        raise AutofixError(f"cfn-lint's RDS data {folder}/{name} is missing or unreadable ({exc}); "
                           "reinstall the pinned cfn-lint") from None


def _blocks(folder: str, name: str) -> list[tuple[dict, dict]]:
    """The (if, then) pairs of one of cfn-lint's allOf extension schemas."""
    raw = _read(folder, name)
    pairs = []
    blocks = (raw.get("allOf") or []) if isinstance(raw, dict) else []
    for block in blocks:
        if isinstance(block, dict) and isinstance(block.get("if"), dict):
            pairs.append((block["if"].get("properties") or {}, block.get("then") if isinstance(block.get("then"), dict) else {}))
    if not pairs:
        raise AutofixError(f"cfn-lint's RDS data {folder}/{name} has no rules; reinstall the pinned cfn-lint")
    return pairs


@dataclass(frozen=True)
class Engines:
    """One resource type's engines and, per engine, the versions RDS lists and those it no longer creates."""

    names: frozenset[str]
    versions: dict[str, frozenset[str]]
    deprecated: dict[str, frozenset[str]]

    def current(self, engine: str) -> frozenset[str]:
        return self.versions.get(engine, frozenset()) - self.deprecated.get(engine, frozenset())


@lru_cache(maxsize=2)
def engines(resource_type: str) -> Engines | None:
    """Engines and versions of AWS::RDS::DBInstance or AWS::RDS::DBCluster; None for another type."""
    folder = _FOLDER.get(resource_type)
    if folder is None:
        return None
    names: set[str] = set()
    versions: dict[str, frozenset[str]] = {}
    for cond, then in _blocks(folder, "engine_version.json"):
        engine = cond.get("Engine") or {}
        if "const" not in engine:  # the block listing every engine
            names |= set(((then.get("properties") or {}).get("Engine") or {}).get("enum") or [])
            continue
        listed = ((then.get("properties") or {}).get("EngineVersion") or {}).get("enum") or []
        versions[str(engine["const"])] = frozenset(str(v) for v in listed)
    deprecated = {
        str((cond.get("Engine") or {}).get("const")): frozenset(str(v) for v in (cond.get("EngineVersion") or {}).get("enum") or [])
        for cond, _ in _blocks(folder, "engine_version_deprecated.json")
    }
    if not names:
        raise AutofixError(f"cfn-lint's RDS data {folder}/engine_version.json lists no engines; reinstall the pinned cfn-lint")
    return Engines(frozenset(names), versions, deprecated)


@lru_cache(maxsize=1)
def _class_table() -> dict[str, list[tuple[re.Pattern, frozenset[str]]]]:
    """Per engine: (version pattern, instance classes RDS offers for the versions it matches)."""
    table: dict[str, list[tuple[re.Pattern, frozenset[str]]]] = {}
    for cond, then in _blocks("aws_rds_dbinstance", "db_instance_class.json"):
        engine = (cond.get("Engine") or {}).get("const")
        pattern = (cond.get("EngineVersion") or {}).get("pattern")
        classes = ((then.get("properties") or {}).get("DBInstanceClass") or {}).get("enum")
        if isinstance(engine, str) and isinstance(pattern, str) and isinstance(classes, list):
            table.setdefault(engine, []).append((re.compile(pattern), frozenset(str(c) for c in classes)))
    return table


def classes_for_version(engine: str, version: str) -> frozenset[str] | None:
    """The instance classes RDS offers for engine at version; None when the data has no row for that version."""
    for pattern, classes in _class_table().get(engine, []):
        if pattern.search(version):
            return classes
    return None


def classes_for_current(engine: str) -> frozenset[str] | None:
    """Every instance class RDS offers for some version of engine it still creates; None when unknown."""
    listed = engines("AWS::RDS::DBInstance")
    current = listed.current(engine) if listed else frozenset()
    rows = _class_table().get(engine, [])
    if not current or not rows:
        return None
    offered: set[str] = set()
    for pattern, classes in rows:
        if any(pattern.search(version) for version in current):
            offered |= classes
    return frozenset(offered) or None


def version_key(version: str) -> tuple:
    """Sort key of an RDS engine version: numeric parts numerically ("15.10" after "15.9")."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"[.\-_]", version))
