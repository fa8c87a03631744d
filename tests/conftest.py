"""Shared pytest fixtures: the embedded sandbox (moto server on 127.0.0.1 with the fidelity rules)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator

import boto3
import boto3.session
import pytest
from botocore.stub import Stubber
from hypothesis import HealthCheck, settings

# Hypothesis' default 200 ms deadline per example (and its too-slow health checks) are wall-clock
# assertions: on a loaded runner they fail correct code. Runaway work is bounded by CPU time instead.
settings.register_profile("cfn-autofix", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("cfn-autofix")

# The sandbox caches its self-test verdict per machine; tests (and the CLIs they start) never touch the
# user's cache directory.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="cfn-autofix-test-cache-")

from orchestrator.sandbox import Sandbox, SandboxConfig

# End-to-end tests run deployments against an embedded sandbox (seconds each): marked `slow`, so that
# `make test-fast` (-m "not slow") is the inner loop and `make test` still runs them all.
SANDBOX_FIXTURES = frozenset({"sandbox", "sandbox_session", "sandbox_factory", "served_sandbox"})
# Modules whose every test deploys on a sandbox it starts itself (deploy_with_autofix, verify, a CLI subprocess).
E2E_MODULES = frozenset({"test_sandbox_e2e", "test_deploy", "test_faults", "test_interrupt", "test_concurrency",
                         "test_sandbox_lifecycle", "test_verify_cli", "test_transient_e2e"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        module = item.module.__name__.rpartition(".")[2] if getattr(item, "module", None) else ""
        if module in E2E_MODULES or SANDBOX_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    """A plain moto server on 127.0.0.1 (no sandbox rules): the AWS layer's tests run against it."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="session")
def sandbox_session() -> Iterator[Sandbox]:
    """One running sandbox per test process; use `sandbox` to get it emptied for your test."""
    with Sandbox(region="us-east-1") as running:
        yield running


@pytest.fixture
def sandbox(sandbox_session: Sandbox) -> Sandbox:
    """The session's sandbox, reset to an empty account (same endpoint_url and credentials) for this test."""
    sandbox_session.reset()
    return sandbox_session


@pytest.fixture
def sandbox_factory() -> Iterator[Callable[..., Sandbox]]:
    """Start extra sandboxes (own region, SandboxConfig with races/faults); all stopped after the test."""
    started: list[Sandbox] = []

    def make(*, region: str = "us-east-1", config: SandboxConfig | None = None) -> Sandbox:
        box = Sandbox(region=region, config=config).start()
        started.append(box)
        return box

    yield make
    for box in started:
        box.stop()


# Canaries of the account-guard tests: keys that must never be logged and an account outside every allow-list.
CANARY_SECRET_KEY = "CANARYsecretKEYthatMustNeverBeLogged0001"
FOREIGN_ACCOUNT = "222222222222"


@pytest.fixture
def clean_aws_env(monkeypatch, tmp_path):
    """Canary keys in the environment, no profile files, no instance metadata: nothing can reach real AWS."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_ENDPOINT_URL",
                 "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                 "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIACANARYKEYID00001")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CANARY_SECRET_KEY)


@pytest.fixture
def recorded_calls(monkeypatch):
    """Every API call any boto3 client makes, as (service, operation); STS answers with account FOREIGN_ACCOUNT."""
    calls: list[tuple[str, str]] = []
    real_client = boto3.session.Session.client

    def client(self, service_name, *args, **kwargs):
        made = real_client(self, service_name, *args, **kwargs)
        made.meta.events.register(
            "before-call.*.*", lambda model, **_: calls.append((service_name, model.name)), unique_id="record"
        )
        if service_name == "sts":
            stubber = Stubber(made)
            stubber.add_response("get_caller_identity", {"Account": FOREIGN_ACCOUNT, "Arn": f"arn:aws:iam::{FOREIGN_ACCOUNT}:user/x",
                                                         "UserId": "AIDACANARY"})
            stubber.activate()
        return made

    monkeypatch.setattr(boto3.session.Session, "client", client)
    return calls


def create_stack_outcome(sandbox: Sandbox, resources: dict, name: str) -> tuple[str, dict[str, str]]:
    """Create a stack of `resources` on the sandbox without rollback: its status and each failed resource's reason."""
    import json

    from orchestrator.aws.targets import sandbox_client

    cf = sandbox_client(sandbox, "cloudformation")
    cf.create_stack(StackName=name, TemplateBody=json.dumps({"Resources": resources}), DisableRollback=True)
    status = cf.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
    events = cf.describe_stack_events(StackName=name)["StackEvents"]
    failed = {e["LogicalResourceId"]: e.get("ResourceStatusReason", "") for e in events
              if e["ResourceStatus"] == "CREATE_FAILED" and e["LogicalResourceId"] != name}
    return status, failed


@pytest.fixture
def stack_outcome(sandbox: Sandbox) -> Callable[..., tuple[str, dict[str, str]]]:
    """create_stack_outcome on the session's sandbox: stack_outcome(resources, name)."""
    return lambda resources, name: create_stack_outcome(sandbox, resources, name)
