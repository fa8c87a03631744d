"""`cfn-autofix sandbox`: run the embedded sandbox in the foreground until Ctrl-C."""

from __future__ import annotations

from typing import Annotated

import typer

from orchestrator.cli.common import app
from orchestrator.config import check_region
from orchestrator.errors import BadInput


@app.command("sandbox")
def sandbox_command(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on (0: a free port).", min=0, max=65535)] = 0,
    region: Annotated[str, typer.Option("--region", help="Region the sandbox answers for.")] = "us-east-1",
) -> None:
    """Run the embedded sandbox (moto plus the CloudFormation fidelity rules) in the foreground until Ctrl-C."""
    check_region(region)
    from orchestrator.sandbox import serve

    try:
        serve(host=host, port=port, region=region)
    except OSError as exc:
        raise BadInput(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
