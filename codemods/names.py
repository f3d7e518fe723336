"""Name resolution shared by every codemod: which TensorFlow API does an expression name?

LibCST's ``QualifiedNameProvider`` answers this for any scope but costs several times
the parse.  Estimator code names TensorFlow through module-level (sometimes
function-level) imports, so a table of import aliases built from the statements alone
gives the same answers for these APIs at a fraction of the cost.

Every spelling is reduced to one canonical dotted name starting with ``tf.``::

    tensorflow.compat.v1.estimator.EstimatorSpec  -> tf.estimator.EstimatorSpec
    tensorflow_estimator.estimator.Estimator      -> tf.estimator.Estimator
    keras.estimator.model_to_estimator            -> tf.keras.estimator.model_to_estimator

The walkers over a function's statements and the names code reads, which several
codemods share, live here too.
"""

from __future__ import annotations

import functools
import keyword
import re
from typing import Dict, FrozenSet, Iterable, Iterator, List, Optional, Sequence, Set, Tuple

import libcst as cst

from .syntax import param_names
from .walk import ValueNames, Visitor

_CANONICAL_PREFIXES: Tuple[Tuple[str, str], ...] = (
    ("tensorflow.compat.v1.", "tf."),
    ("tensorflow.compat.v2.", "tf."),
    ("tensorflow.python.keras.", "tf.keras."),
    ("tensorflow_estimator.python.estimator.api._v1.estimator.", "tf.estimator."),
    ("tensorflow_estimator.python.estimator.api._v2.estimator.", "tf.estimator."),
    ("tensorflow_estimator.estimator.", "tf.estimator."),
    ("tensorflow_estimator.compat.v1.estimator.", "tf.estimator."),
    ("tensorflow.", "tf."),
    ("keras.", "tf.keras."),
)

#: Where each TPU API lives, per target.  Keys are canonical names.
TARGETS: Dict[str, Dict[str, str]] = {
    "tf2": {
        "TPUEstimator": "tensorflow.compat.v1.estimator.tpu.TPUEstimator",
        "TPUEstimatorSpec": "tensorflow.compat.v1.estimator.tpu.TPUEstimatorSpec",
        "RunConfig": "tensorflow.compat.v1.estimator.tpu.RunConfig",
        "TPUConfig": "tensorflow.compat.v1.estimator.tpu.TPUConfig",
        "CrossShardOptimizer": "tensorflow.compat.v1.tpu.CrossShardOptimizer",
    },
    "tf1": {
        "TPUEstimator": "tensorflow.contrib.tpu.TPUEstimator",
        "TPUEstimatorSpec": "tensorflow.contrib.tpu.TPUEstimatorSpec",
        "RunConfig": "tensorflow.contrib.tpu.RunConfig",
        "TPUConfig": "tensorflow.contrib.tpu.TPUConfig",
        "CrossShardOptimizer": "tensorflow.contrib.tpu.CrossShardOptimizer",
    },
}


def is_schedule(api: str) -> bool:
    """Whether canonical ``api`` is a learning-rate schedule (``tf.train.exponential_decay``,
    ``piecewise_constant``, ...): a scalar tensor that depends on the global step."""
    return api.startswith("tf.train.") and api.endswith(("_decay", "piecewise_constant", "_decay_restarts"))


#: Modules of TensorFlow's own Estimator sources that public names are exported from, and
#: where those names live publicly (``tensorflow.python.estimator.estimator.Estimator`` is
#: ``tf.estimator.Estimator``; ``…tpu.tpu_estimator.TPUEstimator`` is ``tf.estimator.tpu.TPUEstimator``).
_INTERNAL_MODULES = {
    "estimator": "", "model_fn": "", "run_config": "", "training": "", "exporter": "", "mode_keys": "",
    "estimator_lib": "", "keras_lib": "", "hooks.basic_session_run_hooks": "",
    "canned.dnn": "", "canned.linear": "", "canned.dnn_linear_combined": "", "canned.baseline": "",
    "canned.boosted_trees": "", "tpu.tpu_estimator": "tpu.", "tpu.tpu_config": "tpu.",
    "inputs.numpy_io": "inputs.", "inputs.pandas_io": "inputs.", "inputs.inputs": "inputs.",
    "export.export": "export.", "export.export_output": "export.", "export.export_lib": "export.",
}
_INTERNAL_ROOTS = ("tensorflow_estimator.python.estimator.", "tensorflow.python.estimator.",
                   "tensorflow.contrib.tpu.python.tpu.")


def _internal(qualified: str) -> Optional[str]:
    """The public ``tf.estimator…`` name of a name imported from TensorFlow's own Estimator
    modules (``from tensorflow.python.estimator import estimator``), or None."""
    for root in _INTERNAL_ROOTS:
        if qualified.startswith(root):
            module, _, name = qualified[len(root):].rpartition(".")
            if root.startswith("tensorflow.contrib"):
                return f"tf.contrib.tpu.{name}" if module in ("tpu_estimator", "tpu_config") else None
            if module in _INTERNAL_MODULES and name:
                return f"tf.estimator.{_INTERNAL_MODULES[module]}{name}"
    return None


def canonical(qualified: str) -> str:
    internal = _internal(qualified)
    if internal is not None:
        return internal
    for prefix, replacement in _CANONICAL_PREFIXES:
        if qualified.startswith(prefix):
            return replacement + qualified[len(prefix):]
    if qualified in ("tensorflow", "tensorflow.compat.v1", "tensorflow.compat.v2"):
        return "tf"
    return qualified


def dotted(node: cst.BaseExpression) -> Optional[str]:
    """``a.b.c`` for a Name/Attribute chain, else None."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


def _head_name(node: cst.BaseExpression) -> cst.BaseExpression:
    """``a`` of ``a.b.c``."""
    while isinstance(node, cst.Attribute):
        node = node.value
    return node


def _import_statements(body, in_defs: bool = True) -> Iterator[cst.CSTNode]:
    """Import statements in a block and its nested blocks (not inside expressions; with
    ``in_defs`` false, not inside functions and classes either)."""
    for stmt in body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, (cst.Import, cst.ImportFrom)):
                    yield small
        elif isinstance(stmt, cst.BaseCompoundStatement) and (in_defs or not isinstance(stmt, (cst.FunctionDef, cst.ClassDef))):
            for block in _blocks(stmt):
                yield from _import_statements(block.body, in_defs)


def _blocks(stmt: cst.BaseCompoundStatement) -> Iterator[cst.BaseSuite]:
    """The indented blocks of a compound statement, in order: body, handlers, elif/else,
    finally; a match statement's cases."""
    orelse = getattr(stmt, "orelse", None)
    clauses = stmt.cases if isinstance(stmt, cst.Match) else (stmt, *getattr(stmt, "handlers", ()))
    for clause in (*clauses, *([] if isinstance(orelse, cst.If) else [orelse]), getattr(stmt, "finalbody", None)):
        if clause is not None and isinstance(clause.body, cst.IndentedBlock):
            yield clause.body
    if isinstance(orelse, cst.If):  # elif
        yield from _blocks(orelse)


def statements(block: cst.BaseSuite, path: Sequence = ()) -> Iterator[Tuple[list, cst.BaseStatement]]:
    """``(path, statement)`` for every statement of ``block`` and of the blocks nested in it.

    ``path`` holds, for each enclosing block, the statements that precede it there.
    Nested function and class bodies are not entered.
    """
    if not isinstance(block, cst.IndentedBlock):
        return
    for i, stmt in enumerate(block.body):
        here = [*path, block.body[:i]]
        yield here, stmt
        if isinstance(stmt, cst.BaseCompoundStatement) and not isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            for inner in _blocks(stmt):
                yield from statements(inner, here)


def simple_statements(block: cst.BaseSuite) -> Iterator[cst.SimpleStatementLine]:
    """The simple statements of :func:`statements`, and each ``if``/``while`` test, ``for``
    iterable and ``match`` subject as an expression statement of its own."""
    for _, stmt in statements(block):
        if isinstance(stmt, cst.SimpleStatementLine):
            yield stmt
        elif isinstance(stmt, cst.BaseCompoundStatement):
            test = getattr(stmt, "test", None) or getattr(stmt, "iter", None) or getattr(stmt, "subject", None)
            if test is not None:
                yield cst.SimpleStatementLine([cst.Expr(test)])


class NameReads(ValueNames):
    """Names read and names bound by a piece of code (comprehension/lambda scopes aware enough)."""

    def __init__(self) -> None:
        self._reads: Dict[str, None] = {}  # ordered, without repeats
        self.bound: Set[str] = set()

    @property
    def reads(self) -> List[str]:
        return list(self._reads)

    def visit_Name(self, node: cst.Name) -> None:
        self._reads[node.value] = None

    def visit_AssignTarget(self, node: cst.AssignTarget) -> bool:
        if isinstance(node.target, cst.Name):
            self.bound.add(node.target.value)
            return False
        return True

    def visit_CompFor(self, node: cst.CompFor) -> None:
        for name in names_in(node.target):
            self.bound.add(name)

    def visit_Param(self, node: cst.Param) -> bool:
        self.bound.add(node.name.value)
        return False


@functools.lru_cache(maxsize=16)  # asked of each name a metric reads
def local_bindings(fn: cst.FunctionDef) -> Dict[str, List[Optional[cst.BaseExpression]]]:
    """Every value assigned to each local name of ``fn`` by its simple statements, in any of
    its blocks (not in nested defs): None for its parameters and for bindings whose value is
    not the name's own (``a, b = f()``, ``a += 1``; ``a[k] = v`` leaves ``a`` out).  Shared:
    not to be changed."""
    out: Dict[str, List[Optional[cst.BaseExpression]]] = {name: [None] for name in param_names(fn)}
    for small in (small for s in simple_statements(fn.body) for small in s.body):  # `a = f(); a = g(a)` too
        if isinstance(small, cst.Assign):
            for target in small.targets:
                for name in names_in(target.target) if not isinstance(target.target, cst.Subscript) else ():
                    out.setdefault(name, []).append(small.value if isinstance(target.target, cst.Name) else None)
        elif isinstance(small, (cst.AugAssign, cst.AnnAssign)) and isinstance(small.target, cst.Name):
            out.setdefault(small.target.value, []).append(None)
    return out


def unpacked(fn: cst.FunctionDef, name: str) -> List[Tuple[cst.Call, int]]:
    """``(call, i)`` for each ``a, name = call`` of ``fn``'s simple statements that binds
    ``name`` as the ``i``-th of a flat tuple or list of targets unpacking a call.  Shared:
    not to be changed."""
    return _unpackings(fn).get(name, [])


@functools.lru_cache(maxsize=16)  # asked of each name a metric reads, like local_bindings
def _unpackings(fn: cst.FunctionDef) -> Dict[str, List[Tuple[cst.Call, int]]]:
    """:func:`unpacked` of every name ``fn`` so binds."""
    found: Dict[str, List[Tuple[cst.Call, int]]] = {}
    for small in (small for s in simple_statements(fn.body) for small in s.body):
        if isinstance(small, cst.Assign) and isinstance(small.value, cst.Call):
            for target in small.targets:
                for name, i in _flat_positions(target.target).items():
                    found.setdefault(name, []).append((small.value, i))
    return found


def _flat_positions(target: cst.BaseExpression) -> Dict[str, int]:
    """Each name of a flat tuple or list of targets (``loss, name``), at its first position."""
    positions: Dict[str, int] = {}
    if isinstance(target, (cst.Tuple, cst.List)) and all(isinstance(e, cst.Element) for e in target.elements):
        for i, e in enumerate(target.elements):
            if isinstance(e.value, cst.Name):
                positions.setdefault(e.value.value, i)
    return positions


def unpacked_position(target: cst.BaseExpression, name: str) -> Optional[int]:
    """The position of ``name`` in a flat tuple or list of targets (``loss, name``), else None."""
    return _flat_positions(target).get(name)


class MethodCalls(Visitor):
    """``….method(…)`` calls, for the given method names, in order."""

    def __init__(self, *methods: str) -> None:
        self.methods = methods
        self.calls: List[cst.Call] = []

    def visit_Call(self, node: cst.Call) -> None:
        if isinstance(node.func, cst.Attribute) and node.func.attr.value in self.methods:
            self.calls.append(node)


def names_in(node: cst.CSTNode) -> List[str]:
    """The names ``node`` reads, in order, each once (see :class:`NameReads`)."""
    reads = NameReads()
    reads.walk(node)
    return reads.reads


def fresh_name(fn: cst.FunctionDef, base: str, also: Iterable[str] = ()) -> str:
    """``base``, or ``base_2``, ``base_3``...: a name that ``fn`` neither binds nor reads,
    and not in ``also``."""
    taken = _names_of(fn) | set(also)
    name, i = base, 1
    while name in taken:
        i += 1
        name = f"{base}_{i}"
    return name


@functools.lru_cache(maxsize=8)  # a function gets several fresh names in a row
def _names_of(fn: cst.FunctionDef) -> FrozenSet[str]:
    reads = NameReads()
    reads.walk(fn)
    return frozenset(reads.reads) | reads.bound


def identifier(text: str) -> str:
    """A Python identifier made of ``text`` (a dict key, a summary tag)."""
    name = re.sub(r"\W|^(?=\d)", "_", text) or "value"
    return name + "_" if keyword.iskeyword(name) else name


class _Assigned(Visitor):
    """Names a piece of code assigns (or binds as a loop, with or walrus target)."""

    def __init__(self) -> None:
        self.names: Set[str] = set()

    def _bind(self, target: cst.BaseExpression) -> None:
        if isinstance(target, cst.Name):
            self._bound(target.value)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for element in target.elements:
                self._bind(element.value)
        elif isinstance(target, cst.StarredElement):
            self._bind(target.value)

    def _bound(self, name: str) -> None:
        self.names.add(name)

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        self._bind(node.target)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        self._bind(node.target)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        self._bind(node.target)

    def visit_For(self, node: cst.For) -> None:
        self._bind(node.target)

    def visit_AsName(self, node: cst.AsName) -> None:
        self._bind(node.name)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind(node.target)


def assigned_names(statements: Sequence[cst.BaseStatement]) -> Set[str]:
    """Every name the statements assign, at any depth."""
    found = _Assigned()
    for stmt in statements:
        found.walk(stmt)
    return found.names


def own_bindings(fn: cst.FunctionDef, imports: bool = True) -> Set[str]:
    """The names the statements of ``fn``'s own scope bind (not its parameters, nor names
    declared global or nonlocal): assigned, deleted, looped over, caught, bound by ``with``,
    defined by a nested def or class, and with ``imports``, imported.  Statements only: a
    walrus target is not seen (comprehensions and lambdas are scopes of their own)."""
    found, declared = _Assigned(), set()
    for _, stmt in statements(fn.body):
        for small in stmt.body if isinstance(stmt, cst.SimpleStatementLine) else ():
            if isinstance(small, cst.Assign):
                for target in small.targets:
                    found._bind(target.target)
            elif isinstance(small, (cst.AugAssign, cst.AnnAssign, cst.Del)):
                found._bind(small.target)
            elif isinstance(small, (cst.Global, cst.Nonlocal)):
                declared.update(item.name.value for item in small.names)
            elif isinstance(small, (cst.Import, cst.ImportFrom)) and imports:
                found.names.update(name for name, _ in _bindings(small))
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            found.names.add(stmt.name.value)
        elif isinstance(stmt, cst.For):
            found._bind(stmt.target)
        elif isinstance(stmt, cst.With):
            for item in stmt.items:
                if item.asname is not None:
                    found._bind(item.asname.name)
        elif isinstance(stmt, (cst.Try, cst.TryStar)):
            found.names.update(h.name.name.value for h in stmt.handlers
                               if h.name is not None and isinstance(h.name.name, cst.Name))
    return found.names - declared


def _defs(body: Sequence[cst.BaseStatement]) -> Iterator[cst.FunctionDef]:
    """Every def in a block of statements, at any depth (in classes and defs too)."""
    for stmt in body:
        if isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            if isinstance(stmt, cst.FunctionDef):
                yield stmt
            if isinstance(stmt.body, cst.IndentedBlock):
                yield from _defs(stmt.body.body)
        elif isinstance(stmt, cst.BaseCompoundStatement):
            for block in _blocks(stmt):
                yield from _defs(block.body)


class _NamesOf(Visitor):
    """The Name nodes spelling one of some names (read or bound)."""

    def __init__(self, names: FrozenSet[str]) -> None:
        self.names, self.found = names, []

    def visit_Name(self, node: cst.Name) -> None:
        if node.value in self.names:
            self.found.append(node)


class _BindingCount(_Assigned):
    """How often each of ``names`` is bound anywhere in some code: as :class:`_Assigned`
    finds them, and as a parameter, def, class, comprehension, import or match target."""

    def __init__(self, names: Set[str]) -> None:
        super().__init__()
        self.counts: Dict[str, int] = dict.fromkeys(names, 0)

    def _bound(self, name: str) -> None:
        if name in self.counts:
            self.counts[name] += 1

    def visit_CompFor(self, node: cst.CompFor) -> None:
        self._bind(node.target)

    def visit_ImportAlias(self, node: cst.ImportAlias) -> None:
        if node.asname is None:
            self._bound(dotted(node.name).split(".")[0])

    def visit_Param(self, node: cst.Param) -> None:
        self._bind(node.name)

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._bind(node.name)

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._bind(node.name)

    def visit_MatchAs(self, node: cst.MatchAs) -> None:
        if node.name is not None:
            self._bind(node.name)


def absolute_module(imp: cst.ImportFrom, package: Optional[str]) -> Optional[str]:
    """The module a ``from … import`` names, relative imports resolved against ``package``
    (the importing module's package; None: relative imports are not resolved)."""
    if not imp.relative:
        return dotted(imp.module) if imp.module is not None else None
    if package is None or len(imp.relative) > package.count(".") + 1:
        return None
    base = package.rsplit(".", len(imp.relative) - 1)[0] if len(imp.relative) > 1 else package
    return f"{base}.{dotted(imp.module)}" if imp.module is not None else base


def _bindings(imp, package: Optional[str] = None) -> Iterator[Tuple[str, str]]:
    """``(local name, fully qualified name)`` for each name an import statement binds
    (relative imports resolved against ``package``, when given)."""
    if isinstance(imp, cst.Import):
        for alias in imp.names:
            full = dotted(alias.name)
            if alias.asname is not None:
                yield alias.asname.name.value, full
            else:  # `import a.b` binds `a`
                yield full.split(".")[0], full.split(".")[0]
    elif not isinstance(imp.names, cst.ImportStar):
        base = absolute_module(imp, package)
        if base is None:
            return
        for alias in imp.names:
            name = alias.name.value
            yield (alias.asname.name.value if alias.asname is not None else name), f"{base}.{name}"


class ImportTable:
    """Local name -> fully qualified name, for every name an import statement binds, and
    for module-level aliases of imported names (``v1 = tf.compat.v1``) bound nowhere else.

    New code is spelled with the names module-level imports bind (:attr:`module_aliases`):
    it may be written where a function's own imports are not seen.  A name that a def binds
    otherwise (a parameter ``tf``) names no import there, nor in the defs nested in it."""

    def __init__(self, module: cst.Module, package: Optional[str] = None) -> None:
        """``package``: the package of the module (``trainer`` for ``trainer/task.py``), which
        relative imports are resolved against; None resolves none of them."""
        self.aliases: Dict[str, str] = {}
        self.module_aliases: Dict[str, str] = {}
        self._bound: Dict[str, Set[str]] = {}  # each name with every module any import binds it to
        self._shadowed: Set[cst.Name] = set()  # the Name nodes that spell a local of a def (below)
        for imp in _import_statements(module.body, in_defs=False):
            self.module_aliases.update(_bindings(imp, package))
        for imp in _import_statements(module.body):
            for name, full in _bindings(imp, package):
                self.aliases[name] = full
                self._bound.setdefault(name, set()).add(full)
        #: The module-level aliases: resolved like imports, never used to spell new code.
        self.assigned: Dict[str, str] = {}
        candidates = []  # `v1 = tf.compat.v1`, then maybe `Spec = v1.estimator.EstimatorSpec`
        heads = set(self.aliases)
        for small in (small for stmt in module.body if isinstance(stmt, cst.SimpleStatementLine) for small in stmt.body):
            if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
                name, path = small.targets[0].target.value, dotted(small.value)
                if name not in self.aliases and path is not None and path.partition(".")[0] in heads:
                    candidates.append((name, small.value))
                    heads.add(name)
        if candidates:
            counts = _BindingCount({name for name, _ in candidates}).walked(module).counts
            for name, value in candidates:  # in order: an alias may name an earlier one
                full = self.qualified(value)
                if full is not None and counts[name] == 1:
                    self.assigned[name] = full
        #: The defs whose own scope binds an import alias otherwise than by an import (a
        #: parameter ``tf``, ``for tf in TIMEFRAMES``) -> those names: there, and in the defs
        #: nested in them, the names are not the modules.
        self.locals: Dict[cst.FunctionDef, FrozenSet[str]] = {}
        heads = set(self.aliases) | set(self.assigned)
        for fn in _defs(module.body):
            bound = heads & (set(param_names(fn)) | own_bindings(fn, imports=False))
            if bound:
                self.locals[fn] = frozenset(bound)
                self._shadowed.update(_NamesOf(self.locals[fn]).walked(fn.body).found)

    def qualified(self, node: cst.BaseExpression) -> Optional[str]:
        """Fully qualified name of a Name/Attribute chain rooted in an import, else None."""
        path = dotted(node)
        if path is None or self._shadowed and _head_name(node) in self._shadowed:
            return None
        rest = path.partition(".")[2]
        full = self._head(path)
        if full is None:
            return None
        return f"{full}.{rest}" if rest else full

    def _head(self, path: Optional[str]) -> Optional[str]:
        """What the first name of a dotted ``path`` is bound to, if an import or alias."""
        if path is None:
            return None
        head = path.partition(".")[0]
        return self.aliases.get(head) or self.assigned.get(head)

    def api(self, node: cst.BaseExpression) -> Optional[str]:
        """Canonical ``tf.…`` name of the API an expression names, else None."""
        full = self.qualified(node)
        return canonical(full) if full else None

    def alias_for(self, *modules: str, avoid: Iterable[str] = ()) -> Optional[str]:
        """A name a module-level import binds to one of ``modules`` (first match in argument
        order), other than the names in ``avoid``."""
        for module in modules:
            for local, full in self.module_aliases.items():
                if full == module and local not in avoid:
                    return local
        return None

    def reference(self, target: str, like: Optional[cst.BaseExpression] = None, shadowed: FrozenSet[str] = frozenset()):
        """How to spell the fully qualified ``target`` here.

        Returns ``(code, import_request)``: ``import_request`` is None when the file
        already imports what the spelling needs, else ``(module, obj, asname)`` for
        ``AddImportsVisitor``.  When ``like`` is a bare name (the user imports names
        with ``from … import``), the target is imported the same way.  ``shadowed``: names
        that are not the imports where the code goes (locals of the def it is written in,
        :attr:`locals`).
        """
        module, _, obj = target.rpartition(".")
        if isinstance(like, cst.Name):
            local = next((k for k, v in self.module_aliases.items() if v == target and k not in shadowed), None)
            if local or obj not in shadowed:
                return (local or obj), (None if local else (module, obj, None))
        parts = target.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            local = self.alias_for(".".join(parts[:cut]), avoid=shadowed)
            if local:
                return ".".join([local] + parts[cut:]), None
        if parts[0] == "tensorflow" and parts[1] not in ("compat", "contrib"):
            local = self.alias_for("tensorflow.compat.v1", "tensorflow.compat.v2", avoid=shadowed)
            if local:  # tf.reshape is tf.compat.v1.reshape
                return ".".join([local] + parts[1:]), None
        if "tf" not in shadowed and self._bound.get("tf", {"tensorflow"}) == {"tensorflow"}:
            return "tf." + ".".join(parts[1:]), ("tensorflow", None, "tf")  # a new `import tensorflow as tf` clashes with no import
        return target, ("tensorflow", None, None)
