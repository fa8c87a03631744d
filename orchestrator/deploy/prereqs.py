"""What a template needs before its stack: generated values, fixtures, packaged artifacts, existing S3 objects and exports.

`prepare` runs once the target is open and returns the parameter values and the deployable copy of the
template; what exists nowhere (an S3 object, an export, a local path) is classified
`prerequisite-missing` with the property or resource that needs it, and the stack is not deployed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from orchestrator.deploy.artifacts import PACKAGEABLE, Lookup, Packaged, Uploader, package
from orchestrator.deploy.fixtures import CREATING_TARGETS, Fixtures, needs, unprovided
from orchestrator.deploy.values import ValueContext, expand
from orchestrator.errors import BadInput
from orchestrator.template.intrinsics import (
    KnownValues,
    Resolver,
    TemplateError,
    Unresolvable,
    partition_for_region,
    resolve_known,
)

log = structlog.get_logger(__name__)

PREREQUISITE_MISSING = "prerequisite-missing"


@dataclass
class Prepared:
    """The run's prerequisites: final parameter values and how to make the deployed copy of a template."""

    parameters: dict[str, str]
    base_dir: Path | None = None
    uploader: Uploader | None = None
    fixtures: Fixtures | None = None
    generated: list[dict] = field(default_factory=list)
    artifacts: list[dict] = field(default_factory=list)
    missing: list[dict] = field(default_factory=list)
    lookup: Lookup | None = None

    def deployable(self, document: dict, load_child: Any = None) -> dict:
        """The copy CloudFormation receives: local artifacts replaced by their S3 locations (children via load_child)."""
        if self.uploader is None or self.base_dir is None:
            return document
        return package(document, self.base_dir, self.uploader, load_child=load_child or _load_child,
                       lookup=self.lookup).document

    def child_files(self) -> dict[tuple[str, str], Path]:
        """(parent file, logical id) -> the child template file packaged for it (local, or served by the project)."""
        return {(a["parent"], a["logical_id"]): Path(a["file"]) for a in self.artifacts
                if a.get("parent") and a.get("file") and a.get("s3")}

    def to_json(self) -> dict[str, Any]:
        return {
            "fixtures": list(self.fixtures.report) if self.fixtures else [],
            "generated_values": self.generated,
            "artifacts": self.artifacts,
            "prerequisites_missing": self.missing,
        }


def _load_child(path: Path) -> dict:
    from orchestrator.template import load_template

    return load_template(path).document


def value_context(session: Any, target: Any, region: str) -> ValueContext:
    from orchestrator.aws import prereqs

    sandbox = getattr(target, "kind", "") in CREATING_TARGETS
    zones: list[str] = []

    def zone_list() -> list[str]:
        if not zones:
            zones.extend(prereqs.availability_zones(session))
        return zones

    def ssm(path: str) -> str | None:
        value = prereqs.ssm_parameter(session, path)
        if value is None and sandbox:
            # The sandbox's own answer for AWS public parameters, the same one its CloudFormation resolves.
            from orchestrator.sandbox.patches import public_parameter_value

            value = public_parameter_value(path, region)
        return value

    def autobucket() -> str:
        bucket = session.template_bucket()
        session.ensure_bucket(bucket)
        return bucket

    return ValueContext(region=region, account=lambda: session.account_id, zones=zone_list, ssm=ssm,
                        autobucket=autobucket, sandbox=sandbox)


def prepare(template: Any, parameters: dict[str, str], *, session: Any, target: Any, run_id: str,
            stack_name: str, journal: Any = None) -> Prepared:
    """Resolve generated values, create fixtures, package artifacts and check what must already exist."""
    region = getattr(session, "region", None) or getattr(target, "region", "us-east-1")
    sandbox = getattr(target, "kind", "") in CREATING_TARGETS
    ctx = value_context(session, target, region)
    values = expand(parameters, ctx)
    prepared = Prepared(parameters=values, generated=ctx.generated)
    document = template.document
    wanted = needs(document, values, region)
    if wanted and not sandbox:
        first = wanted[0]
        raise BadInput(f"parameter {first.parameter} ({first.declared_type}) has no value; fixtures are created "
                       f"only on a sandbox target: pass --param {first.parameter}=VALUE",
                       file=template.path, line=template.line_of(("Parameters", first.parameter)))
    missing = unprovided(wanted)
    if missing:  # nothing can stand in for it: the run stops before any fixture or deployment
        prepared.missing.extend(missing)
        for item in missing:
            log.warning("prerequisite_missing", what=item["what"], parameter=item["logical_id"])
        return prepared
    if wanted:
        prepared.fixtures = Fixtures(session=session, run_id=run_id, stack_name=stack_name, region=region,
                                     journal=journal, endpoint_url=getattr(target, "endpoint_url", None),
                                     target=getattr(target, "kind", "embedded"))
    try:
        if prepared.fixtures is not None:
            values.update(prepared.fixtures.provide(wanted, document, values))
        if _has_dependencies(template.document):
            _check_existing(prepared, template, values, session=session, sandbox=sandbox, ctx=ctx)
    except BaseException:
        if prepared.fixtures is not None:  # nothing of a run that never deploys outlives it
            prepared.fixtures.teardown()
        raise
    for item in prepared.missing:
        log.warning("prerequisite_missing", what=item["what"], resource=item["logical_id"],
                    property=item.get("property"))
    return prepared


def _has_dependencies(document: dict) -> bool:
    """Whether the template names artifacts or imports at all (else nothing needs an AWS call to check)."""
    import json

    resources = document.get("Resources") or {}
    types = {str(r.get("Type")) for r in resources.values() if isinstance(r, dict)} if isinstance(resources, dict) else set()
    return bool(types & set(PACKAGEABLE)) or "Fn::ImportValue" in json.dumps(document, default=str)


def _check_existing(prepared: Prepared, template: Any, values: dict[str, str], *, session: Any, sandbox: bool,
                    ctx: ValueContext) -> None:
    document, region = template.document, ctx.region
    known = _known_values(document, values, session, region)
    base_dir = template.path.parent if template.path is not None else Path.cwd()
    project = None
    if sandbox and template.path is not None:
        from orchestrator.aws import prereqs
        from orchestrator.deploy.project import Project, project_root

        project = Project(root=project_root(template.path), exists=lambda b, k: prereqs.object_exists(session, b, k))
    prepared.lookup = Lookup(known=known, project=project, source=template.path)
    look = package(document, base_dir, None, lookup=prepared.lookup)
    prepared.missing.extend({"class": PREREQUISITE_MISSING, **item} for item in look.missing)
    if any(a["local"] for a in look.artifacts) and not prepared.missing:
        bucket = ctx.autobucket()
        prepared.uploader = Uploader(
            bucket=bucket,
            put=lambda key, data: _put(session, bucket, key, data),
            https=lambda key: session.template_url(bucket, key),
        )
        prepared.base_dir = base_dir
        packaged = package(document, base_dir, prepared.uploader, load_child=_load_child, lookup=prepared.lookup)
        prepared.artifacts = packaged.artifacts
        # Children's own local paths are only looked at when they are packaged.
        prepared.missing.extend({"class": PREREQUISITE_MISSING, **item} for item in packaged.missing)
    else:
        prepared.artifacts = look.artifacts
    if sandbox:
        prepared.missing.extend(_absent_objects(session, look))
    prepared.missing.extend(missing_imports(document, known, session))


def _put(session: Any, bucket: str, key: str, data: bytes) -> None:
    from orchestrator.aws import prereqs

    prereqs.put_object(session, bucket, key, data)


def _known_values(document: dict, values: dict[str, str], session: Any, region: str) -> dict[str, Any]:
    known: dict[str, Any] = {}
    for name, spec in (document.get("Parameters") or {}).items():
        if isinstance(spec, dict) and (name in values or "Default" in spec):
            known[name] = values.get(name, spec.get("Default"))
    partition = partition_for_region(region)
    known.update({"AWS::Region": region, "AWS::Partition": partition, "AWS::AccountId": session.account_id,
                  "AWS::URLSuffix": "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"})
    return known


def _absent_objects(session: Any, look: Packaged) -> list[dict]:
    """S3 locations named by packageable properties that do not exist in the sandbox account."""
    from orchestrator.aws import prereqs

    absent = []
    for item in look.artifacts:
        if not item.get("s3") or item.get("local"):
            continue
        bucket, _, key = item["s3"][5:].partition("/")
        if not prereqs.object_exists(session, bucket, key):
            absent.append({"class": PREREQUISITE_MISSING, "logical_id": item["logical_id"],
                           "resource_type": item["resource_type"], "property": item["property"],
                           "what": item["s3"], "reason": f"{item['s3']} does not exist in the sandbox account"})
    return absent


def _imports(node: Any, path: tuple = (), decided: Any = None) -> list[tuple[tuple, Any]]:
    """Fn::ImportValue nodes under node; of a Fn::If whose condition `decided` knows, only the branch taken."""
    found: list[tuple[tuple, Any]] = []
    if isinstance(node, dict):
        if len(node) == 1 and "Fn::ImportValue" in node:
            return [(path, node["Fn::ImportValue"])]
        branches = node.get("Fn::If") if len(node) == 1 else None
        if decided is not None and isinstance(branches, list) and len(branches) == 3 and isinstance(branches[0], str):
            state = decided(branches[0])
            if state is not None:
                index = 1 if state else 2
                return _imports(branches[index], path + ("Fn::If", index), decided)
        for key, value in node.items():
            found.extend(_imports(value, path + (key,), decided))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(_imports(value, path + (index,), decided))
    return found


def import_names(document: dict, known: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(logical id, export name, property path) of every Fn::ImportValue whose name the known values determine.

    As CloudFormation does, an import in a resource that a false Condition skips, or in the branch of a
    Fn::If that is not taken, is never evaluated (widdix templates import a parent stack's exports only
    when its name is given)."""
    names = []
    resources = document.get("Resources") or {}
    conditions = Resolver(document, KnownValues(known))

    def decided(name: str) -> bool | None:
        try:
            return conditions.condition_state(name)
        except (TemplateError, Unresolvable):
            return None

    for lid, resource in resources.items() if isinstance(resources, dict) else ():
        condition = resource.get("Condition") if isinstance(resource, dict) else None
        if isinstance(condition, str) and decided(condition) is False:
            continue
        for path, node in _imports(resource, (), decided):
            name = resolve_known(node, known)
            if isinstance(name, str):
                names.append((lid, name, ".".join(["Resources", lid, *map(str, path)])))
    return names


def missing_imports(document: dict, known: dict[str, Any], session: Any) -> list[dict]:
    """Imports of exports that exist nowhere in the region: classified, with the importing resource."""
    from orchestrator.aws import prereqs

    wanted = import_names(document, known)
    if not wanted:
        return []
    exports = prereqs.list_exports(session)
    resources = document.get("Resources") or {}
    return [{"class": PREREQUISITE_MISSING, "logical_id": lid, "resource_type": str(resources[lid].get("Type")),
             "property": where, "what": f"export {name}",
             "reason": f"no stack in the region exports {name}"}
            for lid, name, where in wanted if name not in exports]


_STACK = "\x00STACK\x00"


def names_known(document: dict, parameters: dict[str, str], region: str, stack: str = _STACK) -> dict[str, Any]:
    """The values that decide export and import names: parameters (given, else Default), region, stack name."""
    known: dict[str, Any] = {}
    for name, spec in (document.get("Parameters") or {}).items():
        if isinstance(spec, dict) and (name in parameters or "Default" in spec):
            known[name] = parameters.get(name, spec.get("Default"))
    known.update({"AWS::Region": region, "AWS::Partition": partition_for_region(region), "AWS::StackName": stack,
                  "AWS::URLSuffix": "amazonaws.com"})
    return known


def export_patterns(document: dict, parameters: dict[str, str], region: str) -> list[re.Pattern[str]]:
    """A pattern per export name; a stack-name part becomes the group `stack`."""
    patterns = []
    outputs = document.get("Outputs") or {}
    for output in outputs.values() if isinstance(outputs, dict) else ():
        name = ((output or {}).get("Export") or {}).get("Name") if isinstance(output, dict) else None
        if name is None:
            continue
        value = resolve_known(name, names_known(document, parameters, region))
        if not isinstance(value, str):
            continue
        parts = [re.escape(p) for p in value.split(_STACK)]
        patterns.append(re.compile("^" + "(?P<stack>[A-Za-z][A-Za-z0-9-]*)".join(parts[:2]) + "".join(parts[2:]) + "$"))
    return patterns
