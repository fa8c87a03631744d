"""The served sandbox stays on this machine unless asked, warns when it does not, and keeps moto's admin API off."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest
from typer.testing import CliRunner

from orchestrator.cli import app
from orchestrator.sandbox import Sandbox


def client(box, service: str):
    """A boto3 client for one sandbox: its endpoint, and the keys that select its account."""
    return boto3.client(service, endpoint_url=box.endpoint_url, **box.credentials)

ROOT = Path(__file__).resolve().parents[1]


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.parametrize("host", ["0.0.0.0", "192.0.2.10", "::", "example.com"])
def test_non_loopback_bind_is_refused_without_allow_remote(host):
    result = CliRunner().invoke(app, ["sandbox", "--host", host])
    assert result.exit_code == 3, result.output
    assert result.stderr.strip() == (f"cfn-autofix: refused: refusing to listen on {host}: the sandbox has no "
                                     "authentication; pass --allow-remote to serve beyond this machine")


@pytest.mark.parametrize(("admin_api", "expected"), [(False, 403), (True, 200)])
def test_moto_admin_endpoints_are_off_unless_asked_for(admin_api, expected):
    with Sandbox(admin_api=admin_api) as box:
        assert status_of(f"{box.endpoint_url}/moto-api/data.json") == expected
        # Reset is refused too: the request must not empty the account.
        queue = client(box, "sqs").create_queue(QueueName="kept")["QueueUrl"]
        if not admin_api:
            request = urllib.request.Request(f"{box.endpoint_url}/moto-api/reset", method="POST")
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=30)
            assert refused.value.code == 403
            assert queue in client(box, "sqs").list_queues()["QueueUrls"]


def test_allow_remote_serves_with_a_warning_and_no_admin_api():
    proc = subprocess.Popen([sys.executable, "-m", "orchestrator", "sandbox", "--host", "0.0.0.0", "--port", "0",
                             "--allow-remote"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        warning = proc.stderr.readline()
        assert warning.startswith("cfn-autofix: warning: listening on 0.0.0.0: anyone who can reach this port"), warning
        endpoint = None
        while endpoint is None:
            line = proc.stdout.readline()
            assert line, "the sandbox exited before printing its endpoint"
            match = re.search(r"export AWS_ENDPOINT_URL=(\S+)", line)
            endpoint = match.group(1) if match else None
        port = endpoint.rsplit(":", 1)[1]
        assert status_of(f"http://127.0.0.1:{port}/moto-api/data.json") == 403
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
