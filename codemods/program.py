"""The program: the modules of one run, analysed as one before any of them is rewritten.

A trainer package spreads an estimator over modules (``inputs.py`` builds the input_fns,
``model.py`` the model_fn, ``task.py`` the Estimator).  :class:`Program` parses them,
builds each module's :class:`~codemods.estimators.EstimatorIndex`, lets names imported
from one module of the program resolve to the functions of another, and then decides, per
estimator, whether it converts: an Estimator becomes a TPUEstimator only when everything
it runs converts (:class:`Component`).  Otherwise it stays exactly as it was, with the code
only it uses, and one blocking finding at the estimator lists each obstacle.

Module names come with the sources (``trainer/model.py`` is ``trainer.model``); an
absolute import resolves to the module of that name whose import root is nearest the
importer (``projectA/trainer`` for ``projectA/trainer/task.py``), a relative one against
the importer's package.
"""

from __future__ import annotations

import builtins
import dataclasses
import os
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Set, Tuple

import libcst as cst

from . import canned_estimators
from .base import PENDING_KEY, RULES, Rule, register
from .eval_metrics import METRICS_NOT_REWRITTEN as METRICS_STAY
from .estimators import (CANNED_APIS, ESTIMATOR_APIS, KERAS_APIS, RUNTIME_CANNED_APIS, TPU_ESTIMATOR_APIS, EstimatorIndex,
                         EstimatorSite, Function, InputFnPlan, NameNodes, bound_argument, renamed)
from .names import ImportTable, dotted, names_in
from .positions import Spans, locate
from .spec_helpers import called, gains_params, uses
from .syntax import param_names, parse_module
from .tpu_estimator import BATCH_KEYWORDS
from .walk import Visitor

@dataclasses.dataclass
class Source:
    """One module given to :func:`codemods.migrate.migrate_program`."""

    code: str
    #: Where the module is importable from: (import root directory, dotted name) pairs,
    #: nearest root first (``("/p", "trainer.model")``); empty when it cannot be imported.
    names: Tuple[Tuple[str, str], ...] = ()
    display: str = "<string>"
    #: An ``__init__.py``: relative imports resolve against its own name.
    is_package: bool = False
    #: False: read for the analysis only (a module of the package of a file given alone).
    write: bool = True
    #: How the migrated module is laid out (see :func:`codemods.layout.lay_out`); None: the
    #: style the migration is given.
    style: Optional[str] = None
    black_config: Tuple = ()
    #: False: only whether the module changes is wanted (``--check``); a changed module's
    #: result then has no code (None), which is not generated past the first change.
    text: bool = True
    #: How a line of ``code`` is named in findings about other modules (a notebook's
    #: ``cell 3:12``); None: the line number.
    where: Optional[Callable[[int], str]] = None

    @property
    def package(self) -> Optional[str]:
        """The package relative imports resolve against.  A module of a directory without
        ``__init__.py`` is top-level from that directory, where a relative import cannot run,
        so it is the namespace package of the first name that has one (``trainer/task.py``,
        run as ``python -m trainer.task``: ``trainer``)."""
        if not self.names:
            return None
        if self.is_package:
            return self.names[0][1]
        return next((name.rpartition(".")[0] for _, name in self.names if "." in name), None)

    @property
    def directory(self) -> str:
        return os.path.dirname(self.display)


LEFT_AS_IT_WAS = Rule(
    "E2T250",
    "estimator left as it was",
    "An Estimator becomes a TPUEstimator only when everything it runs converts: every spec its "
    "model_fn returns, its optimizers, every input_fn given to it, its batch sizes and RunConfig. "
    "Something it runs could not be converted (each obstacle is listed with its file:line and "
    "reported there too), so the estimator, and the code only it runs, were left exactly as they "
    "were: the program still runs on the CPU. Fix the obstacles and migrate again.",
    before="est = tf.estimator.Estimator(model_fn)  # model_fn uses tf.contrib.layers.optimize_loss (E2T214)",
    after="est = tf.estimator.Estimator(model_fn)  # unchanged until model_fn's optimizer can be wrapped",
    blocking=True,
)
ALREADY_TPU = Rule(
    "E2T251",
    "the program already has a TPU path here",
    "This Estimator shares its code with a TPUEstimator the program builds itself (an "
    "`if use_tpu:` choice, or a CPU fallback): it is the program's other path, and is left as it is.",
    before="est = TPUEstimator(model_fn, ...) if FLAGS.use_tpu else tf.estimator.Estimator(model_fn)",
    after="est = TPUEstimator(model_fn, ...) if FLAGS.use_tpu else tf.estimator.Estimator(model_fn)",
)
NO_ESTIMATOR = Rule(
    "E2T243",
    "model_fn of no Estimator in the program",
    "This function returns an EstimatorSpec, but no Estimator of the files migrated runs it, so "
    "est2tpu cannot tell whether the estimator that does will become a TPUEstimator: converting "
    "its specs alone would break that estimator. It was left as it is. Migrate it together with "
    "the code that builds its Estimator (give both to the same run).",
    before="def model_fn(features, labels, mode):  # its Estimator is built in another project",
    after="def model_fn(features, labels, mode):  # unchanged",
    blocking=True,
)
NOT_WRITTEN = Rule(
    "E2T244",
    "the conversion needs a change in a module this run does not write",
    "Migrating this estimator changes code in a module that was only read to analyse the "
    "program (a module of the package of a file given alone, as pre-commit passes them, or a "
    "file marked `# est2tpu: skip-file`). Changing the given files alone would leave the "
    "program half migrated, so the estimator was left as it was. Give that module to the run "
    "too.",
    before="est2tpu migrate trainer/task.py  # trainer/model.py holds the model_fn",
    after="est2tpu migrate trainer/task.py trainer/model.py",
    blocking=True,
    obstacle=True,
)
register(LEFT_AS_IT_WAS, ALREADY_TPU, NO_ESTIMATOR, NOT_WRITTEN)


class Unit:
    """One parsed module of the program, and the context its concerns share."""

    def __init__(self, source: Source, program: "Program", tree: Optional[cst.Module] = None) -> None:
        self.source = source
        self.tree = tree if tree is not None else parse_module(source.code)
        self.imports = ImportTable(self.tree, source.package)
        self.index = EstimatorIndex(self.tree, self.imports, program)
        self.context = None  # set by the migration, with its Migrate
        self.migration = None
        self._spans: Optional[Spans] = None

    def line_of(self, node: cst.CSTNode) -> int:
        """The 1-based line ``node`` starts on."""
        if self._spans is None:
            self._spans = Spans(self.tree, self.source.code)
        return locate(self.tree, [node], self._spans, self.index.parent_of).get(node, (0, 0))[0]


@dataclasses.dataclass(eq=False)
class Component:
    """Estimators that share code (a model_fn, an input_fn, a RunConfig) and so convert
    together or not at all, with the code they run (their regions)."""

    sites: List[EstimatorSite] = dataclasses.field(default_factory=list)
    #: The nodes whose subtrees the conversion rewrites: Estimator calls, model_fns,
    #: input_fns, the calls that use the estimator, RunConfigs, params dicts.
    regions: Set[cst.CSTNode] = dataclasses.field(default_factory=set)
    #: Blocking findings in the regions that leave the estimators unconverted: (node, code, message).
    obstacles: List[Tuple[cst.CSTNode, str, str]] = dataclasses.field(default_factory=list)
    #: Every estimator is only exported (see :meth:`EstimatorIndex.exported_only`): left as it is.
    exported_only: bool = False

    @property
    def already_tpu(self) -> bool:
        """Whether the program already builds a TPUEstimator from this code: it chooses
        between TPUEstimator and Estimator itself, and is left as it is."""
        return any(site.api in TPU_ESTIMATOR_APIS for site in self.sites)

    @property
    def converts(self) -> bool:
        return not self.obstacles and not self.already_tpu and not self.exported_only and any(
            site.api == "tf.estimator.Estimator" or site.api in KERAS_APIS or site.api in RUNTIME_CANNED_APIS
            for site in self.sites)


class Program:
    """Every module of one run, each with its index; names resolve across them."""

    def __init__(self, sources: Iterable[Source], trees: Optional[Dict[int, cst.Module]] = None) -> None:
        """``trees``: modules already parsed, by ``id`` of their source.  A source LibCST
        cannot parse is left out of the program, its error in :attr:`errors`."""
        self.units: List[Unit] = []
        self.errors: Dict[int, cst.ParserSyntaxError] = {}  # id(source) -> error
        self._by_name: Dict[str, List[Tuple[str, Unit]]] = {}
        self._index_of: Dict[cst.FunctionDef, EstimatorIndex] = {}
        for source in sources:
            try:
                unit = Unit(source, self, (trees or {}).get(id(source)))
            except cst.ParserSyntaxError as e:
                self.errors[id(source)] = e
                continue
            self.units.append(unit)
            for root, name in source.names:
                self._by_name.setdefault(name, []).append((root, unit))
            for fn in unit.index.parents:
                self._index_of[fn] = unit.index
        self._unit_of_index = {id(unit.index): unit for unit in self.units}
        for unit in self.units:
            unit.index.resolve()
        self._factory_sizes: Dict[int, Dict[str, Tuple[cst.Call, cst.BaseExpression]]] = {}
        self.components = self._components()
        self._live: Dict[int, Set[cst.CSTNode]] = {}

    def close(self) -> None:
        """Break the references between the program, its units, their indexes and migrations,
        so that reference counting frees the trees (no cycle outlives the program)."""
        for unit in self.units:
            unit.index.program = None
            if unit.migration is not None:
                unit.migration.close()
            unit.migration = unit.context = None
        self.units, self.components = [], []
        self._index_of.clear()
        self._by_name.clear()
        self._unit_of_index.clear()
        self._region_owner.clear()
        self._live.clear()
        self._factory_sizes.clear()

    @property
    def indexes(self) -> List[EstimatorIndex]:
        return [unit.index for unit in self.units]

    def index_of(self, fn: cst.CSTNode) -> Optional[EstimatorIndex]:
        """The index of the module that defines function ``fn``."""
        return self._index_of.get(fn)

    def unit_of(self, index: EstimatorIndex) -> Unit:
        return self._unit_of_index[id(index)]

    def owner(self, node: cst.CSTNode) -> Optional[Unit]:
        """The unit whose module ``node`` is a node of."""
        return next((unit for unit in self.units if unit.index.owns(node)), None)

    def referenced(self, unit: Unit, fn: cst.FunctionDef) -> bool:
        """Whether the program names ``fn`` anywhere but in its def: read in its module, or
        imported by another (then some estimator may run it that est2tpu cannot follow)."""
        name = fn.name.value
        if name in unit.index.names_used:
            return True
        module = {n for _, n in unit.source.names}
        return any(full.rpartition(".")[0] in module and full.endswith("." + name)
                   for other in self.units if other is not unit for full in other.imports.aliases.values())

    def holding(self, unit: Unit, node: cst.CSTNode) -> Set[Component]:
        """The components with a region that holds ``node`` (a node of ``unit``)."""
        found = set()
        parents = unit.index.parent_of
        while node is not None:
            found.update(self._region_owner.get(node, ()))
            node = parents.get(node)
        return found

    def is_region(self, node: cst.CSTNode) -> bool:
        """Whether ``node`` is a region of some estimator (a model_fn, spec helper, ...)."""
        return node in self._region_owner

    def holds_regions(self, unit: Unit) -> bool:
        """Whether some estimator's code is in ``unit``, defined there for another module's."""
        return any(unit.index.owns(node) for node in self._region_owner)

    def live(self, unit: Unit) -> Set[cst.CSTNode]:
        """The regions of ``unit`` that the estimators converting run: only there it changes."""
        if id(unit) not in self._live:
            self._live[id(unit)] = {node for c in self.components if c.converts for node in c.regions
                                    if unit.index.owns(node)}
        return self._live[id(unit)]

    # -- names across modules ------------------------------------------------------

    def module(self, importer: Unit, name: str) -> Optional[Unit]:
        """The unit importing ``name`` from ``importer`` gets: the module of that name whose
        import root holds the importer (the nearest), else the only module of that name."""
        candidates = self._by_name.get(name, ())
        if not candidates:
            return None
        here = os.path.abspath(importer.source.directory) + os.sep
        holding = [(root, unit) for root, unit in candidates if here.startswith(os.path.abspath(root) + os.sep)]
        if holding:
            return max(holding, key=lambda pair: len(pair[0]))[1]
        return candidates[0][1] if len(candidates) == 1 else None

    def imported(self, index: EstimatorIndex, expr: cst.BaseExpression) -> Optional[Tuple[EstimatorIndex, str]]:
        """(index of the module, rest of the name) for an imported name or an attribute of an
        imported module that is a module of the program (``model.model_fn`` -> the index of
        ``trainer.model``, ``"model_fn"``; a module itself has rest ``""``)."""
        qualified = index.imports.qualified(expr)
        if qualified is None:
            return None
        importer = self.unit_of(index)
        parts = qualified.split(".")
        for cut in range(len(parts), 0, -1):
            unit = self.module(importer, ".".join(parts[:cut]))
            if unit is not None and unit is not importer:
                return unit.index, ".".join(parts[cut:])
        return None

    def spelled_at(self, expr: cst.BaseExpression, index: EstimatorIndex) -> Optional[cst.BaseExpression]:
        """``expr`` (an expression of some module of the program, a batch size say) as the module
        of ``index`` can spell it: a module-level name of its own module is qualified by an
        import of that module there (``BATCH`` of trainer/data.py is ``data.BATCH`` where
        ``from . import data``), or read as is through an import of that very name; None when
        the module of ``index`` cannot name it."""
        owner = self.owner(expr)
        if owner is None or owner.index is index:
            return expr
        here = self.unit_of(index)
        modules = {name for _, name in owner.source.names}
        alias = next((local for local, full in here.imports.module_aliases.items() if full in modules), None)
        mapping: Dict[str, cst.BaseExpression] = {}
        for name in names_in(expr):
            if owner.index.lookup(name, None) is not None or owner.index.function_named(name, None) is not None:
                if here.imports.module_aliases.get(name) in {f"{module}.{name}" for module in modules}:
                    continue  # from trainer.data import BATCH
                if alias is None:
                    return None
                mapping[name] = cst.Attribute(cst.Name(alias), cst.Name(name))
            elif name in owner.imports.aliases:
                if here.imports.module_aliases.get(name) != owner.imports.aliases[name]:
                    return None
            elif not hasattr(builtins, name):
                return None
        return renamed(expr, mapping) if mapping else expr

    def liftings(self, size: cst.BaseExpression) -> List[cst.BaseExpression]:
        """``size``, then, while every name it reads is a parameter of the def it is read in and
        that def has one call in the program, ``size`` as that call passes them
        (``args.batch_size`` in ``def run(estimator, args)``, called ``run(est, args)``: that
        call's ``args``), an argument that is itself a name or ``a.b``, not evaluated again."""
        found = [size]
        for _ in range(4):
            names = NameNodes().walked(size).found
            unit = self.owner(names[0]) if names else None
            fn = unit.index.enclosing_def(names[0]) if unit is not None else None
            if fn is None or not all(name.value in param_names(fn) and unit.index.binder(
                    name.value, unit.index.enclosing_def(name)) is fn for name in names):
                break
            calls = unit.index.callers(fn)
            arguments = {name.value: bound_argument(calls[0], fn, name.value) for name in names} if len(calls) == 1 else {}
            if not arguments or not all(value is not None and dotted(value) for value in arguments.values()):
                break
            size = renamed(size, arguments)
            found.append(size)
        return found

    def rebound_elsewhere(self, expr: cst.BaseExpression) -> Optional[str]:
        """``file:line`` of an assignment, in another module of the program, to a module-level
        name ``expr`` reads (``model.BATCH_SIZE = 128`` in task.py, for ``BATCH_SIZE`` of
        trainer/model.py): code of the module may have read the first value (input_fns built
        at import) while the estimator would read the second; else None."""
        owner = self.owner(expr)
        names = {name for name in names_in(expr) if owner is not None and owner.index.lookup(name, None) is not None}
        for unit in self.units if names else ():
            if unit is owner:
                continue
            for target in _AttributeTargets().walked(unit.tree).found:
                if target.attr.value in names and self.imported(unit.index, target.value) == (owner.index, ""):
                    return f"{unit.source.display}:{unit.line_of(target)}"
        return None

    def where(self, index: EstimatorIndex, expr: cst.BaseExpression) -> Optional[str]:
        """Where an imported name comes from, for a finding: ``the module trainer.model`` (in
        the program, but not that name), or ``trainer.model, not given`` / ``an installed
        package`` (outside the program)."""
        qualified = index.imports.qualified(expr)
        if qualified is None:
            return None
        found = self.imported(index, expr)
        if found is not None:
            return f"{qualified} (in {self.unit_of(found[0]).source.display}, where it is not a function)"
        top = qualified.split(".")[0]
        if any(name.split(".")[0] == top for name in self._by_name):
            return f"{qualified}, from a module of {top} not given to this run"
        return f"{qualified}, from outside the files given"

    def has_own_tpu_path(self, site: EstimatorSite) -> bool:
        """Whether ``site`` shares its code with a TPUEstimator the program builds itself (it
        is the program's CPU path, left as it is)."""
        return any(component.already_tpu for component in self.components if site in component.sites)

    def exported_only(self, site: EstimatorSite) -> bool:
        """Whether ``site``'s estimator, and those it shares code with, are only exported."""
        return any(component.exported_only for component in self.components if site in component.sites)

    def factory_batch_sizes(self, site: EstimatorSite) -> Dict[str, Tuple[cst.Call, cst.BaseExpression]]:
        """The batch sizes a factory (``def build_estimator(config, ...)``) is to be given by
        its one call: keyword -> (that call, the size as its module spells it), for each mode
        whose input_fns batch by a value the factory cannot name but the call can (a flag
        parsed beside it).  The factory gains the keyword (``train_batch_size=None``), its
        estimator reads it, the call passes it."""
        key = id(site.call)
        if key not in self._factory_sizes:
            self._factory_sizes[key] = self._find_factory_batch_sizes(site)
        return self._factory_sizes[key]

    def _find_factory_batch_sizes(self, site: EstimatorSite) -> Dict[str, Tuple[cst.Call, cst.BaseExpression]]:
        index, fn = self._site_index(site), site.scope
        if not isinstance(fn, cst.FunctionDef) or isinstance(fn.params.star_arg, cst.Param):
            return {}  # *args: a new parameter would take them
        needed = {}  # keyword -> the size the input_fns batch by, which the factory cannot name
        for mode, keyword in BATCH_KEYWORDS.items():
            uses = [use for use in site.uses if use.mode == mode and use.plan is not None]
            size = uses[0].plan.batch if uses and not uses[0].plan.from_params else None
            if size is None or index.available_at(cst.Name(keyword), fn):  # a name the factory has (a parameter...)
                continue
            if self.named_at(self.liftings(size), index, fn) is None:
                needed[keyword] = size
        call = index.factory_call(site) if needed else None
        if call is None:
            return {}
        caller = self.owner(call).index
        scope = caller.enclosing_def(call)
        found = {}
        for keyword, size in needed.items():
            there = self.named_at(self.liftings(size), caller, scope)
            if there is not None:
                found[keyword] = (call, there)
        return found

    def named_at(self, sizes: List[cst.BaseExpression], index: EstimatorIndex,
                 scope: Optional[cst.FunctionDef]) -> Optional[cst.BaseExpression]:
        """The first of ``sizes`` (:meth:`liftings` of a batch size) that the module of ``index``
        can spell in ``scope`` and that means the same there (see :meth:`EstimatorIndex.same_at`),
        as spelled there; None if none does."""
        for size in sizes:
            there = self.spelled_at(size, index)
            if there is not None and index.available_at(there, scope) and index.same_at(there, scope) \
                    and self.rebound_elsewhere(size) is None:
                return there
        return None

    # -- which estimators convert ----------------------------------------------------

    def _components(self) -> List[Component]:
        """The estimators, joined where they share code, with the regions each runs."""
        parent: Dict[int, int] = {}  # union-find over sites, by position in `sites`
        sites = [site for unit in self.units for site in unit.index.estimators
                 if site.api in ESTIMATOR_APIS or site.api in KERAS_APIS or site.api in CANNED_APIS]
        regions = [set(self._regions(site)) for site in sites]
        owner: Dict[cst.CSTNode, int] = {}

        def find(i: int) -> int:
            while parent.get(i, i) != i:
                i = parent[i]
            return i

        for i, nodes in enumerate(regions):
            for node in nodes:
                j = owner.setdefault(node, i)
                if find(j) != find(i):
                    parent[find(j)] = find(i)
        groups: Dict[int, Component] = {}
        for i, site in enumerate(sites):
            component = groups.setdefault(find(i), Component())
            component.sites.append(site)
            component.regions |= regions[i]
        for component in groups.values():
            component.exported_only = all(self._site_index(s).exported_only(s) for s in component.sites)
        self._region_owner: Dict[cst.CSTNode, List[Component]] = {}
        for component in groups.values():
            for node in component.regions:
                self._region_owner.setdefault(node, []).append(component)
        return list(groups.values())

    def _regions(self, site: EstimatorSite) -> Iterator[cst.CSTNode]:
        """The nodes a conversion of ``site`` rewrites inside of."""
        index = self._site_index(site)
        yield site.call
        if site.api in ESTIMATOR_APIS:
            value = index.argument(site, "model_fn", 0)
            for fn in index.resolve_functions(value, site.scope) if value is not None else ():
                if fn is not None:
                    helpers = list(self._spec_helpers(fn))
                    yield fn
                    yield from helpers
                    yield from self._param_uses(index, [fn, *helpers])
                    yield from index.train_op_helpers(fn)  # their train ops may keep it as it is
            yield from filter(None, (index.run_config_of(site), index.params_dict_of(site)))
        elif site.api in CANNED_APIS:
            yield from canned_estimators.regions(index, site)
        for use in site.uses:
            yield use.call
            if use.plan is not None:
                yield from self._plan_regions(use.plan)
        yield from index.exports_of(site)
        for call, _ in self.factory_batch_sizes(site).values():
            yield from (site.scope.params, call)

    def _site_index(self, site: EstimatorSite) -> EstimatorIndex:
        return next(unit.index for unit in self.units if site in unit.index.estimators)

    def _spec_helpers(self, fn: Function) -> Iterator[cst.FunctionDef]:
        """The functions of the program that return an EstimatorSpec and that ``fn`` calls,
        and those that give it or them their eval metrics (``loss, metrics = helper(...)``)."""
        index = self.index_of(fn) if isinstance(fn, cst.FunctionDef) else None
        if index is None:
            return
        for helper in index.spec_helpers(fn):
            yield helper
        for caller in (fn, *index.spec_helpers(fn)):
            yield from (helper for _, _, helper in index.metric_helpers(caller) if helper is not None)

    def _param_uses(self, index: EstimatorIndex, fns: List[Function]) -> Iterator[cst.CSTNode]:
        """The uses, in the program, of those of ``fns`` that gain params: the calls (which
        pass them on) and any other use (an obstacle), see :mod:`codemods.spec_helpers`."""
        gaining = {fn for fn in fns if isinstance(fn, cst.FunctionDef) and gains_params(index, fn)}
        for unit in self.units if gaining else ():
            for node, _ in uses(unit.index, gaining):
                yield called(unit.index, node) or node

    def _plan_regions(self, plan: InputFnPlan) -> Iterator[cst.CSTNode]:
        yield from filter(None, (plan.takes_params, plan.canned, plan.partial))
        if plan.takes_params is not None:
            index = self.owner(plan.takes_params).index
            yield from index.callers(plan.takes_params)  # direct calls of it, which must pass params
        for node in (*plan.batch_calls, *plan.to_batch_param, plan.pass_params, plan.forwards, *plan.batch_kwargs):
            if node is None:
                continue
            unit = self.owner(node)
            if unit is not None:
                yield unit.index.enclosing_function(node) or node
            if isinstance(node, cst.Call) and unit is not None:  # the def it calls, which may gain params
                callee = unit.index.resolve_function(node.func, unit.index.enclosing_def(node))
                if callee is not None:
                    yield callee
                    if node is plan.pass_params:
                        yield from unit.index.callers(callee)


def decide(program: Program) -> None:
    """After every module's analysis: which estimators stay, and the findings that say so.

    The obstacles (findings of rules marked ``obstacle``) in a component's regions, and those
    of rules marked ``program_wide`` anywhere in the program, keep it as it was: each of its Estimators gets one blocking finding listing them.  A component
    that already builds a TPUEstimator gets a note.  A model_fn no estimator of the program
    runs is reported.  Review notes about code that is not rewritten are dropped.
    """
    for unit in program.units:
        for node, code, message, _ in unit.context.scratch.get(PENDING_KEY, []):
            if RULES[code].obstacle:
                held = program.components if RULES[code].program_wide else program.holding(unit, node)
                for component in held:
                    if (node, code) not in {(n, c) for n, c, _ in component.obstacles}:
                        component.obstacles.append((node, code, message))
    _specs_that_stay(program)
    for unit in program.units:
        if unit.source.write:
            continue
        for component in program.components:
            if not component.already_tpu:
                targets = unit.migration.targets_inside(component.regions)
                if targets:
                    component.obstacles.append((targets[0], NOT_WRITTEN.code, NOT_WRITTEN.title))
    for component in program.components:
        if component.already_tpu:
            for site in component.sites:
                if site.api not in TPU_ESTIMATOR_APIS:
                    _report(program, site.call, ALREADY_TPU, "left as it is",
                            "its TPU path is the program's own TPUEstimator")
        elif component.obstacles:
            where = sorted({(_display(program, node), code, message) for node, code, message in component.obstacles})
            listed = "; ".join(f"{code} at {place}" for place, code, _ in where)
            for site in component.sites:
                _report(program, site.call, LEFT_AS_IT_WAS, f"{LEFT_AS_IT_WAS.title}: {listed}",
                        "fix each obstacle where it is reported, then migrate again")
    in_regions = {node for component in program.components for node in component.regions}
    for unit in program.units:
        for fn in unit.index.model_fns - in_regions:
            if fn in unit.index.spec_returning(("tf.estimator.EstimatorSpec",)) and not program.referenced(unit, fn):
                _report(program, fn.name, NO_ESTIMATOR, f"{NO_ESTIMATOR.title}: {fn.name.value}",
                        "migrate it with the code that builds its Estimator")
    for unit in program.units:
        live = program.live(unit)
        pending = unit.context.scratch.get(PENDING_KEY)
        if pending:
            unit.context.scratch[PENDING_KEY] = [
                item for item in dict.fromkeys(pending)
                if RULES[item[1]].blocking or inside(item[0], live, unit.index.parent_of)]


def _specs_that_stay(program: Program) -> None:
    """The invariant behind every conversion: each spec an estimator's model_fns return becomes
    a TPUEstimatorSpec.  A spec call in a converting estimator's code that stays an EstimatorSpec
    (its eval_metric_ops could not move, however that came about) is an obstacle."""
    for unit in program.units:
        for call in unit.index.calls_to("tf.estimator.EstimatorSpec"):
            if not unit.index.stays_estimator_spec(call):
                continue
            for component in program.holding(unit, call):
                if component.converts and not any(node is call or inside(node, {call}, unit.index.parent_of)
                                                  for node, _, _ in component.obstacles):
                    component.obstacles.append((call, METRICS_STAY.code, METRICS_STAY.title))
                    _report(program, call, METRICS_STAY, "the spec stays an EstimatorSpec: its eval_metric_ops "
                            "were not moved into eval_metrics", "pass eval_metrics=(metric_fn, [tensors])")


def _report(program: Program, node: cst.CSTNode, rule: Rule, message: str, hint: str) -> None:
    unit = program.owner(node)
    unit.context.scratch.setdefault(PENDING_KEY, []).append((node, rule.code, message, hint))


def _display(program: Program, node: cst.CSTNode) -> str:
    unit = program.owner(node)
    line = unit.line_of(node)
    return f"{unit.source.display}:{unit.source.where(line) if unit.source.where else line}"


def inside(node: cst.CSTNode, nodes: Set[cst.CSTNode], parents: Dict[cst.CSTNode, cst.CSTNode]) -> bool:
    """Whether ``node`` is one of ``nodes`` or below one (``parents``: its module's)."""
    while node is not None:
        if node in nodes:
            return True
        node = parents.get(node)
    return False


class _AttributeTargets(Visitor):
    """The attributes a piece of code assigns (``module.NAME = ...``)."""

    def __init__(self) -> None:
        self.found: List[cst.Attribute] = []

    def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
        if isinstance(node.target, cst.Attribute):
            self.found.append(node.target)
