"""The template's dependency graph (networkx): resources, parameters, conditions, mappings and outputs."""

from __future__ import annotations

from typing import Any, Iterable

import networkx as nx

from orchestrator.errors import BadInput
from orchestrator.template import language_extensions, refs
from orchestrator.template.jsonpatch import pointer
from orchestrator.template.load import Template

__all__ = ["DependencyGraph", "EDGE_KINDS", "build_graph", "node_id"]

EDGE_KINDS = ("Ref", "GetAtt", "Sub", "DependsOn", "Condition", "FindInMap")

# Resources and parameters share one namespace in CloudFormation; the other sections do not, so their
# node ids carry a prefix ("Condition:IsProd") to stay distinct from a resource of the same name.
_PREFIX = {"condition": "Condition:", "output": "Output:", "mapping": "Mapping:"}

_SAM_TRANSFORM = "AWS::Serverless-2016-10-31"


def node_id(kind: str, name: str) -> str:
    """The graph node id of a template entry: resources and parameters keep their logical id."""
    return _PREFIX.get(kind, "") + name


class DependencyGraph:
    """Typed dependency graph; an edge A -> B means A depends on B."""

    def __init__(self, g: nx.DiGraph | None = None):
        self.g: nx.DiGraph = g if g is not None else nx.DiGraph()

    # --- queries -------------------------------------------------------------------------------

    def resources(self) -> list[str]:
        return [n for n, kind in self.g.nodes(data="kind") if kind == "resource"]

    def deployment_order(self) -> list[str]:
        """Resources with dependencies first; ties keep template order."""
        position = {n: i for i, n in enumerate(self.g.nodes)}
        order = nx.lexicographical_topological_sort(self.g.reverse(copy=False), key=position.__getitem__)
        return [n for n in order if self.g.nodes[n].get("kind") == "resource"]

    def depends_on(self, a: str, b: str) -> bool:
        """a transitively depends on b (through any nodes)."""
        if a == b or a not in self.g or b not in self.g:
            return False
        return nx.has_path(self.g, a, b)

    def is_ordered(self, a: str, b: str) -> bool:
        return self.depends_on(a, b) or self.depends_on(b, a)

    def ancestors(self, node: str) -> set[str]:
        """Everything node depends on."""
        return set(nx.descendants(self.g, node)) if node in self.g else set()

    def descendants(self, node: str) -> set[str]:
        """Everything that depends on node."""
        return set(nx.ancestors(self.g, node)) if node in self.g else set()

    def find_cycle(self) -> list[str] | None:
        """One dependency cycle as [A, B, ..., A], or None."""
        if nx.is_directed_acyclic_graph(self.g):
            return None
        edges = nx.find_cycle(self.g)
        return [u for u, _ in edges] + [edges[0][0]]

    def would_cycle(self, a: str, b: str) -> bool:
        """Adding a -> b (a depends on b) would create a cycle."""
        if a == b:
            return True
        if a not in self.g or b not in self.g:
            return False
        return nx.has_path(self.g, b, a)

    def resource_edges(self) -> set[tuple[str, str]]:
        kinds = self.g.nodes
        return {
            (u, v) for u, v in self.g.edges if kinds[u].get("kind") == "resource" and kinds[v].get("kind") == "resource"
        }

    def refs(self, a: str, b: str) -> list[dict[str, Any]]:
        """Every reference from a to b: [{"kind", "path", ...}]; [] when there is no edge."""
        if not self.g.has_edge(a, b):
            return []
        return list(self.g.edges[a, b]["refs"])

    # --- renderings ----------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        nodes = [{"id": n, "kind": d.get("kind", ""), "type": d.get("type", "")} for n, d in self.g.nodes(data=True)]
        edges = [
            {"source": u, "target": v, "kind": d["kind"], "path": d["refs"][0]["path"], "refs": list(d["refs"])}
            for u, v, d in self.g.edges(data=True)
        ]
        return {"nodes": nodes, "edges": edges}

    def to_dot(self, highlight: Iterable[str] = ()) -> str:
        marked = set(highlight)
        lines = ["digraph template {", "  rankdir=LR;", '  node [fontname="Helvetica", fontsize=10];']
        for n, d in self.g.nodes(data=True):
            label = n if not d.get("type") else f"{n}\\n{d['type']}"
            attrs = [f"label={_dot_quote(label)}", f"shape={_DOT_SHAPE.get(d.get('kind', ''), 'box')}"]
            if n in marked:
                attrs += ["style=filled", 'fillcolor="#ff8a65"', 'color="#d84315"', "penwidth=2"]
            lines.append(f"  {_dot_quote(n)} [{', '.join(attrs)}];")
        for u, v, d in self.g.edges(data=True):
            style, color = _DOT_EDGE[d["kind"]]
            lines.append(
                f"  {_dot_quote(u)} -> {_dot_quote(v)} [label={_dot_quote(d['kind'])}, style={style}, color=\"{color}\"];"
            )
        lines.append("}")
        return "\n".join(lines) + "\n"

    def to_mermaid(self, highlight: Iterable[str] = ()) -> str:
        marked = set(highlight)
        ids = {n: f"n{i}" for i, n in enumerate(self.g.nodes)}
        lines = ["flowchart LR"]
        for n, d in self.g.nodes(data=True):
            label = n if not d.get("type") else f"{n}<br/>{d['type']}"
            open_, close = _MERMAID_SHAPE.get(d.get("kind", ""), ("[", "]"))
            lines.append(f'  {ids[n]}{open_}"{_mermaid_text(label)}"{close}')
        for u, v, d in self.g.edges(data=True):
            arrow = _MERMAID_ARROW[d["kind"]]
            lines.append(f"  {ids[u]} {arrow}|{d['kind']}| {ids[v]}")
        if marked & set(ids):
            lines.append("  classDef highlight fill:#ff8a65,stroke:#d84315,stroke-width:2px")
            lines.append("  class " + ",".join(ids[n] for n in self.g.nodes if n in marked) + " highlight")
        return "\n".join(lines) + "\n"


_DOT_SHAPE = {"resource": "box", "parameter": "ellipse", "condition": "diamond", "output": "note", "mapping": "folder"}
_DOT_EDGE = {
    "Ref": ("solid", "#1e88e5"),
    "GetAtt": ("bold", "#43a047"),
    "Sub": ("dashed", "#8e24aa"),
    "DependsOn": ("dotted", "#e53935"),
    "Condition": ("dashed", "#757575"),
    "FindInMap": ("dotted", "#6d4c41"),
}
_MERMAID_SHAPE = {
    "resource": ("[", "]"),
    "parameter": ("([", "])"),
    "condition": ("{", "}"),
    "output": (">", "]"),
    "mapping": ("[(", ")]"),
}
_MERMAID_ARROW = {"Ref": "-->", "GetAtt": "==>", "Sub": "-->", "DependsOn": "-.->", "Condition": "-.->", "FindInMap": "-.->"}


def _dot_quote(text: str) -> str:
    return '"' + text.replace('"', '\\"') + '"'


def _mermaid_text(text: str) -> str:
    return text.replace('"', "#quot;")


# -------------------------------------------------------------------------------------------------


def build_graph(tpl: Template | dict) -> DependencyGraph:
    """Build the graph; BadInput (with line) for dangling Ref/GetAtt/DependsOn/condition names and cycles."""
    return _Builder(tpl).build()


class _Builder:
    def __init__(self, tpl: Template | dict):
        if isinstance(tpl, Template):
            self.tpl: Template | None = tpl
            self.doc = tpl.document
        else:
            self.tpl = None
            self.doc = tpl
        if language_extensions.has_for_each(self.doc):
            # The graph is of the resources CloudFormation creates: Fn::ForEach expanded (with Defaults).
            try:
                self.doc = language_extensions.expand(self.doc)
            except language_extensions.TemplateError as exc:
                raise BadInput(str(exc), file=self.tpl.name if self.tpl else None) from None
        self.g = nx.DiGraph()
        self.resources = _section(self.doc, "Resources")
        self.parameters = _section(self.doc, "Parameters")
        self.conditions = _section(self.doc, "Conditions")
        self.mappings = _section(self.doc, "Mappings")
        transforms = self.doc.get("Transform")
        names = [transforms] if isinstance(transforms, (str, dict)) else list(transforms or [])
        names = [t if isinstance(t, str) else t.get("Name", "") if isinstance(t, dict) else "" for t in names]
        # A macro can create any resource; SAM creates names derived from its own resources.
        self.any_macro = any(t not in (_SAM_TRANSFORM, language_extensions.TRANSFORM) for t in names)
        self.sam = _SAM_TRANSFORM in names
        self.sam_prefixes = tuple(
            lid for lid, body in self.resources.items() if str(body.get("Type", "")).startswith("AWS::Serverless::")
        ) + ("Serverless",)

    # --- errors and leniency ------------------------------------------------------------------

    def _fail(self, message: str, path: str) -> None:
        if self.tpl is None:
            raise BadInput(message)
        raise BadInput(message, file=self.tpl.name, line=self.tpl.line_of(path))

    def _generated(self, name: str) -> bool:
        """A name a transform creates at deploy time, so absent from the template as written."""
        if self.any_macro:
            return True
        return self.sam and name.startswith(self.sam_prefixes)

    # --- building ------------------------------------------------------------------------------

    def build(self) -> DependencyGraph:
        g = self.g
        for lid, body in self.resources.items():
            g.add_node(lid, kind="resource", type=body.get("Type", "") if isinstance(body, dict) else "")
        for name, body in self.parameters.items():
            ptype = body.get("Type", "") if isinstance(body, dict) else ""
            g.add_node(name, kind="parameter", type=ptype if isinstance(ptype, str) else "")
        for name in self.conditions:
            g.add_node(node_id("condition", name), kind="condition", type="")
        for name in self.mappings:
            g.add_node(node_id("mapping", name), kind="mapping", type="")
        outputs = _section(self.doc, "Outputs")
        for name in outputs:
            g.add_node(node_id("output", name), kind="output", type="")

        for name, body in self.conditions.items():
            self._walk(node_id("condition", name), body, ("Conditions", name), in_condition=True)
        for lid, body in self.resources.items():
            if not isinstance(body, dict):
                continue
            base = ("Resources", lid)
            for key, value in body.items():
                if key == "DependsOn":
                    self._depends_on(lid, value, base + (key,))
                elif key == "Condition" and isinstance(value, str):
                    self._condition(lid, value, pointer(*base, key))
                elif key != "Type":
                    self._walk(lid, value, base + (key,))
        for name, body in outputs.items():
            if not isinstance(body, dict):
                continue
            source = node_id("output", name)
            for key, value in body.items():
                if key == "Condition" and isinstance(value, str):
                    self._condition(source, value, pointer("Outputs", name, key))
                else:
                    self._walk(source, value, ("Outputs", name, key))

        graph = DependencyGraph(g)
        cycle = graph.find_cycle()
        if cycle:
            first = g.edges[cycle[0], cycle[1]]["refs"][0]["path"]
            shown = cycle if len(cycle) <= 12 else [*cycle[:10], f"... ({len(cycle) - 1} resources in all)", cycle[-1]]
            self._fail("dependency cycle: " + " -> ".join(shown), first)
        return graph

    def _edge(self, source: str, target: str, kind: str, path: str, **extra: Any) -> None:
        ref = {"kind": kind, "path": path, **extra}
        if self.g.has_edge(source, target):
            self.g.edges[source, target]["refs"].append(ref)
        else:
            self.g.add_edge(source, target, kind=kind, refs=[ref])

    def _depends_on(self, source: str, value: Any, parts: tuple[str, ...]) -> None:
        if isinstance(value, str):
            items = [(value, pointer(*parts))]
        elif isinstance(value, list):
            items = [(v, pointer(*parts, i)) for i, v in enumerate(value)]
        else:
            self._fail(f"DependsOn of '{source}' must be a resource name or a list of them", pointer(*parts))
        for target, path in items:
            if not isinstance(target, str):
                self._fail(f"DependsOn of '{source}' must name resources", path)
            elif target in self.resources:
                self._edge(source, target, "DependsOn", path)
            elif not self._generated(target):
                self._fail(f"DependsOn names unknown resource '{target}'", path)

    def _condition(self, source: str, name: Any, path: str) -> None:
        if not isinstance(name, str):
            return
        if name in self.conditions:
            self._edge(source, node_id("condition", name), "Condition", path)
        elif not self.any_macro:
            self._fail(f"unknown condition '{name}'", path)

    def _ref_target(self, source: str, name: str, kind: str, path: str, attribute: str | None = None) -> None:
        if name.startswith("AWS::"):
            return  # pseudo parameters are not nodes
        extra = {"attribute": attribute} if attribute is not None else {}
        if name in self.resources:
            self._edge(source, name, kind, path, **extra)
        elif name in self.parameters and attribute is None:
            self._edge(source, name, kind, path)
        elif not self._generated(name):
            what = "resource" if attribute is not None else "resource or parameter"
            self._fail(f"{_KIND_TEXT[kind]} to unknown {what} '{name}'", path)

    def _walk(self, source: str, value: Any, parts: tuple[str, ...], in_condition: bool = False) -> None:
        for ref in refs.walk(value, parts, in_condition=in_condition):
            path = pointer(*ref.path)
            if ref.kind == "Condition":
                self._condition(source, ref.target, path)
            elif ref.kind == "FindInMap":
                if ref.target in self.mappings:
                    self._edge(source, node_id("mapping", ref.target), "FindInMap", path)
                elif not self.any_macro:
                    self._fail(f"Fn::FindInMap to unknown mapping '{ref.target}'", path)
            else:
                self._ref_target(source, ref.target, ref.kind, path, attribute=ref.attribute)


_KIND_TEXT = {"Ref": "Ref", "GetAtt": "Fn::GetAtt", "Sub": "Fn::Sub"}


def _section(doc: dict, name: str) -> dict:
    value = doc.get(name) if isinstance(doc, dict) else None
    return value if isinstance(value, dict) else {}

