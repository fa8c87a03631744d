"""SARIF 2.1.0 output of forecast findings, in the shape GitHub code scanning accepts."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from orchestrator import __version__
from orchestrator.model import FailureKind, Finding

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"

# Rule texts for the built-in playbooks, used when the caller passes no loaded playbooks.
DEFAULT_RULES = {
    FailureKind.MANAGED_POLICY.value: (
        "Managed policy ARN does not exist or is not attachable",
        "https://docs.aws.amazon.com/aws-managed-policy/latest/reference/policy-list.html",
    ),
    FailureKind.LOGS_KMS.value: (
        "KMS key policy does not let CloudWatch Logs use the key",
        "https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/encrypt-log-data-kms.html",
    ),
    FailureKind.DEPENDS_ON.value: (
        "Missing DependsOn between resources CloudFormation may create in parallel",
        "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-dependson.html",
    ),
}


def _artifact_uri(path: str | Path, base_dir: str | Path | None) -> str:
    path = Path(path)
    base = Path(base_dir) if base_dir is not None else Path.cwd()
    try:
        relative = os.path.relpath(path.resolve(), base.resolve())
    except ValueError:  # another drive on Windows
        relative = str(path)
    if relative.startswith(".."):
        relative = str(path)
    return quote(Path(relative).as_posix(), safe="/")


def _rule(playbook_id: str, playbooks: Mapping[str, Any]) -> dict:
    book = playbooks.get(playbook_id)
    title, docs = DEFAULT_RULES.get(playbook_id, (playbook_id, None))
    if book is not None:
        title = getattr(book, "title", None) or title
        docs = getattr(book, "docs", None) or docs
    rule: dict[str, Any] = {
        "id": playbook_id,
        "name": "".join(part.capitalize() for part in playbook_id.split("-")),
        "shortDescription": {"text": title},
        "defaultConfiguration": {"level": "error"},
        "properties": {"tags": ["cloudformation", "deployment"]},
    }
    explanation = getattr(book, "explanation", None) if book is not None else None
    if explanation:
        rule["fullDescription"] = {"text": " ".join(str(explanation).split())}
    if docs:
        rule["helpUri"] = docs
        rule["help"] = {"text": f"{title}. See {docs}"}
    return rule


def to_sarif(
    findings_by_file: Mapping[str | Path, Iterable[Finding]],
    *,
    playbooks: Iterable[Any] = (),
    base_dir: str | Path | None = None,
) -> dict:
    """One SARIF log with one run; artifact URIs are relative to base_dir (default: the working directory)."""
    books = {getattr(b, "id", None): b for b in playbooks}
    results: list[dict] = []
    rule_ids: list[str] = []
    for path, findings in findings_by_file.items():
        uri = _artifact_uri(path, base_dir)
        for finding in findings:
            if finding.playbook not in rule_ids:
                rule_ids.append(finding.playbook)
            results.append(
                {
                    "ruleId": finding.playbook,
                    "ruleIndex": rule_ids.index(finding.playbook),
                    "level": "warning" if finding.severity == "warning" else "error",
                    "message": {"text": finding.message},
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"uri": uri},
                                # GitHub requires a region; a finding without a line points at the file start.
                                "region": {"startLine": max(int(finding.line or 1), 1)},
                            },
                            "logicalLocations": [
                                {"name": finding.logical_id, "fullyQualifiedName": f"Resources.{finding.logical_id}", "kind": "resource"}
                            ],
                        }
                    ],
                    "properties": {
                        "resourceType": finding.resource_type,
                        "fixable": finding.fixable,
                        # One result per (resource, class): every contributing edge or policy is listed.
                        **({"contributing": [p.message for p in finding.contributing]} if finding.contributing else {}),
                    },
                }
            )
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "cfn-autofix",
                        "version": __version__,
                        "rules": [_rule(rule_id, books) for rule_id in rule_ids],
                    }
                },
                "results": results,
                "columnKind": "unicodeCodePoints",
            }
        ],
    }


def dumps(findings_by_file: Mapping[str | Path, Iterable[Finding]], **kwargs: Any) -> str:
    return json.dumps(to_sarif(findings_by_file, **kwargs), indent=2) + "\n"
