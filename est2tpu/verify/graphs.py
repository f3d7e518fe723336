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


class Upstream:
    """Whether an op depends on an op of a given type, through data and control inputs, in
    its own graph and the graphs around it; a function graph's arguments stand for all of
    what its callers feed them (an over-estimate, never an under-estimate).  Memoized:
    asking for every op of a graph costs one walk of it."""

    def __init__(self, op_type: str) -> None:
        self.op_type = op_type
        self._known: Dict[ops_lib.Operation, bool] = {}
        self._callers: Dict[ops_lib.Graph, List[ops_lib.Operation]] = {}

    def __call__(self, op: ops_lib.Operation) -> bool:
        stack, open_ = [op], set()
        while stack:
            current = stack[-1]
            if current in self._known:
                stack.pop()
                continue
            parents = self._parents(current)
            waiting = [p for p in parents if p not in self._known and p not in open_]
            if waiting and current not in open_:
                open_.add(current)
                stack.extend(waiting)
                continue
            open_.discard(current)  # (a cycle, in v1 control flow, counts what is known)
            self._known[current] = current.type == self.op_type or any(self._known.get(p, False) for p in parents)
            stack.pop()
        return self._known[op]

    def _parents(self, op: ops_lib.Operation) -> List[ops_lib.Operation]:
        parents = [t.op for t in op.inputs] + list(op.control_inputs)
        graph = op.graph
        if op.type == "Placeholder" and isinstance(graph, func_graph_lib.FuncGraph):
            outer = external(op.outputs[0])
            if outer is not op.outputs[0]:
                parents.append(outer.op)
            else:  # a function argument: whatever the callers feed
                if graph not in self._callers:
                    outer_graph = graph.outer_graph
                    self._callers[graph] = [o for o in outer_graph.get_operations()
                                            if graph in subgraphs(o)] if outer_graph else []
                parents.extend(self._callers[graph])
        return parents
