"""Code generation: a module's code, and where the nodes of findings start.

LibCST's ``PositionProvider`` records a range for every node and costs seconds on a
large file; findings need the start of a handful of nodes.  The positions agree with
``PositionProvider``'s (syntactic starts, 1-based lines, 1-based columns here).

LibCST's code generation enters a generator-based context manager
(``record_syntactic_position``) around most nodes, a third of its cost; both passes
here hand out a shared no-op one instead, except around the nodes being located.
"""

from __future__ import annotations

import contextlib
import itertools
from typing import Dict, Iterable, List, Tuple

import libcst as cst
from libcst._nodes.internal import CodegenState

_UNRECORDED = contextlib.nullcontext()


class _State(CodegenState):
    __slots__ = ()

    def record_syntactic_position(self, node, *, start_node=None, end_node=None):
        return _UNRECORDED


def code(module: cst.Module) -> str:
    """``module.code``, generated without position bookkeeping."""
    state = _State(default_indent=module.default_indent, default_newline=module.default_newline)
    module._codegen(state)
    return "".join(state.tokens)


class _Located(Exception):
    """Every node asked for has its start: the rest of the code generation is skipped."""


class _StartState(CodegenState):
    """Records, for the wanted nodes, how many tokens precede them."""

    __slots__ = ("asked", "wanted", "entered", "starts", "waiting", "left")

    def __init__(self, module: cst.Module, wanted) -> None:
        super().__init__(default_indent=module.default_indent, default_newline=module.default_newline)
        self.asked = frozenset(wanted)
        self.wanted = set(self.asked)
        self.left = len(self.asked)  # nodes asked for whose start is still unknown
        self.entered: Dict[cst.CSTNode, int] = {}
        self.starts: Dict[cst.CSTNode, int] = {}
        #: start_node -> the nodes whose syntactic start is where it starts
        self.waiting: Dict[cst.CSTNode, List[cst.CSTNode]] = {}

    def record_syntactic_position(self, node, *, start_node=None, end_node=None):
        if node in self.wanted and node not in self.entered:
            self.entered[node] = len(self.tokens)
            if start_node is None:
                self._start(node, len(self.tokens))
            else:
                self.waiting.setdefault(start_node, []).append(node)
                self.wanted.add(start_node)
        return _UNRECORDED

    def _start(self, node: cst.CSTNode, token: int) -> None:
        self.starts[node] = token
        self.left -= node in self.asked
        for parent in self.waiting.pop(node, ()):
            self._start(parent, token)
        if not self.left:
            raise _Located


def locate(module: cst.Module, nodes: Iterable[cst.CSTNode]) -> Dict[cst.CSTNode, Tuple[int, int]]:
    """(line, column), both 1-based, of each node of ``module``."""
    state = _StartState(module, nodes)
    try:
        module._codegen(state)
    except _Located:
        pass
    starts = {**state.entered, **state.starts}
    code = "".join(state.tokens)
    offsets = [0, *itertools.accumulate(map(len, state.tokens))]  # token index -> offset in code
    out = {}
    for node in state.asked:
        token = starts.get(node)
        if token is None:
            continue
        offset = offsets[token]
        out[node] = (code.count("\n", 0, offset) + 1, offset - code.rfind("\n", 0, offset))
    return out
