"""Nested templates a parent names by S3 URL, served from the project directory as taskcat's project upload does.

Quick-start style parents point TemplateURL at a bucket that holds the project as published
(`https://${QSS3BucketName}.s3.amazonaws.com/${QSS3KeyPrefix}templates/x.yaml`, or a literal public
bucket). taskcat uploads the project to a bucket it makes and points the bucket parameter there. A
sandbox has no public buckets, so on a sandbox target a TemplateURL whose object does not exist is
served from the project when the project holds the file the key names (the longest tail of the key
that is a file under the project root): the child is packaged like a local one, in the deployed copy
only, and diagnosed and repaired in that file. A URL the project cannot serve stays
`prerequisite-missing`. On an AWS target nothing is served: the published object is what AWS reads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import structlog

log = structlog.get_logger(__name__)

# What marks a project's root, nearest ancestor of the template first (taskcat's file, a git checkout).
ROOT_MARKERS = (".taskcat.yml", ".taskcat.yaml", ".taskcat", ".git")
_PSEUDO = ("AWS::Region", "AWS::Partition", "AWS::AccountId", "AWS::URLSuffix")


def project_root(template_path: Path | None) -> Path | None:
    """The nearest ancestor of the template holding a project marker, else the template's own directory."""
    if template_path is None:
        return None
    folder = template_path.resolve().parent
    for candidate in (folder, *folder.parents):
        if any((candidate / marker).exists() for marker in ROOT_MARKERS):
            return candidate
    return folder


def project_file(root: Path, key: str) -> Path | None:
    """The file under root that an S3 key names: the longest tail of the key that is a file of the project."""
    parts = [p for p in key.split("/") if p and p not in (".", "..")]
    for start in range(len(parts)):
        candidate = root.joinpath(*parts[start:])
        if candidate.is_file() and candidate.resolve().is_relative_to(root.resolve()):
            return candidate.resolve()
    return None


@dataclass
class Project:
    """The project directory, and whether an S3 object exists in the target (only absent ones are served)."""

    root: Path
    exists: Callable[[str, str], bool]
    served: dict[str, Path] = field(default_factory=dict)

    def file_for(self, bucket: str, key: str) -> Path | None:
        """The project file standing in for s3://bucket/key, when that object does not exist in the target."""
        url = f"s3://{bucket}/{key}"
        if url in self.served:
            return self.served[url]
        found = project_file(self.root, key)
        if found is None or self.exists(bucket, key):
            return None
        self.served[url] = found
        log.info("project_file_served", url=url, file=str(found))
        return found


def resolver(document: dict, known: dict[str, Any]) -> Callable[[Any], Any]:
    """Evaluate what `known` decides in `document` (parameters, pseudo parameters and the conditions on them)."""
    from orchestrator.template.intrinsics import KnownValues, Resolver, TemplateError

    evaluator = Resolver(document, KnownValues(known))

    def resolve(node: Any) -> Any:
        try:
            return evaluator.resolve_partial(node)
        except TemplateError:  # the deployment reports a template error with AWS's text; here it names nothing
            return node

    return resolve


def known_values(document: dict, values: dict[str, Any], pseudo: dict[str, Any]) -> dict[str, Any]:
    """Parameter values (given, else Default) and pseudo parameters of one template."""
    known: dict[str, Any] = {}
    parameters = document.get("Parameters") or {}
    for name, spec in parameters.items() if isinstance(parameters, dict) else ():
        if name in values:
            known[name] = values[name]
        elif isinstance(spec, dict) and "Default" in spec:
            known[name] = spec["Default"]
    known.update({k: v for k, v in pseudo.items() if k in _PSEUDO})
    return known


def parent_passes(parent_known: dict[str, Any], parent: dict, properties: dict) -> dict[str, str]:
    """What a nested stack resource passes its child that the parent's known values decide, as parameter text."""
    given = properties.get("Parameters") if isinstance(properties, dict) else None
    passed: dict[str, str] = {}
    if isinstance(given, dict):
        resolved = resolver(parent, parent_known)(given)
        for name, value in resolved.items():
            if isinstance(value, bool):
                passed[name] = "true" if value else "false"
            elif isinstance(value, (str, int, float)):
                passed[name] = str(value)
            elif isinstance(value, list) and all(isinstance(v, str) for v in value):
                passed[name] = ",".join(value)
    return passed


def child_known(parent_known: dict[str, Any], parent: dict, properties: dict, child: dict) -> dict[str, Any]:
    """The known values of a nested child: what the parent passes that its known values decide, else Defaults."""
    return known_values(child, parent_passes(parent_known, parent, properties), parent_known)
