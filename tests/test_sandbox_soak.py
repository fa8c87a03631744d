"""The served sandbox under concurrent clients: DescribeStacks never races a create/delete; memory does not grow
per created-and-deleted stack (the long-run figures are bench/bench_soak.py's)."""

from __future__ import annotations

import sys
import threading
from types import SimpleNamespace

import boto3
import pytest
from moto.cloudformation.exceptions import ValidationError
from moto.cloudformation.models import CloudFormationBackend, cloudformation_backends
from moto.core.model_instances import model_data

from orchestrator.sandbox import Sandbox, patches


def client(box, service: str):
    """A boto3 client for one sandbox: its endpoint, and the keys that select its account."""
    return boto3.client(service, endpoint_url=box.endpoint_url, **box.credentials)

QUEUE = '{"Resources": {"Q": {"Type": "AWS::SQS::Queue"}, "T": {"Type": "AWS::SNS::Topic"}}}'


def test_describe_stacks_searches_a_snapshot_while_stacks_come_and_go():
    patches.install()
    backend = SimpleNamespace(
        stacks={f"id-{i}": SimpleNamespace(name=f"s{i}", stack_id=f"id-{i}") for i in range(3000)},
        deleted_stacks={},
    )
    stop = threading.Event()

    def churn() -> None:
        # Waves of creates and deletes: the dict's size keeps changing under any reader.
        while not stop.is_set():
            for k in range(50):
                backend.stacks[f"new-{k}"] = SimpleNamespace(name=f"n{k}", stack_id=f"new-{k}")
            for k in range(50):
                backend.stacks.pop(f"new-{k}", None)

    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible: moto's live iteration fails within a few calls
    worker = threading.Thread(target=churn)
    worker.start()
    races = 0
    try:
        for _ in range(1500):
            try:
                CloudFormationBackend.describe_stacks(backend, "absent")
            except ValidationError:
                pass
            except RuntimeError:
                races += 1
    finally:
        stop.set()
        worker.join()
        sys.setswitchinterval(previous)
    assert races == 0
    assert CloudFormationBackend.describe_stacks(backend, "s7")[0].stack_id == "id-7"


def tracked() -> int:
    return sum(len(getattr(cls, "instances_tracked", [])) for models in model_data.values() for cls in models.values())


def test_created_and_deleted_stacks_leave_nothing_behind(monkeypatch):
    monkeypatch.setattr(patches, "DELETED_STACKS_KEPT", 3)
    with Sandbox() as box:
        cfn = client(box, "cloudformation")
        backend = cloudformation_backends[box.account_id]["us-east-1"]

        def cycle(i: int) -> None:
            stack_id = cfn.create_stack(StackName=f"churn-{i}", TemplateBody=QUEUE)["StackId"]
            cfn.delete_stack(StackName=stack_id)
            assert cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"

        cycle(0)
        before = tracked()
        for i in range(1, 9):
            cycle(i)
        assert tracked() == before, "moto's model registry grew with stacks that no longer exist"
        assert len(backend.deleted_stacks) <= 3
        assert backend.stacks == {}


@pytest.mark.parametrize("admin_api", [True])
def test_the_admin_dashboard_still_sees_models_when_asked_for(admin_api):
    with Sandbox(admin_api=admin_api) as box:
        before = tracked()
        client(box, "cloudformation").create_stack(StackName="seen", TemplateBody=QUEUE)
        assert tracked() > before
    with Sandbox() as plain:  # the dashboard is gone with its server: recording stops
        before = tracked()
        client(plain, "cloudformation").create_stack(StackName="unseen", TemplateBody=QUEUE)
        assert tracked() == before
