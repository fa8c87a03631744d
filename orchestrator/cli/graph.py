"""`cfn-autofix graph`: print a template's dependency graph as JSON, DOT or Mermaid."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated

import typer

from orchestrator import redact
from orchestrator.cli.common import app, emit, state
from orchestrator.errors import BadInput
from orchestrator.paths import check_outputs


class GraphFormat(str, enum.Enum):
    json = "json"
    dot = "dot"
    mermaid = "mermaid"


@app.command("graph")
def graph_command(
    ctx: typer.Context,
    template: Annotated[Path, typer.Argument(help="CloudFormation template, JSON or YAML.", show_default=False)],
    fmt: Annotated[GraphFormat, typer.Option("--format", "-f", help="Output format.")] = GraphFormat.json,
    highlight: Annotated[
        list[str] | None, typer.Option("--highlight", help="Node id to colour; repeat for several.", show_default=False)
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Print the template's dependency graph (resources, parameters, conditions, outputs) as JSON, DOT or Mermaid."""
    import json

    from orchestrator.template.graph import build_graph
    from orchestrator.template import load_template

    state(ctx)
    check_outputs([template], {"--out": out})
    tpl = load_template(template)
    redact.current().add(redact.noecho_values(tpl.document))
    graph = build_graph(tpl)
    marked = list(highlight or [])
    missing = [node for node in marked if node not in graph]
    if missing:
        raise BadInput(f"--highlight: no node {missing[0]!r} in the graph", file=str(template))
    if fmt is GraphFormat.json:
        text = json.dumps(graph.to_json(), indent=2) + "\n"
    elif fmt is GraphFormat.dot:
        text = graph.to_dot(highlight=marked)
    else:
        text = graph.to_mermaid(highlight=marked)
    emit(text, out)
