"""Drawing a graph as a Mermaid flowchart (https://mermaid.js.org/syntax/flowchart.html)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .nodes import AgentNode, GraphNode

if TYPE_CHECKING:
    from .graph import Graph
    from .workflow import Workflow

_SHAPES = {"function": '["{}"]', "agent": '("{}")', "graph": '[["{}"]]'}


def to_mermaid(graph: Graph | Workflow) -> str:
    """`flowchart TD` source: START / END as stadiums, function nodes as boxes, agents
    rounded, sub-graphs as subroutines; static edges solid (`a & b --> c` for a fan-in),
    conditional edges dotted and labelled with the router's value where it differs from the
    node name (a router with unknown targets gets a dotted edge to every node and END)."""
    from .graph import END, START

    ids = {START: "__start__", END: "__end__"}
    lines = ["flowchart TD", '    __start__(["START"])']
    for index, (name, node) in enumerate(graph.nodes.items()):
        ids[name] = f"n{index}"
        kind = (
            "agent"
            if isinstance(node, AgentNode)
            else "graph"
            if isinstance(node, GraphNode)
            else "function"
        )
        lines.append(f"    n{index}" + _SHAPES[kind].format(_label(name)))
    lines.append('    __end__(["END"])')
    for source, targets in graph.edges.items():
        for target in targets:
            lines.append(f"    {ids.get(source, source)} --> {ids.get(target, target)}")
    for sources, target in graph.joins:
        joined = " & ".join(ids.get(s, s) for s in sources)
        lines.append(f"    {joined} --> {ids.get(target, target)}")
    for source, branches in graph.branches.items():
        for branch in branches:
            if branch.path_map is not None:
                pairs = [(str(k), v) for k, v in branch.path_map.items()]
            else:
                options = branch.targets or (*graph.nodes, END)
                pairs = [(v, v) for v in options]
            for key, target in pairs:
                label = "" if key == target else f"|{_label(key)}|"
                lines.append(f"    {ids.get(source, source)} -.->{label} {ids.get(target, target)}")
    return "\n".join(lines) + "\n"


def _label(text: str) -> str:
    return text.replace('"', "#quot;").replace("|", "#124;")
