"""Where a function spells the name that holds its eval metrics, and the statements that build them.

A name may hold the metrics over several statements and branches (``eval_metric_ops =
None`` in some modes, a dict in another); :class:`Occurrences` classifies each spelling of
it, and :func:`building` finds, per block, the statements that build one of its dicts.
Read by :mod:`codemods.eval_metrics`, which plans their rewrite.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, List, Optional, Tuple

import libcst as cst

from .names import names_in, unpacked_position
from .syntax import is_name
from .walk import ValueNames


@dataclasses.dataclass
class Occurrence:
    #: sink (the eval_metric_ops of a spec planned), return (at the position a helper returns
    #: its metrics), dict (``name = <not None>``), none (``name = None``), unpack (``a, name =
    #: call()``), mutation (``name[k] = v``, ``name.update(...)``), binding (any other), read.
    kind: str
    node: cst.Name
    stmt: Optional[cst.SimpleStatementLine] = None  # of a dict, none, unpack or mutation


class Occurrences(ValueNames):
    """Each spelling of ``name`` in a function's own code (see :class:`Occurrence`), and the
    first def, lambda or class nested in it that spells it."""

    def __init__(self, name: str, parents, sinks=frozenset(), returned_at: Optional[int] = None) -> None:
        self.name, self.parents, self.sinks, self.returned_at = name, parents, sinks, returned_at
        self.found: List[Occurrence] = []
        self.nested: Optional[cst.CSTNode] = None

    def _scope(self, node) -> bool:
        if self.nested is None and self.name in names_in(node):
            self.nested = node
        return False

    visit_FunctionDef = visit_Lambda = visit_ClassDef = _scope

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == self.name:
            self.found.append(self._classify(node))

    def _classify(self, node: cst.Name) -> Occurrence:
        parents = self.parents
        parent = parents.get(node)
        if isinstance(parent, cst.Arg) and parent in self.sinks:
            return Occurrence("sink", node)
        if isinstance(parent, cst.Subscript) and parent.value is node:
            target = parents.get(parent)
            if isinstance(target, cst.AssignTarget) and target.target is parent:
                return self._statement("mutation", node, parents.get(target))
        if isinstance(parent, cst.Attribute) and parent.attr.value in ("update", "setdefault"):
            call = parents.get(parent)
            expr = parents.get(call) if isinstance(call, cst.Call) and call.func is parent else None
            if isinstance(expr, cst.Expr):
                return self._statement("mutation", node, expr)
        holder, child = parent, node  # out of the tuples and lists of targets it may be in
        while isinstance(holder, (cst.Element, cst.StarredElement, cst.Tuple, cst.List)):
            holder, child = parents.get(holder), holder
        if isinstance(holder, cst.AssignTarget) and holder.target is child:
            assign = parents.get(holder)
            if child is node:
                return self._statement("none" if is_name(assign.value, "None") else "dict", node, assign)
            if unpacked_position(child, self.name) is not None and isinstance(assign.value, cst.Call):
                return self._statement("unpack", node, assign)
            return Occurrence("binding", node)
        if isinstance(holder, cst.Return) and child is not node and self.returned_at is not None \
                and returned_name(holder, self.returned_at) == self.name:
            return Occurrence("return", node)
        if isinstance(holder, (cst.AugAssign, cst.AnnAssign, cst.For, cst.CompFor, cst.AsName, cst.NamedExpr, cst.Del)):
            return Occurrence("binding", node)  # or read there: either way, not followed
        return Occurrence("read", node)

    def _statement(self, kind: str, node: cst.Name, small) -> Occurrence:
        """The occurrence, when its statement is alone on its line and binds one target (or,
        setting them to None, several: ``loss = train_op = metrics = None``)."""
        stmt = self.parents.get(small)
        alone = isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and (
            not isinstance(small, cst.Assign) or len(small.targets) == 1 or kind == "none")
        return Occurrence(kind, node, stmt) if alone else Occurrence("binding", node)


def building(found: List[Occurrence], parents) -> Tuple[List[List[cst.SimpleStatementLine]], Optional[cst.CSTNode]]:
    """The statements that build a variable's dicts, per block: each binding to a value but
    None with the mutations after it there; and the first mutation of a value not built so."""
    by_block: Dict[cst.CSTNode, List[Occurrence]] = {}
    for f in found:
        if f.stmt is not None:
            by_block.setdefault(parents[f.stmt], []).append(f)
    groups: List[List[cst.SimpleStatementLine]] = []
    for block, items in by_block.items():
        order = list(block.body)
        current: Optional[List[cst.SimpleStatementLine]] = None
        for f in sorted(items, key=lambda f: order.index(f.stmt)):
            if f.kind == "dict":
                current = [f.stmt]
                groups.append(current)
            elif f.kind == "mutation" and current is not None:
                current.append(f.stmt)
            elif f.kind == "mutation":
                return groups, f.stmt
            else:
                current = None
    return groups, None


def in_import(node: cst.CSTNode, parents) -> bool:
    """Whether ``node`` is part of an import statement."""
    while node is not None and not isinstance(node, cst.BaseStatement):
        if isinstance(node, (cst.Import, cst.ImportFrom)):
            return True
        node = parents.get(node)
    return False


def returned_name(ret: cst.Return, i: int) -> Optional[str]:
    """The name ``return a, name`` gives at position ``i`` of its tuple."""
    value = ret.value
    if isinstance(value, cst.Tuple) and len(value.elements) > i and isinstance(value.elements[i].value, cst.Name):
        return value.elements[i].value.value
    return None
