"""Where policy documents sit in a template, and which of them have a Version the services refuse or misread."""

from __future__ import annotations

import re
from dataclasses import dataclass
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


# The two values of the Version element IAM and S3 accept; a document without one is read as the first.
VALID_VERSIONS = ("2008-10-17", CURRENT)
# Policy variables (${aws:username}, ${s3:prefix}, ${*} ...), which only the 2012-10-17 language substitutes.
_VARIABLE = re.compile(r"\$\{[^}!][^}]*\}")
# In Fn::Sub text CloudFormation substitutes ${Name} itself; ${!aws:username} is how a policy variable is written.
_SUB_VARIABLE = re.compile(r"\$\{![^}]+\}")


@dataclass(frozen=True)
class VersionProblem:
    """A policy document whose language version makes its create call fail or changes what it means.

    kind: "managed-policy-language" (IAM CreatePolicy takes only 2012-10-17), "invalid-version" (a Version
    value neither IAM nor S3 accepts) or "variables-read-literally" (policy variables in the 2008-10-17
    language: created, but ${aws:username} matches only that literal text).
    """

    logical_id: str
    where: tuple
    resource_type: str
    kind: str
    version: str | None  # the document's Version as written (None: absent)
    variables: tuple[str, ...] = ()


def policy_variables(document: Any) -> list[str]:
    """The policy variables a document passes to IAM, as CloudFormation hands it over (Fn::Sub's own
    ${Name} substitutions are not policy variables; its ${!name} escapes are)."""
    found: list[str] = []
    stack = [(document, False)]
    while stack:
        node, in_sub = stack.pop()
        if isinstance(node, str) and in_sub:
            found.extend(v.replace("${!", "${") for v in _SUB_VARIABLE.findall(node))
        elif isinstance(node, str):
            found.extend(_VARIABLE.findall(node))
        elif isinstance(node, dict):
            for key, value in node.items():
                if key == "Fn::Sub":
                    text = value[0] if isinstance(value, list) and value else value
                    stack.append((text, True))
                    if isinstance(value, list) and len(value) > 1:
                        stack.append((value[1], False))
                else:
                    stack.append((value, False))
        elif isinstance(node, list):
            stack.extend((item, False) for item in node)
    return sorted(set(found))


def version_problems(document: dict) -> Iterator[VersionProblem]:
    """Every policy document of the template whose Version fails its create call or changes its meaning.

    What the services check (sources in orchestrator/detectors/policy_version.py): IAM and S3 default a
    missing Version to 2008-10-17 and accept it for inline, trust, bucket, queue, topic and key policies;
    IAM's CreatePolicy (a managed policy) refuses any language older than 2012-10-17; a Version value other
    than the two valid ones is refused everywhere. Policy variables work only in the 2012-10-17 language.
    """
    for logical_id, resource in sorted(_resources(document).items()):
        rtype = str(resource.get("Type"))
        for path in DOCUMENT_PATHS.get(rtype, ()):
            for where, doc in _documents(_props(resource), path, ()):
                # A string document (JSON text) or an intrinsic is left alone: it is not ours to read or rewrite.
                if not isinstance(doc, dict) or "Statement" not in doc:
                    continue
                version = doc.get("Version")
                if version is not None and not isinstance(version, str):
                    continue  # an intrinsic: decided at deployment
                variables = tuple(policy_variables(doc.get("Statement")))
                if version is not None and version not in VALID_VERSIONS:
                    yield VersionProblem(logical_id, where, rtype, "invalid-version", version, variables)
                elif rtype == "AWS::IAM::ManagedPolicy" and version != CURRENT:
                    yield VersionProblem(logical_id, where, rtype, "managed-policy-language", version, variables)
                elif version != CURRENT and variables:
                    yield VersionProblem(logical_id, where, rtype, "variables-read-literally", version, variables)
