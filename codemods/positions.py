"""Code generation: a module's code, and where the nodes of findings start.

LibCST's ``PositionProvider`` records a range for every node and costs seconds on a
large file; findings need the start of a handful of nodes.  The positions agree with
``PositionProvider``'s (syntactic starts, 1-based lines, 1-based columns here).

LibCST's code generation enters a generator-based context manager
(``record_syntactic_position``) around most nodes, a third of its cost; both passes
here hand out a shared no-op one instead, except around the nodes being located.
With the :class:`Spans` of the original module, both copy the lines of the statements
they do not need to generate.
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import difflib
import itertools
from typing import Collection, Dict, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

import libcst as cst
from libcst._nodes.internal import CodegenState

from .python_tree import NEWLINE, python_ast

_UNRECORDED = contextlib.nullcontext()


class _State(CodegenState):
    __slots__ = ()

    def record_syntactic_position(self, node, *, start_node=None, end_node=None):
        return _UNRECORDED


def code(module: cst.Module, spans: Optional["Spans"] = None) -> str:
    """``module.code``, generated without position bookkeeping; the statements that
    ``spans`` (of the module ``module`` was made from) holds are copied."""
    if spans:
        module = spans.copied(module)
    state = _State(default_indent=module.default_indent, default_newline=module.default_newline)
    module._codegen(state)
    return "".join(state.tokens)


def differs(module: cst.Module, original: str, spans: Optional["Spans"] = None) -> bool:
    """Whether ``module``'s code (see :func:`code`) is not ``original``: generated (and its
    statements copied) only up to the first top-level statement that differs (``--check``
    needs no more)."""
    parts = [*module.header, *module.body, *module.footer]
    if len(parts) < 2:
        return code(module, spans) != original
    state = _State(default_indent=module.default_indent, default_newline=module.default_newline)
    done = at = 0
    for i, part in enumerate(parts):
        if spans:
            part = spans.verbatim(part) or spans.copied(part)
        part._codegen(state)
        if i == len(parts) - 1:  # the module's trailing newline may be taken from the last
            break
        piece = "".join(state.tokens[done:])
        if not original.startswith(piece, at):
            return True
        done, at = len(state.tokens), at + len(piece)
    if not module.has_trailing_newline:  # as Module._codegen_impl ends
        state.pop_trailing_newline()
    return "".join(state.tokens[done:]) != original[at:]


class _Located(Exception):
    """Every node asked for has its start: the rest of the code generation is skipped."""


class _StartState(CodegenState):
    """Records, for the wanted nodes, how many tokens precede them: their syntactic start,
    or for a node without one (``Parameters``, ...) where its code begins."""

    __slots__ = ("asked", "wanted", "entered", "starts", "waiting", "left", "begun")

    def __init__(self, module: cst.Module, wanted) -> None:
        super().__init__(default_indent=module.default_indent, default_newline=module.default_newline)
        self.asked = frozenset(wanted)
        self.wanted = set(self.asked)
        self.left = len(self.asked)  # nodes asked for whose start is still unknown
        self.entered: Dict[cst.CSTNode, int] = {}
        self.starts: Dict[cst.CSTNode, int] = {}
        #: start_node -> the nodes whose syntactic start is where it starts
        self.waiting: Dict[cst.CSTNode, List[cst.CSTNode]] = {}
        self.begun: Dict[cst.CSTNode, int] = {}

    def before_codegen(self, node: cst.CSTNode) -> None:
        if node in self.asked:
            self.begun.setdefault(node, len(self.tokens))

    def after_codegen(self, node: cst.CSTNode) -> None:
        if node in self.asked and node not in self.entered and node not in self.starts:
            self._start(node, self.begun[node])

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


def locate(module: cst.Module, nodes: Iterable[cst.CSTNode], spans: Optional["Spans"] = None,
           parents: Optional[Dict[cst.CSTNode, cst.CSTNode]] = None) -> Dict[cst.CSTNode, Tuple[int, int]]:
    """(line, column), both 1-based, of each node of ``module``.

    With the module's ``spans`` and each node's parent, only the statements holding
    the nodes are generated; the others are copied.
    """
    nodes = list(nodes)
    holding = _holding(module, nodes, parents) if spans else None
    rebuilt: Dict[cst.CSTNode, cst.CSTNode] = {}
    if holding is not None:
        module = spans.copied(module, holding, rebuilt)
    state = _StartState(module, [rebuilt.get(node, node) for node in nodes])
    try:
        module._codegen(state)
    except _Located:
        pass
    starts = {**state.entered, **state.starts}
    code = "".join(state.tokens)
    offsets = [0, *itertools.accumulate(map(len, state.tokens))]  # token index -> offset in code
    out = {}
    for node in nodes:
        token = starts.get(rebuilt.get(node, node))
        if token is None:
            continue
        offset = offsets[token]
        if "\r" in code:  # lines may end in a lone \r
            ends = [m.end() for m in NEWLINE.finditer(code, 0, offset)]
            out[node] = (len(ends) + 1, offset - (ends[-1] if ends else 0) + 1)
        else:
            out[node] = (code.count("\n", 0, offset) + 1, offset - code.rfind("\n", 0, offset))
    return out


def follow(points: Sequence[Tuple[int, int]], before: str, after: str) -> List[Tuple[int, int]]:
    """1-based (line, column) ``points`` of ``before`` where the same code is in ``after``
    (``before`` laid out, or migrated).  A line that did not change moves with its
    neighbours; in lines that changed, a point keeps its place among the characters that
    are not blanks (what a layout keeps), else goes to the code that follows them."""
    if not points:
        return []
    old, new = NEWLINE.split(before), NEWLINE.split(after)
    opcodes = difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes()
    out = []
    for line, col in points:
        i = line - 1
        tag, i1, i2, j1, j2 = next((op for op in opcodes if op[1] <= i < op[2]), ("equal", i, i + 1, i, i + 1))
        if tag == "equal":
            out.append((j1 + i - i1 + 1, col))
            continue
        a, a_at = _characters(old[i1:i2])
        b, b_at = _characters(new[j1:j2])
        k = next((n for n, (li, ci) in enumerate(a_at) if (li, ci) >= (i - i1, col - 1)), len(a))
        found = next(((bj + k - ai) for ai, bj, size in difflib.SequenceMatcher(None, a, b, autojunk=False)
                      .get_matching_blocks() if ai <= k < ai + size), None)
        if found is not None:
            li, ci = b_at[found]
            out.append((j1 + li + 1, ci + 1))
            continue
        # Gone (a statement removed): the code that now follows where it was.
        n = next((n for n in range(j1, len(new)) if new[n].strip()), min(j1, len(new) - 1))
        out.append((n + 1, len(new[n]) - len(new[n].lstrip()) + 1))
    return out


def _characters(lines: Sequence[str]) -> Tuple[str, List[Tuple[int, int]]]:
    """The characters of ``lines`` that are not blanks, and the (line, column) of each (0-based)."""
    at = [(n, c) for n, line in enumerate(lines) for c, char in enumerate(line) if not char.isspace()]
    return "".join(lines[n][c] for n, c in at), at


def _holding(module: cst.Module, nodes: List[cst.CSTNode],
             parents: Optional[Dict[cst.CSTNode, cst.CSTNode]]) -> Optional[Set[cst.CSTNode]]:
    """``nodes`` and every node above them (and the first statement of a block, where the
    block starts), or None if one of them is not in ``parents``."""
    if not parents:
        return None
    out: Set[cst.CSTNode] = set()
    for node in nodes:
        if isinstance(node, cst.IndentedBlock):
            out.add(node.body[0])
        while node is not module and node not in out:
            out.add(node)
            node = parents.get(node)
            if node is None:
                return None
    return out


class _Disagree(Exception):
    """LibCST's tree and Python's ``ast`` do not line up."""


#: The ``ast`` statement types of each LibCST compound statement.
_AST_TYPES = {
    cst.FunctionDef: (ast.FunctionDef, ast.AsyncFunctionDef), cst.ClassDef: (ast.ClassDef,), cst.If: (ast.If,),
    cst.For: (ast.For, ast.AsyncFor), cst.While: (ast.While,), cst.With: (ast.With, ast.AsyncWith),
    cst.Try: (ast.Try,), cst.TryStar: (ast.TryStar,), cst.Match: (ast.Match,),
}

#: The fields of statement-level nodes that hold statements, directly or a level down.
_BODIES = {
    cst.Module: ("body",), cst.IndentedBlock: ("body",), cst.FunctionDef: ("body",), cst.ClassDef: ("body",),
    cst.With: ("body",), cst.If: ("body", "orelse"), cst.Else: ("body",), cst.For: ("body", "orelse"),
    cst.While: ("body", "orelse"), cst.Try: ("body", "handlers", "orelse", "finalbody"),
    cst.TryStar: ("body", "handlers", "orelse", "finalbody"), cst.ExceptHandler: ("body",),
    cst.ExceptStarHandler: ("body",), cst.Finally: ("body",), cst.Match: ("cases",), cst.MatchCase: ("body",),
}


def _clauses(stmt: cst.BaseCompoundStatement, node: ast.stmt) -> Iterator[Tuple[cst.BaseSuite, List[ast.stmt]]]:
    """The suites of a compound statement, in order, each with its ``ast`` statements."""
    if isinstance(stmt, cst.If):
        yield stmt.body, node.body
        while isinstance(stmt.orelse, cst.If):  # elif: ast nests an If in orelse
            if len(node.orelse) != 1 or not isinstance(node.orelse[0], ast.If):
                raise _Disagree
            stmt, node = stmt.orelse, node.orelse[0]
            yield stmt.body, node.body
        if stmt.orelse is not None:
            yield stmt.orelse.body, node.orelse
    elif isinstance(stmt, (cst.Try, cst.TryStar)):
        if len(stmt.handlers) != len(node.handlers):
            raise _Disagree
        yield stmt.body, node.body
        for handler, handler_node in zip(stmt.handlers, node.handlers):
            yield handler.body, handler_node.body
        if stmt.orelse is not None:
            yield stmt.orelse.body, node.orelse
        if stmt.finalbody is not None:
            yield stmt.finalbody.body, node.finalbody
    elif isinstance(stmt, cst.Match):
        if len(stmt.cases) != len(node.cases):
            raise _Disagree
        for case, case_node in zip(stmt.cases, node.cases):
            yield case.body, case_node.body
    else:
        yield stmt.body, node.body
        if getattr(stmt, "orelse", None) is not None:  # for/while ... else
            yield stmt.orelse.body, node.orelse


class Spans:
    """The source lines of every statement of a module parsed from ``code``.

    LibCST keeps no positions, so they come from Python's ``ast`` (each statement's
    first line) and LibCST's own counts of the blank and comment lines that lead a
    statement or close a block.  Sibling statements must then tile the lines exactly,
    and the top-level ones the whole file; if anything disagrees, or ``ast`` rejects
    the code, there are no spans (the object is false) and code generation does all
    the work.
    """

    def __init__(self, module: cst.Module, code: str) -> None:
        #: statement -> (first line, end line, line of its first token), 0-based, end exclusive
        self.lines: Dict[cst.BaseStatement, Tuple[int, int, int]] = {}
        self._code = code
        self._starts = [0, *(m.end() for m in NEWLINE.finditer(code))]  # offset of each line
        if self._starts[-1] != len(code):
            self._starts.append(len(code))  # the last line has no newline
        try:
            end = self._body(module.body, python_ast(code).body, -1)
            if end is not None and (
                    self.lines[module.body[0]][0] != len(module.header)
                    or end != len(self._starts) - 1 - len(module.footer)):
                raise _Disagree
        except (SyntaxError, ValueError, RecursionError, MemoryError, _Disagree):
            self.lines.clear()

    def __bool__(self) -> bool:
        return bool(self.lines)

    def verbatim(self, stmt: cst.CSTNode) -> Optional["_Verbatim"]:
        """``stmt`` as a node that writes its original lines, or None if it has no span."""
        span = self.lines.get(stmt)
        if span is None:
            return None
        start, end, first = span
        text = self._code[self._starts[start]:self._starts[end]]
        newline = next((n for n in ("\r\n", "\n", "\r") if text.endswith(n)), "")
        line = self._line(first)
        indent = line[: len(line) - len(line.lstrip(" \t\f"))].replace("\f", "")  # a form feed is no indentation
        return _Verbatim(stmt, indent, text[: len(text) - len(newline)], newline)

    def copied(self, node: cst.CSTNode, keep: Collection[cst.CSTNode] = (),
               rebuilt: Optional[Dict[cst.CSTNode, cst.CSTNode]] = None) -> cst.CSTNode:
        """``node`` (of a tree made from this module) with every statement under it that
        has a span, and is not in ``keep``, replaced by its :meth:`verbatim` copy.
        ``rebuilt`` records each node rebuilt on the way (original -> copy)."""
        changes = {}
        for field in _BODIES.get(type(node), ()):
            value = getattr(node, field)
            if isinstance(value, (list, tuple)):
                new = [(child not in keep and self.verbatim(child)) or self.copied(child, keep, rebuilt)
                       for child in value]
                if any(a is not b for a, b in zip(new, value)):
                    changes[field] = new
            elif value is not None:
                new = self.copied(value, keep, rebuilt)
                if new is not value:
                    changes[field] = new
        if not changes:
            return node
        copy = node.with_changes(**changes)
        if rebuilt is not None:
            rebuilt[node] = copy
        return copy

    def _line(self, index: int) -> str:
        return self._code[self._starts[index]:self._starts[index + 1]]

    def _body(self, statements: Sequence[cst.BaseStatement], nodes: List[ast.stmt], after: int) -> Optional[int]:
        """Record the spans of ``statements`` (whose ``ast`` is ``nodes``), which follow
        line ``after``: the end of the last one, or None if there are none."""
        nodes = iter(nodes)
        end = None
        for stmt in statements:
            leading = len(stmt.leading_lines)
            if isinstance(stmt, cst.SimpleStatementLine):  # `a; b`: one line, several ast statements
                group = [next(nodes, None) for _ in stmt.body]
                if None in group:
                    raise _Disagree
                first, stmt_end = group[0].lineno - 1, group[-1].end_lineno
                marker = None
            else:
                node = next(nodes, None)
                if not isinstance(node, _AST_TYPES.get(type(stmt), ())):
                    raise _Disagree
                first, marker = node.lineno - 1, None
                decorators = getattr(stmt, "decorators", ())
                if decorators:  # ast's statement starts at `def`; LibCST's at the first `@`
                    first, marker = node.decorator_list[0].lineno - 1, "@"
                stmt_end = self._compound(stmt, node, first)
            start = first - leading
            if start <= after or (end is not None and start != end) or not self._starts_statement(first, marker):
                raise _Disagree
            if any(self._line(i).strip(" \t\f\r\n")[:1] not in ("", "#") for i in range(start, first)):
                raise _Disagree
            self.lines[stmt] = (start, stmt_end, first)
            end = stmt_end
        if next(nodes, None) is not None:
            raise _Disagree
        return end

    def _compound(self, stmt: cst.BaseCompoundStatement, node: ast.stmt, first: int) -> int:
        end = node.end_lineno  # a last suite on the header's line ends with the statement
        for suite, nodes in _clauses(stmt, node):
            if isinstance(suite, cst.IndentedBlock):
                block_end = self._body(suite.body, nodes, first)
                if block_end is None:
                    raise _Disagree
                end = block_end + len(suite.footer)
            else:
                end = node.end_lineno
        return end

    def _starts_statement(self, index: int, marker: Optional[str]) -> bool:
        text = self._line(index).lstrip(" \t\f")
        return text.startswith(marker) if marker else text[:1] not in ("", "#", "\r", "\n")


@dataclasses.dataclass(frozen=True)
class _Verbatim(cst.BaseStatement):
    """A statement written as its original text, when the indentation is still its own
    (else generated from the node)."""

    original: cst.BaseStatement
    indent: str
    text: str  # without its final newline
    newline: str  # "" at the end of a file without one

    def _visit_and_replace_children(self, visitor) -> "_Verbatim":
        return self

    def _codegen_impl(self, state: CodegenState) -> None:
        if "".join(state.indent_tokens) != self.indent:
            self.original._codegen(state)
            return
        state.add_token(self.text)
        state.add_token(self.newline or state.default_newline)  # a module without one pops it
