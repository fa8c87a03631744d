"""Repairs for a managed policy ARN that does not exist or is not attachable: inline the exact document, or fix the ARN."""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass

from orchestrator.iam import policy
from orchestrator.model import Failure, PatchOp, PrivilegeDelta, RepairPlan
from orchestrator.iam.privilege import privilege_delta, privilege_set
from orchestrator.repairs.base import Repair, as_list, props, ptr, resources_of
from orchestrator.template.intrinsics import PlaceholderValues, Resolver

IDENTITY_TYPES = ("AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group")
_ARN = re.compile(r"arn:(?P<partition>[^:]+):iam::aws:policy(?P<path>/(?:[^/]+/)*)(?P<name>[^/\s]+)")


@dataclass
class BadArn:
    arn: str
    partition: str
    path: str
    name: str
    document: dict | None = None  # the document the template meant, when the catalog knows it
    source_arn: str | None = None  # where that document lives
    better_arn: str | None = None  # an attachable ARN for the same name (other path) or its documented rename
    renamed_to: str | None = None

    @property
    def summary(self) -> str:
        if self.renamed_to and self.better_arn:
            source = policy.rename_table().get(self.name, {}).get("source", "")
            return (f"{self.arn} does not exist; AWS renamed {self.name} to {self.renamed_to} ({self.better_arn}; "
                    f"documented at {source})")
        if self.better_arn:
            return f"{self.arn} does not exist; the policy {self.name} exists at {self.better_arn}"
        if self.source_arn == self.arn:
            return f"{self.arn} is in the managed-policy catalog but is not attachable"
        return f"{self.arn} does not exist and no managed policy named {self.name} is known"


def _bad_arns(failures: list[Failure]) -> list[BadArn]:
    found: dict[str, BadArn] = {}
    for failure in failures:
        text = failure.details.get("policy_arn") or ""
        match = _ARN.fullmatch(text.rstrip(".")) if text else _ARN.search(failure.status_reason or "")
        if not match or match.group(0) in found:
            continue
        arn = match.group(0)
        bad = BadArn(arn, match["partition"], match["path"], match["name"])
        here = policy.managed_policy(arn)
        if here:
            bad.document, bad.source_arn = here["document"], arn
        others = [other for other in policy.find_managed_policy_by_name(bad.name, bad.partition) if other != arn]
        if others:
            bad.better_arn = others[0]
            if bad.document is None:
                bad.document, bad.source_arn = policy.managed_policy(others[0])["document"], others[0]
        elif not here:
            renamed = policy.known_rename(bad.name)
            successors = policy.find_managed_policy_by_name(renamed, bad.partition) if renamed else []
            if successors:
                bad.renamed_to, bad.better_arn = renamed, successors[0]
                # The retired document is gone. Where AWS documents the successor as a scoped-down replacement
                # (rename table), the successor's document is what the template means; otherwise moving to it
                # may grant more and counts as widening.
                if policy.rename_table().get(bad.name, {}).get("successor_scope") == "narrower":
                    bad.document, bad.source_arn = policy.managed_policy(successors[0])["document"], successors[0]
        found[arn] = bad
    return list(found.values())


def _entry_arn(entry, partition: str) -> str | None:
    # Pseudo parameters only: a parameter's value is the deployment's, which a default need not be.
    return Resolver({}, PlaceholderValues(partition=partition)).resolve_string(entry)


def _uses(entries: list, bad: BadArn) -> list[int]:
    return [i for i, entry in enumerate(entries) if _entry_arn(entry, bad.partition) == bad.arn]


def _documents(properties: dict, partition: str, intended: dict[str, dict | None]) -> list[dict]:
    """The policy documents an identity declares: managed ones (as the template means them) and inline ones."""
    documents = []
    for entry in as_list(properties.get("ManagedPolicyArns")):
        arn = _entry_arn(entry, partition)
        if arn in intended:
            doc = intended[arn]
        else:
            known = policy.managed_policy(arn) if arn else None
            doc = known["document"] if known else None
        if doc:
            documents.append(doc)
    for inline in as_list(properties.get("Policies")):
        if isinstance(inline, dict) and isinstance(inline.get("PolicyDocument"), dict):
            documents.append(inline["PolicyDocument"])
    return documents


def _delta(changes: list[tuple[str, dict, dict, str]], intended: dict[str, dict | None]) -> PrivilegeDelta:
    before: set = set()
    after: set = set()
    for logical_id, old_props, new_props, partition in changes:
        before |= privilege_set(_documents(old_props, partition, intended), logical_id)
        after |= privilege_set(_documents(new_props, partition, intended), logical_id)
    return privilege_delta(before, after)


def _identities(document: dict):
    for logical_id, resource in sorted(resources_of(document).items()):
        if resource.get("Type") in IDENTITY_TYPES and isinstance(props(resource).get("ManagedPolicyArns"), list):
            yield logical_id, resource


def _inline_name(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name}-{n}", n + 1
    return candidate


class ManagedPolicyInline(Repair):
    """Replace the unattachable ARN, on every role, user and group that lists it, by an inline policy holding
    exactly the managed policy's document; refuse when that document is unknown rather than invent one.

    params: `strategy: fix-arn` rewrites the ARN instead wherever the name exists at another path.
    """

    id = "managed-policy-inline"

    def plan(self, template, graph, failures: list[Failure], params: dict) -> RepairPlan:
        bads = _bad_arns(failures)
        if (params or {}).get("strategy") == "fix-arn" and bads and all(b.better_arn for b in bads):
            return ManagedPolicyFixArn().plan(template, graph, failures, params)
        if bads and all(b.renamed_to and b.document is not None for b in bads):
            # A retired policy has no document left to inline; its documented successor is the repair.
            return ManagedPolicyFixArn().plan(template, graph, failures, params)
        operations: list[PatchOp] = []
        touched: list[str] = []
        notes: list[str] = []
        changes = []
        intended = {bad.arn: bad.document for bad in bads}
        for logical_id, resource in _identities(template.document):
            old_props = props(resource)
            entries = list(old_props["ManagedPolicyArns"])
            hits = [(bad, _uses(entries, bad)) for bad in bads]
            hits = [(bad, idx) for bad, idx in hits if idx]
            if not hits:
                continue
            unknown = [bad for bad, _ in hits if bad.document is None]
            if unknown:
                notes.extend(
                    f"{logical_id}: refused, {bad.summary}; an inline policy would have to invent permissions"
                    for bad in unknown
                )
                continue
            policies = old_props.get("Policies")
            if policies is not None and not isinstance(policies, list):
                notes.append(f"{logical_id}: refused, Policies is not a plain list")
                continue
            drop = {i for _, idx in hits for i in idx}
            kept = [entry for i, entry in enumerate(entries) if i not in drop]
            taken = {p.get("PolicyName") for p in policies or [] if isinstance(p, dict)}
            added = []
            for bad, _ in hits:
                name = _inline_name(bad.name, taken)
                taken.add(name)
                added.append({"PolicyName": name, "PolicyDocument": copy.deepcopy(bad.document)})
            base = ("Resources", logical_id, "Properties")
            if kept:
                operations.append(PatchOp("replace", ptr(*base, "ManagedPolicyArns"), kept))
            else:
                operations.append(PatchOp("remove", ptr(*base, "ManagedPolicyArns")))
            if policies is None:
                operations.append(PatchOp("add", ptr(*base, "Policies"), added))
            else:
                operations.extend(PatchOp("add", ptr(*base, "Policies", "-"), item) for item in added)
            new_props = {**old_props, "Policies": [*(policies or []), *added]}
            if kept:
                new_props["ManagedPolicyArns"] = kept
            else:
                new_props.pop("ManagedPolicyArns")
            changes.append((logical_id, old_props, new_props, hits[0][0].partition))
            touched.append(logical_id)
        reasons = "; ".join(bad.summary for bad in bads) or "no unattachable managed policy ARN named by the failures"
        if touched:
            rationale = (
                f"{reasons}. Replaced it on {', '.join(touched)} by an inline policy with exactly the managed "
                f"policy's document from the AWS managed-policy catalog (no broader permissions)."
            )
            if any(bad.better_arn for bad in bads):
                rationale += " The fix-arn strategy (params strategy: fix-arn) would rewrite the ARN instead."
        else:
            rationale = f"{reasons}. Nothing to change."
        return RepairPlan(
            repair=self.id,
            operations=operations,
            rationale=rationale,
            resources=touched,
            privilege=_delta(changes, intended) if changes else None,
            notes=notes,
        )


def _rewritten(entry, bad: BadArn) -> object:
    target = _ARN.fullmatch(bad.better_arn or "")
    new_tail = f"policy{target['path']}{target['name']}"
    old_tail = f"policy{bad.path}{bad.name}"
    if isinstance(entry, dict) and isinstance(entry.get("Fn::Sub"), str) and entry["Fn::Sub"].endswith(old_tail):
        return {"Fn::Sub": entry["Fn::Sub"][: -len(old_tail)] + new_tail}
    if isinstance(entry, str):
        return entry[: -len(old_tail)] + new_tail if entry.endswith(old_tail) else bad.better_arn
    if "AWS::Partition" in json.dumps(entry):
        return {"Fn::Sub": "arn:${AWS::Partition}:iam::aws:" + new_tail}
    return bad.better_arn


class ManagedPolicyFixArn(Repair):
    """Rewrite the unattachable ARN to the path (or documented new name) where the policy exists, on every
    role, user and group that lists it, keeping `${AWS::Partition}` when the template used it."""

    id = "managed-policy-fix-arn"

    def plan(self, template, graph, failures: list[Failure], params: dict) -> RepairPlan:
        bads = _bad_arns(failures)
        operations: list[PatchOp] = []
        touched: list[str] = []
        notes = [f"refused for {bad.arn}: no attachable policy of that name is known" for bad in bads if not bad.better_arn]
        changes = []
        intended = {bad.arn: bad.document for bad in bads}
        for logical_id, resource in _identities(template.document):
            old_props = props(resource)
            entries = list(old_props["ManagedPolicyArns"])
            new_entries = list(entries)
            for bad in bads:
                if not bad.better_arn:
                    continue
                for i in _uses(entries, bad):
                    new_entries[i] = _rewritten(entries[i], bad)
                    operations.append(
                        PatchOp("replace", ptr("Resources", logical_id, "Properties", "ManagedPolicyArns", i), new_entries[i])
                    )
            if new_entries != entries:
                touched.append(logical_id)
                changes.append((logical_id, old_props, {**old_props, "ManagedPolicyArns": new_entries}, bads[0].partition))
        summary = "; ".join(bad.summary for bad in bads) or "no unattachable managed policy ARN named by the failures"
        rationale = (
            f"{summary}. Rewrote the ARN on {', '.join(touched)}." if touched else f"{summary}. Nothing to change."
        )
        return RepairPlan(
            repair=self.id,
            operations=operations,
            rationale=rationale,
            resources=touched,
            privilege=_delta(changes, intended) if changes else None,
            notes=notes,
        )
