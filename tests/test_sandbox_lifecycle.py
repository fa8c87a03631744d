"""Tests of the sandbox's lifecycle: start, stop, reset, accounts, credentials, self-test, update rollback."""

from __future__ import annotations

import json
import socket
import threading

import pytest
from botocore.exceptions import ClientError

from orchestrator.sandbox import Sandbox
from orchestrator.sandbox import patches
from orchestrator.aws.targets import sandbox_client

TOPIC = {"Resources": {"Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "alerts"}}}}


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_start_stop_context_manager() -> None:
    with Sandbox(region="eu-central-1") as box:
        assert box.running and box.endpoint_url == f"http://127.0.0.1:{box.port}"
        assert _port_open(box.port)
        assert box.credentials["region_name"] == "eu-central-1"
        assert len(box.account_id) == 12 and box.account_id.isdigit()
        assert sandbox_client(box, "sts").get_caller_identity()["Account"] == box.account_id
        port = box.port
    assert not box.running and not _port_open(port)
    box.stop()  # stopping twice is harmless


def test_reset_empties_the_account_and_keeps_credentials(sandbox: Sandbox) -> None:
    cf = sandbox_client(sandbox, "cloudformation")
    cf.create_stack(StackName="t", TemplateBody=json.dumps(TOPIC))
    assert sandbox_client(sandbox, "sns").list_topics()["Topics"]
    sandbox.reset()
    assert cf.list_stacks()["StackSummaries"] == []
    assert sandbox_client(sandbox, "sns").list_topics()["Topics"] == []
    assert sandbox_client(sandbox, "sts").get_caller_identity()["Account"] == sandbox.account_id


def test_sandboxes_started_from_threads_get_distinct_accounts() -> None:
    boxes: list[Sandbox] = []
    lock = threading.Lock()

    def start() -> None:
        box = Sandbox().start()
        with lock:
            boxes.append(box)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert len({b.account_id for b in boxes}) == 3 and len({b.port for b in boxes}) == 3
        sandbox_client(boxes[0], "cloudformation").create_stack(StackName="mine", TemplateBody=json.dumps(TOPIC))
        assert [sandbox_client(b, "cloudformation").list_stacks()["StackSummaries"] != [] for b in boxes] == [True, False, False]
    finally:
        for box in boxes:
            box.stop()


def test_taken_port_raises_instead_of_hanging(sandbox: Sandbox) -> None:
    with pytest.raises(OSError):
        Sandbox(port=sandbox.port).start()


def test_self_test_and_seams_pass_on_the_pinned_moto() -> None:
    patches.check_seams()
    patches.self_test()
    assert patches.installed()


def test_self_test_verdict_is_cached_per_machine_and_invalidated_by_a_change(tmp_path, monkeypatch) -> None:
    from orchestrator.sandbox import bootstrap

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(patches, "_self_tested", False)
    assert patches.self_test() is True, "an empty cache runs the stack test"
    assert (tmp_path / "cfn-autofix" / "sandbox-self-test.json").is_file()
    monkeypatch.setattr(patches, "_self_tested", False)
    assert patches.self_test() is False, "a second process on this machine trusts the cached verdict"
    monkeypatch.setattr(patches, "_self_tested", False)
    assert patches.self_test(use_cache=False) is True
    # Another moto version (or seam table, or source) is another key: the verdict no longer applies.
    key = bootstrap.self_test_key("0.0.0", [])
    assert not bootstrap.self_test_passed_before(key)
    # Another install on this machine (its own sources) keeps its verdict beside ours: neither evicts the other.
    bootstrap.remember_self_test(key)
    monkeypatch.setattr(patches, "_self_tested", False)
    assert bootstrap.self_test_passed_before(key) and patches.self_test() is False
    (tmp_path / "cfn-autofix" / "sandbox-self-test.json").write_text("not json")
    monkeypatch.setattr(patches, "_self_tested", False)
    assert patches.self_test() is True, "an unreadable cache is ignored, not trusted"


def test_region_lists_are_shared_across_sessions() -> None:
    import boto3

    first = boto3.Session().get_available_regions("ec2")
    first.append("mutated-by-the-caller")
    assert "us-east-1" in boto3.Session().get_available_regions("ec2")
    assert "mutated-by-the-caller" not in boto3.Session().get_available_regions("ec2")


def test_plain_moto_accounts_are_left_unpatched(sandbox: Sandbox) -> None:
    """Accounts no sandbox owns keep moto's own behaviour (what bench/ compares against)."""
    import boto3

    plain = boto3.client("cloudformation", endpoint_url=sandbox.endpoint_url, region_name="us-east-1",
                         aws_access_key_id="AKIAPLAINMOTO0000000", aws_secret_access_key="x")
    template = {"Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []},
        "ManagedPolicyArns": ["arn:aws:iam::aws:policy/AWSCodeDeployRole"]}}}}
    plain.create_stack(StackName="plain", TemplateBody=json.dumps(template))
    try:
        assert plain.describe_stacks(StackName="plain")["Stacks"][0]["StackStatus"] == "CREATE_COMPLETE"
    finally:
        plain.delete_stack(StackName="plain")


def test_served_sandbox_applies_the_rules_to_any_keys(sandbox: Sandbox) -> None:
    """`cfn-autofix sandbox` serves every account with the rules: the AWS CLI's own keys hit them too."""
    import boto3

    from orchestrator.sandbox import context

    template = {"Resources": {"Role": {"Type": "AWS::IAM::Role", "Properties": {
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []},
        "ManagedPolicyArns": ["arn:aws:iam::aws:policy/AWSCodeDeployRole"]}}}}
    anyone = boto3.client("cloudformation", endpoint_url=sandbox.endpoint_url, region_name="us-east-1",
                          aws_access_key_id="AKIASOMEONEELSE00000", aws_secret_access_key="x")
    context.serve_all_accounts("us-east-1")
    try:
        anyone.create_stack(StackName="served", TemplateBody=json.dumps(template))
        stack = anyone.describe_stacks(StackName="served")["Stacks"][0]
        assert stack["StackStatus"] == "ROLLBACK_COMPLETE"
        reasons = [e.get("ResourceStatusReason", "") for e in anyone.describe_stack_events(StackName="served")["StackEvents"]
                   if e["LogicalResourceId"] == "Role" and e["ResourceStatus"] == "CREATE_FAILED"]
        assert reasons and "does not exist or is not attachable" in reasons[0]
        anyone.delete_stack(StackName="served")
    finally:
        context.serve_all_accounts(None)
    assert context.context_for("123456789012") is None


def test_update_with_rollback_enabled_rolls_back_what_it_created(sandbox: Sandbox) -> None:
    cf = sandbox_client(sandbox, "cloudformation")
    cf.create_stack(StackName="u", TemplateBody=json.dumps(TOPIC))
    broken = json.loads(json.dumps(TOPIC))
    broken["Resources"]["Queue"] = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "jobs"}}
    broken["Resources"]["Role"] = {"Type": "AWS::IAM::Role", "DependsOn": "Queue", "Properties": {
        "AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": []},
        "ManagedPolicyArns": ["arn:aws:iam::aws:policy/NoSuchPolicy"]}}
    cf.update_stack(StackName="u", TemplateBody=json.dumps(broken))
    stack = cf.describe_stacks(StackName="u")["Stacks"][0]
    assert stack["StackStatus"] == "UPDATE_ROLLBACK_COMPLETE"
    assert sandbox_client(sandbox, "sqs").list_queues().get("QueueUrls", []) == []
    restored = cf.get_template(StackName="u")["TemplateBody"]
    assert (json.loads(restored) if isinstance(restored, str) else restored) == TOPIC
    with pytest.raises(ClientError) as caught:
        cf.update_stack(StackName="u", TemplateBody=json.dumps(TOPIC))
    assert caught.value.response["Error"]["Message"] == "No updates are to be performed."


def test_emulated_resources_of_unknown_stack_is_empty(sandbox: Sandbox) -> None:
    assert sandbox.emulated_resources("nope") == []


def test_kms_key_pairs_are_made_on_first_asymmetric_use(sandbox: Sandbox) -> None:
    import boto3
    from moto.kms.models import kms_backends

    kms = boto3.client("kms", endpoint_url=sandbox.endpoint_url, region_name="us-east-1",
                       aws_access_key_id=sandbox.credentials["aws_access_key_id"],
                       aws_secret_access_key=sandbox.credentials["aws_secret_access_key"])
    symmetric = kms.create_key()["KeyMetadata"]["KeyId"]
    signing = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    keys = kms_backends[sandbox.account_id]["us-east-1"].keys
    assert keys[symmetric].private_key._key is None, "a symmetric key never needs its key pair"
    signature = kms.sign(KeyId=signing, Message=b"payload", SigningAlgorithm="RSASSA_PSS_SHA_256")["Signature"]
    assert kms.verify(KeyId=signing, Message=b"payload", Signature=signature,
                      SigningAlgorithm="RSASSA_PSS_SHA_256")["SignatureValid"]
    assert not kms.verify(KeyId=signing, Message=b"other", Signature=signature,
                          SigningAlgorithm="RSASSA_PSS_SHA_256")["SignatureValid"]
    assert kms.get_public_key(KeyId=signing)["PublicKey"]


def test_stack_events_come_in_pages_of_100_newest_first(sandbox: Sandbox) -> None:
    import boto3

    resources = {f"Topic{i}": {"Type": "AWS::SNS::Topic"} for i in range(60)}
    cf = boto3.client("cloudformation", endpoint_url=sandbox.endpoint_url, region_name="us-east-1",
                      aws_access_key_id=sandbox.credentials["aws_access_key_id"],
                      aws_secret_access_key=sandbox.credentials["aws_secret_access_key"])
    cf.create_stack(StackName="paged", TemplateBody=json.dumps({"Resources": resources}))
    cf.get_waiter("stack_create_complete").wait(StackName="paged", WaiterConfig={"Delay": 1})
    first = cf.describe_stack_events(StackName="paged")
    assert len(first["StackEvents"]) == 100 and "NextToken" in first
    pages = list(cf.get_paginator("describe_stack_events").paginate(StackName="paged"))
    events = [e for page in pages for e in page["StackEvents"]]
    assert len(events) > 100
    assert len({e["EventId"] for e in events}) == len(events), "no event twice across pages"
    assert sum(e["ResourceStatus"] == "CREATE_COMPLETE" for e in events) == 61, "none missing either"
    assert events[0]["ResourceStatus"] == "CREATE_COMPLETE" and events[0]["LogicalResourceId"] == "paged"
    stamps = [e["Timestamp"] for e in events]
    assert stamps == sorted(stamps, reverse=True)
    with pytest.raises(cf.exceptions.ClientError, match="NextToken"):
        cf.describe_stack_events(StackName="paged", NextToken="nonsense")


def test_the_cached_verdict_covers_every_module_of_the_sandbox(tmp_path, monkeypatch) -> None:
    import shutil
    from importlib import resources

    from orchestrator.sandbox import bootstrap

    copy = tmp_path / "sandbox"
    shutil.copytree(resources.files("orchestrator.sandbox"), copy, ignore=shutil.ignore_patterns("__pycache__"))
    real_files = resources.files
    monkeypatch.setattr(bootstrap.resources, "files",
                        lambda name: copy if name == "orchestrator.sandbox" else real_files(name))
    before = bootstrap.self_test_key("5.2.5", ["seam"])
    assert bootstrap.self_test_key("5.2.5", ["seam"]) == before
    # A glue model the self-test's stack does not name still changes what a sandbox builds: a new verdict.
    glue = copy / "glue_delivery.py"
    glue.write_text(glue.read_text() + "\n# changed\n")
    assert bootstrap.self_test_key("5.2.5", ["seam"]) != before


def test_stop_does_not_wait_for_the_serve_loops_next_poll() -> None:
    """Each verify cell stops a sandbox: the serve loop is woken, not left to notice at its next poll."""
    from werkzeug.serving import make_server

    from orchestrator.sandbox.server import _shutdown_now

    server = make_server("127.0.0.1", 0, lambda environ, start: [], threaded=True)
    # A loop polling once an hour: a shutdown that waited for the poll would not return within the bound.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 3600}, daemon=True)
    thread.start()
    stopper = threading.Thread(target=_shutdown_now, args=(server, "127.0.0.1", server.server_address[1]), daemon=True)
    stopper.start()
    stopper.join(timeout=120)  # a bound on a hang, not a speed check
    thread.join(timeout=120)
    server.server_close()
    assert not stopper.is_alive() and not thread.is_alive()
