"""Add and remove import statements: the few the migration needs, in one cheap pass.

LibCST's ``AddImportsVisitor``/``RemoveImportsVisitor`` are general and cost about a
full transform each; the migration only ever adds ``import x``/``import x as y``/
``from m import n`` after the imports that open the file, and drops ``from m import n``
names it made unused.
"""

from __future__ import annotations

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

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        self.walk(node.value)
        return False

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)


def _is_import_line(stmt) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and all(
        isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body
    )


def _insert_at(body) -> int:
    """Index after the imports that open the module (after its docstring): an import put
    after later code would come too late for that code, which may use what it imports."""
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
    if drop:
        body = _drop(module, body, drop)
    table = ImportTable(module.with_changes(body=body))
    missing = [r for r in add if not _present(table, r)]
    if missing:
        at = _insert_at(body)
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
                names = [cst.ImportAlias(cst.Name(o)) for o in sorted(froms[item])]
                item = cst.SimpleStatementLine([cst.ImportFrom(module=dotted_expr(item), names=names)])
            lines.append(item)
        body[at:at] = lines
    return module.with_changes(body=body)


def _present(table: ImportTable, request: Request) -> bool:
    mod, obj, asname = request
    if obj is None:
        return table.module_aliases.get(asname or mod.split(".")[0]) == (mod if asname else mod.split(".")[0])
    return table.module_aliases.get(asname or obj) == f"{mod}.{obj}"


def _drop(module: cst.Module, body, drop: List[Request]):
    used = _Names()
    used.walk(module)
    out = []
    for stmt in body:
        if _is_import_line(stmt) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.ImportFrom):
            imp = stmt.body[0]
            if not isinstance(imp.names, cst.ImportStar) and imp.module is not None:
                mod = dotted(imp.module)
                keep = [
                    a for a in imp.names
                    if not ((mod, a.name.value, a.asname.name.value if a.asname else None) in drop
                            and (a.asname.name.value if a.asname else a.name.value) not in used.names)
                ]
                if not keep:
                    continue
                if len(keep) != len(imp.names):
                    keep[-1] = keep[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                    stmt = stmt.with_changes(body=[imp.with_changes(names=keep)])
        out.append(stmt)
    return out
