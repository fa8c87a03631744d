"""The repair registry, the retry repair, and the seed scenario from recorded events to a repaired template."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from orchestrator import repairs
from orchestrator.deploy.diagnosis import diagnose
from orchestrator.errors import BadInput
from orchestrator.template.graph import build_graph
from orchestrator.model import Failure, RepairPlan, StackEvent
from orchestrator.catalog.playbooks import by_id, load_playbooks
from orchestrator.template import apply_patch, load_template
from orchestrator.repairs.base import Repair, RepairRegistry

FIXTURES = Path(__file__).parent / "fixtures"


class Noop(Repair):
    id = "noop"

    def plan(self, template, graph, failures, params) -> RepairPlan:
        return RepairPlan(repair=self.id, operations=[], rationale="nothing")


def test_builtin_ids():
    assert repairs.REGISTRY.ids() == [
        "add-depends-on", "availability-zone", "iam-eventual-consistency", "lambda-runtime", "logs-kms-key-policy",
        "managed-policy-fix-arn", "managed-policy-inline", "name-already-exists", "name-invalid", "needs-human",
        "policy-version", "retry",
    ]


def test_duplicate_id_raises_naming_both():
    registry = RepairRegistry()
    registry.register(Noop())
    with pytest.raises(BadInput, match="repair id 'noop' is registered twice"):
        registry.register(Noop())


@pytest.mark.parametrize("case, bad_id", [("empty", ""), ("upper case", "Noop"), ("spaces", "no op")])
def test_invalid_ids_rejected(case, bad_id):
    class Bad(Noop):
        id = bad_id

    with pytest.raises(BadInput, match="invalid id"):
        RepairRegistry().register(Bad())


def test_unknown_id_lists_known_ones():
    with pytest.raises(BadInput, match="known: add-depends-on"):
        repairs.REGISTRY.get("nope")


def test_retry_changes_nothing():
    template = load_template(FIXTURES / "repairs" / "seed_webtier.yaml")
    failure = Failure("PublicRoute", "AWS::EC2::Route", "Rate exceeded")
    plan = repairs.REGISTRY.get("retry").plan(template, build_graph(template), [failure], {})
    assert plan.operations == [] and plan.resources == ["PublicRoute"]
    assert "retry with backoff" in plan.rationale


def test_seed_scenario_events_to_repaired_template():
    raw = json.loads((FIXTURES / "events" / "seed_three_defects.json").read_text())
    events = [
        StackEvent(
            event_id=e["EventId"], stack_name=e["StackName"], logical_id=e["LogicalResourceId"],
            resource_type=e["ResourceType"], status=e["ResourceStatus"], reason=e.get("ResourceStatusReason", ""),
            physical_id=e.get("PhysicalResourceId", ""), timestamp=datetime.fromisoformat(e["Timestamp"].replace("Z", "+00:00")),
        )
        for e in raw
    ]
    template = load_template(FIXTURES / "repairs" / "seed_webtier.yaml")
    playbooks = load_playbooks()
    failures = diagnose(events, build_graph(template), playbooks)
    books = by_id(playbooks)
    grouped: dict[str, list[Failure]] = {}
    for failure in failures:
        grouped.setdefault(failure.playbook, []).append(failure)
    assert set(grouped) == {"managed-policy-not-attachable", "logs-kms-key-policy", "missing-depends-on"}
    for playbook_id, group in sorted(grouped.items()):
        book = books[playbook_id]
        plan = repairs.REGISTRY.get(book.repair).plan(template, build_graph(template), group, book.params)
        assert plan.operations, plan.notes
        assert not (plan.privilege and plan.privilege.widening)
        template = apply_patch(template, plan.operations)
    res = template.resources
    assert "ManagedPolicyArns" not in res["CodeDeployServiceRole"]["Properties"]
    assert res["PublicRoute"]["DependsOn"] == "GatewayAttachment"
    sids = [s["Sid"] for s in res["EncryptionKey"]["Properties"]["KeyPolicy"]["Statement"]]
    assert sids == ["EnableRoot", "Allow services to use the key", "AllowCloudWatchLogsUseOfKey"]
    assert "!GetAtt EncryptionKey.Arn" in template.dumps()
