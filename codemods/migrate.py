"""The composite codemod: every est2tpu concern, in one pass over one module.

Each concern analyses the untouched module (so batch sizes, model_fns and input_fns
are read before anything is rewritten, and findings point at the user's own lines);
then a single traversal hands every node to each concern in turn, in
:data:`PIPELINE` order, going down only as far as the nodes some concern rewrites.
Imports are added and removed once, at the end.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
from typing import Dict, Iterable, List, Optional, Set, Tuple, Type

import libcst as cst

from . import positions
from .base import (FINDINGS_KEY, OPTIONS_KEY, PENDING_REWRITES_KEY, REWRITES_KEY, RULES, SOURCE_KEY, Context,
                   Finding, MigrationCodemod, Options)
from .checkpoint_to_scaffold_fn import CheckpointInitToScaffoldFn
from .cross_shard_optimizer import WrapOptimizerForTPU
from .estimator_spec import EstimatorSpecToTPU
from .eval_metrics import EvalMetricOpsToEvalMetrics
from .input_fns import InputFnTakesParams
from .keras_model_to_estimator import KerasModelToTPUEstimator
from .layout import lay_out
from .model_fn_params import ModelFnTakesParams
from .summaries_to_host_call import SummariesToHostCall
from .syntax import parse_module
from .tpu_estimator import EstimatorToTPUEstimator
from .tpu_hazards import ReportTPUHazards

#: The concerns.  Where two rewrite the same node, the earlier one sees it first.
PIPELINE: List[Type[MigrationCodemod]] = [
    ModelFnTakesParams,
    EvalMetricOpsToEvalMetrics,
    WrapOptimizerForTPU,
    SummariesToHostCall,
    CheckpointInitToScaffoldFn,
    EstimatorSpecToTPU,
    EstimatorToTPUEstimator,
    KerasModelToTPUEstimator,
    InputFnTakesParams,
    ReportTPUHazards,
]


@dataclasses.dataclass
class MigrationResult:
    code: str
    findings: List[Finding]
    #: The rewrites made, one per code and line, where they were in the original code...
    rewrites: List[Finding] = dataclasses.field(default_factory=list)
    #: ...and the same rewrites where their new code is in ``code``.
    rewritten: List[Finding] = dataclasses.field(default_factory=list)


class Migrate(MigrationCodemod):
    """Run every est2tpu codemod (``python -m libcst.tool codemod commands.Migrate``)."""

    DESCRIPTION = "Migrate tf.estimator code to TPUEstimator."

    def __init__(self, context, target: Optional[str] = None) -> None:
        super().__init__(context, target)
        context.scratch[OPTIONS_KEY] = self.options

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        code = self.context.scratch.get(SOURCE_KEY) or tree.code
        concerns = [cls(self.context) for cls in PIPELINE if cls.should_run(code)]
        for concern in concerns:  # analysis of the untouched module
            concern.prepare(tree, shared=self)
            concern.visit_Module(tree)
        active = [c for c in concerns if c.rewrites()]
        if active:
            self.recording = PENDING_REWRITES_KEY in self.context.scratch
            self._dispatch(active)
            tree = self.fix_imports(tree.visit(self))
            self.visitors = self.leavers = {}  # they refer back to here: no cycle outlives the module
        self.locate_findings(tree)
        return tree

    def _dispatch(self, concerns: List[MigrationCodemod]) -> None:
        """Per node type, the concerns' visit_/leave_ methods, in pipeline order.

        Most nodes change in no concern: the traversal enters only the nodes above one of
        the concerns' targets (and so also every function enclosing one, for the concerns
        that track the function they are in).  Others are handed to ``on_leave`` whole.
        """
        targets = [concern.targets() for concern in concerns]
        self.paths = None if None in targets else _above(itertools.chain(*targets), self.index.parent_of)
        self.visitors: Dict[str, List] = {}
        self.leavers: Dict[str, List] = {}
        for concern in concerns:
            visits, leaves, generic = _handlers(type(concern))
            for node_type in visits:
                self.visitors.setdefault(node_type, []).append(getattr(concern, "visit_" + node_type))
            for node_type in leaves:
                self.leavers.setdefault(node_type, []).append(getattr(concern, "leave_" + node_type))
            if generic:
                self.leavers.setdefault("*", []).append(concern.on_leave)

    def on_visit(self, node: cst.CSTNode) -> bool:
        for method in self.visitors.get(type(node).__name__, ()):
            method(node)
        return self.paths is None or node in self.paths

    def on_leave(self, original_node, updated_node):
        name = type(original_node).__name__
        rewrote = [] if self.recording else None  # the concerns that rewrote the node, if asked
        for method in (*self.leavers.get(name, ()), *self.leavers.get("*", ())):
            new = method(original_node, updated_node)
            if rewrote is not None and new is not updated_node:
                rewrote.append(method.__self__)
            updated_node = new
            if not isinstance(updated_node, cst.CSTNode):
                break  # removed or replaced by several statements: nothing more to rewrite
        for concern in rewrote or ():
            concern.rewrote(original_node, updated_node)
        return updated_node


def _above(nodes: Iterable[cst.CSTNode], parent: Dict[cst.CSTNode, cst.CSTNode]) -> Set[cst.CSTNode]:
    """Every ancestor of ``nodes``."""
    out: Set[cst.CSTNode] = set()
    for node in nodes:
        node = parent.get(node)
        while node is not None and node not in out:
            out.add(node)
            node = parent.get(node)
    return out


@functools.lru_cache(maxsize=None)
def _handlers(cls: Type[MigrationCodemod]):
    """Node types whose visit_/leave_ methods ``cls`` defines itself (not LibCST's stubs).

    A concern that overrides ``on_leave`` sees every node through it instead.
    """
    generic = cls.on_leave is not MigrationCodemod.on_leave
    own = lambda name: name in vars(cls) or any(  # noqa: E731
        name in vars(base) for base in cls.__mro__[1:] if issubclass(base, MigrationCodemod))
    types = {name.partition("_")[2] for name in dir(cls) if name.startswith(("visit_", "leave_")) and own(name)}
    types = {t for t in types if t and t != "Module" and "_" not in t}
    visits = tuple(t for t in sorted(types) if own("visit_" + t))
    leaves = () if generic else tuple(t for t in sorted(types) if own("leave_" + t))
    return visits, leaves, generic


def migrate_code(code: str, options: Options = Options(), style: str = "auto", black_config=(),
                 rewrites: bool = False) -> MigrationResult:
    """Migrate one module's source text and lay out the changed lines (see :mod:`codemods.layout`);
    ``rewrites``: also say which rewrites were made, and where.

    Raises ``libcst.ParserSyntaxError`` if the code does not parse.
    """
    context = Context({OPTIONS_KEY: options, SOURCE_KEY: code})
    if rewrites:
        context.scratch[PENDING_REWRITES_KEY] = []
    module = parse_module(code)
    migrate = Migrate(context)
    tree = migrate.transform_module(module)
    new = code if tree is module else positions.code(tree, migrate.spans)
    findings = sorted(set(context.scratch.get(FINDINGS_KEY, [])))
    if new == code:  # already migrated: only what still blocks a TPU run is reported
        findings = [f for f in findings if RULES[f.code].blocking]
    laid_out = lay_out(code, new, style, black_config)
    if new == code or not rewrites:
        return MigrationResult(laid_out, findings)
    return MigrationResult(laid_out, findings, *_rewrites(context.scratch.get(REWRITES_KEY, []), code, new, laid_out))


def _rewrites(recorded, code: str, new: str, laid_out: str) -> Tuple[List[Finding], List[Finding]]:
    """The rewrites ``recorded`` (one per line and code): where they were in ``code``, and
    where their new code is in ``laid_out`` (``new``, the migrated module, laid out); a
    rewrite whose new node went away (a statement removed) is followed from ``code``."""
    made: Dict[tuple, Tuple[Finding, Optional[Tuple[int, int]]]] = {}
    for found, where in sorted(recorded, key=lambda item: item[0]):
        made.setdefault((found.line, found.code), (found, where))
    entries = list(made.values())
    points = {True: iter(positions.follow([where for _, where in entries if where], new, laid_out)),
              False: iter(positions.follow([(f.line, f.col) for f, where in entries if not where], code, laid_out))}
    rewritten: Dict[tuple, Finding] = {}  # statements moved to one place are one rewrite there
    for found, where in entries:
        line, col = next(points[where is not None])
        rewritten.setdefault((line, found.code), dataclasses.replace(found, line=line, col=col))
    return [found for found, _ in entries], sorted(rewritten.values())
