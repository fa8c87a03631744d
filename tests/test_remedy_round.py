"""apply_round with a stub registry: applied, unchanged, widening, misfit and lint-failing plans in one round."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from orchestrator import repairs
from orchestrator.model import Failure, PatchOp, PrivilegeDelta, RepairPlan
from orchestrator.remedy.apply import RepairGroup, apply_round
from orchestrator.template import load_template, loads_template

FIXTURES = Path(__file__).parent / "fixtures" / "repairs"
BAD_ARN = "arn:aws:iam::aws:policy/AWSCodeDeployRole"
GOOD_ARN = "arn:aws:iam::aws:policy/service-role/AWSCodeDeployRole"

BASE = loads_template(
    json.dumps({"AWSTemplateFormatVersion": "2010-09-09",
                "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}, "Queue": {"Type": "AWS::SQS::Queue"}}}, indent=2)
    + "\n",
    fmt="json", name="base.json",
)


class Scripted:
    """A repair whose plan is fixed in advance (ops, privilege delta, and the id the plan reports)."""

    def __init__(self, repair_id: str, operations: list[PatchOp], *, widening: bool = False,
                 reported_id: str | None = None):
        self.id = repair_id
        self.operations = operations
        self.widening = widening
        self.reported_id = reported_id or repair_id
        self.calls: list[dict] = []

    def plan(self, template, graph, failures, params):
        self.calls.append({"document": copy.deepcopy(template.document), "params": dict(params)})
        privilege = PrivilegeDelta(added=["Allow * s3:* *"], widening=True) if self.widening else None
        return RepairPlan(repair=self.reported_id, operations=list(self.operations), rationale=f"{self.id} rationale",
                          resources=sorted({f.logical_id for f in failures}), privilege=privilege)


class StubRegistry:
    """Stub repairs by id; any other id is looked up in the real registry."""

    def __init__(self, *stubs: Scripted):
        self.stubs = {stub.id: stub for stub in stubs}

    def get(self, repair_id: str):
        return self.stubs[repair_id] if repair_id in self.stubs else repairs.REGISTRY.get(repair_id)


def group(repair_id: str, logical_id: str = "Topic", **params) -> RepairGroup:
    failure = Failure(logical_id=logical_id, resource_type="AWS::SNS::Topic", status_reason=f"{repair_id} failed",
                      playbook=f"{repair_id}-book")
    return RepairGroup(repair=repair_id, playbook=f"{repair_id}-book", failures=[failure], params=params)


NAME_TOPIC = Scripted("name-topic", [PatchOp("add", "/Resources/Topic/Properties", {"TopicName": "orders"})])
NOTHING = Scripted("nothing", [])
WIDEN = Scripted("widen", [PatchOp("add", "/Resources/Queue/Properties", {"DelaySeconds": 5})], widening=True)
MISFIT = Scripted("misfit", [PatchOp("replace", "/Resources/Missing/Properties/X", 1)])
# An unknown property: cfn-lint's E3002 on the queue.
LINT_BAD = Scripted("lint-bad", [PatchOp("add", "/Resources/Queue/Properties", {"NoSuchProperty": 1})])
# Planned against the template lint-bad left: it needs the Properties lint-bad added.
AFTER_LINT_BAD = Scripted("after-lint-bad", [PatchOp("add", "/Resources/Queue/Properties/DelaySeconds", 5)])


def test_a_patch_that_does_not_fit_is_rejected_and_the_round_goes_on():
    registry = StubRegistry(MISFIT, NAME_TOPIC)
    result = apply_round(BASE, [group("misfit"), group("name-topic")], region="us-east-1", registry=registry)

    assert [item.plan.repair for item in result.applied] == ["name-topic"]
    (rejected,) = result.rejected
    assert rejected["repair"] == "misfit" and rejected["reason"] == "does not fit the template"
    assert rejected["playbooks"] == ["misfit-book"] and rejected["resources"] == ["Topic"]
    assert rejected["errors"] == ["path /Resources/Missing/Properties/X: no key 'Missing'"]
    assert result.template.document["Resources"]["Topic"]["Properties"] == {"TopicName": "orders"}
    assert "Properties" not in BASE.document["Resources"]["Topic"], "the input template is never patched in place"


def test_a_mixed_round_applies_what_passes_and_reports_the_rest():
    registry = StubRegistry(NOTHING, WIDEN, MISFIT, NAME_TOPIC)
    groups = [group("nothing"), group("widen", "Queue"), group("misfit"), group("name-topic")]
    result = apply_round(BASE, groups, region="us-east-1", registry=registry)

    assert [item.plan.repair for item in result.applied] == ["nothing", "name-topic"]
    nothing, named = result.applied
    assert nothing.before is BASE and nothing.after is BASE and nothing.to_json()["diff"] == ""
    assert named.before is BASE and named.after is result.template
    assert [(r["repair"], r["reason"]) for r in result.rejected] == [
        ("widen", "grants more than it replaces (--allow-widening accepts it)"),
        ("misfit", "does not fit the template"),
    ]
    assert result.rejected[0]["privilege"] == {"added": ["Allow * s3:* *"], "removed": [], "widening": True}
    assert result.template.document["Resources"] == {
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "orders"}},
        "Queue": {"Type": "AWS::SQS::Queue"},
    }
    added = [line for line in named.to_json()["diff"].splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert added == ['+      "Type": "AWS::SNS::Topic",', '+      "Properties": {', '+        "TopicName": "orders"', '+      }']


def test_allow_widening_applies_the_widening_plan_on_what_the_previous_one_left():
    registry = StubRegistry(NAME_TOPIC, WIDEN)
    widen = Scripted("widen", WIDEN.operations, widening=True)
    registry.stubs["widen"] = widen
    result = apply_round(BASE, [group("name-topic"), group("widen", "Queue")], region="us-east-1",
                         registry=registry, allow_widening=True)

    assert [item.plan.repair for item in result.applied] == ["name-topic", "widen"]
    assert result.rejected == []
    # Each plan sees the template the previous repair left.
    assert widen.calls[0]["document"]["Resources"]["Topic"]["Properties"] == {"TopicName": "orders"}
    assert result.template.document["Resources"]["Queue"]["Properties"] == {"DelaySeconds": 5}


def test_lint_isolation_drops_the_failing_plan_and_the_one_that_depended_on_it():
    registry = StubRegistry(NAME_TOPIC, LINT_BAD, AFTER_LINT_BAD)
    groups = [group("name-topic"), group("lint-bad", "Queue"), group("after-lint-bad", "Queue")]
    result = apply_round(BASE, groups, region="us-east-1", registry=registry)

    assert [item.plan.repair for item in result.applied] == ["name-topic"]
    lint, orphan = result.rejected
    assert lint["repair"] == "lint-bad" and lint["reason"] == "introduces cfn-lint errors"
    assert any("E3002" in error and "NoSuchProperty" in error for error in lint["errors"]), lint["errors"]
    assert orphan["repair"] == "after-lint-bad"
    assert orphan["reason"] == "no longer applies after another repair was rejected"
    assert orphan["errors"] == ["path /Resources/Queue/Properties/DelaySeconds: no key 'Properties'"]
    kept = result.applied[0]
    assert kept.before is BASE and kept.after is result.template and kept.group is groups[0]
    assert result.template.document["Resources"]["Queue"] == {"Type": "AWS::SQS::Queue"}


def test_without_lint_the_round_keeps_every_plan_that_fits():
    registry = StubRegistry(NAME_TOPIC, LINT_BAD, AFTER_LINT_BAD)
    groups = [group("name-topic"), group("lint-bad", "Queue"), group("after-lint-bad", "Queue")]
    result = apply_round(BASE, groups, region="us-east-1", registry=registry, lint=False)
    assert [item.plan.repair for item in result.applied] == ["name-topic", "lint-bad", "after-lint-bad"]
    assert result.template.document["Resources"]["Queue"]["Properties"] == {"NoSuchProperty": 1, "DelaySeconds": 5}


def test_a_handed_off_plan_keeps_its_group_through_lint_isolation():
    """managed-policy-inline with strategy fix-arn returns a managed-policy-fix-arn plan; a lint-failing sibling
    sends the round through isolation, which must find the group by the applied repair, not the plan's id."""
    template = load_template(FIXTURES / "managed_policy_roles.json")
    role = next(name for name, body in template.document["Resources"].items() if body["Type"] == "AWS::IAM::Role")
    failure = Failure(logical_id=role, resource_type="AWS::IAM::Role",
                      status_reason=f"Policy {BAD_ARN} does not exist or is not attachable.",
                      playbook="managed-policy-not-attachable", details={"policy_arn": BAD_ARN})
    inline = RepairGroup(repair="managed-policy-inline", playbook="managed-policy-not-attachable",
                         failures=[failure], params={"strategy": "fix-arn"})
    lint_bad = Scripted("lint-bad", [PatchOp("add", f"/Resources/{role}/Properties/NoSuchProperty", 1)])
    result = apply_round(template, [inline, group("lint-bad", role)], region="us-east-1",
                         registry=StubRegistry(lint_bad))

    (applied,) = result.applied
    assert applied.plan.repair == "managed-policy-fix-arn" and applied.group is inline
    assert applied.to_json()["playbook"] == "managed-policy-not-attachable"
    (rejected,) = result.rejected
    assert rejected["repair"] == "lint-bad" and rejected["reason"] == "introduces cfn-lint errors"
    arns = [arn for body in result.template.document["Resources"].values()
            for arn in (body.get("Properties") or {}).get("ManagedPolicyArns", []) if isinstance(arn, str)]
    assert GOOD_ARN in arns and BAD_ARN not in arns


def test_a_handed_off_plan_that_fails_lint_is_reported_under_its_group():
    """The rejection names the group that asked for the repair, even when the plan reports another id."""
    handoff = Scripted("asked-for", [PatchOp("add", "/Resources/Queue/Properties", {"NoSuchProperty": 1})],
                       reported_id="handed-to")
    result = apply_round(BASE, [group("asked-for", "Queue"), group("name-topic")], region="us-east-1",
                         registry=StubRegistry(handoff, NAME_TOPIC))
    assert [item.plan.repair for item in result.applied] == ["name-topic"]
    (rejected,) = result.rejected
    assert (rejected["repair"], rejected["playbook"], rejected["reason"]) == (
        "asked-for", "asked-for-book", "introduces cfn-lint errors")


@pytest.mark.parametrize("lint", [True, False])
def test_a_round_of_unchanged_plans_returns_the_input_itself(lint):
    result = apply_round(BASE, [group("nothing")], region="us-east-1", registry=StubRegistry(NOTHING), lint=lint)
    assert result.template is BASE and result.rejected == [] and result.plans[0].operations == []


def test_lint_isolation_keeps_unchanged_plans_in_their_place():
    registry = StubRegistry(NOTHING, LINT_BAD, NAME_TOPIC)
    groups = [group("nothing"), group("lint-bad", "Queue"), group("name-topic")]
    result = apply_round(BASE, groups, region="us-east-1", registry=registry)
    assert [item.plan.repair for item in result.applied] == ["nothing", "name-topic"]
    assert [r["repair"] for r in result.rejected] == ["lint-bad"]
    assert result.applied[0].group is groups[0] and result.applied[1].before is BASE


def test_failures_are_grouped_by_the_repair_their_playbook_names_and_the_rest_left_out():
    from orchestrator.catalog.playbooks import load_playbooks
    from orchestrator.remedy.apply import group_failures

    books = {book.id: book for book in load_playbooks()}

    def failure(logical_id: str, playbook: str) -> Failure:
        return Failure(logical_id=logical_id, resource_type="AWS::IAM::Role", status_reason="r", status="CREATE_FAILED",
                       playbook=playbook)

    groups = group_failures([failure("A", "managed-policy-not-attachable"), failure("B", "managed-policy-not-attachable"),
                             failure("C", "unknown"), failure("D", "no-such-playbook")], books, {})
    assert [(g.repair, [f.logical_id for f in g.failures]) for g in groups] == [
        (books["managed-policy-not-attachable"].repair, ["A", "B"])]
