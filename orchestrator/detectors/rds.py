"""Detectors: RDS engines, engine versions and engine modes RDS no longer creates, and instance classes it does not offer."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from orchestrator.detectors.base import Detector, DetectorContext
from orchestrator.model import Finding
from orchestrator.template import rds_offerings

RDS_TYPES = ("AWS::RDS::DBInstance", "AWS::RDS::DBCluster")
# Properties that leave an instance's engine version to deploy time: an EngineVersion the template does not
# decide (a parameter without value, a YAML float), a snapshot, a source instance, a cluster.
_VERSION_FROM_ELSEWHERE = ("EngineVersion", "DBSnapshotIdentifier", "SourceDBInstanceIdentifier", "DBClusterIdentifier")
# Retired engine names RDS no longer lists, with what took their place (said in the finding, never applied:
# moving a database to another engine major version is an upgrade with its own plan).
_ENGINE_NOTES = {
    "aurora": ("Aurora MySQL version 1 (MySQL 5.6-compatible) reached its end of life on 2023-02-28; "
               "Aurora MySQL 2 and 3 use engine aurora-mysql",
               "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Aurora.MySQL56.EOL.html"),
}
# Engine modes RDS no longer creates, from the Aurora User Guide (cfn-lint has no data on engine modes).
_RETIRED_MODES = {
    "serverless": (date(2025, 3, 31), "Aurora Serverless v1 reached its end of life on 2025-03-31; Aurora Serverless v2 "
                   "uses EngineMode provisioned with ServerlessV2ScalingConfiguration and db.serverless instances",
                   "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-serverless.html"),
}


def _same_line(version: str, current: Iterable[str]) -> list[str]:
    """The current versions of the same major line as version ("15.3" -> 15.x; "5.7.mysql_aurora.2.07.2" -> 5.7.*)."""
    parts = version.split(".")
    major = parts[0] if parts[0].isdigit() and int(parts[0]) >= 10 else ".".join(parts[:2])
    return sorted((v for v in current if v == major or v.startswith(major + ".")), key=rds_offerings.version_key)


def _version_text(value: object) -> str | None:
    """An EngineVersion as RDS receives it; None for a YAML float (15.10 reads as 15.1: the text is lost)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return None
    return str(value) or None


def _older_than_listed(version: str, listed: Iterable[str]) -> bool:
    same = _same_line(version, listed)
    return bool(same) and rds_offerings.version_key(version) < rds_offerings.version_key(same[-1])


class RdsEngineRetired(Detector):
    id = "rds_engine_retired"
    description = ("RDS DB instances and clusters on an engine, engine version or engine mode RDS no longer creates "
                   "(cfn-lint's RDS engine-version data; Aurora Serverless v1 from the Aurora User Guide).")
    source_url = rds_offerings.SOURCE_URL

    def __init__(self, today: date | None = None) -> None:
        self.today = today

    def find(self, ctx: DetectorContext, *, cases: Iterable[str] | None = None) -> list[Finding]:
        findings = []
        for lid, resource in sorted(ctx.resources.items()):
            rtype = str(resource.get("Type", ""))
            if rtype not in RDS_TYPES:
                continue
            for prop, message, details in self._problems(ctx, lid, rtype):
                findings.append(Finding(
                    playbook="rds-engine-retired", logical_id=lid, resource_type=rtype, message=f"{lid}: {message}",
                    line=ctx.line("Resources", lid, "Properties", prop), fixable=False, severity="error",
                    details=details,
                ))
        return findings

    def _problems(self, ctx: DetectorContext, lid: str, rtype: str) -> list[tuple[str, str, dict]]:
        engine = ctx.known_value(lid, "Engine")
        listed = rds_offerings.engines(rtype)
        if not isinstance(engine, str) or listed is None:
            return []
        engine = engine.lower()
        found: list[tuple[str, str, dict]] = []
        if engine not in listed.names:
            note, url = _ENGINE_NOTES.get(engine, ("", rds_offerings.SOURCE_URL))
            found.append(("Engine", f"RDS creates no {rtype} with engine '{engine}' (it lists {', '.join(sorted(listed.names))})"
                          + (f": {note}" if note else ""), {"engine": engine, "docs": url}))
            return found  # its versions and modes say nothing more
        version = _version_text(ctx.known_value(lid, "EngineVersion"))
        if version:
            current = listed.current(engine)
            if version in listed.deprecated.get(engine, frozenset()):
                why = "is deprecated: RDS creates no new databases on it"
            elif listed.versions.get(engine) and version not in listed.versions[engine] and _older_than_listed(
                    version, listed.versions[engine]):
                # Only an older unlisted version: one newer than every listed version of its line may be newer
                # than cfn-lint's data, not refused by RDS.
                why = "is not a version RDS lists"
            else:
                why = ""
            if why:
                same = _same_line(version, current)
                hint = (f"; current versions of that line: {', '.join(same)}" if same else
                        f"; RDS lists no current version of that line (latest: {', '.join(sorted(current, key=rds_offerings.version_key)[-3:])})")
                found.append(("EngineVersion", f"{engine} EngineVersion {version} {why}{hint}; choose one after "
                              "checking the upgrade notes (not repaired: a major version change is an upgrade)",
                              {"engine": engine, "engine_version": version, "current": same}))
        mode = ctx.known_value(lid, "EngineMode") if rtype == "AWS::RDS::DBCluster" else None
        retired = _RETIRED_MODES.get(mode.lower()) if isinstance(mode, str) else None
        if retired is not None and (self.today or date.today()) > retired[0]:
            found.append(("EngineMode", f"RDS creates no cluster in EngineMode {mode}: {retired[1]}",
                          {"engine_mode": mode, "docs": retired[2]}))
        return found


class RdsInstanceClassNotOffered(Detector):
    id = "rds_instance_class"
    description = "RDS DB instances whose instance class RDS does not offer for the engine and version (cfn-lint's orderable data)."
    source_url = rds_offerings.CLASS_SOURCE_URL

    def find(self, ctx: DetectorContext, *, cases: Iterable[str] | None = None) -> list[Finding]:
        findings = []
        for lid, resource in sorted(ctx.resources.items()):
            if resource.get("Type") != "AWS::RDS::DBInstance":
                continue
            problem = self._problem(ctx, lid)
            if problem is not None:
                findings.append(Finding(
                    playbook="rds-instance-class", logical_id=lid, resource_type="AWS::RDS::DBInstance",
                    message=f"{lid}: {problem[0]}", line=ctx.line("Resources", lid, "Properties", "DBInstanceClass"),
                    fixable=False, severity="error", details=problem[1],
                ))
        return findings

    def _problem(self, ctx: DetectorContext, lid: str) -> tuple[str, dict] | None:
        engine, klass = ctx.known_value(lid, "Engine"), ctx.known_value(lid, "DBInstanceClass")
        if not isinstance(engine, str) or not isinstance(klass, str):
            return None
        engine = engine.lower()
        listed = rds_offerings.engines("AWS::RDS::DBInstance")
        if listed is None or engine not in listed.names:
            return None  # an unknown engine is rds_engine_retired's finding
        version = _version_text(ctx.known_value(lid, "EngineVersion"))
        if version:
            offered = rds_offerings.classes_for_version(engine, version)
            scope = f"{engine} {version}"
        elif any(key in ctx.props(lid) for key in _VERSION_FROM_ELSEWHERE):
            return None  # the version is decided at deploy time (a parameter without value, a snapshot, a source, a cluster)
        else:
            # No EngineVersion: RDS picks its default version. Flag only a class no current version offers.
            offered = rds_offerings.classes_for_current(engine)
            scope = f"any {engine} version RDS still creates (the template sets no EngineVersion, so RDS uses its default)"
        if not offered or klass.lower() in offered:
            return None
        size = klass.rsplit(".", 1)[-1]
        alternatives = sorted(c for c in offered if c.endswith("." + size))[:8]
        hint = f"; offered classes of the same size: {', '.join(alternatives)}" if alternatives else ""
        return (f"RDS does not offer DB instance class {klass} for {scope}{hint} (not repaired: the class sets cost and capacity)",
                {"engine": engine, "engine_version": version, "instance_class": klass, "alternatives": alternatives})
