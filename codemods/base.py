"""What every est2tpu codemod shares: findings, rule metadata and the codemod base class."""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Dict, FrozenSet, Iterable, List, Optional

import libcst as cst

from . import inline_runtime
from .estimators import EstimatorIndex
from .imports import ADD_KEY, DROP_KEY, update_imports
from .names import TARGETS, ImportTable
from .positions import Spans, locate
from .syntax import dotted_expr

FINDINGS_KEY = "est2tpu.findings"
PENDING_KEY = "est2tpu.pending-findings"
#: The rewrites made: (a Finding with the rule's title where the original code was, the
#: 1-based (line, column) of the new code in the migrated module, or None).
REWRITES_KEY = "est2tpu.rewrites"
#: A list where the rewrites are recorded, when the caller wants them (locating them costs).
PENDING_REWRITES_KEY = "est2tpu.pending-rewrites"
OPTIONS_KEY = "est2tpu.options"
SOURCE_KEY = "est2tpu.source"  # the text the module was parsed from, when known


@dataclasses.dataclass(frozen=True)
class Rule:
    """A finding code with its documentation: what it means, how to fix it, an example."""

    code: str
    title: str
    explanation: str
    before: str = ""
    after: str = ""
    #: Reported even where nothing is rewritten any more: the code is still not TPU-ready.
    #: Other findings are review notes about a rewrite, reported only with it.
    blocking: bool = False
    #: The conversion cannot be completed (it would crash on the CPU, change its numbers, or
    #: be silently wrong on a TPU): the estimators whose code it is in stay as they were.
    #: Other blocking findings leave a conversion that runs on the CPU and fails loudly on a
    #: TPU until fixed by hand.
    obstacle: bool = False
    #: An obstacle to every estimator of the program, wherever in it the finding is (code the
    #: program runs its estimators through, which est2tpu cannot follow).
    program_wide: bool = False

    def __post_init__(self) -> None:
        if self.obstacle and not self.blocking:
            raise ValueError(f"{self.code}: an obstacle is blocking")
        if self.program_wide and not self.obstacle:
            raise ValueError(f"{self.code}: a program-wide finding is an obstacle")

    @property
    def kind(self) -> str:
        """The rule's kind: "rewrite" (E2T1xx: what est2tpu changes), or a finding, "blocking" or "review"."""
        return "rewrite" if self.code.startswith("E2T1") else "blocking" if self.blocking else "review"


@dataclasses.dataclass(frozen=True, order=True)
class Finding:
    """One diagnostic at a 1-based line and 1-based column."""

    line: int
    col: int
    code: str
    message: str
    hint: str = ""

    def format(self, path: str) -> str:
        text = f"{path}:{self.line}:{self.col}: {self.code} {self.message}"
        return f"{text} (hint: {self.hint})" if self.hint else text


@dataclasses.dataclass(frozen=True)
class Options:
    """User-facing choices that change the generated code."""

    target: str = "tf2"  # "tf2" -> tf.compat.v1.estimator.tpu.*, "tf1" -> tf.contrib.tpu.*
    iterations_per_loop: int = 100


RULES: Dict[str, Rule] = {}


def register(*rules: Rule) -> None:
    for rule in rules:
        if rule.code in RULES and RULES[rule.code] != rule:
            raise ValueError(f"duplicate rule code {rule.code}")
        RULES[rule.code] = rule


@dataclasses.dataclass
class Context:
    """Per-module state shared by the concerns: a scratch dict, like LibCST's CodemodContext."""

    scratch: Dict[str, Any] = dataclasses.field(default_factory=dict)


class MigrationCodemod(cst.CSTTransformer):
    """Base of the est2tpu codemods: options from the context, located findings.

    Subclasses list their rules in ``RULES`` and call :meth:`report` where a change
    cannot be made safely.  Positions are computed lazily, only when something is
    reported, so files without findings pay nothing for them.  The codemods are plain
    transformers, so the engine does not import ``libcst.codemod`` (and its ``matchers``:
    half a second of start-up); :mod:`codemods.commands` wraps them for LibCST's CLI.
    """

    RULES: ClassVar[List[Rule]] = []
    #: Substrings at least one of which a file must contain for this codemod to matter.
    TRIGGERS: ClassVar[tuple] = ()

    DESCRIPTION: ClassVar[str] = ""

    def __init__(self, context, target: Optional[str] = None) -> None:
        """``context``: anything with a ``scratch`` dict (a :class:`Context`, or LibCST's)."""
        super().__init__()
        self.context = context
        options = context.scratch.get(OPTIONS_KEY, Options())
        if target:
            options = dataclasses.replace(options, target=target)
        self.options: Options = options
        self._module: Optional[cst.Module] = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        register(*cls.RULES)

    def rewrites(self) -> bool:
        """After ``visit_Module``: whether this concern has anything to rewrite in the module."""
        return True

    def targets(self) -> Optional[Iterable[cst.CSTNode]]:
        """After ``visit_Module``: the original nodes its ``leave_`` methods may rewrite.

        The composite walks down only to these (see :mod:`codemods.migrate`); None: any node.
        """
        return None

    @classmethod
    def should_run(cls, code: str) -> bool:
        return not cls.TRIGGERS or any(t in code for t in cls.TRIGGERS)

    def transform_module(self, tree: cst.Module) -> cst.Module:
        """Rewrite ``tree``; findings go to ``context.scratch[FINDINGS_KEY]``."""
        self.prepare(tree)
        return self.transform_module_impl(tree)

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        new = self.fix_imports(tree.visit(self))
        self.locate_findings()
        return new

    def fix_imports(self, tree: cst.Module) -> cst.Module:
        """The defs written inline for TF 1.x targets, then the imports added and dropped."""
        scratch = self.context.scratch
        tree = inline_runtime.insert(tree, scratch.pop(inline_runtime.INLINE_KEY, None))
        return update_imports(tree, scratch.pop(ADD_KEY, []), scratch.pop(DROP_KEY, []))

    def prepare(self, module: cst.Module, shared: Optional["MigrationCodemod"] = None, unit=None) -> None:
        """Analyse ``module`` (the one about to be transformed), sharing another concern's
        analysis, or that of ``unit`` (a :class:`codemods.program.Unit` of ``module``)."""
        self._module, self._shared, self._index, self._spans = module, shared, None, None
        if unit is not None:
            self.imports, self._index = unit.imports, unit.index
        else:
            self.imports = shared.imports if shared else ImportTable(module)

    @property
    def program(self):
        """The :class:`codemods.program.Program` the module belongs to (None: a module alone)."""
        return self.index.program

    def report(self, node: cst.CSTNode, code: str, message: str, hint: str = "") -> None:
        """Record a finding at ``node``: a node of the module being transformed, or of
        another module of its program (the finding goes to that module)."""
        scratch = self.context.scratch
        if self.program is not None and not self.index.owns(node):
            owner = self.program.owner(node)
            scratch = owner.context.scratch if owner is not None else scratch
        scratch.setdefault(PENDING_KEY, []).append((node, code, message, hint))

    def rewrite_code(self, node: cst.CSTNode) -> Optional[str]:
        """The code of the rewrite this concern makes of ``node``: its rewrite rule."""
        return next((rule.code for rule in self.RULES if rule.kind == "rewrite"), None)

    def rewrote(self, node: cst.CSTNode, new: Any) -> None:
        """Record that this concern rewrote ``node`` (an original node of the module) into
        ``new`` (what the traversal put in its place), if rewrites are being recorded."""
        pending = self.context.scratch.get(PENDING_REWRITES_KEY)
        code = self.rewrite_code(node) if pending is not None else None
        if code is not None:
            pending.append((node, code, getattr(new, "nodes", [new])[0] if new is not None else None))

    def locate_findings(self, new_module: Optional[cst.Module] = None) -> None:
        """Turn the findings reported (and rewrites recorded, whose new code is placed in
        ``new_module``) on this module into located :class:`Finding` s."""
        scratch = self.context.scratch
        pending, rewrites = scratch.pop(PENDING_KEY, []), scratch.pop(PENDING_REWRITES_KEY, None) or []
        if not pending and not rewrites:
            return
        index = (self._shared or self)._index  # its parents, if some concern built it
        nodes = [node for node, *_ in pending] + [node for node, *_ in rewrites]
        where = locate(self._module, nodes, self.spans, index and index.parent_of)
        findings = scratch.setdefault(FINDINGS_KEY, [])
        for node, code, message, hint in pending:
            line, col = where.get(node, (0, 0))
            findings.append(Finding(line, col, code, message, hint))
        new_nodes = [new for *_, new in rewrites if isinstance(new, cst.CSTNode)]
        placed = locate(new_module, new_nodes) if new_module is not None and new_nodes else {}
        made = scratch.setdefault(REWRITES_KEY, [])
        for node, code, new in rewrites:
            line, col = where.get(node, (0, 0))
            made.append((Finding(line, col, code, RULES[code].title), placed.get(new)))

    @property
    def index(self) -> EstimatorIndex:
        """Model_fns, input_fns and Estimators of the module being transformed (built once)."""
        if self._shared is not None:
            return self._shared.index
        if self._index is None:
            self._index = EstimatorIndex(self._module, self.imports)
        return self._index

    @property
    def spans(self) -> Optional[Spans]:
        """The statements' lines in the source of the module being transformed (found once),
        or None when that source is not known."""
        if self._shared is not None:
            return self._shared.spans
        source = self.context.scratch.get(SOURCE_KEY)
        if self._spans is None and source is not None:
            self._spans = Spans(self._module, source)
        return self._spans

    def api(self, node: cst.BaseExpression) -> Optional[str]:
        """Canonical ``tf.…`` name that ``node`` refers to here, or None."""
        return self.imports.api(node)

    def target(self, name: str, like: Optional[cst.BaseExpression] = None) -> cst.BaseExpression:
        """An expression for TPU API ``name`` in the chosen target, importing what it needs."""
        return self.spelled(TARGETS[self.options.target][name], like)

    def spelled(self, qualified: str, like: Optional[cst.BaseExpression] = None) -> cst.BaseExpression:
        code, request = self.imports.reference(qualified, like, self.shadowed())
        if request:
            self.context.scratch.setdefault(ADD_KEY, []).append(request)
        return dotted_expr(code)

    def shadowed(self) -> FrozenSet[str]:
        """The import aliases that the defs around the code being rewritten bind to something
        else (:attr:`ImportTable.locals`): new code there is not spelled with them."""
        return self._shared.shadowed() if self._shared is not None else frozenset()

    def params_name(self) -> str:
        """The name new code reads TPUEstimator's params by where it is being written:
        ``params``, or in a function that rebinds it, an alias (:mod:`codemods.params_alias`)."""
        return self._shared.params_name() if self._shared is not None else "params"

    def runtime(self, name: str) -> cst.BaseExpression:
        """``est2tpu.<name>``, importing est2tpu once; for TF 1.x targets, which cannot import
        est2tpu, the def the module gets in its place (:mod:`codemods.inline_runtime`: only
        the TPU switches have one, so a concern refuses the rest under ``--target tf1``)."""
        scratch = self.context.scratch
        if self.options.target == "tf1":
            return cst.Name(inline_runtime.request(scratch, self._module, self.imports, name,
                                                   scratch.setdefault(ADD_KEY, [])))
        scratch.setdefault(ADD_KEY, []).append(("est2tpu", None, None))
        return dotted_expr(f"est2tpu.{name}")

    def on_tpu(self, params: bool = True) -> cst.BaseExpression:
        """The test "this call runs on the TPU", spelled for the target.

        Where an input_fn's or model_fn's ``params`` is in scope (``params``), it reads the
        ``TPUContext`` TPUEstimator puts into ``params["context"]`` on its TPU paths only:
        ``est2tpu.on_tpu(params)``, or ``"context" in params`` for TF 1.x targets, which
        cannot import est2tpu.  Elsewhere it is where the program runs, ``est2tpu.use_tpu()``.
        """
        if not params:
            return cst.Call(self.runtime("use_tpu"))
        if self.options.target == "tf1":
            return cst.Comparison(cst.SimpleString('"context"'), [cst.ComparisonTarget(cst.In(), cst.Name("params"))])
        return cst.Call(self.runtime("on_tpu"), [cst.Arg(cst.Name("params"))])

    def drop_import_of(self, name: cst.BaseExpression) -> None:
        """Remove ``from m import name`` once nothing uses ``name`` any more."""
        if isinstance(name, cst.Name) and name.value in self.imports.aliases:
            module, _, obj = self.imports.aliases[name.value].rpartition(".")
            if module:
                asname = name.value if name.value != obj else None
                self.context.scratch.setdefault(DROP_KEY, []).append((module, obj, asname))
