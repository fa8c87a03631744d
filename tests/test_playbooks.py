"""Playbook loading (schema, repair names, unique ids) and matching of failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator import repairs
from orchestrator.errors import BadInput
from orchestrator.model import Failure, FailureKind, Impact
from orchestrator.catalog.playbooks import Playbook, load_playbooks, match_failure, parse_playbook

VALID = """\
id: custom-bucket-name
class: bucket-name-taken
priority: 0
title: Bucket name taken
impact: medium
match:
  resource_types: [AWS::S3::Bucket]
  status: CREATE_FAILED
  reason: '(?P<bucket>[a-z0-9.-]+) already exists'
repair: retry
docs: https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
explanation: Bucket names are global.
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def failure(resource_type: str, reason: str, status: str = "CREATE_FAILED") -> Failure:
    return Failure(logical_id="R", resource_type=resource_type, status_reason=reason, status=status)


def test_packaged_playbooks_cover_every_failure_class():
    books = load_playbooks()
    ids = {book.id for book in books}
    for kind in FailureKind:
        # unknown and sandbox-limitation are classes no playbook may claim: never repaired, never retried.
        if kind in (FailureKind.UNKNOWN, FailureKind.SANDBOX_LIMITATION):
            assert kind.value not in ids
        else:
            assert kind.value in ids
    assert all(book.repair in repairs.REGISTRY for book in books)
    assert all(book.docs.startswith("https://docs.aws.amazon.com/") for book in books)
    assert all(isinstance(book.impact, Impact) and book.explanation for book in books)


@pytest.mark.parametrize(
    "case, resource_type, reason, playbook, groups",
    [
        (
            "managed policy, handler form",
            "AWS::IAM::Role",
            'Resource handler returned message: "Policy arn:aws:iam::aws:policy/AWSCodeDeployRole does not exist or is '
            'not attachable. (Service: Iam, Status Code: 404)" (RequestToken: 1f, HandlerErrorCode: NotFound)',
            "managed-policy-not-attachable",
            {"policy_arn": "arn:aws:iam::aws:policy/AWSCodeDeployRole"},
        ),
        (
            "logs kms",
            "AWS::Logs::LogGroup",
            "The specified KMS key does not exist or is not allowed to be used with Arn "
            "'arn:aws:logs:ap-southeast-1:342597974367:log-group:/aws/app' (Service: CloudWatchLogs, Status Code: 400)",
            "logs-kms-key-policy",
            {"log_group_arn": "arn:aws:logs:ap-southeast-1:342597974367:log-group:/aws/app"},
        ),
        (
            "route and gateway",
            "AWS::EC2::Route",
            "Route table rtb-0c4d5e6f and network gateway igw-0f1e2d3c belong to different networks (Service: AmazonEC2)",
            "missing-depends-on",
            {"route_table": "rtb-0c4d5e6f", "gateway": "igw-0f1e2d3c"},
        ),
        (
            "eip without gateway",
            "AWS::EC2::EIP",
            "Network vpc-0ee55ff6 has no Internet gateway attached",
            "missing-depends-on",
            {"vpc": "vpc-0ee55ff6"},
        ),
        (
            "role policy not yet attached",
            "AWS::Lambda::EventSourceMapping",
            "Invalid request provided: The provided execution role does not have permissions to call ReceiveMessage on SQS",
            "missing-depends-on-iam-policy",
            {"api": "ReceiveMessage", "service": "SQS"},
        ),
        (
            "apigateway deployment",
            "AWS::ApiGateway::Deployment",
            "The REST API doesn't contain any methods (Service: AmazonApiGateway; Status Code: 400)",
            "missing-depends-on-apigateway",
            {},
        ),
        ("throttling", "AWS::EC2::SecurityGroup", "Rate exceeded (Service: AmazonEC2; Status Code: 400)", "transient", {}),
        ("internal failure", "AWS::SNS::Topic", "Internal Failure", "transient", {}),
        ("nothing known", "AWS::EC2::Instance", "The flux capacitor is misaligned", "unknown", {}),
        ("right text, wrong type", "AWS::S3::Bucket", "Network vpc-1 has no Internet gateway attached", "unknown", {}),
    ],
)
def test_first_matching_playbook(case, resource_type, reason, playbook, groups):
    matched = match_failure(failure(resource_type, reason), load_playbooks())
    assert matched.playbook == playbook
    assert {k: v for k, v in matched.details.items()} == groups


def test_status_key_is_anded():
    book = parse_playbook(_data(VALID), "x.yaml")
    assert book.matches(failure("AWS::S3::Bucket", "my.bucket already exists")) == {"bucket": "my.bucket"}
    assert book.matches(failure("AWS::S3::Bucket", "my.bucket already exists", status="DELETE_FAILED")) is None
    assert book.matches(failure("AWS::SQS::Queue", "my.bucket already exists")) is None


def _data(text: str) -> dict:
    import tempfile

    from orchestrator.template import read_data_yaml

    with tempfile.TemporaryDirectory() as folder:
        return read_data_yaml(write(Path(folder), "p.yaml", text))


def test_match_failure_does_not_mutate_the_input():
    original = failure("AWS::EC2::SecurityGroup", "Rate exceeded")
    matched = match_failure(original, load_playbooks())
    assert original.playbook is None and original.details == {}
    assert matched.playbook == "transient"


def test_extra_folder_adds_playbooks(tmp_path):
    write(tmp_path, "bucket.yaml", VALID)
    books = load_playbooks([tmp_path])
    assert books[-1].id == "custom-bucket-name"
    assert books[-1].source.endswith("bucket.yaml")


@pytest.mark.parametrize(
    "case, text, message",
    [
        ("unknown repair", VALID.replace("repair: retry", "repair: rewrite-everything"), "no repair named 'rewrite-everything'"),
        ("bad regex", VALID.replace("'(?P<bucket>[a-z0-9.-]+) already exists'", "'(unclosed'"), "match.reason': bad regular expression"),
        ("unknown detector", VALID + "forecast: crystal_ball\n", "no detector named 'crystal_ball'"),
        ("unknown key", VALID + "severity: high\n", "unknown playbook key 'severity'"),
        ("boolean tree", VALID.replace("match:\n", "match:\n  any_of: []\n"), "unknown playbook key 'match.any_of'"),
        ("list of reasons", VALID.replace("  reason: '(?P<bucket>[a-z0-9.-]+) already exists'", "  reason: [a, b]"), "must be one regular expression"),
        ("bad impact", VALID.replace("impact: medium", "impact: severe"), "'impact': 'severe' is not one of"),
        ("missing docs", VALID.replace("docs: https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html\n", ""), "'docs' is required"),
        ("reserved id", VALID.replace("id: custom-bucket-name", "id: unknown"), "'unknown' is reserved"),
        ("reserved class", VALID.replace("class: bucket-name-taken", "class: unknown"), "'class': 'unknown' is reserved"),
        ("missing class", VALID.replace("class: bucket-name-taken\n", ""), "'class' is required"),
        ("missing priority", VALID.replace("priority: 0\n", ""), "'priority' is required"),
        ("priority not a number", VALID.replace("priority: 0", "priority: high"), "'priority' must be an integer"),
        ("priority out of range", VALID.replace("priority: 0", "priority: 5000"), "'priority' must be an integer"),
        ("not a mapping", "- just\n- a list\n", "must be a mapping"),
    ],
)
def test_bad_playbook_is_one_clear_line(tmp_path, case, text, message):
    path = write(tmp_path, "bad.yaml", text)
    with pytest.raises(BadInput) as caught:
        load_playbooks([tmp_path])
    assert message in caught.value.one_line()
    assert str(path) in caught.value.one_line()
    assert "\n" not in caught.value.one_line()


def test_duplicate_id_names_both_files(tmp_path):
    write(tmp_path, "a.yaml", VALID.replace("id: custom-bucket-name", "id: transient"))
    with pytest.raises(BadInput) as caught:
        load_playbooks([tmp_path])
    assert "playbook id 'transient' is also defined in playbooks/transient.yaml" in caught.value.one_line()


def test_invalid_yaml_names_file_and_line(tmp_path):
    write(tmp_path, "broken.yaml", "id: x\ntitle: [unclosed\n")
    with pytest.raises(BadInput) as caught:
        load_playbooks([tmp_path])
    assert "broken.yaml:" in caught.value.one_line()


def test_missing_extra_folder(tmp_path):
    with pytest.raises(BadInput, match="playbook folder not found"):
        load_playbooks([tmp_path / "nope"])


def test_to_json_round_trips_the_match():
    book: Playbook = next(b for b in load_playbooks() if b.id == "managed-policy-not-attachable")
    data = book.to_json()
    assert data["match"]["resource_types"] == ["AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group"]
    assert data["repair"] == "managed-policy-inline" and data["forecast"] == "managed_policy_catalog"


def test_cli_lists_playbooks(tmp_path):
    from typer.testing import CliRunner

    from orchestrator.cli import app

    write(tmp_path, "bucket.yaml", VALID)
    result = CliRunner().invoke(app, ["playbooks", "--format", "json", "--dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    listed = [item["id"] for item in json.loads(result.stdout)]
    priorities = [item["priority"] for item in json.loads(result.stdout)]
    assert priorities == sorted(priorities, reverse=True) and listed[-1] == "custom-bucket-name"
    text = CliRunner().invoke(app, ["playbooks"])
    assert text.exit_code == 0 and "managed-policy-not-attachable  [critical]" in text.stdout


def test_cli_bad_playbook_folder_exits_2(tmp_path):
    from typer.testing import CliRunner

    from orchestrator.cli import app

    write(tmp_path, "bad.yaml", VALID.replace("repair: retry", "repair: nope"))
    result = CliRunner().invoke(app, ["playbooks", "--dir", str(tmp_path)])
    assert result.exit_code == 2
    assert "no repair named 'nope'" in result.stderr and "Traceback" not in result.output


def test_entry_point_playbooks_load(tmp_path, monkeypatch):
    from importlib.metadata import EntryPoint

    import orchestrator.catalog.playbooks as module

    folder = tmp_path / "books"
    folder.mkdir()
    write(folder, "bucket.yaml", VALID)
    write(tmp_path, "thirdparty_books.py", f"def playbooks():\n    return [{str(folder)!r}]\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = EntryPoint(name="thirdparty", value="thirdparty_books:playbooks", group=module.ENTRY_POINT_GROUP)
    monkeypatch.setattr(module, "entry_points", lambda group: [entry] if group == module.ENTRY_POINT_GROUP else [])
    assert load_playbooks()[-1].id == "custom-bucket-name"
    assert load_playbooks(entry_point_playbooks=False)[-1].id != "custom-bucket-name"


def test_precedence_is_the_declared_priority_not_file_order(tmp_path):
    # Two playbooks match the same text; the higher priority wins whatever the file names say.
    low = VALID.replace("id: custom-bucket-name", "id: a-first-by-name").replace("priority: 0", "priority: 10")
    high = VALID.replace("id: custom-bucket-name", "id: z-last-by-name").replace("priority: 0", "priority: 20")
    write(tmp_path, "a.yaml", low)
    write(tmp_path, "z.yaml", high)
    books = [b for b in load_playbooks([tmp_path], entry_point_playbooks=False) if b.source.startswith(str(tmp_path))]
    matched = match_failure(failure("AWS::S3::Bucket", "my.bucket already exists"), list(reversed(books)))
    assert matched.playbook == "z-last-by-name"
    write(tmp_path, "z.yaml", high.replace("priority: 20", "priority: 5"))
    books = [b for b in load_playbooks([tmp_path], entry_point_playbooks=False) if b.source.startswith(str(tmp_path))]
    assert match_failure(failure("AWS::S3::Bucket", "my.bucket already exists"), books).playbook == "a-first-by-name"


def test_every_packaged_playbook_declares_a_contract_class():
    from orchestrator.catalog.playbooks import class_of

    books = load_playbooks()
    contract = {
        "managed-policy-not-attachable", "logs-kms-key-policy", "missing-depends-on", "transient",
        "iam-eventual-consistency", "name-already-exists", "name-invalid", "lambda-runtime-deprecated",
        "quota-exceeded", "bucket-not-empty", "export-in-use", "export-not-found", "ssm-parameter-not-found",
        "capacity-unavailable", "cidr-invalid", "kms-key-unusable", "certificate-not-ready", "stabilization-timeout",
        "custom-resource-failed", "replacement-of-named-resource", "rollback-failed", "resource-not-found",
        "access-denied", "invalid-property", "parameter-invalid", "template-invalid",
    }
    assert contract <= {book.failure_class for book in books}
    assert class_of("missing-depends-on-apigateway", books) == "missing-depends-on"
    assert class_of(None, books) == "unknown"


def test_whitespace_runs_in_a_reason_do_not_defeat_a_playbook():
    text = "Value 'x'  at 'functionName' failed to satisfy constraint:  Member must have length less than or equal to 64"
    assert match_failure(failure("AWS::Lambda::Function", text), load_playbooks()).playbook == "name-invalid"


def test_docs_list_every_packaged_class_as_the_contract():
    text = (Path(__file__).parent.parent / "docs" / "playbooks.md").read_text(encoding="utf-8")
    for book in load_playbooks():
        assert f"| `{book.failure_class}` |" in text, f"docs/playbooks.md does not list class {book.failure_class}"


@pytest.mark.parametrize("resource_type, text", [
    # Elastic Load Balancing's own wording, relayed by CloudFormation's handler (target groups and load
    # balancers named from a stack name: aws-solutions-library-samples/guidance-for-claude-code-with-amazon-bedrock#86).
    ("AWS::ElasticLoadBalancingV2::TargetGroup",
     "Resource handler returned message: \"Target group name 'claude-code-bedrock-monitoring-tg' cannot be longer "
     "than '32' characters (Service: ElasticLoadBalancingV2, Status Code: 400, Request ID: 1)\" (RequestToken: 2, "
     "HandlerErrorCode: InvalidRequest)"),
    ("AWS::ElasticLoadBalancingV2::LoadBalancer",
     "The load balancer name 'mysql-dsql-migrator-production-alb' cannot be longer than '32' characters"),
    ("AWS::ElasticLoadBalancingV2::TargetGroup",
     "Target group name 'my_group' can only contain characters that are alphanumeric characters or hyphens(-)"),
])
def test_elastic_load_balancing_name_texts_are_name_invalid(resource_type, text):
    assert match_failure(failure(resource_type, text), load_playbooks()).playbook == "name-invalid"


def test_a_target_group_that_is_not_found_is_not_a_name_problem():
    text = "Target groups 'arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web/1' not found"
    assert match_failure(failure("AWS::ElasticLoadBalancingV2::Listener", text), load_playbooks()).playbook != "name-invalid"
