"""Nested stacks in the loop: diagnosis follows a failed child stack to its root cause, repairs go to the child's file.

A parent's AWS::CloudFormation::Stack resource fails with "Embedded stack <arn> was not successfully
created: ..."; that is a consequence. The child's own events hold the cause, diagnosed against the
child's template (a local TemplateURL, packaged on deploy). Its repair is applied to the child
template, which the next deployment packages instead of the file, and which is written beside the
child's file as NAME.fixed.EXT at the end of the run.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

import structlog

from orchestrator.deploy.artifacts import is_local
from orchestrator.deploy.diagnosis import diagnose
from orchestrator.model import Failure
from orchestrator.template import Template, load_template
from orchestrator.template.graph import build_graph

log = structlog.get_logger(__name__)

STACK_TYPE = "AWS::CloudFormation::Stack"
EMBEDDED = re.compile(r"Embedded stack (arn:\S+) was not successfully (?:created|updated)")
MAX_DEPTH = 5


def child_path(template: Template, logical_id: str, files: dict[tuple[str, str], Path] | None = None) -> Path | None:
    """The local file a nested stack resource's TemplateURL names, resolved beside its parent (or, from `files`,
    the file packaged for it: a project file served for an S3 URL, see deploy/project.py)."""
    resource = (template.document.get("Resources") or {}).get(logical_id) or {}
    url = (resource.get("Properties") or {}).get("TemplateURL")
    if resource.get("Type") != STACK_TYPE:
        return None
    if files and template.path is not None:
        served = files.get((str(template.path.resolve()), logical_id))
        if served is not None and served.is_file():
            return served
    if not is_local(url):
        return None
    base = template.path.parent if template.path is not None else Path.cwd()
    path = (base / str(url)).resolve()
    return path if path.is_file() else None


class Children:
    """The child templates of one run, repaired ones replacing their files on the next deployment."""

    def __init__(self) -> None:
        self.templates: dict[Path, Template] = {}
        self.sources: dict[Path, Template] = {}
        self.files: dict[tuple[str, str], Path] = {}  # (parent file, logical id) -> child file packaged for it

    def get(self, path: Path) -> Template:
        path = path.resolve()
        if path not in self.templates:
            self.sources[path] = self.templates[path] = load_template(path)
        return self.templates[path]

    def document(self, path: Path) -> dict:
        return self.get(path).document

    def replace(self, path: Path, template: Template) -> None:
        self.templates[path.resolve()] = template

    def changed(self) -> list[tuple[Path, Template]]:
        return [(p, t) for p, t in self.templates.items() if t.document != self.sources[p].document]


def follow(failures: Sequence[Failure], parent: Template, *, session: Any, playbooks: Sequence[Any],
           children: Children, depth: int = 0) -> list[Failure]:
    """The failures with each embedded-stack failure replaced by its child's root causes (marked with the child file)."""
    out: list[Failure] = []
    for failure in failures:
        match = EMBEDDED.search(failure.status_reason) if failure.resource_type == STACK_TYPE else None
        path = child_path(parent, failure.logical_id, children.files) if match else None
        if match is None or path is None or depth >= MAX_DEPTH:
            out.append(failure)
            continue
        child = children.get(path)
        events = session.iter_new_events(match.group(1))
        found = diagnose(events, build_graph(child), playbooks)
        found = follow(found, child, session=session, playbooks=playbooks, children=children, depth=depth + 1)
        for item in found:
            item.details.setdefault("template", str(path))
            item.details.setdefault("via", []).insert(0, failure.logical_id)
        log.info("nested_failure_followed", resource=failure.logical_id, child=str(path),
                 causes=[f.logical_id for f in found])
        out.extend(found or [failure])
    return out


def split_by_template(failures: Sequence[Failure]) -> dict[str | None, list[Failure]]:
    """Failures keyed by the child file they belong to (None: the template being deployed)."""
    groups: dict[str | None, list[Failure]] = {}
    for failure in failures:
        groups.setdefault(failure.details.get("template"), []).append(failure)
    return groups
