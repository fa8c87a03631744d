"""Documented creation-order requirements: resource pairs that need a DependsOn no reference gives them.

The cases come from the AWS DependsOn attribute page and the service pages that say what a create call
checks (orchestrator/data/dependson_cases.json; each case cites its page). Each case's `needs.kind` names a
locator below (a table of small functions, one per kind). The forecast detector reports the gaps; the
add-DependsOn repair closes them; both read them here. Conditions count: a resource whose condition is
false is not there (no gap); a gap whose resources' conditions are unknown, or whose DependsOn would name
a resource that another condition may leave out, is `certain=False` (a warning, never repaired).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources as importlib_resources
from typing import Any

from orchestrator.template.intrinsics import Resolver, Unresolvable, static_resolver
from orchestrator.template.refs import refs_in

# (policy document, action) -> whether the document allows the action; supplied by the caller (orchestrator.iam).
Grants = Callable[[Any, str], bool]


@cache
def _cases_text() -> str:
    return importlib_resources.files("orchestrator.data").joinpath("dependson_cases.json").read_text(encoding="utf-8")


def load_dependson_cases() -> dict:
    """The documented DependsOn cases (a fresh copy: callers may not share one)."""
    return json.loads(_cases_text())


def select(node: Any, dotted: str) -> list[Any]:
    """Values at a property path below `node`; '[*]' expands every list item, missing keys yield nothing."""
    current = [node]
    for segment in dotted.split("."):
        expand = segment.endswith("[*]")
        key = segment[:-3] if expand else segment
        nxt: list[Any] = []
        for item in current:
            if isinstance(item, dict) and key in item:
                value = item[key]
                if expand:
                    if isinstance(value, list):
                        nxt.extend(value)
                else:
                    nxt.append(value)
        current = nxt
    return current


def scalar_equals(value: Any, expected: Any) -> bool:
    if isinstance(expected, bool):
        return str(value).lower() == str(expected).lower()
    return isinstance(value, (str, int, float)) and str(value).lower() == str(expected).lower()


@dataclass(frozen=True)
class OrderingGap:
    """`consumer` must be created after `needed` (case `case`), and nothing orders the two."""

    consumer: str
    needed: str
    case: dict
    extra: str = ""
    certain: bool = True
    doubt: str = ""  # why the gap is not certain


class Scope:
    """The template's resources and graph, with the reference hops the case table speaks in."""

    def __init__(self, document: dict, graph: Any, resolver: Resolver | None = None, grants: Grants | None = None):
        resources = document.get("Resources") if isinstance(document, dict) else None
        # Fn::ForEach fragments (lists) are not resources until the transform expands them.
        self.resources: dict = {k: v for k, v in resources.items() if isinstance(v, dict)} \
            if isinstance(resources, dict) else {}
        self.graph = graph
        self.resolver = resolver if resolver is not None else static_resolver(document)
        self.grants = grants
        # Built once per template, so each case costs what its consumers reference, not a scan of every
        # resource per consumer (quadratic at thousands of resources).
        self._by_type: dict[str, list[str]] | None = None
        self._referrers: dict[tuple[str, str], dict[str, list[str]]] = {}

    def value(self, node: Any) -> Any:
        """node with every intrinsic that evaluates (Fn::If on a decided condition included) replaced."""
        return self.resolver.resolve_partial(node)

    def rtype(self, lid: str) -> str:
        return str((self.resources.get(lid) or {}).get("Type", ""))

    def props(self, lid: str) -> dict:
        found = (self.resources.get(lid) or {}).get("Properties")
        return found if isinstance(found, dict) else {}

    def refs(self, value: Any) -> set[str]:
        return refs_in(value, self.resources)

    def of_type(self, *types: str) -> list[str]:
        if self._by_type is None:
            self._by_type = {}
            for lid in sorted(self.resources):
                self._by_type.setdefault(self.rtype(lid), []).append(lid)
        if len(types) == 1:
            return list(self._by_type.get(types[0], ()))
        return sorted(lid for rtype in set(types) for lid in self._by_type.get(rtype, ()))

    def referrers(self, rtype: str, path: str) -> dict[str, list[str]]:
        """Resources of `rtype` by what their property at `path` references (indexed once per pair)."""
        key = (rtype, path)
        index = self._referrers.get(key)
        if index is None:
            index = {}
            for other in self.of_type(rtype):
                targets: set[str] = set()
                for value in select(self.props(other), path):
                    targets |= self.refs(value)
                for target in targets:
                    index.setdefault(target, []).append(other)
            self._referrers[key] = index
        return index

    def referring(self, rtypes: Iterable[str], path: str, targets: Iterable[str]) -> list[str]:
        """Resources of these types whose property at `path` references any of `targets`, in template order."""
        found = {other for rtype in rtypes for target in targets for other in self.referrers(rtype, path).get(target, ())}
        return sorted(found)

    def hop(self, lids: Iterable[str], step: str) -> set[str]:
        out: set[str] = set()
        lids = set(lids)
        if step.startswith("<-"):
            rtype, _, path = step[2:].partition(":")
            return set(self.referring([rtype], path, lids))
        for lid in lids:
            for value in select(self.props(lid), step):
                out |= self.refs(value)
        return out

    def follow(self, lid: str, hops: Iterable[str]) -> set[str]:
        current = {lid}
        for step in hops:
            current = self.hop(current, step)
            if not current:
                break
        return current

    def condition(self, lid: str, cond: dict) -> bool:
        found = self.follow(lid, cond.get("via", [])) if cond.get("via") else {lid}
        for t in found:
            values = [v for v in select(self.value(self.props(t)), cond["path"]) if v not in (None, "", [], {})]
            if "present" in cond and bool(values) == bool(cond["present"]):
                return True
            if "equals" in cond and any(scalar_equals(v, cond["equals"]) for v in values):
                return True
        return False


# --- locators: (scope, needs, consumer) -> [(needed logical id, extra message)] --------------------

Locator = Callable[[Scope, dict, str], list[tuple[str, str]]]


def _gateway_attachment(scope: Scope, needs: dict, lid: str) -> list[tuple[str, str]]:
    gateways = {g for g in scope.follow(lid, [needs["via"]]) if scope.rtype(g) in needs["gateway_types"]}
    return [(other, "") for other in scope.referring(["AWS::EC2::VPCGatewayAttachment"], needs["attachment_property"], gateways)]


def _vpc_internet_gateway_attachment(scope: Scope, needs: dict, lid: str) -> list[tuple[str, str]]:
    by_vpc: dict[str, list[str]] = {}
    for att in scope.of_type("AWS::EC2::VPCGatewayAttachment"):
        if "InternetGatewayId" in scope.props(att):
            for vpc in scope.refs(scope.props(att).get("VpcId")):
                by_vpc.setdefault(vpc, []).append(att)
    vpcs: set[str] = set()
    for hops in needs["vpc_via"]:
        vpcs |= {v for v in scope.follow(lid, hops) if scope.rtype(v) == "AWS::EC2::VPC"}
    if not vpcs and needs.get("fallback_single_vpc"):
        all_vpcs = scope.of_type("AWS::EC2::VPC")
        if len(all_vpcs) == 1:
            vpcs = set(all_vpcs)
    return [(att, "") for vpc in sorted(vpcs) for att in by_vpc.get(vpc, [])]


def _all_siblings(scope: Scope, needs: dict, lid: str) -> list[tuple[str, str]]:
    apis = scope.refs(scope.props(lid).get(needs["key"]))
    if not apis:
        return []
    return [(other, "") for other in scope.referring(needs["sibling_types"], needs["sibling_key"], apis)]


def _any_forwarder(scope: Scope, needs: dict, lid: str) -> list[tuple[str, str]]:
    out = []
    for group in sorted(scope.follow(lid, [needs["via"]])):
        candidates = []
        for ftype, paths in needs["forwarders"].items():
            matched = {other for p in paths for other in scope.referrers(ftype, p).get(group, ())}
            candidates.extend(other for other in scope.of_type(ftype) if other in matched)
        if candidates and not any(scope.graph.is_ordered(lid, c) for c in candidates):
            out.append((candidates[0], f" (target group {group})"))
    return out


def _role_keys(node: Any, pattern: re.Pattern) -> Iterator[Any]:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if isinstance(key, str) and pattern.search(key) and not key.startswith("Fn::"):
                    yield value
                else:
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)


def _role_grants(scope: Scope, role: str, action: str) -> bool:
    """Whether the role itself (inline Policies, AWS managed policies by ARN) already allows `action`."""
    props = scope.value(scope.props(role))
    for policy in props.get("Policies") or []:
        if isinstance(policy, dict) and scope.grants(policy.get("PolicyDocument"), action):  # type: ignore[misc]
            return True
    return any(isinstance(arn, str) and scope.grants(arn, action) for arn in props.get("ManagedPolicyArns") or [])  # type: ignore[misc]


def _creation_action(scope: Scope, needs: dict, lid: str) -> tuple[set[str], str | None]:
    """The roles the create call checks, and the action it checks them for (None: nothing is checked)."""
    raw = scope.props(lid)
    functions = {lid}
    if needs.get("function_via"):
        functions = {f for f in scope.refs(raw.get(needs["function_via"])) if scope.rtype(f) == "AWS::Lambda::Function"}
    roles = {r for f in functions for r in scope.refs(scope.props(f).get("Role")) if scope.rtype(r) == "AWS::IAM::Role"}
    if "action" in needs:
        return roles, needs["action"]
    source = raw.get(needs["source_property"])
    kinds = {scope.rtype(t) for t in scope.refs(source)}
    text = scope.resolver.resolve_string(source) or ""
    service = text.split(":")[2] if text.startswith("arn:") and text.count(":") >= 5 else None
    for source_kind, action in needs["actions_by_source"].items():
        if source_kind in kinds or source_kind == service:
            return roles, action
    return roles, None


def _role_policy(scope: Scope, needs: dict, lid: str) -> list[tuple[str, str]]:
    """Separate policies that give the consumer's role the permission its create call checks, when the
    role does not already have it; a policy granting only run-time permissions is not needed at creation."""
    if scope.grants is None:
        raise ValueError("the role-policy DependsOn cases need a policy evaluator (grants=)")
    roles, action = _creation_action(scope, needs, lid)
    if action is None:
        return []
    out = []
    for role in sorted(roles):
        if _role_grants(scope, role, action):
            continue
        for other in scope.referring(needs["policy_types"], "Roles", [role]):
            document = scope.value(scope.props(other).get("PolicyDocument"))
            if scope.grants(document, action):
                out.append((other, f" (role {role}, {action})"))
    return out


def _named_by_literal(scope: Scope, needs: dict, lid: str) -> list[tuple[str, str]]:
    """Resources of the template the consumer names by their physical name written out (not Ref/GetAtt),
    which orders nothing: the create call needs the named resource to exist already."""
    value = scope.props(lid).get(needs["property"])
    if value is None:
        return []
    name = scope.resolver.resolve_string(value)
    if not name:
        return []
    out = []
    for other in scope.of_type(needs["target_type"]):
        target = scope.props(other).get(needs["name_property"])
        if other != lid and target is not None and scope.resolver.resolve_string(target) == name:
            out.append((other, f" ({needs['property']} names {other} by its name {name!r}, not by Ref)"))
    return out


LOCATORS: dict[str, Locator] = {
    "gateway_attachment": _gateway_attachment,
    "vpc_internet_gateway_attachment": _vpc_internet_gateway_attachment,
    "all_siblings": _all_siblings,
    "any_forwarder": _any_forwarder,
    "role_policy": _role_policy,
    "named_by_literal": _named_by_literal,
}


def _applies(scope: Scope, case: dict, lid: str) -> bool:
    rtype = scope.rtype(lid)
    types = case["consumer"]
    excluded = tuple(case.get("consumer_type_prefix_excluded", ()))
    if ("*" not in types and rtype not in types) or (excluded and rtype.startswith(excluded)):
        return False
    if case.get("requires_attribute") and case["requires_attribute"] not in (scope.resources.get(lid) or {}):
        return False
    if case.get("when") and not any(scope.condition(lid, c) for c in case["when"]):
        return False
    return not any(scope.condition(lid, c) for c in case.get("unless", ()))


def _doubt(scope: Scope, consumer: str, needed: str) -> str | None:
    """None: the resources' conditions exclude the gap; "": certain; else why the gap is only a warning."""
    states = {lid: scope.resolver.resource_condition(lid) for lid in (consumer, needed)}
    if False in states.values():
        return None
    unknown = [lid for lid, state in states.items() if state is None]
    if unknown:
        return f"the condition of {', '.join(unknown)} is unknown without parameter values"
    conditions = {lid: (scope.resources.get(lid) or {}).get("Condition") for lid in (consumer, needed)}
    if conditions[needed] and conditions[needed] != conditions[consumer]:
        return (f"{needed} has condition {conditions[needed]} and {consumer} "
                f"{'condition ' + str(conditions[consumer]) if conditions[consumer] else 'none'}: a DependsOn "
                f"would break the template whenever {needed} is left out")
    return ""


def ordering_gaps(
    document: dict,
    graph: Any,
    *,
    cases: Iterable[str] | None = None,
    resolver: Resolver | None = None,
    grants: Grants | None = None,
) -> list[OrderingGap]:
    """Every documented case where the consumer needs a resource and no Ref/GetAtt/DependsOn path orders
    them; `resolver` decides conditions (default: Defaults only), `grants` evaluates policy documents."""
    table = load_dependson_cases()
    wanted = set(cases) if cases is not None else None
    scope = Scope(document, graph, resolver, grants)
    gaps: list[OrderingGap] = []
    seen: set[tuple[str, str]] = set()
    for case in table["cases"]:
        if wanted is not None and case["id"] not in wanted:
            continue
        kind = case["needs"]["kind"]
        if kind not in LOCATORS:
            raise ValueError(f"unknown DependsOn case kind {kind!r} in case {case['id']}")
        for lid in sorted(scope.resources):
            if not _applies(scope, case, lid):
                continue
            for needed, extra in LOCATORS[kind](scope, case["needs"], lid):
                if needed == lid or (lid, needed) in seen or graph.is_ordered(lid, needed):
                    continue
                doubt = _doubt(scope, lid, needed)
                if doubt is None:
                    continue
                seen.add((lid, needed))
                gaps.append(OrderingGap(lid, needed, case, extra, certain=not doubt, doubt=doubt))
    return gaps


def documentation_url() -> str:
    return load_dependson_cases().get("docs", "https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-attribute-dependson.html")
