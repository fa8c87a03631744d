"""Exports and imports across a matrix: cells ordered export -> import, each importer deploying its exporters first.

Every cell runs in its own sandbox, so a cell whose template imports what another matrix template
exports gets that template as a `--with` companion, named so that the import resolves (the stack name
is read off the import: an export `${AWS::StackName}-VPC` imported as `net-VPC` means stack `net`).
A cycle of imports is bad input.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import networkx as nx

from orchestrator.deploy.prereqs import import_names
from orchestrator.errors import BadInput
from orchestrator.template.intrinsics import partition_for_region, resolve_known
from orchestrator.verify.matrix import Cell

_STACK = "\x00STACK\x00"


def _known(document: dict, parameters: dict[str, str], region: str, stack: str = _STACK) -> dict[str, Any]:
    known: dict[str, Any] = {}
    for name, spec in (document.get("Parameters") or {}).items():
        if isinstance(spec, dict) and (name in parameters or "Default" in spec):
            known[name] = parameters.get(name, spec.get("Default"))
    known.update({"AWS::Region": region, "AWS::Partition": partition_for_region(region), "AWS::StackName": stack,
                  "AWS::URLSuffix": "amazonaws.com"})
    return known


def export_patterns(document: dict, parameters: dict[str, str], region: str) -> list[re.Pattern[str]]:
    """A pattern per export name; a stack-name part becomes the group `stack`."""
    patterns = []
    outputs = document.get("Outputs") or {}
    for output in outputs.values() if isinstance(outputs, dict) else ():
        name = ((output or {}).get("Export") or {}).get("Name") if isinstance(output, dict) else None
        if name is None:
            continue
        value = resolve_known(name, _known(document, parameters, region))
        if not isinstance(value, str):
            continue
        parts = [re.escape(p) for p in value.split(_STACK)]
        patterns.append(re.compile("^" + "(?P<stack>[A-Za-z][A-Za-z0-9-]*)".join(parts[:2]) + "".join(parts[2:]) + "$"))
    return patterns


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
