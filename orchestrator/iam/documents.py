"""Where policy documents sit in a template, and which of them lack a Version (the 2008-10-17 language)."""

from __future__ import annotations

from typing import Any, Iterator

CURRENT = "2012-10-17"


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [] if value is None else [value]


def _resources(document: dict) -> dict[str, dict]:
    found = document.get("Resources") if isinstance(document, dict) else None
    return {k: v for k, v in (found or {}).items() if isinstance(v, dict)}


def _props(resource: dict) -> dict:
    found = resource.get("Properties")
    return found if isinstance(found, dict) else {}


# Where policy documents sit in the resource types that carry them (IAM, resource policies, key policies).
DOCUMENT_PATHS: dict[str, tuple[tuple[str, ...], ...]] = {
    "AWS::IAM::Policy": (("PolicyDocument",),),
    "AWS::IAM::ManagedPolicy": (("PolicyDocument",),),
    "AWS::IAM::Role": (("AssumeRolePolicyDocument",), ("Policies", "*", "PolicyDocument")),
    "AWS::IAM::User": (("Policies", "*", "PolicyDocument"),),
    "AWS::IAM::Group": (("Policies", "*", "PolicyDocument"),),
    "AWS::S3::BucketPolicy": (("PolicyDocument",),),
    "AWS::SQS::QueuePolicy": (("PolicyDocument",),),
    "AWS::SNS::TopicPolicy": (("PolicyDocument",),),
    "AWS::KMS::Key": (("KeyPolicy",),),
}


def _documents(node: Any, path: tuple[str, ...], here: tuple) -> Iterator[tuple[tuple, Any]]:
    if not path:
        yield here, node
        return
    head, rest = path[0], path[1:]
    if head == "*":
        for index, item in enumerate(_as_list(node) if isinstance(node, list) else []):
            yield from _documents(item, rest, (*here, index))
    elif isinstance(node, dict) and head in node:
        yield from _documents(node[head], rest, (*here, head))


def missing_version(document: dict) -> Iterator[tuple[str, tuple, str]]:
    """(logical id, pointer parts under Properties, resource type) of every policy document without Version."""
    for logical_id, resource in sorted(_resources(document).items()):
        for path in DOCUMENT_PATHS.get(str(resource.get("Type")), ()):
            for where, doc in _documents(_props(resource), path, ()):
                # A string document (JSON text) or an intrinsic is left alone: it is not ours to rewrite.
                if isinstance(doc, dict) and "Statement" in doc and "Version" not in doc:
                    yield logical_id, where, str(resource.get("Type"))


