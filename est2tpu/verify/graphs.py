"""Walking a TPU computation: its ops, the functions they call, where their inputs come from.

With control flow v2 (TF 2.x), TPUEstimator's training loop is a ``While`` whose body is
a function graph: model_fn's ops live there, and in the function graphs of the conds,
loops and ``tf.function`` calls they make.  Export's ``tpu.rewrite`` marks its ops with
``_tpu_replicate`` instead.  Ops marked for outside compilation run on the host.
"""

from __future__ import annotations

from typing import Dict, Iterable, Iterator, List, Set

from tensorflow.python.framework import func_graph as func_graph_lib
from tensorflow.python.framework import ops as ops_lib

TPU_REPLICATE_ATTR = "_tpu_replicate"
OUTSIDE_COMPILATION_ATTR = "_xla_outside_compilation"
_SUBGRAPH_ATTRS = ("_cond_graph", "_body_graph", "_true_graph", "_false_graph")


def has_attr(op: ops_lib.Operation, name: str) -> bool:
    return name in op.node_def.attr


def subgraphs(op: ops_lib.Operation) -> List[func_graph_lib.FuncGraph]:
    """The function graphs ``op`` runs: loop and branch bodies, called functions."""
    found = [getattr(op, name) for name in _SUBGRAPH_ATTRS if getattr(op, name, None) is not None]
    names = []
    for value in op.node_def.attr.values():
        if value.HasField("func"):
            names.append(value.func.name)
        elif value.HasField("list"):
            names.extend(f.name for f in value.list.func)
    for name in names:
        function = op.graph._get_function(name)
        graph = getattr(function, "graph", None)
        if isinstance(graph, func_graph_lib.FuncGraph) and graph not in found:
            found.append(graph)
    return found


def tpu_ops(ops: Iterable[ops_lib.Operation]) -> Iterator[ops_lib.Operation]:
    """Those of ``ops`` in the TPU computation, and every op of the function graphs they run.

    In a function graph (the loop body model_fn ran in) every op is on the TPU; in a
    plain graph only those ``tpu.rewrite`` marked.  Outside compilation is left out.
    """
    seen: Set[ops_lib.Graph] = set()
    stack = [(op, False) for op in reversed(list(ops))]
    while stack:
        op, called = stack.pop()
        if has_attr(op, OUTSIDE_COMPILATION_ATTR) or not (
                called or isinstance(op.graph, func_graph_lib.FuncGraph) or has_attr(op, TPU_REPLICATE_ATTR)):
            continue
        yield op
        for graph in subgraphs(op):
            if graph not in seen:
                seen.add(graph)
                stack.extend((inner, True) for inner in reversed(graph.get_operations()))


def external(tensor: ops_lib.Tensor) -> ops_lib.Tensor:
    """The tensor a function graph's captured placeholder stands for (itself otherwise)."""
    while isinstance(tensor.graph, func_graph_lib.FuncGraph):
        outer = {id(internal): ext for ext, internal in tensor.graph.captures}.get(id(tensor))
        if outer is None:
            return tensor
        tensor = outer
    return tensor


def ancestors(op: ops_lib.Operation) -> Set[ops_lib.Operation]:
    """Every op ``op`` depends on, through data and control inputs, in its own graph and
    the graphs around it (a function graph's inputs stand for the whole of the op that
    calls it: an over-estimate, never an under-estimate)."""
    callers: Dict[ops_lib.Graph, List[ops_lib.Operation]] = {}
    seen: Set[ops_lib.Operation] = set()
    stack = [op]
    while stack:
        current = stack.pop()
        inputs = [t.op for t in current.inputs] + list(current.control_inputs)
        graph = current.graph
        if current.type == "Placeholder" and isinstance(graph, func_graph_lib.FuncGraph):
            outer = external(current.outputs[0])
            if outer is not current.outputs[0]:
                inputs.append(outer.op)
            else:  # a function argument: whatever the callers feed
                inputs.extend(_callers(graph, callers))
        for parent in inputs:
            if parent not in seen:
                seen.add(parent)
                stack.append(parent)
    return seen


def _callers(graph: func_graph_lib.FuncGraph, cache: Dict) -> List[ops_lib.Operation]:
    if graph not in cache:
        outer = graph.outer_graph
        cache[graph] = [op for op in outer.get_operations() if graph in subgraphs(op)] if outer else []
    return cache[graph]
