"""Failures of a deployment caused by a prerequisite that exists nowhere: classified `prerequisite-missing`.

The preflight (deploy/prereqs.py) catches what the known values decide: literal S3 locations and export
names. What only the deployment decides surfaces as events: "No export named X found" on the stack, an
S3 NoSuchKey/NoSuchBucket relayed by Lambda, a nested stack whose TemplateURL object is absent. Those are
neither the template's defect nor transient: each becomes a `prerequisite-missing` item naming the S3
location or the export, with the property path or the importing resource; the run stops without a
repair and without another attempt.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Callable, Sequence

from orchestrator.deploy.artifacts import PACKAGEABLE, _get, s3_location
from orchestrator.model import Failure

PREREQUISITE_MISSING = "prerequisite-missing"

_EXPORT = re.compile(r"No export named (?P<name>.+?) found")
# S3 objects read on the stack's behalf (Lambda code, a nested template, a definition) that are not there.
_S3_ABSENT = re.compile(
    r"S3 Error Code: NoSuch(?:Key|Bucket)|The specified (?:key|bucket) does not exist|NoSuch(?:Key|Bucket)"
    r"|TemplateURL must reference a valid S3 object|S3 error: (?:Access Denied|The specified key does not exist)"
    r"|Unable to (?:get|read) (?:object|template) from S3", re.IGNORECASE)
_URL = re.compile(r"(s3://\S+|https?://\S+?amazonaws\.com(?:\.cn)?/\S+)")


def classify(failures: Sequence[Failure], document_of: Callable[[str | None], tuple[dict, dict[str, Any]]]) -> list[dict]:
    """The prerequisite-missing items among `failures`; `document_of(template file or None)` gives the deployed
    template a failure belongs to and the values known for it (parameters, pseudo parameters)."""
    items: list[dict] = []
    for failure in failures:
        reason = failure.status_reason or ""
        template = failure.details.get("template")
        export = _EXPORT.search(reason)
        if export is not None:
            document, known = document_of(template)
            items.append(_export_item(export.group("name").strip(), failure, document, known))
            continue
        if _S3_ABSENT.search(reason):
            document, known = document_of(template)
            item = _s3_item(failure, document, known)
            if item is not None:
                items.append(item)
    for item in items:
        item.setdefault("source", "deployment")
    return items


def _export_item(name: str, failure: Failure, document: dict, known: dict[str, Any]) -> dict:
    from orchestrator.deploy.prereqs import import_names

    found = [(lid, where) for lid, exported, where in import_names(document, known) if exported == name]
    if not found:  # a name only the deployment decided: the imports the known values could not name
        named = {lid for lid, _, _ in import_names(document, known)}
        found = [(lid, where) for lid, where in _all_imports(document) if lid not in named][:1]
    lid, where = found[0] if found else (failure.logical_id, None)
    resources = document.get("Resources") or {}
    rtype = str((resources.get(lid) or {}).get("Type") or failure.resource_type)
    return _item(failure, logical_id=lid, resource_type=rtype, where=where, what=f"export {name}",
                 reason=f"no stack in the region exports {name}")


def _all_imports(document: dict) -> list[tuple[str, str]]:
    from orchestrator.deploy.prereqs import _imports

    resources = document.get("Resources") or {}
    return [(lid, ".".join(["Resources", lid, *map(str, path)]))
            for lid, resource in (resources.items() if isinstance(resources, dict) else ())
            for path, _ in _imports(resource)]


def _s3_item(failure: Failure, document: dict, known: dict[str, Any]) -> dict | None:
    """The S3 location a failed resource's packageable property names; None for a resource that names none."""
    from orchestrator.deploy.project import resolver

    resource = (document.get("Resources") or {}).get(failure.logical_id) or {}
    rtype = str(resource.get("Type") or failure.resource_type)
    specs = PACKAGEABLE.get(rtype, ())
    if not specs:
        return None
    props = resource.get("Properties") if isinstance(resource.get("Properties"), dict) else {}
    resolve = resolver(document, known)
    location, where = None, f"Resources.{failure.logical_id}.Properties.{specs[0][0]}"
    for prop, _, form in specs:
        value = _get(props, prop)
        if value is None:
            continue
        where = f"Resources.{failure.logical_id}.Properties.{prop}"
        location = s3_location(resolve(value), form)
        if location is not None:
            break
    if location is None:  # a location only the deployment knew: the one the message names, if any
        url = _URL.search(failure.status_reason or "")
        location = s3_location(url.group(1).rstrip(".,)"), "https") if url else None
    what = f"s3://{location[0]}/{location[1]}" if location else f"the S3 object named by {where}"
    return _item(failure, logical_id=failure.logical_id, resource_type=rtype, where=where, what=what,
                 reason=f"{what} does not exist: {failure.status_reason}")


def _item(failure: Failure, *, logical_id: str, resource_type: str, where: str | None, what: str, reason: str) -> dict:
    item = {"class": PREREQUISITE_MISSING, "logical_id": logical_id, "resource_type": resource_type,
            "property": where, "what": what, "reason": reason}
    template = failure.details.get("template")
    if template:
        item["template"] = str(Path(template))
    return item


def in_failures(failures: Sequence[Failure], document: dict, prepared: Any, children: Any) -> list[dict]:
    """`classify` for one run: its template (values from the preparation) and its nested children's files."""
    from orchestrator.deploy.project import known_values

    known = dict(getattr(getattr(prepared, "lookup", None), "known", None) or {})

    def document_of(template: str | None) -> tuple[dict, dict[str, Any]]:
        if template is None:
            return document, known
        child = children.get(Path(template)).document
        return child, known_values(child, {}, known)

    return classify(failures, document_of)


def stop_reason(missing: Sequence[dict]) -> str:
    """The run's stop reason for its first missing prerequisite: `prerequisite-missing: WHAT (WHERE)`."""
    first = missing[0]
    where = first.get("property") or f"Resources.{first['logical_id']}"
    more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
    return f"{first['class']}: {first['what']} ({where}){more}"
