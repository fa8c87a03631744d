"""The Detector interface, what every detector sees (DetectorContext), and the explicit detector registry."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from orchestrator.model import Finding
from orchestrator.template.intrinsics import PLACEHOLDER_ACCOUNT, Resolver, Unresolvable, static_resolver


@dataclass
class DetectorContext:
    """What every detector sees: the template, its graph and the target."""

    template: Any  # orchestrator.template.Template
    graph: Any  # orchestrator.template.graph.DependencyGraph
    region: str = "us-east-1"
    partition: str = "aws"
    account_id: str = PLACEHOLDER_ACCOUNT
    parameters: dict = field(default_factory=dict)

    @property
    def document(self) -> dict:
        return self.template.document

    @property
    def resources(self) -> dict:
        # Fn::ForEach fragments (AWS::LanguageExtensions) are not resources until CloudFormation expands them.
        return {lid: body for lid, body in (self.document.get("Resources") or {}).items() if isinstance(body, dict)}

    @cached_property
    def resolver(self) -> Resolver:
        return static_resolver(
            self.document, region=self.region, partition=self.partition, account_id=self.account_id,
            parameters=self.parameters,
        )

    def log_group_arn(self, lid: str, *, generated: bool = False) -> str:
        """The ARN a log group of this template gets at the target (a placeholder name when unnamed, or
        when `generated`: the name CloudFormation would generate)."""
        values = self.resolver.values
        name = values.generated_name(lid) if generated else self.resolver.physical_id(lid)  # type: ignore[attr-defined]
        if not isinstance(name, str):
            raise Unresolvable(f"LogGroupName of {lid} is not a string")
        return values.log_group_arn(name)  # type: ignore[attr-defined]

    def known_value(self, lid: str, name: str) -> Any:
        """A property's value when the template and the given parameters decide it (literals, parameter
        values or Defaults, conditions on them), else None: never a placeholder for a value only known at
        deploy time (another resource's id, an import, a parameter without a value)."""
        raw = self.props(lid).get(name)
        if raw is None or not self._decided_by_parameters(raw):
            return None
        try:
            value = self.resolver.evaluate(raw)
        except Unresolvable:
            return None
        return value if isinstance(value, (str, int, float, bool, list, dict)) else None

    def _decided_by_parameters(self, node: Any) -> bool:
        if isinstance(node, list):
            return all(self._decided_by_parameters(item) for item in node)
        if not isinstance(node, dict):
            return True
        if len(node) == 1:
            key, value = next(iter(node.items()))
            if key == "Ref":
                spec = (self.document.get("Parameters") or {}).get(value)
                if value in ("AWS::Region", "AWS::Partition", "AWS::URLSuffix", "AWS::NoValue"):
                    return True
                return isinstance(spec, dict) and (value in self.parameters or spec.get("Default") is not None)
            if key in ("Fn::GetAtt", "Fn::ImportValue", "Fn::GetAZs", "Fn::Sub", "Fn::Transform"):
                return False  # resource attributes, exports, the account's zones; Sub may name any of them
        return all(self._decided_by_parameters(value) for value in node.values())

    def line(self, *parts: str | int) -> int | None:
        return self.template.line_of(list(parts))

    def rtype(self, lid: str) -> str:
        return str((self.resources.get(lid) or {}).get("Type", ""))

    def props(self, lid: str) -> dict:
        props = (self.resources.get(lid) or {}).get("Properties")
        return props if isinstance(props, dict) else {}


class Detector(ABC):
    """One known failure class found from the template alone, like a cfn-lint rule: an id (the name
    playbooks use in their `forecast:` key), a description and the documentation it rests on."""

    id: str = ""
    description: str = ""
    source_url: str = ""

    @abstractmethod
    def find(self, ctx: DetectorContext, *, cases: Iterable[str] | None = None) -> list[Finding]:
        """Every finding of this class in ctx's template; `cases` limits a detector that has several."""

    def __call__(self, ctx: DetectorContext, *, cases: Iterable[str] | None = None) -> list[Finding]:
        return self.find(ctx, cases=cases)


class DetectorRegistry:
    """Detectors by id; registering an id twice is an error, as for repairs and cfn-lint rules."""

    def __init__(self) -> None:
        self._detectors: dict[str, Detector] = {}

    def register(self, detector: Detector) -> Detector:
        if not detector.id or not detector.description or not detector.source_url:
            raise ValueError(f"detector {type(detector).__qualname__} needs an id, a description and a source_url")
        if detector.id in self._detectors:
            raise ValueError(f"detector {detector.id!r} is registered twice")
        self._detectors[detector.id] = detector
        return detector

    def get(self, name: str) -> Detector:
        try:
            return self._detectors[name]
        except KeyError:
            raise KeyError(f"unknown forecast detector {name!r}; known: {', '.join(sorted(self._detectors))}") from None

    def __contains__(self, name: object) -> bool:
        return name in self._detectors

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._detectors))

    def __len__(self) -> int:
        return len(self._detectors)
