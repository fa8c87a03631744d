"""`cfn-autofix playbooks`: list the loaded playbooks with what they match and repair."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Annotated

import typer

from orchestrator.cli.common import app, state


class PlaybooksFormat(str, enum.Enum):
    text = "text"
    json = "json"


@app.command("playbooks")
def playbooks_command(
    ctx: typer.Context,
    fmt: Annotated[PlaybooksFormat, typer.Option("--format", "-f", help="Output format.")] = PlaybooksFormat.text,
    extra_dir: Annotated[
        list[Path] | None,
        typer.Option("--dir", help="Extra playbook folder (added to [playbooks] extra_dirs); repeat for several."),
    ] = None,
) -> None:
    """List the loaded playbooks (packaged, extra folders, entry points) with what they match and repair."""
    import json

    from orchestrator.catalog.playbooks import load_playbooks

    settings = state(ctx).config()
    books = load_playbooks([*settings.playbooks.extra_dirs, *(extra_dir or [])])
    if fmt is PlaybooksFormat.json:
        sys.stdout.write(json.dumps([book.to_json() for book in books], indent=2) + "\n")
        return
    for book in books:
        types = ", ".join(book.match.resource_types) or "any resource type"
        sys.stdout.write(
            f"{book.id}  [{book.impact.value}]  {book.title}\n"
            f"    match: {types}; status {', '.join(book.match.status) or 'any'}"
            f"; reason /{book.match.reason.pattern if book.match.reason else ''}/\n"
            f"    repair: {book.repair}  forecast: {book.forecast or '-'}  docs: {book.docs}\n"
        )
