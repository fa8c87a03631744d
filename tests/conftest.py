"""Shared pytest fixtures: the embedded sandbox (moto server on 127.0.0.1 with the fidelity rules)."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator

import pytest

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
