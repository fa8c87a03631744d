"""What a verify run writes: JUnit, Markdown (with failure neighbourhoods and playbook explanations) and JSON."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import structlog

from orchestrator import redact
from orchestrator.errors import AutofixError
from orchestrator.template.graph import DependencyGraph, build_graph
from orchestrator.verify import markdown, reports

log = structlog.get_logger(__name__)


def playbook_catalog(extra_dirs: tuple[str, ...] | list[str] = ()) -> dict[str, Any]:
    """Playbook id -> playbook, for the impact, explanation and docs link the Markdown report shows."""
    from orchestrator.catalog.playbooks import load_playbooks

    return {pb.id: pb for pb in load_playbooks(extra_dirs)}


def cell_graphs(run: Mapping[str, Any]) -> dict[str, str]:
    """Cell id -> Mermaid graph of the failing resources and their direct neighbours, from the cell's template.

    A cell whose template is no longer at hand (a merge on another machine) is left out; the Markdown
    renderer then derives a smaller graph from the report itself.
    """
    from orchestrator.template import load_template

    graphs: dict[str, str] = {}
    for cell in run.get("cells") or []:
        report = cell.get("report")
        if not report or reports.classify(cell) == reports.GREEN:
            continue
        failing = markdown.failing_resources(report)
        path = cell.get("template_path")
        if not failing or not path or not Path(path).is_file():
            continue
        try:
            graph = build_graph(load_template(path))
        except AutofixError:
            continue
        text = neighbourhood_mermaid(graph, failing)
        if text:
            graphs[cell["id"]] = text
    return graphs


def neighbourhood_mermaid(graph: DependencyGraph, failing: list[str]) -> str:
    """Mermaid text of the failing resources, what they depend on and what depends on them."""
    g = graph.g
    present = [name for name in failing if name in g]
    if not present:
        return ""
    keep: set[str] = set(present)
    for name in present:
        keep.update(n for n in g.predecessors(name) if g.nodes[n].get("kind") == "resource")
        keep.update(n for n in g.successors(name) if g.nodes[n].get("kind") == "resource")
    return DependencyGraph(g.subgraph(keep).copy()).to_mermaid(highlight=present)


# ---------------------------------------------------------------- what the CLI commands call


def write_outputs(
    run: Mapping[str, Any],
    *,
    junit: Path | None = None,
    report_md: Path | None = None,
    report_json: Path | None = None,
    playbook_dirs: tuple[str, ...] | list[str] = (),
) -> None:
    """Write the requested reports atomically (a reader never sees half a file)."""
    from orchestrator.template import write_atomic

    outputs: list[tuple[Path, Callable[[], str]]] = []
    if report_json:
        outputs.append((report_json, lambda: reports.render_json(run)))
    if junit:
        outputs.append((junit, lambda: reports.render_junit(run)))
    if report_md:
        outputs.append(
            (report_md, lambda: markdown.render_markdown(run, playbooks=playbook_catalog(playbook_dirs), graphs=cell_graphs(run)))
        )
    for path, render in outputs:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, redact.current().text(render()))
        log.info("verify_report_written", path=str(path))


def summary_line(run: Mapping[str, Any]) -> str:
    s = run["summary"]
    parts = [
        f"{s['cells']} cell(s)",
        f"{s['green_first_try']} green at first try",
        f"{s['green_after_repair']} green after repair",
        f"{s['failed']} failed",
        f"{s['errors']} error(s)",
    ]
    if s.get("missing"):
        parts.append(f"{s['missing']} missing")
    wall = f", {s['wall_s']:.1f} s" if s.get("wall_s") is not None else ""
    return f"verify: {', '.join(parts)}; {s['deployments']} deployment(s){wall}"
