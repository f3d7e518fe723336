"""Add and remove import statements: the few the migration needs, in one cheap pass.

LibCST's ``AddImportsVisitor``/``RemoveImportsVisitor`` are general and cost about a
full transform each; the migration only ever adds ``import x``/``import x as y``/
``from m import n``, and drops ``from m import n`` names it made unused.

An added import goes where isort (and ruff's ``I`` rules, at their defaults) would put
it, so that a file whose imports were sorted stays sorted: into the group of imports
(lines without a blank line between them) that imports TensorFlow, the third-party
group, in order: ``import x`` lines before ``from`` lines, each sorted by module name,
case-insensitively, numbers by value.  In a notebook, whose cells are joined into one
module, that is the cell that imports TensorFlow, after its magics.  A file that imports
no TensorFlow at its top level gets it in its first group of imports, else before its
first statement that imports (``try: import tensorflow``), else after its docstring.
"""

from __future__ import annotations

import re
import sys
from typing import Iterable, List, Optional, Set, Tuple

import libcst as cst

from .names import ImportTable, dotted
from .syntax import dotted_expr
from .walk import Visitor

Request = Tuple[str, Optional[str], Optional[str]]  # (module, obj, asname)
ADD_KEY = "est2tpu.imports.add"
DROP_KEY = "est2tpu.imports.drop"


class _Names(Visitor):
    """Every name used outside import statements."""

    def __init__(self) -> None:
        self.names: Set[str] = set()

    def visit_Import(self, node) -> bool:
        return False

    def visit_ImportFrom(self, node) -> bool:
        return False

    def visit_Attribute(self, node: cst.Attribute) -> cst.BaseExpression:
        return node.value

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)


def _is_import_line(stmt) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and all(
        isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body
    )


def _module_of(stmt: cst.SimpleStatementLine) -> str:
    """The module a one-import line imports (the first, for ``import a, b``)."""
    imp = stmt.body[0]
    if isinstance(imp, cst.Import):
        return dotted(imp.names[0].name)
    return "." * len(imp.relative) + (dotted(imp.module) if imp.module is not None else "")


def _key(stmt: cst.SimpleStatementLine):
    """isort's order within a group: ``import`` lines first, then by module, ignoring case,
    numbers compared by value (``import a`` before ``import a as b``)."""
    name, imp = _module_of(stmt).lower(), stmt.body[0]
    asname = imp.names[0].asname if isinstance(imp, cst.Import) else None
    return (isinstance(imp, cst.ImportFrom),
            [(int(part), "") if part.isdigit() else (-1, part) for part in re.split(r"(\d+)", name)],
            asname is not None)


#: Modules whose group is the third-party one (what an Estimator program imports).
_TENSORFLOW = ("tensorflow", "tensorflow_estimator")
_STDLIB = getattr(sys, "stdlib_module_names", frozenset())


def _third_party(stmt: cst.SimpleStatementLine) -> bool:
    root = _module_of(stmt).split(".")[0]
    return bool(root) and root != "__future__" and root not in _STDLIB


def _blank_before(stmt: cst.SimpleStatementLine) -> bool:
    return any(line.comment is None for line in stmt.leading_lines)


def _place(body: List[cst.BaseStatement], lines: List[cst.SimpleStatementLine]) -> None:
    """Insert the import ``lines`` into ``body`` where isort would (see the module's doc)."""
    imports = [i for i, stmt in enumerate(body) if _is_import_line(stmt)]
    anchor = next((i for i in imports if _module_of(body[i]).split(".")[0] in _TENSORFLOW), None)
    if anchor is None and not imports:
        at = _insert_at(body)
        body[at:at] = lines
        return
    first = anchor if anchor is not None else imports[0]
    while first > 0 and _is_import_line(body[first - 1]) and not _blank_before(body[first]):
        first -= 1
    last = first + 1
    while last < len(body) and _is_import_line(body[last]) and not _blank_before(body[last]):
        last += 1
    for line in lines:
        peers = [i for i in range(first, last) if _third_party(body[i])] or list(range(first, last))
        before = [i for i in peers if _key(body[i]) <= _key(line)]
        at = before[-1] + 1 if before else peers[0]
        if at == first:  # the group's blank lines above it go with its new first line; comments stay
            lead = body[first].leading_lines
            cut = max((n + 1 for n, empty in enumerate(lead) if empty.comment is None), default=0)
            line = line.with_changes(leading_lines=lead[:cut])
            # isort puts a blank line above the comments of an import that is not the first
            comments = [cst.EmptyLine(), *lead[cut:]] if lead[cut:] else []
            body[first] = body[first].with_changes(leading_lines=comments)
        body.insert(at, line)
        last += 1


class _RunsImport(Visitor):
    """Whether a statement imports when it runs (in a ``try`` or an ``if``; not in a def)."""

    def __init__(self) -> None:
        self.found = False

    def visit_FunctionDef(self, node) -> bool:
        return False

    def visit_Import(self, node) -> bool:
        self.found = True
        return False

    visit_ImportFrom = visit_Import


def _insert_at(body) -> int:
    """Index after the imports that open the module (after its docstring): an import put
    after later code would come too late for that code, which may use what it imports.
    In a module that imports only inside statements (``try: import tensorflow ...``), before
    the first of them: in a notebook, that is the first cell that imports, not a licence
    cell of comments and strings above it, which users do not run."""
    nested = next((i for i, stmt in enumerate(body) if _RunsImport().walked(stmt).found), None)
    if nested is not None:
        return nested
    at = 0
    for i, stmt in enumerate(body):
        if _is_import_line(stmt):
            at = i + 1
        elif i == 0 and isinstance(stmt, cst.SimpleStatementLine) and isinstance(
            stmt.body[0], cst.Expr
        ) and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString)):
            at = 1
        else:
            break
    return at


def update_imports(module: cst.Module, add: Iterable[Request], drop: Iterable[Request]) -> cst.Module:
    add, drop = list(dict.fromkeys(add)), list(dict.fromkeys(drop))
    if not add and not drop:
        return module
    body = list(module.body)
    used = _names_used(module) if drop else None  # dropping imports changes no name outside them
    if drop:  # a name that an added import binds again goes, used or not: the import order no longer decides
        body, comments = _drop(body, drop, {asname or obj for _, obj, asname in add if obj}, used)
        module = module.with_changes(footer=[*comments, *module.footer])  # a dropped last statement's
    table = ImportTable(module.with_changes(body=body))
    missing = [r for r in add if not _present(table, r)]
    if missing:  # what the rewrites made uses (an analysis may ask for more than was rewritten)
        used = used if used is not None else _names_used(module, {_binds(r) for r in missing})
        missing = [r for r in missing if _binds(r) in used]
    if missing:
        froms = {}
        new: List[cst.SimpleStatementLine] = []
        for mod, obj, asname in missing:
            if obj is None:
                names = [cst.ImportAlias(dotted_expr(mod), asname=cst.AsName(cst.Name(asname)) if asname else None)]
                new.append(cst.SimpleStatementLine([cst.Import(names)]))
            elif mod in froms:
                froms[mod].append(obj)
            else:
                froms[mod] = [obj]
                new.append(mod)
        lines = []
        for item in new:
            if isinstance(item, str):
                names = [cst.ImportAlias(cst.Name(o)) for o in sorted(froms[item], key=_member_key)]
                item = cst.SimpleStatementLine([cst.ImportFrom(module=dotted_expr(item), names=names)])
            lines.append(item)
        _place(body, lines)
    return module.with_changes(body=body)


def _member_key(name: str):
    """isort's order of the names of a ``from`` import: CONSTANTS, Classes, then the rest."""
    kind = 0 if len(name) > 1 and name.isupper() else 1 if name[:1].isupper() else 2
    return kind, name.lower(), name


def _binds(request: Request) -> str:
    """The name an import request binds."""
    mod, obj, asname = request
    return asname or (obj if obj is not None else mod.split(".")[0])


def _present(table: ImportTable, request: Request) -> bool:
    mod, obj, asname = request
    if obj is None:
        return table.module_aliases.get(asname or mod.split(".")[0]) == (mod if asname else mod.split(".")[0])
    return table.module_aliases.get(asname or obj) == f"{mod}.{obj}"


def _names_used(module: cst.Module, wanted: Optional[Set[str]] = None) -> Set[str]:
    """The names ``module`` uses outside import statements; with ``wanted``, perhaps only
    those found until every one of them is."""
    names = _Names()
    for stmt in module.body:
        names.walk(stmt)
        if wanted is not None and wanted <= names.names:
            break
    return names.names


def _drop(body, drop: List[Request], rebound: Set[str], used: Set[str]):
    """``body`` without the ``drop`` imports that nothing (of the ``used`` names) uses (and
    the comments of a dropped last statement, which have no statement below them to go to)."""
    out = []
    carried: List[cst.EmptyLine] = []  # above a dropped line: its blank lines (they still separate its group from
    for stmt in body:                  # the one above) and its comments, which go above the next statement
        if carried:
            keep = carried if not _blank_before(stmt) else [line for line in carried if line.comment is not None]
            stmt = stmt.with_changes(leading_lines=[*keep, *stmt.leading_lines])
        carried = []
        if _is_import_line(stmt) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.ImportFrom):
            imp = stmt.body[0]
            if not isinstance(imp.names, cst.ImportStar) and imp.module is not None:
                mod = dotted(imp.module)
                gone = [(mod, a.name.value, a.asname.name.value if a.asname else None) in drop
                        and (a.asname.name.value if a.asname else a.name.value) not in used - rebound
                        for a in imp.names]
                if all(gone):
                    carried = [*stmt.leading_lines, *_comment_lines(imp), *_comment_lines(stmt.trailing_whitespace)]
                    continue
                if any(gone):
                    stmt = stmt.with_changes(body=[_without(imp, gone)])
        out.append(stmt)
    return out, [line for line in carried if line.comment is not None]


def _comment_lines(node: cst.CSTNode) -> List[cst.EmptyLine]:
    """Every comment in ``node``, each on a line of its own (at the statement's indentation)."""
    found = _Comments()
    node.visit(found)  # LibCST's visitor: the fast walk skips whitespace, where comments are
    return [cst.EmptyLine(comment=comment) for comment in found.comments]


class _Comments(cst.CSTVisitor):
    def __init__(self) -> None:
        super().__init__()
        self.comments: List[cst.Comment] = []

    def visit_Comment(self, node: cst.Comment) -> None:
        self.comments.append(node)


def _without(imp: cst.ImportFrom, gone: List[bool]) -> cst.ImportFrom:
    """``imp`` without the names marked ``gone`` (not all of them): their comments stay, on
    lines of their own where the names were, and a list over several lines keeps its
    trailing comma.

    Whitespace is seen as separators: ``seps[0]`` before the first name (after the
    parenthesis), ``seps[i + 1]`` after name ``i`` (after its comma; for a last name
    without one, before the closing parenthesis).  A name goes with the separator after it,
    merged into the one before."""
    names, rpar = list(imp.names), imp.rpar
    trailing = isinstance(names[-1].comma, cst.Comma)
    seps = [imp.lpar.whitespace_after if imp.lpar else None]
    seps += [a.comma.whitespace_after if isinstance(a.comma, cst.Comma) else rpar and rpar.whitespace_before
             for a in names]
    kept, kept_seps = [], seps[:1]
    for alias, dropped, after in zip(names, gone, seps[1:]):
        if dropped:
            kept_seps[-1] = _merged(kept_seps[-1], after)
        else:
            kept.append(alias)
            kept_seps.append(after)
    if imp.lpar:
        imp = imp.with_changes(lpar=imp.lpar.with_changes(whitespace_after=kept_seps[0]))
    kept = [a.with_changes(comma=a.comma.with_changes(whitespace_after=ws)) for a, ws in zip(kept[:-1], kept_seps[1:])] \
        + kept[-1:]
    last, end = kept[-1], kept_seps[-1]
    if isinstance(last.comma, cst.Comma) and (trailing or rpar and isinstance(end, cst.ParenthesizedWhitespace)):
        last = last.with_changes(comma=last.comma.with_changes(whitespace_after=end))
        if not trailing:  # the closing name had no comma: the line break before ")" is in `end` now
            rpar = rpar.with_changes(whitespace_before=cst.SimpleWhitespace(""))
    else:
        last = last.with_changes(comma=cst.MaybeSentinel.DEFAULT)
        if rpar is not None and (isinstance(end, cst.ParenthesizedWhitespace) or not gone[-1]):
            rpar = rpar.with_changes(whitespace_before=end)
    return imp.with_changes(names=[*kept[:-1], last], rpar=rpar)


def _merged(before, after):
    """The separator ``before`` a name that goes and the one ``after`` it, as one: the
    comment after the name (on its line) and those below it on lines of their own."""
    if not isinstance(after, cst.ParenthesizedWhitespace):
        return before
    indent = before.last_line if isinstance(before, cst.ParenthesizedWhitespace) else after.last_line
    comment = after.first_line.comment
    lines = [cst.EmptyLine(whitespace=indent, comment=comment)] if comment else []
    if isinstance(before, cst.ParenthesizedWhitespace):
        return before.with_changes(empty_lines=[*before.empty_lines, *lines, *after.empty_lines],
                                   last_line=after.last_line)
    return after.with_changes(first_line=cst.TrailingWhitespace(newline=after.first_line.newline),
                              empty_lines=[*lines, *after.empty_lines])
