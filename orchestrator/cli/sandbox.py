"""`cfn-autofix sandbox`: run the embedded sandbox in the foreground until Ctrl-C."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestrator.cli.common import PROG, FaultsOption, app, state
from orchestrator.config import check_region
from orchestrator.errors import BadInput, Refusal


def _is_loopback(host: str) -> bool:
    from orchestrator.aws.guard import endpoint_is_loopback

    return endpoint_is_loopback(f"http://[{host}]" if ":" in host else f"http://{host}")


@app.command("sandbox")
def sandbox_command(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on (beyond loopback only with --allow-remote).")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on (0: a free port).", min=0, max=65535)] = 0,
    region: Annotated[str, typer.Option("--region", help="Region the sandbox answers for.")] = "us-east-1",
    allow_remote: Annotated[
        bool,
        typer.Option("--allow-remote", help="Allow a non-loopback --host: anyone who reaches the port can read and "
                     "change the sandbox (no authentication)."),
    ] = False,
    admin_api: Annotated[
        bool, typer.Option("--admin-api", help="Turn on moto's admin endpoints (/moto-api/: state dump and reset).")
    ] = False,
    faults: FaultsOption = None,
) -> None:
    """Run the embedded sandbox (moto plus the CloudFormation fidelity rules) in the foreground until Ctrl-C."""
    check_region(region)
    from orchestrator.sandbox import FaultConfig, SandboxConfig, serve

    spec = faults if faults is not None else state(ctx).config().sandbox.faults
    try:
        fault_config = FaultConfig.parse(spec)
    except ValueError as exc:
        raise BadInput(f"--faults: {exc}") from None
    if not _is_loopback(host):
        if not allow_remote:
            raise Refusal(f"refusing to listen on {host}: the sandbox has no authentication; "
                          "pass --allow-remote to serve beyond this machine")
        typer.echo(f"{PROG}: warning: listening on {host}: anyone who can reach this port can read and change the "
                   "sandbox's state, with no authentication", err=True)
    try:
        serve(host=host, port=port, region=region, admin_api=admin_api, config=SandboxConfig(faults=fault_config))
    except OSError as exc:
        raise BadInput(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
