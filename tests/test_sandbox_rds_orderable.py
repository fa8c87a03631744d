"""RDS creates DB instances only with the engine versions and instance classes it offers (sandbox rule
rds-orderable): AWS's refusal texts, the sandbox's data kept apart from the forecast, and diagnosis's class."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.aws.targets import sandbox_client
from orchestrator.catalog.playbooks import class_of, load_playbooks, match_failure
from orchestrator.model import Failure
from orchestrator.sandbox.service_rules import RdsOrderable

# Real texts (CloudFormation's form, as the sandbox answers it): dybooksIT/k8s-aws-book#9 (2024-03-31) and
# sidpalas/devops-directive-terraform-course#8 (2022-04-24, "Cannot find version 9.5 for postgres").
RECORDED_COMBINATION = (
    'Resource handler returned message: "RDS does not support creating a DB instance with the following combination: '
    "DBInstanceClass=db.t2.micro, Engine=postgres, EngineVersion=11.22, LicenseModel=postgresql-license. For "
    "supported combinations of instance class and database engine version, see the documentation. (Service: Rds, "
    'Status Code: 400, Request ID: bc7a18af-0f03-4f19-9d99-1b2763d562b1)" (RequestToken: '
    "309d643a-c499-c0a5-bc4e-7580229fe3b2, HandlerErrorCode: InvalidRequest)"
)


def refusal(**properties) -> str | None:
    return RdsOrderable().refusal(properties)


def test_the_recorded_combination_is_refused_with_aws_text():
    message = refusal(Engine="postgres", EngineVersion="11.22", DBInstanceClass="db.t2.micro")
    assert message is not None and f'returned message: "{message} (Service: Rds' in RECORDED_COMBINATION


@pytest.mark.parametrize(("properties", "message"), [
    # widdix/aws-cf-templates state/rds-postgres.yaml: its EngineVersion list stops at 15.3.
    ({"Engine": "postgres", "EngineVersion": "15.3", "DBInstanceClass": "db.t2.micro"}, "Cannot find version 15.3 for postgres"),
    ({"Engine": "postgres", "EngineVersion": "9.5", "DBInstanceClass": "db.t3.micro"}, "Cannot find version 9.5 for postgres"),
    ({"Engine": "postgres", "EngineVersion": "11.16", "DBInstanceClass": "db.t3.micro"}, "Cannot find version 11.16 for postgres"),
    ({"Engine": "postgres", "EngineVersion": "11.22", "DBInstanceClass": "db.t3.micro"}, None),
    ({"Engine": "postgres", "EngineVersion": "16", "DBInstanceClass": "db.t3.micro"}, None),
    ({"Engine": "postgres", "DBInstanceClass": "db.t3.micro"}, None),
    ({"Engine": "postgres", "DBInstanceClass": "db.t4g.micro"}, None),
    ({"Engine": "postgres", "EngineVersion": "12.22", "DBInstanceClass": "db.m4.large"}, None),
    ({"Engine": "MySQL", "DBInstanceClass": "db.t2.micro"}, None),  # engines the data does not list: not checked
    ({"Engine": "postgres", "EngineVersion": "9.5", "DBInstanceClass": "db.t2.micro",
      "SourceDBInstanceIdentifier": "primary"}, None),  # a replica takes its source's version
])
def test_versions_rds_no_longer_offers(properties, message):
    assert refusal(**properties) == message


@pytest.mark.parametrize("klass", ["db.t2.micro", "db.m4.large", "db.r4.large", "db.m3.medium"])
def test_previous_generation_classes_with_the_default_version(klass):
    # startup-kit-templates db.cfn.yml: Engine postgres, no EngineVersion, DatabaseInstanceClass db.t2.micro.
    message = refusal(Engine="postgres", DBInstanceClass=klass)
    assert message is not None
    assert message.startswith(f"RDS does not support creating a DB instance with the following combination: "
                              f"DBInstanceClass={klass}, Engine=postgres, EngineVersion=17.")


def test_the_sandbox_data_is_not_the_forecasts():
    root = Path(__file__).resolve().parent.parent / "orchestrator"
    readers = [p for p in root.rglob("*.py") if "sandbox_rds_orderable" in p.read_text(encoding="utf-8")]
    assert [p.relative_to(root).as_posix() for p in readers] == ["sandbox/service_rules.py"]
    data = json.loads((root / "data" / "sandbox_rds_orderable.json").read_text())
    assert data["as_of"] and data["sources"]


def test_a_stack_with_a_class_rds_does_not_offer_fails_and_diagnosis_names_the_class(sandbox):
    cf = sandbox_client(sandbox, "cloudformation")
    body = {"Resources": {"Database": {"Type": "AWS::RDS::DBInstance", "Properties": {
        "Engine": "postgres", "DBInstanceClass": "db.t2.micro", "AllocatedStorage": "20",
        "MasterUsername": "corpus", "MasterUserPassword": "CorpusPassw0rd"}}}}
    cf.create_stack(StackName="db", TemplateBody=json.dumps(body), DisableRollback=True)
    events = cf.describe_stack_events(StackName="db")["StackEvents"]
    [reason] = [e["ResourceStatusReason"] for e in events
                if e["ResourceStatus"] == "CREATE_FAILED" and e["LogicalResourceId"] == "Database"]
    assert reason.startswith('Resource handler returned message: "RDS does not support creating a DB instance with '
                             "the following combination: DBInstanceClass=db.t2.micro, Engine=postgres, EngineVersion=17.")
    assert "(Service: Rds, Status Code: 400" in reason and reason.endswith("HandlerErrorCode: InvalidRequest)")
    books = load_playbooks()
    for text in (reason, RECORDED_COMBINATION):
        matched = match_failure(Failure("Database", "AWS::RDS::DBInstance", text, "CREATE_FAILED"), books)
        assert class_of(matched.playbook, books) == "capacity-unavailable"
