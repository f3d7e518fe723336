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
from typing import Dict, FrozenSet, Iterable, List, Optional, Sequence, Set, Tuple, Type

import libcst as cst

from . import positions
from .base import (FINDINGS_KEY, OPTIONS_KEY, PENDING_REWRITES_KEY, REWRITES_KEY, RULES, SOURCE_KEY, Context,
                   Finding, MigrationCodemod, Options)
from .canned_input_fns import CannedInputToRuntime
from .canned_estimators import CannedToRuntime
from .checkpoint_to_scaffold_fn import CheckpointInitToScaffoldFn
from .cross_shard_optimizer import WrapOptimizerForTPU
from .estimator_spec import EstimatorSpecToTPU
from .eval_metrics import EvalMetricOpsToEvalMetrics
from .input_fns import InputFnTakesParams
from .keras_model_to_estimator import KerasModelToTPUEstimator
from .layout import lay_out
from .model_fn_params import ModelFnTakesParams
from .params_alias import alias_needed, bind_alias
from .program import Program, Source, Unit, decide, inside
from .summaries_to_host_call import SummariesToHostCall
from .tf1_code import ReportTF1Code
from .tpu_estimator import EstimatorToTPUEstimator
from .tpu_hazards import ReportTPUHazards
from .walk import transform

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
    CannedInputToRuntime,
    CannedToRuntime,
    InputFnTakesParams,
    ReportTPUHazards,
    ReportTF1Code,
]


@dataclasses.dataclass
class MigrationResult:
    #: None: the module changed, and only that was wanted (see ``Source.text``).
    code: Optional[str]
    findings: List[Finding]
    #: The rewrites made, one per code and line, where they were in the original code...
    rewrites: List[Finding] = dataclasses.field(default_factory=list)
    #: ...and the same rewrites where their new code is in ``code``.
    rewritten: List[Finding] = dataclasses.field(default_factory=list)
    #: The module did not parse (LibCST's error); ``code`` is then the original.
    error: Optional[cst.ParserSyntaxError] = None


class Migrate(MigrationCodemod):
    """Run every est2tpu codemod (``python -m libcst.tool codemod commands.Migrate``).

    Given one module (LibCST's CLI), it migrates that module as a program of its own;
    :func:`migrate_program` runs one per module of a program, in three steps: every
    module's analysis (:meth:`analyse`), the program's decision of which estimators
    convert, then each module's rewrite, confined to the code of those estimators
    (:meth:`rewrite`).
    """

    DESCRIPTION = "Migrate tf.estimator code to TPUEstimator."

    def __init__(self, context, target: Optional[str] = None) -> None:
        super().__init__(context, target)
        context.scratch[OPTIONS_KEY] = self.options
        self.scopes: List[cst.CSTNode] = []  # the defs and lambdas the rewrite is in, innermost last
        self.params_aliases: Dict[cst.FunctionDef, str] = {}  # see codemods.params_alias

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        source = Source(self.context.scratch.get(SOURCE_KEY) or tree.code)
        program = Program([source], trees={id(source): tree})
        unit = program.units[0]
        unit.context, unit.migration = self.context, self
        self.analyse(unit)
        decide(program)
        try:
            tree = self.rewrite(program.live(unit))
            self.locate_findings(tree)
        finally:
            program.close()
        return tree

    def analyse(self, unit: Unit) -> None:
        """Every concern's analysis of the untouched module of ``unit``."""
        self.unit = unit
        self.prepare(unit.tree, unit=unit)
        code = self.context.scratch.get(SOURCE_KEY) or unit.tree.code
        # A module holding code of another module's estimator (an input_fn factory, a model_fn)
        # may spell none of the names the concerns look for.
        held = unit.index.program is not None and unit.index.program.holds_regions(unit)
        self.concerns = [cls(self.context) for cls in PIPELINE if held or cls.should_run(code)]
        for concern in self.concerns:
            concern.prepare(unit.tree, shared=self)
            concern.visit_Module(unit.tree)

    def close(self) -> None:
        """Drop the concerns (which refer back here) and the unit."""
        self.concerns, self.unit = [], None

    def targets_inside(self, regions: Set[cst.CSTNode]) -> List[cst.CSTNode]:
        """The nodes the concerns would rewrite inside ``regions`` (of any module)."""
        parents = self.index.parent_of
        found = []
        for concern in self.concerns:
            if concern.rewrites():
                targets = concern.targets()
                if targets is None:
                    return [self._module]
                found.extend(t for t in targets if self.index.owns(t) and inside(t, regions, parents))
        return found

    def rewrite(self, live: Set[cst.CSTNode]) -> cst.Module:
        """The module, rewritten inside the ``live`` nodes only (the regions of the estimators
        that convert): code that no converting estimator runs stays as it was."""
        tree = self._module
        active = [c for c in self.concerns if c.rewrites()] if live else []
        if active:
            self.live, self.depth = live, 0
            self.recording = PENDING_REWRITES_KEY in self.context.scratch
            self._dispatch(active)
            tree = self.fix_imports(transform(tree, self))
            self.visitors = self.leavers = {}  # they refer back to here: no cycle outlives the module
        return tree

    def _dispatch(self, concerns: List[MigrationCodemod]) -> None:
        """Per node type, the concerns' visit_/leave_ methods, in pipeline order.

        Most nodes change in no concern: the traversal enters only the nodes above one of
        the concerns' live targets (and so also every function enclosing one, for the concerns
        that track the function they are in).  Others are handed to ``on_leave`` whole.
        """
        targets = [concern.targets() for concern in concerns]
        parents = self.index.parent_of
        self.paths = None if None in targets else _above(
            (t for t in itertools.chain(*targets) if inside(t, self.live, parents)), parents)
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

    def shadowed(self) -> FrozenSet[str]:
        """The aliases the defs being rewritten bind (see :meth:`MigrationCodemod.shadowed`)."""
        locals_ = self.imports.locals
        return frozenset().union(*(locals_.get(fn, ()) for fn in self.scopes)) if locals_ else frozenset()

    def params_name(self) -> str:
        """The name new code reads TPUEstimator's params by where it is written (see
        :mod:`codemods.params_alias`)."""
        fn = self.scopes[-1] if self.scopes else None
        if fn not in self.params_aliases:
            alias = alias_needed(fn)
            if alias is None:
                return "params"
            self.params_aliases[fn] = alias
        return self.params_aliases[fn]

    def on_visit(self, node: cst.CSTNode) -> bool:
        if node in self.live:
            self.depth += 1
        if isinstance(node, (cst.FunctionDef, cst.Lambda)):
            self.scopes.append(node)
        if self.depth:
            for method in self.visitors.get(type(node).__name__, ()):
                method(node)
        return self.paths is None or node in self.paths

    def on_leave(self, original_node, updated_node):
        if self.depth:
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
            alias = self.params_aliases.pop(original_node, None)
            if alias is not None and isinstance(updated_node, cst.FunctionDef):
                updated_node = bind_alias(updated_node, alias)
        if original_node in self.live:
            self.depth -= 1
        if isinstance(original_node, (cst.FunctionDef, cst.Lambda)):
            self.scopes.pop()
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
    # The names the est2tpu classes define (LibCST's stubs for every node type are not
    # looked at: a few hundred names, each once per class in the MRO, were most of the
    # first file's work).
    own = set().union(*(vars(base) for base in cls.__mro__ if issubclass(base, MigrationCodemod)))
    types = {name.partition("_")[2] for name in own if name.startswith(("visit_", "leave_"))}
    types = {t for t in types if t and t != "Module" and "_" not in t}
    visits = tuple(t for t in sorted(types) if "visit_" + t in own)
    leaves = () if generic else tuple(t for t in sorted(types) if "leave_" + t in own)
    return visits, leaves, generic


def migrate_program(sources: Sequence[Source], options: Options = Options(), style: str = "auto",
                    black_config=(), rewrites: bool = False) -> List[Optional[MigrationResult]]:
    """Migrate the modules of one program, each laid out (see :mod:`codemods.layout`): the
    results in the order of ``sources``, None for a source that is only read (``write``
    false).  A module LibCST cannot parse gets a result with its ``error``; the program is
    analysed without it.  ``rewrites``: also say which rewrites were made, and where."""
    program = Program(sources)
    try:
        migrations: Dict[int, Migrate] = {}
        for unit in program.units:  # every context first: one module's analysis reports on others
            unit.context = Context({OPTIONS_KEY: options, SOURCE_KEY: unit.source.code})
            if rewrites:
                unit.context.scratch[PENDING_REWRITES_KEY] = []
            unit.migration = migrations[id(unit.source)] = Migrate(unit.context)
        for unit in program.units:
            unit.migration.analyse(unit)
        decide(program)
        results: List[Optional[MigrationResult]] = []
        for source in sources:
            migration = migrations.get(id(source))
            if not source.write:
                results.append(None)
            elif migration is None:
                results.append(MigrationResult(source.code, [], error=program.errors[id(source)]))
            else:
                results.append(_result(migration, program, style, black_config, rewrites))
        return results
    finally:
        program.close()


def _result(migration: Migrate, program: Program, style: str, black_config, rewrites: bool) -> MigrationResult:
    unit = migration.unit
    tree = migration.rewrite(program.live(unit))
    migration.locate_findings(tree)
    source = unit.source
    code = source.code
    if tree is unit.tree:
        new = code
    elif source.text or rewrites:
        new = positions.code(tree, migration.spans)
    else:
        new = None if positions.differs(tree, code, migration.spans) else code
    findings = sorted(set(unit.context.scratch.get(FINDINGS_KEY, [])))
    if new == code:  # already migrated: only what still blocks a TPU run is reported
        findings = [f for f in findings if RULES[f.code].blocking]
    if new is None:
        return MigrationResult(None, findings)
    if source.style is not None:
        style, black_config = source.style, source.black_config
    laid_out = lay_out(code, new, style, black_config)
    if new == code or not rewrites:
        return MigrationResult(laid_out, findings)
    return MigrationResult(laid_out, findings, *_rewrites(unit.context.scratch.get(REWRITES_KEY, []), code, new, laid_out))


def migrate_code(code: str, options: Options = Options(), style: str = "auto", black_config=(),
                 rewrites: bool = False) -> MigrationResult:
    """Migrate one module's source text, as a program of its own (see :func:`migrate_program`).

    Raises ``libcst.ParserSyntaxError`` if the code does not parse.
    """
    result = migrate_program([Source(code)], options, style, black_config, rewrites)[0]
    if result.error is not None:
        raise result.error
    return result


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
