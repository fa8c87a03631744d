"""RDS refuses retired engines, engine versions and engine modes in the sandbox, and diagnosis names the class."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from orchestrator import deploy_with_autofix
from orchestrator.catalog.playbooks import class_of, load_playbooks
from orchestrator.sandbox.service_rules import RdsRetiredEngine

E2E = Path(__file__).parent / "fixtures" / "e2e"


class _Check:
    def __init__(self, resource_type: str, **properties) -> None:
        self.resource_type, self.properties = resource_type, properties


def refusal(today: date, resource_type: str = "AWS::RDS::DBCluster", **properties) -> str | None:
    failure = RdsRetiredEngine(today=lambda: today)(_Check(resource_type, **properties))  # type: ignore[arg-type]
    return None if failure is None else failure.message


@pytest.mark.parametrize(("properties", "message"), [
    ({"Engine": "aurora"}, "Unrecognized engine name: aurora"),
    ({"Engine": "Aurora"}, "Unrecognized engine name: aurora"),
    ({"Engine": "aurora", "EngineVersion": "5.6.10a"}, "Cannot find version 5.6.10a for aurora"),
    ({"Engine": "aurora-mysql", "EngineVersion": "5.6.mysql_aurora.1.22.2"},
     "Cannot find version 5.6.mysql_aurora.1.22.2 for aurora-mysql"),
    ({"Engine": "aurora-mysql", "EngineMode": "serverless"},
     "The engine mode serverless you requested is currently unavailable."),
    ({"Engine": "aurora-mysql", "EngineVersion": "8.0.mysql_aurora.3.08.0"}, None),
    ({"Engine": "aurora-postgresql", "EngineMode": "provisioned"}, None),
    ({"Engine": "mysql"}, None),
])
def test_retired_after_end_of_life(properties, message):
    assert refusal(date(2026, 12, 1), **properties) == message


def test_not_retired_before_end_of_life():
    assert refusal(date(2023, 2, 28), Engine="aurora") is None
    assert refusal(date(2023, 3, 1), Engine="aurora") == "Unrecognized engine name: aurora"
    assert refusal(date(2025, 3, 31), Engine="aurora-mysql", EngineMode="serverless") is None


def test_instance_and_other_types():
    assert refusal(date(2026, 12, 1), "AWS::RDS::DBInstance", Engine="aurora") == "Unrecognized engine name: aurora"
    assert refusal(date(2026, 12, 1), "AWS::Neptune::DBCluster", Engine="aurora") is None


def test_sandbox_refuses_aurora_mysql_1_and_diagnosis_says_invalid_property(tmp_path, sandbox):
    template = tmp_path / "rds-retired-engine.yaml"
    shutil.copyfile(E2E / "rds-retired-engine.yaml", template)
    result = deploy_with_autofix(template, forecast=False, target="endpoint", endpoint_url=sandbox.endpoint_url,
                                 credentials=sandbox.credentials)
    first = result.attempts[0]
    assert first["stack_status"] in ("ROLLBACK_COMPLETE", "CREATE_FAILED")
    [failed] = first["failures"]
    assert failed["logical_id"] == "DatabaseCluster"
    assert failed["status_reason"].startswith('Resource handler returned message: "Unrecognized engine name: aurora '
                                              "(Service: Rds, Status Code: 400")
    assert failed["status_reason"].endswith("HandlerErrorCode: InvalidRequest)")
    # The RDS playbook (more specific than the generic invalid-property one) names it; its class is invalid-property.
    assert failed["playbook"] == "rds-engine-retired"
    assert class_of(failed["playbook"], load_playbooks()) == "invalid-property"
    assert result.status != "succeeded"
    assert first["repairs"] == []
