"""The Python versions black infers a file targets, read off Python's own tree.

Black, given no target versions, lays some statements out by the versions the whole
file can run on (a trailing comma after ``*args``, parentheses around ``with`` items),
and finds them with a parse of its own (``lib2to3``), some 15 ms on a 300-line file,
more than laying the statement out.  The file's ``ast`` is at hand: black's versions
are every version from the newest of the features it finds, which :func:`oldest`
reads from the tree, or None where the tree cannot tell them apart (``return (*a, b)``
and ``return *a, b``, ``f"{x=}"`` and ``f"x={x!r}"``...): black decides those.

    >>> oldest("x = 1\\n")
    (3, 3)
    >>> oldest("print(f'{x}')\\n")
    (3, 6)
    >>> oldest("match x:\\n    case 1:\\n        pass\\n")
    (3, 10)
    >>> oldest("return (*a, b)\\n") is None  # parenthesized or not: ast cannot say
    True
"""

from __future__ import annotations

import ast
import re
import sys
from typing import Optional, Tuple

from .python_tree import python_ast, split_lines

Version = Tuple[int, int]


class _Unknown(Exception):
    """The tree cannot tell which of two spellings black sees."""


#: ``{expr=}`` in an f-string (a superset: a false alarm only defers to black).
_DEBUG_FIELD = re.compile(r"=\s*[}!:]")
_TRAILING_COMMA = re.compile(r",\s*\)\Z")


def oldest(source: str) -> Optional[Version]:
    """The oldest version black infers ``source`` targets (the newest version any feature
    it uses needs), or None when black must read the file itself."""
    if sys.version_info >= (3, 12):  # newer syntax than these rules know (type parameters...)
        return None
    try:
        module = python_ast(source)
        return _Features(source).oldest(module)
    except (_Unknown, SyntaxError, ValueError, RecursionError):  # ValueError: also a bad decode
        return None


class _Features:
    def __init__(self, source: str) -> None:
        self.lines = split_lines(source)

    def cut(self, lineno: int, start: int = 0, end: Optional[int] = None) -> str:
        """Line ``lineno`` from column ``start`` to ``end`` (``ast``'s: UTF-8 byte offsets)."""
        return self.lines[lineno - 1].encode()[start:end].decode()

    def segment(self, node: ast.AST) -> str:
        """``node``'s source text (``ast.get_source_segment`` splits the whole file each time)."""
        first, last = node.lineno, node.end_lineno or 0
        if last < first or node.end_col_offset is None:
            raise _Unknown
        if first == last:
            return self.cut(first, node.col_offset, node.end_col_offset)
        return "".join([self.cut(first, node.col_offset), *self.lines[first:last - 1],
                        self.cut(last, 0, node.end_col_offset)])

    def oldest(self, module: ast.Module) -> Version:
        found: Version = (3, 3)
        seen = {}  # node type -> its nodes, for the types looked at below
        for node in ast.walk(module):
            nodes = seen.get(type(node))
            if nodes is not None:
                nodes.append(node)
            elif type(node) in _LOOKED_AT:
                seen[type(node)] = [node]
        for node_type, nodes in seen.items():
            for node in nodes:
                version = getattr(self, "needs_" + node_type.__name__, _nothing)(node)
                if version > found:
                    found = version
        if found >= (3, 8):
            return found
        # Features that tell only older versions apart; positions inside f-strings are
        # unreliable before Python 3.12, but once there is one, 3.6 is known anyway.
        fstrings = seen.get(ast.JoinedStr, ())
        if any(_DEBUG_FIELD.search(self.segment(node)) for node in fstrings):
            raise _Unknown  # f"{x=}" (3.8) reads as f"x={x!r}" (3.6)
        if fstrings or found >= (3, 6):
            return max(found, (3, 6))
        defs = [*seen.get(ast.FunctionDef, ()), *seen.get(ast.AsyncFunctionDef, ())]
        if any(self.trailing_comma(node) for node in defs if _starred_params(node.args)):
            return (3, 6)
        if any(isinstance(node.value, (int, float, complex)) and not isinstance(node.value, bool)
               and "_" in self.segment(node) for node in seen.get(ast.Constant, ())):
            return (3, 6)
        calls = [*seen.get(ast.Call, ()), *seen.get(ast.ClassDef, ())]
        if any(self.trailing_comma(node) for node in calls if _starred_arguments(node)):
            return (3, 5)
        return found

    # The versions nodes of some types need, of the features black looks for from 3.7 on.

    def needs_Match(self, node: ast.AST) -> Version:
        return (3, 10)

    def needs_TryStar(self, node: ast.AST) -> Version:
        return (3, 11)

    def needs_Subscript(self, node: ast.Subscript) -> Version:
        if _starred(node.slice):
            raise _Unknown  # x[*a] (3.11) or x[(*a,)]
        return (3, 3)

    def needs_FunctionDef(self, node: ast.FunctionDef) -> Version:
        if node.args.vararg is not None and isinstance(node.args.vararg.annotation, ast.Starred):
            return (3, 11)
        if any(self.relaxed(d) for d in node.decorator_list):
            return (3, 9)
        return (3, 8) if node.args.posonlyargs else (3, 3)

    needs_AsyncFunctionDef = needs_FunctionDef

    def needs_ClassDef(self, node: ast.ClassDef) -> Version:
        return (3, 9) if any(self.relaxed(d) for d in node.decorator_list) else (3, 3)

    def needs_With(self, node: ast.With) -> Version:
        if any(item.optional_vars for item in node.items) and self.after_keyword(node).startswith("("):
            raise _Unknown  # with (a as b): (3.9) or with (a) as b:
        return (3, 3)

    needs_AsyncWith = needs_With

    def needs_NamedExpr(self, node: ast.AST) -> Version:
        return (3, 8)

    def needs_Lambda(self, node: ast.Lambda) -> Version:
        return (3, 8) if node.args.posonlyargs else (3, 3)

    def needs_Return(self, node: ast.Return) -> Version:
        if isinstance(node.value, ast.Tuple) and any(isinstance(e, ast.Starred) for e in node.value.elts):
            raise _Unknown  # return *a, b (3.8) or return (*a, b)
        return (3, 3)

    needs_Yield = needs_Return

    def needs_AnnAssign(self, node: ast.AnnAssign) -> Version:
        if isinstance(node.value, ast.Tuple):
            raise _Unknown  # x: T = a, b (3.8) or x: T = (a, b)
        return (3, 3)

    def needs_ImportFrom(self, node: ast.ImportFrom) -> Version:
        if node.module == "__future__" and node.level == 0 and any(a.name == "annotations" for a in node.names):
            return (3, 7)
        return (3, 3)

    def relaxed(self, decorator: ast.expr) -> bool:
        """Whether black reads the decorator as more than a dotted name, perhaps called."""
        text = self.segment(decorator)
        if not self.cut(decorator.lineno, 0, decorator.col_offset).rstrip().endswith("@") or text.startswith("(") or "\\" in text:
            raise _Unknown  # @(a) reads as @a
        called = decorator.func if isinstance(decorator, ast.Call) else decorator
        while isinstance(called, ast.Attribute):
            called = called.value
        return not isinstance(called, ast.Name)

    def after_keyword(self, node: ast.stmt) -> str:
        rest = self.cut(node.lineno, node.col_offset).lstrip()
        for keyword in ("async", "with"):
            if rest.startswith(keyword):
                rest = rest[len(keyword):].lstrip()
        if not rest.strip() or rest.startswith("\\"):
            raise _Unknown
        return rest

    def trailing_comma(self, node: ast.AST) -> bool:
        """Whether the arguments in a call's parentheses (a def's parameters, a class's
        bases) end in a comma."""
        text = self.segment(node) if isinstance(node, ast.Call) else self.header(node)
        if "#" in text or "\\" in text:
            raise _Unknown
        return bool(_TRAILING_COMMA.search(text))

    def header(self, node: ast.stmt) -> str:
        """A def's or class's header up to its colon, when its body starts on a later line
        and no return annotation follows the parameters."""
        text = "".join(self.lines[node.lineno - 1 : node.body[0].lineno - 1]).rstrip()
        if not text.endswith(":") or getattr(node, "returns", None) is not None:
            raise _Unknown
        return text[:-1].rstrip()


def _nothing(node: ast.AST) -> Version:
    return (3, 3)


#: The node types :meth:`_Features.oldest` reads.
_LOOKED_AT = frozenset(getattr(ast, name) for name in (
    "Match", "TryStar", "Subscript", "FunctionDef", "AsyncFunctionDef", "ClassDef", "With", "AsyncWith",
    "NamedExpr", "Lambda", "Return", "Yield", "AnnAssign", "ImportFrom", "JoinedStr", "Constant", "Call",
) if hasattr(ast, name))


def _starred(node: ast.expr) -> bool:
    return isinstance(node, ast.Starred) or (
        isinstance(node, ast.Tuple) and any(isinstance(e, ast.Starred) for e in node.elts))


def _starred_params(arguments: ast.arguments) -> bool:
    return bool(arguments.vararg or arguments.kwarg or arguments.kwonlyargs)


def _starred_arguments(node: ast.AST) -> bool:
    values = node.args if isinstance(node, ast.Call) else node.bases
    return any(isinstance(a, ast.Starred) for a in values) or any(k.arg is None for k in node.keywords)
