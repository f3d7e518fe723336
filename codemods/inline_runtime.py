"""For TF 1.x targets: est2tpu's runtime switches, written into the migrated module itself.

TF 1.x stops at Python 3.7 and est2tpu needs 3.9, so code migrated with ``--target tf1``
cannot ``import est2tpu``.  Where the tf2 target writes ``est2tpu.use_tpu()`` or
``est2tpu.tpu_cluster_resolver()``, the tf1 target calls a module-level def doing what
:mod:`est2tpu.runtime.tpu` does, written once per module after its imports::

    def _use_tpu():
        \"\"\"Whether TPU_NAME names a TPU to run on.\"\"\"
        return bool(os.environ.get("TPU_NAME"))

Its names avoid every name the module uses; a def of that name the module already has
(an earlier migration's, word for word) is reused.  ``est2tpu.on_tpu(params)`` needs no
def: TF 1.x targets write ``"context" in params`` (see :meth:`MigrationCodemod.on_tpu`).
"""

from __future__ import annotations

import dataclasses
import itertools
from typing import Dict, List, Optional, Set

import libcst as cst

from .names import ImportTable
from .walk import Visitor

INLINE_KEY = "est2tpu.inline-runtime"

#: The runtime functions TF 1.x targets write inline: their defs, by the names of
#: :mod:`est2tpu.runtime.tpu` (``{use_tpu}``: the name chosen for the first; ``{environ}``,
#: ``{resolver}``: ``os.environ`` and TF 1.x's TPUClusterResolver as the module spells them).
TEMPLATES: Dict[str, str] = {
    "use_tpu": '''
def {use_tpu}():
    """Whether TPU_NAME names a TPU to run on."""
    return bool({environ}.get("TPU_NAME"))
''',
    "tpu_cluster_resolver": '''
def {tpu_cluster_resolver}():
    """The TPUClusterResolver of TPU_NAME, or None on the CPU."""
    if not {use_tpu}():
        return None
    return {resolver}(tpu={environ}["TPU_NAME"])
''',
}
#: What each def calls of the others.
_NEEDS = {"use_tpu": (), "tpu_cluster_resolver": ("use_tpu",)}
RESOLVER = "tensorflow.contrib.cluster_resolver.TPUClusterResolver"


class _AllNames(Visitor):
    def __init__(self) -> None:
        self.names: Set[str] = set()

    def visit_Name(self, node: cst.Name) -> None:
        self.names.add(node.value)


@dataclasses.dataclass
class Inline:
    """The defs one module's rewrite calls: their names, and which the module still lacks."""

    module: cst.Module
    spelled: Dict[str, str]  # placeholder -> code
    names: Dict[str, str] = dataclasses.field(default_factory=dict)  # runtime name -> def name
    taken: Set[str] = dataclasses.field(default_factory=set)  # the names the module uses
    missing: List[str] = dataclasses.field(default_factory=list)  # runtime names

    def name(self, runtime: str) -> str:
        """The def standing for ``est2tpu.<runtime>`` (and those it calls), requested."""
        if runtime not in TEMPLATES:
            raise ValueError(f"est2tpu.{runtime} has no TF 1.x equivalent: the concern must refuse it")
        for needed in _NEEDS[runtime]:
            self.name(needed)
        if runtime not in self.names:
            self.names[runtime] = self._choose(runtime)
        return self.names[runtime]

    def _choose(self, runtime: str) -> str:
        existing = {stmt.name.value: stmt for stmt in self.module.body if isinstance(stmt, cst.FunctionDef)}
        for candidate in itertools.chain([f"_{runtime}"], (f"_{runtime}_{n}" for n in itertools.count(2))):
            if candidate in existing and _same(self.module, existing[candidate], self._code(runtime, candidate)):
                return candidate  # written by an earlier migration
            if candidate not in self.taken:
                self.taken.add(candidate)
                self.missing.append(runtime)
                return candidate
        raise AssertionError("unreachable")

    def _code(self, runtime: str, name: str) -> str:
        return TEMPLATES[runtime].format(**{**self.spelled, **self.names, runtime: name})

    def statements(self) -> List[cst.BaseStatement]:
        """The missing defs, in their order, ready to insert."""
        order = [name for name in TEMPLATES if name in self.missing]
        return list(cst.parse_module("".join(self._code(r, self.names[r]) for r in order)).body)


def _same(module: cst.Module, fn: cst.FunctionDef, code: str) -> bool:
    return module.code_for_node(fn.with_changes(leading_lines=[])).strip() == code.strip()


def request(scratch: dict, module: cst.Module, imports: ImportTable, runtime: str, add_imports: list) -> str:
    """The name of the def to call for ``est2tpu.<runtime>`` in ``module``; the imports its
    code needs are appended to ``add_imports`` (import requests)."""
    inline = scratch.get(INLINE_KEY)
    if inline is None:
        taken = _AllNames().walked(module).names
        resolver, needed = imports.reference(RESOLVER)
        os_name = imports.alias_for("os")
        if os_name is None:
            os_name = "os" if "os" not in taken else "_os"
            add_imports.append(("os", None, None if os_name == "os" else os_name))
        add_imports.extend([needed] if needed else [])
        inline = scratch[INLINE_KEY] = Inline(module, {"environ": f"{os_name}.environ", "resolver": resolver}, taken=taken)
    return inline.name(runtime)


def insert(tree: cst.Module, inline: Optional[Inline]) -> cst.Module:
    """``tree`` with the defs ``inline`` found missing, after the imports above the first
    statement of the module that calls one (a def's body runs later)."""
    if inline is None or not inline.missing:
        return tree
    defs = inline.statements()
    calls = set(inline.names.values())
    body = list(tree.body)
    first_use = next((i for i, stmt in enumerate(body) if not isinstance(stmt, cst.FunctionDef)
                      and calls & _AllNames().walked(stmt).names), len(body))
    at = max((i + 1 for i in range(first_use) if _is_import(body[i])), default=_after_docstring(body))
    at = min(at, first_use)
    defs = [stmt.with_changes(leading_lines=[cst.EmptyLine(), cst.EmptyLine()]) for stmt in defs]
    if at < len(body) and not _bare_name(body[at]):  # a notebook's cell boundary ends the cell
        body[at] = _two_blank_lines_above(body[at])
    body[at:at] = defs
    return tree.with_changes(body=body)


def _is_import(stmt: cst.BaseStatement) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and all(isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body)


def _bare_name(stmt: cst.BaseStatement) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(
        stmt.body[0], cst.Expr) and isinstance(stmt.body[0].value, cst.Name)


def _after_docstring(body: List[cst.BaseStatement]) -> int:
    first = body[0] if body else None
    docstring = isinstance(first, cst.SimpleStatementLine) and isinstance(first.body[0], cst.Expr) and isinstance(
        first.body[0].value, (cst.SimpleString, cst.ConcatenatedString))
    return 1 if docstring else 0


def _two_blank_lines_above(stmt: cst.BaseStatement) -> cst.BaseStatement:
    """``stmt`` with at least two blank lines above it (and its comments)."""
    lead = list(stmt.leading_lines)
    blank = next((n for n, line in enumerate(lead) if line.comment is not None), len(lead))
    return stmt.with_changes(leading_lines=[cst.EmptyLine()] * max(0, 2 - blank) + lead)
