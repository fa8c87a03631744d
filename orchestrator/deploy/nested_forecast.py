"""Forecast of nested stacks: each child template a parent names, forecast with the parameters the parent passes it.

A parent's AWS::CloudFormation::Stack creates its child when the parent deploys, so a child's known
failure is the parent's too. The child is read where the deployment reads it: a local TemplateURL beside
the parent (packaged on deploy), or, for an S3 URL, the project file its key names (taskcat's project
upload; deploy/project.py serves the same file on a sandbox). A URL no project file answers is not read:
the forecast never fetches anything. The child is forecast with what the parent passes: a value the
parent's parameters decide is given; one only known at deploy time (another child's output, an import)
is unknown in the child, never its Default. Child findings name their own file and are never repaired
here (their repair belongs to the child's file); a child whose resource condition is unknown gives
warnings only, and a false one none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import structlog

from orchestrator.deploy.artifacts import is_local, s3_location
from orchestrator.deploy.project import known_values, parent_passes, project_file, project_root, resolver
from orchestrator.errors import AutofixError
from orchestrator.model import Finding
from orchestrator.template import Template, load_template
from orchestrator.template.intrinsics import partition_for_region, static_resolver

log = structlog.get_logger(__name__)

STACK_TYPE = "AWS::CloudFormation::Stack"
MAX_DEPTH = 5


@dataclass
class ChildForecast:
    """One nested child's findings: its file, the parent resource that creates it, and how it was found."""

    path: Path
    parent: Path | None
    logical_id: str
    source: str  # "local" or the S3 URL the project file stands in for
    findings: list[Finding] = field(default_factory=list)


def child_file(parent: Template, lid: str, project: Path | None,
               known: dict[str, Any]) -> tuple[Path, str, bool] | None:
    """The file a nested stack resource's TemplateURL names (local beside the parent, or served by the project),
    how it was found, and whether its findings are certain. They are for a local file and for the project's
    file an S3 URL names, built from parameters (the project's own upload, as taskcat makes) or literal (a
    published copy of the project): the project's file is the published object's source, and the one a
    sandbox deployment serves, so a finding there is the deployment's failure; the message names the copy."""
    raw = (((parent.document.get("Resources") or {}).get(lid) or {}).get("Properties") or {}).get("TemplateURL")
    base = parent.path.parent if parent.path is not None else Path.cwd()
    if is_local(raw):
        path = (base / str(raw)).resolve()
        return (path, "local") if path.is_file() else None
    url = resolver(parent.document, known)(raw)
    location = s3_location(url, None)
    if location is None or project is None:
        return None
    served = project_file(project, location[1])
    return (served, str(url)) if served is not None else None


def _child_parameters(parent: Template, lid: str, known: dict[str, Any], child: Template) -> dict[str, str]:
    """What the parent passes that its known values decide; a passed value they do not decide makes the
    child's parameter unknown (its Default is dropped from this freshly loaded, never written copy, so no
    detector uses it)."""
    props = ((parent.document.get("Resources") or {}).get(lid) or {}).get("Properties") or {}
    given = props.get("Parameters") if isinstance(props.get("Parameters"), dict) else {}
    passed = parent_passes(known, parent.document, props)
    declared = child.document.get("Parameters") if isinstance(child.document.get("Parameters"), dict) else {}
    for name in set(given) - set(passed):
        if isinstance(declared.get(name), dict):
            declared[name].pop("Default", None)
    return passed


def _as_child_finding(finding: Finding, child: ChildForecast, certain: bool) -> Finding:
    where = f"nested stack {child.logical_id}" + (f", the project's copy of {child.source}" if child.source != "local" else "")
    for part in [finding, *finding.contributing]:
        part.fixable = False
        part.details = {**part.details, "template": str(child.path), "nested_in": child.logical_id}
        if not certain:
            part.severity = "warning"
    note = "" if certain else "; a warning: the parent's condition is unknown"
    finding.message = f"{finding.message} [in {where}{note}]"
    return finding


def forecast_children(parent: Template, *, region: str, parameters: dict[str, str] | None = None,
                      playbooks: Sequence[Any] | None = None, _depth: int = 0,
                      _seen: frozenset[Path] = frozenset(), _certain: bool = True) -> list[ChildForecast]:
    """Every nested child of parent that can be read without fetching anything, forecast, children's children included."""
    from orchestrator.forecast.run import forecast

    resources = parent.document.get("Resources") if isinstance(parent.document.get("Resources"), dict) else {}
    stacks = [lid for lid, body in resources.items() if isinstance(body, dict) and body.get("Type") == STACK_TYPE]
    if not stacks or _depth >= MAX_DEPTH:
        return []
    partition = partition_for_region(region)
    known = known_values(parent.document, dict(parameters or {}),
                         {"AWS::Region": region, "AWS::Partition": partition,
                          "AWS::URLSuffix": "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"})
    conditions = static_resolver(parent.document, region=region, partition=partition, parameters=parameters or {})
    # No target to ask: the project's file stands in for the object (read, never served: nothing is deployed).
    project = project_root(parent.path)
    if parent.path is not None:
        _seen = _seen | {parent.path.resolve()}  # a template naming itself is read once
    out: list[ChildForecast] = []
    for lid in sorted(stacks):
        condition = conditions.resource_condition(lid)
        found = child_file(parent, lid, project, known) if condition is not False else None
        if found is None or found[0] in _seen:
            continue
        try:
            child = load_template(found[0])
        except AutofixError as exc:
            log.warning("nested_child_unreadable", logical_id=lid, file=str(found[0]), error=str(exc).splitlines()[0])
            continue
        passed = _child_parameters(parent, lid, known, child)
        item = ChildForecast(path=found[0], parent=parent.path, logical_id=lid, source=found[1])
        certain = _certain and condition is True
        item.findings = [_as_child_finding(f, item, certain)
                         for f in forecast(child, region=region, playbooks=playbooks, parameters=passed)]
        out.append(item)
        out += forecast_children(child, region=region, parameters=passed, playbooks=playbooks, _depth=_depth + 1,
                                 _seen=_seen | {found[0]}, _certain=certain)
    return out
