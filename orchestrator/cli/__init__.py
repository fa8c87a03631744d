"""The cfn-autofix command line (typer): one thin module per command, sharing orchestrator.cli.common."""

from __future__ import annotations

from orchestrator.cli.common import PROG, app, console, main

# Importing a command module registers its command on `app`; the order is the order in --help.
from orchestrator.cli import graph, forecast, deploy, diagnose, playbooks, verify, report, sweep, sandbox  # noqa: E402,F401  isort: skip

__all__ = ["PROG", "app", "console", "main"]
