"""RDS forecast detectors: retired engines, engine versions and engine modes, and instance classes RDS does not offer."""

from __future__ import annotations

import textwrap
from datetime import date

import pytest

from orchestrator.catalog.playbooks import class_of, load_playbooks
from orchestrator.deploy.diagnosis import diagnose
from orchestrator.detectors import DetectorContext
from orchestrator.detectors.rds import RdsEngineRetired, RdsInstanceClassNotOffered
from orchestrator.forecast.run import forecast
from orchestrator.model import StackEvent
from orchestrator.template import loads_template, rds_offerings
from orchestrator.template.graph import build_graph


def ctx_for(text: str, parameters: dict | None = None) -> DetectorContext:
    tpl = loads_template(textwrap.dedent(text), fmt="yaml")
    return DetectorContext(template=tpl, graph=build_graph(tpl), parameters=parameters or {})


def engine_findings(text: str, parameters: dict | None = None, today: date = date(2026, 12, 1)):
    return RdsEngineRetired(today=today)(ctx_for(text, parameters))


def class_findings(text: str, parameters: dict | None = None):
    return RdsInstanceClassNotOffered()(ctx_for(text, parameters))


def newest(engine: str) -> str:
    listed = rds_offerings.engines("AWS::RDS::DBInstance")
    assert listed is not None
    return sorted(listed.current(engine), key=rds_offerings.version_key)[-1]


POSTGRES = """
Parameters:
  EngineVersion: {Type: String, Default: "15.3"}
  NoDefault: {Type: String}
Resources:
  Db:
    Type: AWS::RDS::DBInstance
    Properties:
      Engine: postgres
      EngineVersion: !Ref EngineVersion
      DBInstanceClass: db.t3.micro
      AllocatedStorage: "20"
"""


def test_a_deprecated_minor_version_is_an_error_naming_current_versions_of_its_line():
    found = engine_findings(POSTGRES)
    assert [(f.logical_id, f.playbook, f.severity, f.fixable) for f in found] == [("Db", "rds-engine-retired", "error", False)]
    assert "15.3 is deprecated" in found[0].message
    current = found[0].details["current"]
    assert current and all(v.startswith("15.") for v in current)
    assert "15.3" not in current
    assert class_of("rds-engine-retired", load_playbooks()) == "invalid-property"


def test_a_current_version_and_a_version_only_known_at_deploy_time_give_nothing():
    assert engine_findings(POSTGRES, {"EngineVersion": newest("postgres")}) == []
    no_value = POSTGRES.replace("EngineVersion: !Ref EngineVersion", "EngineVersion: !Ref NoDefault")
    assert engine_findings(no_value) == []
    imported = POSTGRES.replace("EngineVersion: !Ref EngineVersion", "EngineVersion: !ImportValue shared-version")
    assert engine_findings(imported) == []


def test_an_unlisted_older_version_is_an_error_and_a_newer_one_is_left_alone():
    found = engine_findings(POSTGRES, {"EngineVersion": "15.0.1"})
    assert len(found) == 1 and "is not a version RDS lists" in found[0].message
    # Newer than every listed 15.x: possibly newer than cfn-lint's data, so no claim.
    assert engine_findings(POSTGRES, {"EngineVersion": "15.999"}) == []


AURORA_1 = """
Resources:
  Cluster:
    Type: AWS::RDS::DBCluster
    Properties: {Engine: aurora, MasterUsername: admin, MasterUserPassword: Passw0rd1234}
  Instance:
    Type: AWS::RDS::DBInstance
    Properties: {Engine: Aurora, DBClusterIdentifier: !Ref Cluster, DBInstanceClass: db.r5.large}
"""


def test_the_retired_aurora_engine_is_flagged_on_cluster_and_instances():
    found = engine_findings(AURORA_1)
    assert [f.logical_id for f in found] == ["Cluster", "Instance"]
    assert all("engine 'aurora'" in f.message and "aurora-mysql" in f.message for f in found)
    assert found[0].details["docs"].endswith("Aurora.MySQL56.EOL.html")


SERVERLESS_V1 = """
Resources:
  Cluster:
    Type: AWS::RDS::DBCluster
    Properties: {Engine: aurora-mysql, EngineMode: serverless}
"""


def test_aurora_serverless_v1_after_its_end_of_life():
    found = engine_findings(SERVERLESS_V1)
    assert len(found) == 1 and "EngineMode serverless" in found[0].message
    assert engine_findings(SERVERLESS_V1, today=date(2025, 3, 31)) == []
    assert engine_findings(SERVERLESS_V1.replace("serverless", "provisioned")) == []


T2_POSTGRES = """
Parameters:
  Class: {Type: String, Default: db.t2.micro}
Resources:
  Db:
    Type: AWS::RDS::DBInstance
    Properties: {Engine: postgres, DBInstanceClass: !Ref Class, AllocatedStorage: "20"}
"""


def test_a_class_no_current_version_offers_is_an_error_with_same_size_alternatives():
    found = class_findings(T2_POSTGRES)
    assert [(f.logical_id, f.playbook, f.fixable) for f in found] == [("Db", "rds-instance-class", False)]
    assert "db.t2.micro" in found[0].message and "default" in found[0].message
    assert "db.t3.micro" in found[0].details["alternatives"]
    assert all(c.endswith(".micro") for c in found[0].details["alternatives"])
    assert class_of("rds-instance-class", load_playbooks()) == "capacity-unavailable"


def test_an_offered_class_or_a_version_decided_elsewhere_gives_nothing():
    assert class_findings(T2_POSTGRES, {"Class": "db.t3.micro"}) == []
    snapshot = T2_POSTGRES.replace("AllocatedStorage", "DBSnapshotIdentifier: snap, AllocatedStorage")
    assert class_findings(snapshot) == []
    no_engine = T2_POSTGRES.replace("Engine: postgres", "Engine: !ImportValue engine")
    assert class_findings(no_engine) == []


def test_a_class_offered_for_the_given_version_is_checked_against_that_version():
    version = newest("postgres")
    pinned = T2_POSTGRES.replace("AllocatedStorage", f"EngineVersion: '{version}', AllocatedStorage")
    found = class_findings(pinned)
    offered = rds_offerings.classes_for_version("postgres", version)
    assert offered is not None and "db.t2.micro" not in offered
    assert len(found) == 1 and f"postgres {version}" in found[0].message
    assert class_findings(pinned, {"Class": sorted(offered)[0]}) == []


def test_forecast_drops_findings_on_a_resource_whose_condition_is_false():
    text = """
    Parameters:
      WithDb: {Type: String, Default: "yes"}
    Conditions:
      Db: !Equals [!Ref WithDb, "yes"]
    Resources:
      Cluster:
        Type: AWS::RDS::DBCluster
        Condition: Db
        Properties: {Engine: aurora}
    """
    tpl = loads_template(textwrap.dedent(text), fmt="yaml")
    assert [f.playbook for f in forecast(tpl, parameters={"WithDb": "yes"})] == ["rds-engine-retired"]
    assert forecast(tpl, parameters={"WithDb": "no"}) == []


@pytest.mark.parametrize(("reason", "playbook"), [
    # RDS's texts as CloudFormation relays them (widdix/aws-cf-templates, startup-kit-templates in the corpus).
    ("Cannot find version 15.3 for postgres (Service: Rds, Status Code: 400)", "rds-engine-retired"),
    ("RDS does not support creating a DB instance with the following combination: DBInstanceClass=db.t2.micro, "
     "Engine=postgres, EngineVersion=17.2, LicenseModel=postgresql-license. For supported combinations of instance "
     "class and database engine version, see the documentation. (Service: Rds, Status Code: 400)", "rds-instance-class"),
])
def test_diagnosis_names_the_same_playbooks(reason, playbook):
    events = [StackEvent(event_id="1", stack_name="s", logical_id="Db", resource_type="AWS::RDS::DBInstance",
                         status="CREATE_FAILED", reason=reason)]
    assert [f.playbook for f in diagnose(events)] == [playbook]
