"""Detector: custom physical names longer than, or outside the characters of, their service's rule."""

from __future__ import annotations

from collections.abc import Iterable

from orchestrator.detectors.base import Detector, DetectorContext
from orchestrator.model import Finding
from orchestrator.template.names import SOURCE_URL, name_rule
from orchestrator.template.intrinsics import Unresolvable


class NameRules(Detector):
    id = "name_rules"
    description = "Custom names that break the length or character rule of their resource schema."
    source_url = SOURCE_URL

    def find(self, ctx: DetectorContext, *, cases: Iterable[str] | None = None) -> list[Finding]:
        findings = []
        for lid, resource in sorted(ctx.resources.items()):
            if not isinstance(resource, dict):
                continue
            props = ctx.props(lid)
            if not any(p in props for p in (f"{str(resource.get('Type')).split('::')[-1]}Name", "Name")):
                continue  # no custom name: no schema needed (cfn-lint's are loaded only for a named resource)
            rule = name_rule(str(resource.get("Type")), ctx.region)
            if rule is None or rule.prop not in ctx.props(lid):
                continue
            try:
                # A name built from the stack name resolves with a placeholder stack name, a lower bound.
                name = ctx.resolver.resolve(ctx.props(lid)[rule.prop])
            except Unresolvable:
                continue
            problem = rule.problem(name) if isinstance(name, str) else None
            if problem is None:
                continue
            findings.append(Finding(
                playbook="name-invalid", logical_id=lid, resource_type=str(resource["Type"]),
                message=f"{lid}: {rule.prop} {name!r} is {problem} ({resource['Type']} schema)",
                line=ctx.line("Resources", lid, "Properties", rule.prop), fixable=True, severity="error",
                details={"property": rule.prop, "max_length": rule.max_length},
            ))
        return findings
