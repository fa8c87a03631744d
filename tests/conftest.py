"""Shared pytest fixtures: the embedded sandbox (moto server on 127.0.0.1 with the fidelity rules)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from orchestrator.sandbox import Sandbox, SandboxConfig


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
