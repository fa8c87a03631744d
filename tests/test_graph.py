"""The dependency graph: typed edges, queries, renderings, errors, and a cross-check with cfn-lint's graph."""

from __future__ import annotations

import json
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from cfnlint.decode import decode
from cfnlint.graph import Graph as CfnLintGraph
from cfnlint.template import Template as CfnLintTemplate

from orchestrator.errors import BadInput
from orchestrator.template.graph import DependencyGraph, build_graph
from orchestrator.template import load_template, loads_template

FIXTURES = Path(__file__).parent / "fixtures" / "templates"
ALL_FIXTURES = sorted(p.name for p in FIXTURES.iterdir())


def graph_of(text: str) -> DependencyGraph:
    return build_graph(loads_template(text, fmt="yaml", name="t.yaml"))


BASE = """\
Parameters:
  Env: {Type: String}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  Both: !And [!Condition IsProd, !Equals [a, a]]
Mappings:
  M: {us-east-1: {Ami: ami-1}}
Resources:
  Key: {Type: AWS::KMS::Key}
  Role: {Type: AWS::IAM::Role}
"""


def edge_kinds(graph: DependencyGraph, a: str, b: str) -> list[str]:
    return [ref["kind"] for ref in graph.refs(a, b)]


@pytest.mark.parametrize(
    "case_id, prop, target, kinds",
    [
        ("ref", "!Ref Key", "Key", ["Ref"]),
        ("ref-parameter", "!Ref Env", "Env", ["Ref"]),
        ("getatt-dotted", "!GetAtt Key.Arn", "Key", ["GetAtt"]),
        ("getatt-list", "!GetAtt [Key, Arn]", "Key", ["GetAtt"]),
        ("sub-ref", "!Sub 'alias/${Key}'", "Key", ["Sub"]),
        ("sub-getatt", "!Sub '${Key.Arn}/x'", "Key", ["Sub"]),
        ("sub-list-map-value", "!Sub ['${K}', {K: !GetAtt Role.Arn}]", "Role", ["GetAtt"]),
        ("fn-if-condition", "!If [IsProd, a, b]", "Condition:IsProd", ["Condition"]),
        ("fn-if-branches", "!If [IsProd, !Ref Key, !Ref AWS::NoValue]", "Key", ["Ref"]),
        ("findinmap", "!FindInMap [M, !Ref AWS::Region, Ami]", "Mapping:M", ["FindInMap"]),
        ("nested-in-join", "!Join ['', [!Ref Key, !GetAtt Key.Arn]]", "Key", ["Ref", "GetAtt"]),
    ],
)
def test_reference_makes_a_typed_edge(case_id, prop, target, kinds):
    graph = graph_of(BASE + f"  User:\n    Type: AWS::SNS::Topic\n    Properties:\n      X: {prop}\n")
    assert edge_kinds(graph, "User", target) == kinds
    assert graph.refs("User", target)[0]["path"].startswith("/Resources/User/Properties/X")


@pytest.mark.parametrize(
    "case_id, prop",
    [
        ("pseudo-parameter", "!Ref AWS::Region"),
        ("sub-pseudo", "!Sub '${AWS::AccountId}-${AWS::Region}'"),
        ("sub-literal", "!Sub '${!Key}'"),
        ("sub-own-variable", "!Sub ['${Key}', {Key: plain}]"),
    ],
)
def test_no_edge_for_pseudo_parameters_literals_and_sub_variables(case_id, prop):
    graph = graph_of(BASE + f"  User:\n    Type: AWS::SNS::Topic\n    Properties:\n      X: {prop}\n")
    assert set(graph.g.successors("User")) == set()
    assert "AWS::Region" not in graph.g


def test_sub_getatt_records_the_attribute_and_path():
    graph = graph_of(BASE + "  User:\n    Type: AWS::SNS::Topic\n    Properties:\n      X: !Sub '${Key.Arn}'\n")
    assert graph.refs("User", "Key") == [{"kind": "Sub", "path": "/Resources/User/Properties/X", "attribute": "Arn"}]


def test_depends_on_condition_attribute_and_conditions_on_parameters():
    graph = graph_of(
        BASE
        + "  User:\n    Type: AWS::SNS::Topic\n    Condition: Both\n    DependsOn: [Key, Role]\n"
    )
    assert graph.refs("User", "Key") == [{"kind": "DependsOn", "path": "/Resources/User/DependsOn/0"}]
    assert edge_kinds(graph, "User", "Condition:Both") == ["Condition"]
    assert edge_kinds(graph, "Condition:Both", "Condition:IsProd") == ["Condition"]
    assert edge_kinds(graph, "Condition:IsProd", "Env") == ["Ref"]
    assert graph.depends_on("User", "Env")


def test_node_kinds_and_types():
    graph = build_graph(load_template(FIXTURES / "vpc.yaml"))
    nodes = {n["id"]: n for n in graph.to_json()["nodes"]}
    assert nodes["Vpc"] == {"id": "Vpc", "kind": "resource", "type": "AWS::EC2::VPC"}
    assert nodes["EnvName"] == {"id": "EnvName", "kind": "parameter", "type": "String"}
    assert nodes["Condition:IsProd"]["kind"] == "condition"
    assert nodes["Output:VpcId"]["kind"] == "output"
    assert nodes["Mapping:RegionSettings"]["kind"] == "mapping"
    assert edge_kinds(graph, "Output:Summary", "Bastion") == ["Sub"]
    assert edge_kinds(graph, "Output:NatGatewayId", "Condition:WantNat") == ["Condition"]


def test_nested_stack_output_getatt_targets_the_stack():
    graph = build_graph(load_template(FIXTURES / "nested.yaml"))
    refs = graph.refs("AppStack", "NetworkStack")
    assert [r["attribute"] for r in refs] == ["Outputs.VpcId", "Outputs.PublicSubnetIds"]
    assert graph.refs("AppDnsRecord", "AppStack")[0]["attribute"] == "Outputs.LoadBalancerDns"


def test_sam_generated_names_are_not_errors():
    graph = build_graph(load_template(FIXTURES / "sam.yaml"))
    assert "OrdersFunctionRole" not in graph.g
    assert graph.resource_edges() == {("OrdersFunction", "OrdersTable"), ("ErrorsAlarm", "OrdersFunction")}


def test_sam_leniency_covers_only_names_sam_creates():
    text = "Transform: AWS::Serverless-2016-10-31\nResources:\n  F: {Type: AWS::Serverless::Function}\n" \
           "  P:\n    Type: AWS::IAM::Policy\n    Properties: {Roles: [!Ref Typo]}\n"
    with pytest.raises(BadInput, match="Ref to unknown resource or parameter 'Typo'"):
        graph_of(text)


def test_other_transforms_make_every_name_lenient():
    text = "Transform: [MyMacro]\nResources:\n  A:\n    Type: AWS::SNS::Topic\n    Properties: {X: !Ref MadeByMacro}\n"
    assert graph_of(text).resources() == ["A"]


@pytest.mark.parametrize(
    "case_id, resources, message, line",
    [
        ("ref", "  A:\n    Type: T::A::A\n    Properties:\n      X: !Ref Foo\n", "Ref to unknown resource or parameter 'Foo'", 5),
        ("getatt", "  A:\n    Type: T::A::A\n    Properties:\n      X: !GetAtt Foo.Arn\n", "Fn::GetAtt to unknown resource 'Foo'", 5),
        ("getatt-parameter", "  A:\n    Type: T::A::A\n    Properties:\n      X: !GetAtt P.Arn\n", "Fn::GetAtt to unknown resource 'P'", 5),
        ("sub", "  A:\n    Type: T::A::A\n    Properties:\n      X: !Sub '${Foo}'\n", "Fn::Sub to unknown resource or parameter 'Foo'", 5),
        ("depends-on", "  A:\n    Type: T::A::A\n    DependsOn: [Foo]\n", "DependsOn names unknown resource 'Foo'", 4),
        ("depends-on-parameter", "  A:\n    Type: T::A::A\n    DependsOn: P\n", "DependsOn names unknown resource 'P'", 4),
        ("condition", "  A:\n    Type: T::A::A\n    Condition: Nope\n", "unknown condition 'Nope'", 4),
        ("mapping", "  A:\n    Type: T::A::A\n    Properties:\n      X: !FindInMap [Nope, a, b]\n", "unknown mapping 'Nope'", 5),
    ],
)
def test_dangling_references_are_bad_input_with_line(case_id, resources, message, line):
    text = "Resources:\n" + resources + "Parameters:\n  P: {Type: String}\n"
    with pytest.raises(BadInput) as info:
        graph_of(text)
    assert message in info.value.message
    assert (info.value.file, info.value.line) == ("t.yaml", line)


def test_cycle_is_bad_input_printing_the_cycle():
    text = (
        "Resources:\n  A:\n    Type: T::A::A\n    Properties: {X: !Ref B}\n"
        "  B:\n    Type: T::B::B\n    Properties: {X: !GetAtt A.Arn}\n"
    )
    with pytest.raises(BadInput) as info:
        graph_of(text)
    assert "dependency cycle: A -> B -> A" in info.value.message
    assert info.value.line == 4


def test_self_reference_is_a_cycle():
    with pytest.raises(BadInput, match="dependency cycle: A -> A"):
        graph_of("Resources:\n  A:\n    Type: T::A::A\n    DependsOn: A\n")


def test_dict_input_builds_without_lines():
    graph = build_graph({"Resources": {"A": {"Type": "T"}, "B": {"Type": "T", "DependsOn": "A"}}})
    assert graph.resource_edges() == {("B", "A")}
    with pytest.raises(BadInput) as info:
        build_graph({"Resources": {"A": {"Type": "T", "DependsOn": "Z"}}})
    assert info.value.file is None


def test_queries_on_the_pipeline():
    graph = build_graph(load_template(FIXTURES / "pipeline.json"))
    order = graph.deployment_order()
    assert sorted(order) == sorted(graph.resources())
    for a, b in graph.resource_edges():
        assert order.index(b) < order.index(a)
    assert graph.depends_on("Pipeline", "PipelineRole")
    assert graph.depends_on("BuildProject", "ArtifactBucket")  # through CodeBuildRole
    assert not graph.depends_on("ArtifactBucket", "Pipeline")
    assert graph.is_ordered("ArtifactBucket", "Pipeline")
    assert not graph.is_ordered("CodeDeployServiceRole", "ArtifactBucket")
    assert graph.ancestors("BuildProject") >= {"CodeBuildRole", "ArtifactBucket", "ProjectName"}
    assert graph.descendants("CodeBuildRole") == {"BuildProject", "Pipeline", "Output:PipelineName"}
    assert graph.would_cycle("PipelineRole", "Pipeline")
    assert not graph.would_cycle("Pipeline", "CodeDeployServiceRole")
    assert graph.would_cycle("Pipeline", "Pipeline")
    assert graph.find_cycle() is None


def test_find_cycle_on_a_graph_with_one():
    g = nx.DiGraph()
    g.add_edge("A", "B", kind="Ref", refs=[])
    g.add_edge("B", "A", kind="Ref", refs=[])
    assert DependencyGraph(g).find_cycle() in (["A", "B", "A"], ["B", "A", "B"])


def test_renderings_carry_types_kinds_and_highlights():
    graph = build_graph(load_template(FIXTURES / "logs-kms.yaml"))
    data = graph.to_json()
    assert json.loads(json.dumps(data)) == data
    assert {"source": "ApplicationLogGroup", "target": "LogsKey", "kind": "GetAtt",
            "path": "/Resources/ApplicationLogGroup/Properties/KmsKeyId"}.items() <= next(
        e for e in data["edges"] if (e["source"], e["target"]) == ("ApplicationLogGroup", "LogsKey")).items()
    dot = graph.to_dot(highlight=["LogsKey"])
    assert dot.startswith("digraph template {")
    assert '"LogsKey" [label="LogsKey\\nAWS::KMS::Key", shape=box, style=filled' in dot
    assert '"ErrorAlarm" -> "MetricFilter" [label="DependsOn", style=dotted' in dot
    mermaid = graph.to_mermaid(highlight=["LogsKey"])
    assert mermaid.startswith("flowchart LR\n")
    assert '"LogsKey<br/>AWS::KMS::Key"' in mermaid
    assert "-.->|DependsOn|" in mermaid and "==>|GetAtt|" in mermaid
    assert "class n0 highlight" in mermaid


@pytest.mark.parametrize("name", ALL_FIXTURES)
def test_resource_edges_match_cfn_lint_graph(name):
    path = str(FIXTURES / name)
    document, matches = decode(path)
    assert not matches
    theirs = CfnLintGraph(CfnLintTemplate(path, document, ["us-east-1"])).graph
    resources = set(document["Resources"])
    expected = {(u, v) for u, v in theirs.edges() if u in resources and v in resources}
    assert build_graph(load_template(path)).resource_edges() == expected


# The graph answers reachability and acyclicity from its own reference index (a forecast must not import
# networkx); networkx's algorithms on the same edges are the reference those answers must equal.
_NAMES = st.sampled_from(list("ABCDEFG"))


@given(st.lists(st.tuples(_NAMES, _NAMES), max_size=14))
def test_reachability_and_cycles_equal_networkx_on_any_graph(edges: list[tuple[str, str]]) -> None:
    g = nx.DiGraph()
    g.add_nodes_from("ABCDEFG", kind="resource", type="")
    for u, v in edges:
        g.add_edge(u, v, kind="Ref", refs=[{"kind": "Ref", "path": f"/{u}/{v}"}])
    graph = DependencyGraph(g)
    for a in "ABCDEFGZ":
        known = a in g
        assert graph.ancestors(a) == (nx.descendants(g, a) if known else set())
        assert graph.descendants(a) == (nx.ancestors(g, a) if known else set())
        for b in "ABCDEFGZ":
            assert graph.depends_on(a, b) == (a != b and known and b in g and nx.has_path(g, a, b))
            assert graph.would_cycle(a, b) == (a == b or (known and b in g and nx.has_path(g, b, a)))
    cycle = graph.find_cycle()
    assert (cycle is None) == nx.is_directed_acyclic_graph(g)
    if cycle is not None:
        assert all(g.has_edge(u, v) for u, v in zip(cycle, cycle[1:])) and cycle[0] == cycle[-1]


def test_the_networkx_view_holds_the_index_nodes_and_edges_in_order() -> None:
    checked = 0
    for name in ALL_FIXTURES:
        try:
            graph = build_graph(load_template(FIXTURES / name))
        except BadInput:
            continue  # the fixtures meant not to build
        g = graph.g
        assert list(g.nodes(data=True)) == graph.nodes()
        assert list(g.edges(data=True)) == graph.edges()
        order = {n: i for i, n in enumerate(graph.deployment_order())}
        assert all(order[v] < order[u] for u, v in graph.resource_edges()), name  # what a resource needs comes first
        assert all(n in graph for n in g) and "not-a-node" not in graph
        checked += 1
    assert checked >= 5
