"""Local artifacts packaged as `aws cloudformation package` does, and S3 locations checked before a sandbox deploy.

Local paths in the properties of PACKAGEABLE are zipped (directories, and files where the property
takes a zip) or uploaded as they are, put in the run's bucket and rewritten to their S3 location in
the DEPLOYED copy of the template only: the repaired template keeps its local paths. A child
template (TemplateURL, Serverless::Application Location) is packaged recursively. A `CodeUri` given in
`Globals.Function` is packaged for every SAM function that does not name its own, as `sam package` does.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

# type -> [(property path, packaging, result form)]; packaging: zip | file | template;
# result: "s3url" (s3://b/k), "https" (TemplateURL), or the (bucket, key) names of an object property.
PACKAGEABLE: dict[str, list[tuple[str, str, Any]]] = {
    "AWS::Serverless::Function": [("CodeUri", "zip", "s3url")],
    "AWS::Serverless::LayerVersion": [("ContentUri", "zip", "s3url")],
    "AWS::Serverless::Api": [("DefinitionUri", "file", "s3url")],
    "AWS::Serverless::HttpApi": [("DefinitionUri", "file", "s3url")],
    "AWS::Serverless::StateMachine": [("DefinitionUri", "file", "s3url")],
    "AWS::Serverless::GraphQLApi": [("SchemaUri", "file", "s3url")],
    "AWS::Serverless::Application": [("Location", "template", "https")],
    "AWS::Lambda::Function": [("Code", "zip", ("S3Bucket", "S3Key"))],
    "AWS::Lambda::LayerVersion": [("Content", "zip", ("S3Bucket", "S3Key"))],
    "AWS::ApiGateway::RestApi": [("BodyS3Location", "file", ("Bucket", "Key"))],
    "AWS::ApiGatewayV2::Api": [("BodyS3Location", "file", ("Bucket", "Key"))],
    "AWS::StepFunctions::StateMachine": [("DefinitionS3Location", "file", ("Bucket", "Key"))],
    "AWS::ElasticBeanstalk::ApplicationVersion": [("SourceBundle", "zip", ("S3Bucket", "S3Key"))],
    "AWS::AppSync::GraphQLSchema": [("DefinitionS3Location", "file", "s3url")],
    "AWS::AppSync::Resolver": [("RequestMappingTemplateS3Location", "file", "s3url"),
                               ("ResponseMappingTemplateS3Location", "file", "s3url")],
    "AWS::AppSync::FunctionConfiguration": [("RequestMappingTemplateS3Location", "file", "s3url"),
                                            ("ResponseMappingTemplateS3Location", "file", "s3url")],
    "AWS::Glue::Job": [("Command.ScriptLocation", "file", "s3url")],
    "AWS::CodeCommit::Repository": [("Code.S3", "zip", ("Bucket", "Key"))],
    "AWS::CloudFormation::Stack": [("TemplateURL", "template", "https")],
}
_ARCHIVES = (".zip", ".jar")
_GLOBAL_CODE = "Globals.Function.CodeUri"
_HTTPS_S3 = (re.compile(r"^https?://s3[.-](?:[a-z0-9-]+\.)?amazonaws\.com(?:\.cn)?/([^/]+)/(.+)$"),
             re.compile(r"^https?://([^./]+)\.s3[.-](?:[a-z0-9-]+\.)?amazonaws\.com(?:\.cn)?/(.+)$"))


@dataclass
class Uploader:
    """Where packaged bytes go: put(key, data) -> None; url forms for the bucket."""

    bucket: str
    put: Callable[[str, bytes], None]
    https: Callable[[str], str]
    done: dict[str, str] = field(default_factory=dict)

    def upload(self, data: bytes, suffix: str) -> str:
        key = f"artifacts/{hashlib.sha256(data).hexdigest()}{suffix}"
        if key not in self.done:
            self.put(key, data)
            self.done[key] = key
        return key


@dataclass
class Packaged:
    document: dict
    artifacts: list[dict] = field(default_factory=list)
    missing: list[dict] = field(default_factory=list)


def _get(props: dict, dotted: str) -> Any:
    node: Any = props
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _set(props: dict, dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    for part in parts[:-1]:
        props = props.setdefault(part, {})
    props[parts[-1]] = value


def is_local(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip()) and not re.match(r"^(s3|https?)://", value.strip())


def zip_bytes(path: Path) -> bytes:
    """A deterministic zip of a file or directory (fixed timestamps, sorted names): same input, same key."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
        for item in files:
            name = item.name if path.is_file() else item.relative_to(path).as_posix()
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if item.stat().st_mode & 0o111 else 0o644) << 16
            archive.writestr(info, item.read_bytes(), zipfile.ZIP_DEFLATED)
    return buffer.getvalue()


def s3_location(value: Any, form: Any) -> tuple[str, str] | None:
    """(bucket, key) of a literal S3 location in a packageable property, else None."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("s3://"):
            bucket, _, key = text[5:].partition("/")
            return (bucket, key) if bucket and key else None
        for pattern in _HTTPS_S3:
            match = pattern.match(text)
            if match:
                return match.group(1), match.group(2)
        return None
    if isinstance(value, dict) and isinstance(form, tuple):
        bucket, key = value.get(form[0]), value.get(form[1])
        if isinstance(bucket, str) and isinstance(key, str):
            return bucket, key
    if isinstance(value, dict) and {"Bucket", "Key"} <= set(value):  # SAM's object form of a *Uri
        if isinstance(value["Bucket"], str) and isinstance(value["Key"], str):
            return value["Bucket"], value["Key"]
    return None


@dataclass
class Lookup:
    """What decides S3 locations written with intrinsics, and the project serving absent nested templates."""

    known: dict[str, Any] | None = None  # parameter and pseudo-parameter values of the document
    project: Any = None  # deploy.project.Project on a sandbox target, else None
    source: Path | None = None  # the file the document comes from (a parent, for its children)


def package(document: dict, base_dir: Path, uploader: Uploader | None, *,
            load_child: Callable[[Path], dict] | None = None, lookup: Lookup | None = None,
            _depth: int = 0) -> Packaged:
    """The deployable copy of `document` with its local artifacts uploaded (uploader None: only look)."""
    from orchestrator.deploy.project import resolver

    out = Packaged(copy.deepcopy(document))
    lookup = lookup or Lookup()
    job = _Job(out, base_dir, uploader, load_child, _depth, lookup)
    resolve = resolver(document, lookup.known) if lookup.known is not None else None
    resources = out.document.get("Resources") or {}
    took_global = _apply_global_code(out.document)
    for lid, resource in resources.items() if isinstance(resources, dict) else ():
        if not isinstance(resource, dict):
            continue
        for prop, packaging, form in PACKAGEABLE.get(str(resource.get("Type")), ()):
            props = resource.get("Properties")
            value = _get(props, prop) if isinstance(props, dict) else None
            where = f"Resources.{lid}.Properties.{prop}"
            if value is None:
                continue
            if is_local(value):
                _package_one(job, props, prop, value, (packaging, form), where)
                continue
            literal = value if isinstance(value, str) or resolve is None else resolve(value)
            location = s3_location(literal, form)
            served = (lookup.project.file_for(*location) if location is not None and packaging == "template"
                      and lookup.project is not None else None)
            if served is not None:
                _package_one(job, props, prop, str(served), (packaging, form), where,
                             served_for=f"s3://{location[0]}/{location[1]}")
                continue
            if location is not None:
                out.artifacts.append({"logical_id": lid, "resource_type": resource["Type"], "property": where,
                                      "s3": f"s3://{location[0]}/{location[1]}", "local": None})
    _credit_global_code(out, took_global)
    return out


def _apply_global_code(document: dict) -> list[str]:
    """Give Globals.Function.CodeUri to each SAM function without code of its own; the ids that took it.

    SAM's transform merges Globals after packaging, so `sam package` copies this one global into the
    functions first (aws-sam-cli#1706, PR #1766); other Globals (Api DefinitionUri) it leaves alone, as here.
    """
    code = _get(document, _GLOBAL_CODE)
    shared = _get(document, "Globals.Function")
    resources = document.get("Resources")
    if code is None or not isinstance(resources, dict):
        return []
    took = []
    for lid, resource in resources.items():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.setdefault("Properties", {})
        merged = {**shared, **props} if isinstance(props, dict) else {}
        # Code of its own, or an image, and the global does not apply to it.
        if not isinstance(props, dict) or {"CodeUri", "InlineCode", "ImageUri"} & set(props) \
                or merged.get("PackageType") == "Image":
            continue
        props["CodeUri"] = copy.deepcopy(code)
        took.append(lid)
    return took


def _credit_global_code(out: Packaged, took: list[str]) -> None:
    """Name Globals.Function.CodeUri where the functions' copies are reported; the deployed Globals follow."""
    if not took:
        return
    copies = {f"Resources.{lid}.Properties.CodeUri" for lid in took}
    for item in out.artifacts:
        if item["property"] in copies:
            item["from"] = _GLOBAL_CODE
    seen = False
    for item in list(out.missing):
        if item["property"] in copies:  # one path missing once, where the template names it
            if seen:
                out.missing.remove(item)
            item["property"], seen = _GLOBAL_CODE, True
    packaged = out.document["Resources"][took[0]]["Properties"]["CodeUri"]
    if not is_local(packaged):  # no local path is left in the deployed copy, even one every function overrides
        _set(out.document, _GLOBAL_CODE, copy.deepcopy(packaged))


@dataclass
class _Job:
    """One package() call: where its results go and how it uploads."""

    out: Packaged
    base_dir: Path
    uploader: Uploader | None
    load_child: Callable[[Path], dict] | None
    depth: int
    lookup: Lookup


def _package_one(job: _Job, props: dict, prop: str, value: str, how: tuple[str, Any], where: str,
                 served_for: str | None = None) -> None:
    out, base_dir, uploader, load_child, depth = job.out, job.base_dir, job.uploader, job.load_child, job.depth
    packaging, form = how
    path = (base_dir / value).resolve()
    lid = where.split(".")[1]
    rtype = str((out.document["Resources"][lid] or {}).get("Type"))
    if not path.exists():
        out.missing.append({"logical_id": lid, "resource_type": rtype, "property": where,
                            "what": f"local path {value}", "reason": f"{value} does not exist beside the template"})
        return
    shown = value
    if served_for is not None and job.lookup.project is not None:
        shown = path.relative_to(job.lookup.project.root.resolve()).as_posix()
    # Where a child template comes from (its parent file, its own file) lets diagnosis follow it into that file.
    origin = ({"parent": str(job.lookup.source.resolve()) if job.lookup.source else None, "file": str(path)}
              if packaging == "template" else {})
    origin.update({"served_for": served_for} if served_for else {})
    if uploader is None:
        out.artifacts.append({"logical_id": lid, "resource_type": rtype, "property": where, "local": shown, "s3": None,
                              **origin})
        return
    if packaging == "template" and path.is_file() and load_child is not None and depth < 8:
        child_doc = load_child(path)
        child_lookup = Lookup(source=path, project=job.lookup.project)
        if job.lookup.known is not None:
            from orchestrator.deploy.project import child_known

            child_lookup.known = child_known(job.lookup.known, job.out.document, props, child_doc)
        child = package(child_doc, path.parent, uploader, load_child=load_child, lookup=child_lookup,
                        _depth=depth + 1)
        out.missing.extend(child.missing)
        out.artifacts.extend(child.artifacts)
        data = json.dumps(child.document, indent=1, ensure_ascii=False).encode("utf-8")
        key = uploader.upload(data, ".template.json")
    elif path.is_dir() or (packaging == "zip" and path.suffix.lower() not in _ARCHIVES):
        key = uploader.upload(zip_bytes(path), ".zip")
    else:
        key = uploader.upload(path.read_bytes(), path.suffix)
    if form == "https":
        new: Any = uploader.https(key)
    elif form == "s3url":
        new = f"s3://{uploader.bucket}/{key}"
    else:
        new = {form[0]: uploader.bucket, form[1]: key}
    _set(props, prop, new)
    out.artifacts.append({"logical_id": lid, "resource_type": rtype, "property": where, "local": shown,
                          "s3": f"s3://{uploader.bucket}/{key}", **origin})
