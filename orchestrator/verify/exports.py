"""Exports and imports across a matrix: cells ordered export -> import, each importer deploying its exporters first.

Every cell runs in its own sandbox, so a cell whose template imports what another matrix template
exports gets that template as a `--with` companion, named so that the import resolves (the stack name
is read off the import: an export `${AWS::StackName}-VPC` imported as `net-VPC` means stack `net`).
A cycle of imports is bad input.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import networkx as nx

from orchestrator.deploy.prereqs import export_patterns, import_names, names_known
from orchestrator.errors import BadInput
from orchestrator.verify.matrix import Cell

_known = names_known


def link_cells(cells: list[Cell], load: Any) -> list[Cell]:
    """Cells in export -> import order, each importer with its exporters (transitively) as companions."""
    docs: dict[Path, dict] = {}
    for cell in cells:
        if cell.template not in docs:
            try:
                docs[cell.template] = load(cell.template).document
            except BadInput:  # the cell reports its own bad template when it runs
                docs[cell.template] = {}
    graph = nx.DiGraph()
    graph.add_nodes_from(range(len(cells)))
    companions: dict[int, list[tuple[int, str]]] = {}
    for index, cell in enumerate(cells):
        document = docs[cell.template]
        names = [n for _, n, _ in import_names(document, _known(document, cell.parameters, cell.region, "?"))]
        for name in names:
            for other, exporter in enumerate(cells):
                if other == index or exporter.region != cell.region or exporter.parameter_set != cell.parameter_set:
                    continue
                for pattern in export_patterns(docs[exporter.template], cell.parameters, cell.region):
                    match = pattern.match(name)
                    if match:
                        stack = match.groupdict().get("stack") or exporter.template.stem
                        graph.add_edge(other, index)
                        companions.setdefault(index, []).append((other, stack))
    try:
        order = list(nx.lexicographical_topological_sort(graph))
    except nx.NetworkXUnfeasible:
        cycle = nx.find_cycle(graph)
        names = " -> ".join(cells[a].label for a, _ in cycle) + f" -> {cells[cycle[0][0]].label}"
        raise BadInput(f"the matrix's templates import each other's exports in a cycle: {names}") from None
    linked = []
    for index in order:
        chain: list[str] = []
        _chain(index, companions, cells, chain, set())
        linked.append(replace(cells[index], with_templates=tuple(chain)) if chain else cells[index])
    return linked


def _chain(index: int, companions: dict[int, list[tuple[int, str]]], cells: list[Cell], out: list[str],
           seen: set[int]) -> None:
    for other, stack in companions.get(index, []):
        if other in seen:
            continue
        seen.add(other)
        _chain(other, companions, cells, out, seen)
        spec = f"{stack}={cells[other].template}"
        if spec not in out:
            out.append(spec)
