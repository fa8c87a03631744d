"""The embedded sandbox: a moto server on 127.0.0.1 with a fresh account per Sandbox and the fidelity rules on."""

from __future__ import annotations


import errno
import random
import signal
import socket
import threading
from typing import Any

import structlog
from moto.core import DEFAULT_ACCOUNT_ID
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.utilities.utils import get_partition
from werkzeug.serving import BaseWSGIServer, make_server

from orchestrator.sandbox import context, inventory, patches
from orchestrator.sandbox.config import SandboxConfig
from orchestrator.sandbox.faults import FaultInjector, FaultMiddleware
from orchestrator.signals import handlers

log = structlog.get_logger(__name__)

_ACCOUNT_RNG = random.SystemRandom()
_SECRET_PLACEHOLDER = "sandbox"  # moto does not verify signatures; any secret works with the key id


ADMIN_PREFIX = "/moto-api"


class _AdminApiGate:
    """Answers 403 for moto's admin endpoints (/moto-api/*: a dump of all state, NoEcho values included, and a
    reset) unless they were asked for; every other request passes through."""

    def __init__(self, app: Any):
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "") or ""
        if path == ADMIN_PREFIX or path.startswith(ADMIN_PREFIX + "/"):
            body = b"the moto admin API is off in this sandbox (start it with --admin-api to turn it on)\n"
            start_response("403 Forbidden", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
            return [body]
        return self.app(environ, start_response)


class _QuietRequestHandler(MotoRequestHandler):
    """moto's handler without a stdout line per request (the CLI owns the terminal)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return None


def _fresh_account_id() -> str:
    while True:
        candidate = str(_ACCOUNT_RNG.randrange(100_000_000_000, 999_999_999_999))
        if candidate != DEFAULT_ACCOUNT_ID and context.context_for(candidate) is None:
            return candidate


def _shutdown_now(server: BaseWSGIServer, host: str, port: int) -> None:
    """server.shutdown() without waiting for the serve loop's next poll (every 0.5 s: half a second per
    sandbox stopped, i.e. per verify cell): connections to the listening socket wake the loop at once."""
    stopper = threading.Thread(target=server.shutdown, name=f"sandbox-stop-{port}", daemon=True)
    stopper.start()
    while stopper.is_alive():
        # A connection that arrives before shutdown's flag is set is served as an empty request (closed at
        # once, nothing logged); the next one wakes the loop again.
        try:
            socket.create_connection((host, port), timeout=1).close()
        except OSError:
            pass
        stopper.join(0.01)


_RUNNING: dict[str, "Sandbox"] = {}  # endpoint URL -> sandbox started in this process


class Sandbox:
    """moto's server on a free local port, a fresh account, the sandbox rules; a context manager.

    Talk to it with boto3 exactly as to AWS: endpoint_url plus `credentials`, whose access key id
    selects this sandbox's account (moto maps registered access keys to their account), so sandboxes
    running side by side never see each other's stacks.
    """

    def __init__(self, *, region: str = "us-east-1", host: str = "127.0.0.1", port: int = 0,
                 config: SandboxConfig | None = None, admin_api: bool = False):
        self.region = region
        self.admin_api = admin_api
        self.host = host
        self.port = port
        self.config = config or SandboxConfig()
        self.account_id = _fresh_account_id()
        self.endpoint_url = ""
        self.credentials: dict[str, str] = {}
        self.faults: FaultInjector | None = None
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.RLock()
        self._ctx: context.SandboxContext | None = None

    # -------------------------------------------------------------------------------- lifecycle

    def start(self) -> "Sandbox":
        with self._lock:
            if self._server is not None:
                return self
            patches.self_test()
            self._ctx = context.SandboxContext(account_id=self.account_id, region=self.region, config=self.config)
            context.register(self._ctx)
            self._issue_credentials()
            app: Any = DomainDispatcherApplication(create_backend_app)
            if not self.admin_api:
                app = _AdminApiGate(app)
            if self.config.faults.any_api_faults:
                self.faults = FaultInjector(self.config.faults)
                app = FaultMiddleware(app, self.faults)
            # Bound here (not in the thread) so a taken port raises in the caller instead of hanging;
            # werkzeug exits the process on a taken port, which a library must not do.
            try:
                self._server = make_server(self.host, self.port, app, threaded=True, request_handler=_QuietRequestHandler)
            except (SystemExit, OSError) as exc:
                context.unregister(self.account_id)
                patches.drop_account_state(self.account_id)
                self._ctx = None
                raise OSError(errno.EADDRINUSE, f"cannot listen on {self.host}:{self.port}") from exc
            self.port = self._server.server_address[1]
            if self.admin_api:
                patches.track_instances(True)  # the dashboard lists every model moto made, while it is served
            shown = f"[{self.host}]" if ":" in self.host else self.host
            self.endpoint_url = f"http://{shown}:{self.port}"
            self._thread = threading.Thread(target=self._server.serve_forever, name=f"sandbox-{self.port}", daemon=True)
            self._thread.start()
            _RUNNING[self.endpoint_url] = self
            log.info("sandbox_started", endpoint_url=self.endpoint_url, account_id=self.account_id, region=self.region)
            return self

    def stop(self) -> None:
        with self._lock:
            server, thread = self._server, self._thread
            self._server, self._thread = None, None
            _RUNNING.pop(self.endpoint_url, None)
            if server is not None:
                _shutdown_now(server, self.host, self.port)
                server.server_close()
                if self.admin_api:
                    patches.track_instances(False)
            if thread is not None:
                thread.join(timeout=10)
            if self._ctx is not None:
                context.unregister(self.account_id)
                patches.drop_account_state(self.account_id)
                self._ctx = None
            if server is not None:
                log.info("sandbox_stopped", endpoint_url=self.endpoint_url, account_id=self.account_id)

    def reset(self) -> None:
        """Empty the account (stacks, resources, everything) while keeping endpoint and credentials."""
        with self._lock:
            if self._ctx is None:
                return
            with self._ctx.lock:
                patches.drop_account_state(self.account_id)
                self._ctx.transient_failed.clear()
                self._issue_credentials(reuse=True)

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    # -------------------------------------------------------------------------------- queries

    def emulated_resources(self, stack_name: str) -> list[dict]:
        """Resources of a stack whose type moto does not model: emulated generically, not really built."""
        from moto.cloudformation.models import cloudformation_backends

        if self._ctx is None:
            return []
        backend = cloudformation_backends[self.account_id][self.region]
        with self._ctx.lock:
            stacks = [s for s in backend.stacks.values() if stack_name in (s.name, s.stack_id)]
            stacks = stacks or [s for s in backend.deleted_stacks.values() if stack_name in (s.name, s.stack_id)]
            return [
                {k: row[k] for k in ("logical_id", "resource_type", "physical_id")}
                for row in inventory.emulated_resources(stacks[-1])
            ] if stacks else []

    @staticmethod
    def serving(endpoint_url: str, access_key_id: str | None = None) -> "Sandbox | None":
        """The sandbox of this process listening at endpoint_url for these keys' account, if any."""
        sandbox = _RUNNING.get((endpoint_url or "").rstrip("/"))
        if sandbox is None or (access_key_id and access_key_id != sandbox.credentials.get("aws_access_key_id")):
            return None
        return sandbox

    def fidelity(self, stack_name: str) -> dict:
        """What the sandbox really built for a stack (see inventory.fidelity); empty lists for an unknown stack."""
        from moto.cloudformation.models import cloudformation_backends

        if self._ctx is None:
            return inventory.fidelity(None)
        backend = cloudformation_backends[self.account_id][self.region]
        with self._ctx.lock:
            stacks = [s for s in backend.stacks.values() if stack_name in (s.name, s.stack_id)]
            stacks = stacks or [s for s in backend.deleted_stacks.values() if stack_name in (s.name, s.stack_id)]
            return inventory.fidelity(stacks[-1] if stacks else None)

    # -------------------------------------------------------------------------------- internals

    def _issue_credentials(self, reuse: bool = False) -> None:
        from moto.iam.models import AccessKey, iam_backends

        iam = iam_backends[self.account_id][get_partition(self.region)]
        if reuse and self.credentials:
            key = AccessKey(None, prefix="AKIA", account_id=self.account_id)
            key.access_key_id = self.credentials["aws_access_key_id"]
        else:
            key = AccessKey(None, prefix="AKIA", account_id=self.account_id)
        iam.access_keys[key.access_key_id] = key
        self.credentials = {
            "aws_access_key_id": key.access_key_id,
            "aws_secret_access_key": key.secret_access_key if not reuse else self.credentials["aws_secret_access_key"],
            "region_name": self.region,
        }


def serve(host: str = "127.0.0.1", port: int = 0, region: str = "us-east-1", *, admin_api: bool = False,
          config: SandboxConfig | None = None) -> None:
    """Run a sandbox in the foreground until Ctrl-C (or SIGTERM), printing how to reach it.

    Binding beyond loopback is the caller's decision (the CLI asks for --allow-remote): the server has no
    authentication, so anyone who can reach the port can read and change its state.
    """
    stop = threading.Event()
    sandbox = Sandbox(region=region, host=host, port=port, admin_api=admin_api, config=config)
    sandbox.start()
    context.serve_all_accounts(region, sandbox.config)
    creds = sandbox.credentials
    print(f"cfn-autofix sandbox listening on {sandbox.endpoint_url} (account {sandbox.account_id}, region {region})")
    print("  every account on this endpoint gets CloudFormation's failure behaviour; these keys select a fresh one:")
    print(f"  export AWS_ENDPOINT_URL={sandbox.endpoint_url}")
    print(f"  export AWS_ACCESS_KEY_ID={creds['aws_access_key_id']}")
    print(f"  export AWS_SECRET_ACCESS_KEY={creds['aws_secret_access_key']}")
    print(f"  export AWS_DEFAULT_REGION={region}")
    if sandbox.config.faults.any_api_faults:
        print(f"  injecting API faults: {sandbox.config.faults}")
    if admin_api:
        print(f"  moto admin API on: {sandbox.endpoint_url}{ADMIN_PREFIX}/ (state dump and reset, unauthenticated)")
    print("Press Ctrl-C to stop.", flush=True)
    # Explicit for SIGINT too: a process started in the background by a shell inherits SIGINT ignored.
    with handlers({signal.SIGTERM: lambda *_: stop.set(), signal.SIGINT: lambda *_: stop.set()}):
        try:
            while not stop.wait(0.5):
                continue
        except KeyboardInterrupt:
            stop.set()
        finally:
            context.serve_all_accounts(None)
            sandbox.stop()
            print("sandbox stopped", flush=True)
