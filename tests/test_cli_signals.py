"""cli._sigterm_as_interrupt: SIGTERM acts as Ctrl-C during a run, and the caller's handlers are back afterwards."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from orchestrator import cli
from orchestrator.cli import common as cli_common

CORRECT = Path(__file__).parent / "fixtures" / "deploy" / "correct.yaml"

pytestmark = pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                                reason="signal handlers can only be installed from the main thread")


def sentinel_term(signum, frame):  # pragma: no cover - only its identity matters
    raise AssertionError("the caller's SIGTERM handler ran")


def sentinel_int(signum, frame):  # pragma: no cover - only its identity matters
    raise AssertionError("the caller's SIGINT handler ran")


@pytest.fixture
def caller_handlers():
    """Handlers of our own in place, as an embedding tool or a test runner would have them; the originals restored."""
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}
    signal.signal(signal.SIGTERM, sentinel_term)
    signal.signal(signal.SIGINT, sentinel_int)
    yield
    for sig, old in previous.items():
        signal.signal(sig, old)


def test_sigterm_is_an_interrupt_inside_and_the_handlers_come_back(caller_handlers):
    with pytest.raises(KeyboardInterrupt):
        with cli_common.sigterm_as_interrupt():
            assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):  # the handler runs at the next bytecode boundary
                pass
    assert signal.getsignal(signal.SIGTERM) is sentinel_term
    assert signal.getsignal(signal.SIGINT) is sentinel_int


def test_handlers_come_back_when_the_run_raises(caller_handlers):
    with pytest.raises(RuntimeError):
        with cli_common.sigterm_as_interrupt():
            raise RuntimeError("boom")
    assert signal.getsignal(signal.SIGTERM) is sentinel_term
    assert signal.getsignal(signal.SIGINT) is sentinel_int


def test_a_deploy_that_fails_early_restores_the_handlers(caller_handlers, tmp_path):
    # An endpoint URL the target refuses: deploy_with_autofix raises BadInput inside the handler block.
    result = CliRunner().invoke(cli.app, ["deploy", str(CORRECT), "--target", "endpoint", "--endpoint-url",
                                          "ftp://nowhere", "--no-forecast", "--out", str(tmp_path / "x.yaml")])
    assert result.exit_code == 2, result.output
    assert signal.getsignal(signal.SIGTERM) is sentinel_term
    assert signal.getsignal(signal.SIGINT) is sentinel_int


@pytest.mark.slow
def test_an_in_process_deploy_restores_the_handlers(caller_handlers, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cfn-autofix.toml").write_text(f'[run]\njournal = "{tmp_path / "journal.jsonl"}"\n')
    seen: list = []
    from orchestrator.deploy import loop  # the command imports deploy_with_autofix from here when it runs

    original = loop.deploy_with_autofix

    def spying(*args, **kwargs):
        seen.append((signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)))
        return original(*args, **kwargs)

    monkeypatch.setattr(loop, "deploy_with_autofix", spying)
    result = CliRunner().invoke(cli.app, ["deploy", str(CORRECT), "--no-forecast",
                                          "--report-json", str(tmp_path / "report.json")])
    assert result.exit_code == 0, result.output
    (during,) = seen
    assert during[0] not in (sentinel_term, signal.SIG_DFL) and during[1] is signal.default_int_handler
    assert signal.getsignal(signal.SIGTERM) is sentinel_term
    assert signal.getsignal(signal.SIGINT) is sentinel_int


def test_while_verify_reads_its_workers_a_signal_only_sets_flags_and_the_handlers_come_back(caller_handlers):
    # A KeyboardInterrupt raised inside a read of the workers' event queue would leave the pipe out of step
    # (the next read waits forever); in the pool loop a signal only sets flags, seen between two reads.
    from orchestrator.verify.workers import _signals_as_flag

    flag, cancel = threading.Event(), threading.Event()
    with _signals_as_flag(flag, cancel):
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
        assert flag.wait(5) and cancel.wait(5)
    assert signal.getsignal(signal.SIGINT) is sentinel_int
    assert signal.getsignal(signal.SIGTERM) is sentinel_term
