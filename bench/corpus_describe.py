"""Describe a CloudFormation template as a skeleton entry of tests/corpora/templates/manifest.json.

Computes what can be read off the template (format, SAM transform, resource count, the parameters
CloudFormation needs a value for, prerequisite kinds); a human then writes `expected` and checks the
parameter values. Usage:

    python bench/corpus_describe.py TEMPLATE --repo OWNER/NAME --path PATH --commit SHA --license SPDX [--id ID]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from orchestrator.deploy.fixtures import KINDS as FIXTURE_KINDS  # noqa: E402
from orchestrator.template import load_template  # noqa: E402

# AWS-specific parameter types (and their List<> forms) -> the prerequisite kind: the fixture kinds the tool
# provides, and two it does not.
_TYPE_KINDS = {
    **FIXTURE_KINDS,
    "AWS::EC2::Instance::Id": "other:instance",
    "AWS::EC2::Volume::Id": "other:volume",
}
# Property names whose value is code or a template that `package` would upload.
_ARTIFACT_KEYS = {"CodeUri", "ContentUri", "DefinitionUri", "TemplateURL", "BodyS3Location", "SourceBundle"}
_CERT_NAME = re.compile(r"certificate", re.I)


def _walk(node: Any, path: tuple = ()):
    yield path, node
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _walk(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _walk(value, (*path, index))


def _param_kind(ptype: str) -> str | None:
    if ptype.startswith("AWS::SSM::Parameter::Value<"):
        return "ssm-parameter"
    inner = ptype[5:-1] if ptype.startswith("List<") else ptype
    return _TYPE_KINDS.get(inner)


def _required_value(name: str, spec: dict) -> Any:
    """A value CloudFormation would accept for a parameter without a default, or "auto"/"TODO"."""
    ptype = str(spec.get("Type", "String"))
    if _param_kind(ptype) and not ptype.startswith("AWS::SSM::"):
        return "auto"
    if spec.get("AllowedValues"):
        return str(spec["AllowedValues"][0])
    if ptype == "Number":
        return str(spec.get("MinValue", 1))
    return "TODO"


def _artifact_kind(value: Any) -> str | None:
    if isinstance(value, str):
        if value.startswith("s3://") or value.startswith("https://"):
            return "s3-artifact"
        return "local-artifact"
    if isinstance(value, dict):  # {Bucket, Key} or an Fn::Sub/Fn::Join building an S3 URL
        return "s3-artifact"
    return None


def describe(path: Path) -> dict:
    tpl = load_template(path)
    doc = tpl.document
    transform = doc.get("Transform") or []
    transforms = transform if isinstance(transform, list) else [transform]
    resources = doc.get("Resources") or {}
    params = doc.get("Parameters") or {}
    prereq: set[str] = set()
    required: dict[str, Any] = {}
    for name, spec in params.items():
        spec = spec if isinstance(spec, dict) else {}
        kind = _param_kind(str(spec.get("Type", "String")))
        if kind:
            prereq.add(kind)
        if _CERT_NAME.search(name) and "Default" not in spec:
            prereq.add("certificate")
        if "Default" not in spec:
            required[name] = _required_value(name, spec)
    for where, node in _walk(resources):
        if isinstance(node, dict) and "Fn::ImportValue" in node:
            prereq.add("import-value")
        if where and where[-1] in _ARTIFACT_KEYS:
            kind = _artifact_kind(node)
            if kind:
                prereq.add(kind)
        if where and where[-1] == "Code" and isinstance(node, dict) and "S3Bucket" in node:
            prereq.add("s3-artifact")
    for res in resources.values():
        if isinstance(res, dict) and res.get("Type") == "AWS::CloudFormation::Stack":
            prereq.add("nested-stack")
    return {
        "format": tpl.fmt,
        "sam": "AWS::Serverless-2016-10-31" in transforms,
        "resource_count": len(resources),
        "parameters": required,
        "prerequisites": sorted(prereq),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("template", type=Path)
    parser.add_argument("--repo", required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--commit", required=True)
    parser.add_argument("--license", required=True)
    parser.add_argument("--id")
    args = parser.parse_args()
    entry = {
        "id": args.id or args.template.stem,
        "file": args.template.as_posix(),
        "repo": args.repo,
        "path": args.path,
        "commit": args.commit,
        "url": f"https://github.com/{args.repo}/blob/{args.commit}/{args.path}",
        "license": args.license,
        **describe(args.template),
        "expected": {"outcome": "green", "why": "TODO"},
        "notes": "",
    }
    print(json.dumps(entry, indent=2))


if __name__ == "__main__":
    main()
