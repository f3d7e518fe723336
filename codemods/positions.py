"""Where nodes start, for findings: one code generation pass that only tracks offsets.

LibCST's ``PositionProvider`` records a range for every node and costs seconds on a
large file; findings need the start of a handful of nodes.  The positions agree with
``PositionProvider``'s (syntactic starts, 1-based lines, 1-based columns here).
"""

from __future__ import annotations

import bisect
import contextlib
from typing import Dict, Iterable, Tuple

import libcst as cst
from libcst._nodes.internal import CodegenState


class _OffsetState(CodegenState):
    __slots__ = ("offset", "wanted", "starts")

    def __init__(self, module: cst.Module, wanted) -> None:
        super().__init__(default_indent=module.default_indent, default_newline=module.default_newline)
        self.offset = 0
        self.wanted = set(wanted)
        self.starts: Dict[cst.CSTNode, int] = {}

    def add_indent_tokens(self) -> None:
        for token in self.indent_tokens:
            self.add_token(token)

    def add_token(self, value: str) -> None:
        self.tokens.append(value)
        self.offset += len(value)

    @contextlib.contextmanager
    def record_syntactic_position(self, node, *, start_node=None, end_node=None):
        if node in self.wanted:
            self.starts[node] = self.offset
            if start_node is not None:
                self.wanted.add(start_node)
        yield
        if node in self.starts and start_node is not None and start_node in self.starts:
            self.starts[node] = self.starts[start_node]


def locate(module: cst.Module, nodes: Iterable[cst.CSTNode]) -> Dict[cst.CSTNode, Tuple[int, int]]:
    """(line, column), both 1-based, of each node of ``module``."""
    state = _OffsetState(module, nodes)
    module._codegen(state)
    code = "".join(state.tokens)
    line_starts = [0] + [i + 1 for i, ch in enumerate(code) if ch == "\n"]
    out = {}
    for node, offset in state.starts.items():
        line = bisect.bisect_right(line_starts, offset)
        out[node] = (line, offset - line_starts[line - 1] + 1)
    return out
