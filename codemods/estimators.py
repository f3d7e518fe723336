"""Which functions are model_fns and input_fns, and which batch sizes the input_fns use.

Shared analysis of one module, used by the model_fn, input_fn, optimizer and
TPUEstimator codemods.  It follows functions the way Estimator code passes them:
a def by name, ``functools.partial(f, …)``, a factory call returning a nested def,
``lambda: f(…, BATCH)``, and a local variable bound to any of these.
"""

from __future__ import annotations

import builtins
import dataclasses
import functools
import weakref
from typing import Dict, FrozenSet, Iterator, List, Optional, Set, Tuple, Union

import libcst as cst

from .names import ImportTable, NameReads, dotted, local_bindings, names_in, simple_statements, unpacked
from .syntax import dotted_expr, find_arg, param_names
from .walk import Preorder, ValueNames, Visitor

Function = Union[cst.FunctionDef, cst.Lambda]

TPU_ESTIMATOR_APIS = {"tf.estimator.tpu.TPUEstimator", "tf.contrib.tpu.TPUEstimator"}
ESTIMATOR_APIS = {"tf.estimator.Estimator", *TPU_ESTIMATOR_APIS}
KERAS_APIS = {"tf.keras.estimator.model_to_estimator"}
#: The canned estimators (canonical names; the TF 1 and TF 2 classes share them): Estimators of
#: the program like any other, whose conversion :mod:`codemods.canned_estimators` decides.
CANNED_APIS = {f"tf.estimator.{n}" for n in (
    "DNNClassifier", "DNNRegressor", "DNNEstimator", "LinearClassifier", "LinearRegressor",
    "LinearEstimator", "DNNLinearCombinedClassifier", "DNNLinearCombinedRegressor",
    "DNNLinearCombinedEstimator", "BoostedTreesClassifier", "BoostedTreesRegressor",
    "BaselineClassifier", "BaselineRegressor", "BaselineEstimator",
    "experimental.RNNClassifier", "experimental.RNNEstimator", "experimental.KMeans")} | {
    f"tf.contrib.estimator.{n}" for n in (  # TF 1.x's, none with a TPU version
        "DNNEstimator", "LinearEstimator", "DNNLinearCombinedEstimator", "RNNClassifier", "RNNEstimator")}
#: The canned estimators est2tpu's runtime has an equivalent of (``est2tpu.DNNClassifier``...).
RUNTIME_CANNED_APIS = {f"tf.estimator.{n}" for n in (
    "DNNClassifier", "DNNRegressor", "LinearClassifier", "LinearRegressor",
    "DNNLinearCombinedClassifier", "DNNLinearCombinedRegressor")}
SPEC_APIS = {"tf.estimator.EstimatorSpec", "tf.estimator.tpu.TPUEstimatorSpec", "tf.contrib.tpu.TPUEstimatorSpec"}
#: input_fn helpers that build their own batches and cannot take ``params``.
CANNED_INPUT_APIS = {"tf.estimator.inputs.numpy_input_fn", "tf.estimator.inputs.pandas_input_fn"}
#: The calls that build a train op from an optimizer -> the position of their ``optimizer``.
TRAIN_OP_APIS = {
    **dict.fromkeys(("tf.contrib.layers.optimize_loss", "tf.contrib.layers.optimizers.optimize_loss",
                     "tf.contrib.slim.optimize_loss", "tf_slim.optimize_loss",
                     "tf_slim.layers.optimizers.optimize_loss"), 3),
    **dict.fromkeys(("tf.contrib.training.create_train_op", "tf.contrib.slim.learning.create_train_op",
                     "tf_slim.learning.create_train_op", "tf_slim.training.create_train_op"), 1),
}
#: Estimator method -> the mode its input_fn (first argument or ``input_fn=``) runs in.
USES = {"train": "train", "evaluate": "eval", "predict": "predict"}
TRAIN_AND_EVALUATE = "tf.estimator.train_and_evaluate"
SPEC_USES = {"tf.estimator.TrainSpec": "train", "tf.estimator.EvalSpec": "eval"}
RUN_CONFIG_APIS = {"tf.estimator.RunConfig", "tf.estimator.tpu.RunConfig", "tf.contrib.tpu.RunConfig"}


#: Batching calls -> (position of batch_size, position of drop_remainder; None: always drops).
#: ``map_and_batch`` and ``batch_and_drop_remainder`` are tf.data transformations, given to ``.apply``.
BATCHING = {"batch": (0, 1), "padded_batch": (0, 3), "map_and_batch": (1, 3), "batch_and_drop_remainder": (0, None)}


def batching(call: cst.Call) -> Optional[str]:
    """The :data:`BATCHING` name of ``ds.batch(...)``, ``ds.padded_batch(...)``,
    ``….map_and_batch(...)`` or ``….batch_and_drop_remainder(...)``, else None."""
    func = call.func
    name = func.attr.value if isinstance(func, cst.Attribute) else func.value if isinstance(func, cst.Name) else None
    if name in BATCHING and (isinstance(func, cst.Attribute) or name not in ("batch", "padded_batch")):
        return name
    return None


def is_batch_size_key(node: cst.BaseExpression) -> bool:
    """The string literal ``"batch_size"``."""
    return isinstance(node, cst.SimpleString) and node.evaluated_value == "batch_size"


def is_batch_size_param(node: cst.BaseExpression, name: str = "params") -> bool:
    """``params["batch_size"]`` or ``params.get("batch_size"[, default])`` (``name`` for params,
    a dotted name)."""
    if isinstance(node, cst.Call):
        return (isinstance(node.func, cst.Attribute) and node.func.attr.value == "get"
                and dotted(node.func.value) == name and 1 <= len(node.args) <= 2
                and not node.args[0].keyword and is_batch_size_key(node.args[0].value))
    return (
        isinstance(node, cst.Subscript)
        and dotted(node.value) == name
        and len(node.slice) == 1
        and isinstance(node.slice[0].slice, cst.Index)
        and is_batch_size_key(node.slice[0].slice.value)
    )


@dataclasses.dataclass
class EstimatorSite:
    """One ``Estimator(...)`` / ``model_to_estimator(...)`` call."""

    call: cst.Call
    api: str
    scope: Optional[cst.FunctionDef]
    uses: List["InputFnUse"] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class InputFnPlan:
    """How one input_fn takes ``params`` and batches by ``params["batch_size"]``."""

    takes_params: Optional[Function]  # the function that gains ``params`` (None: a canned input_fn)
    to_batch_param: List[cst.CSTNode]  # expressions that become params["batch_size"]
    batch_calls: List[cst.Call]  # ``.batch(...)`` calls that drop the remainder
    batch: Optional[cst.BaseExpression]  # the batch size to lift into TPUEstimator
    from_params: bool = False  # the batch already came from params["batch_size"]
    pass_params: Optional[cst.Call] = None  # call in a lambda that must pass params on
    #: calls that leave the callee's batch size to its default: they pass name=params["batch_size"]
    batch_kwargs: Dict[cst.Call, str] = dataclasses.field(default_factory=dict)
    forwards: Optional[cst.Call] = None  # ``f(...)`` in ``lambda: f(...)``: f's batches are the plan's
    unfollowed: Optional[cst.Call] = None  # a call to a helper that batches, not followed
    #: ``numpy_input_fn(...)``/``pandas_input_fn(...)`` that make this input_fn (est2tpu's take params)
    canned: Optional[cst.Call] = None
    canned_via: Optional[cst.Call] = None  # the call of a function of the program returning it
    partial: Optional[cst.Call] = None  # ``functools.partial(takes_params, ...)``: the input_fn itself

    def canned_argument(self, index: "EstimatorIndex", keyword: str, position: int) -> Optional[cst.BaseExpression]:
        """The value the canned call passes as ``keyword``, as :attr:`canned_via` binds the
        parameters of the function returning it (None: not passed, or not known here)."""
        arg = find_arg(self.canned, keyword, position)
        if arg is None or self.canned_via is None:
            return arg.value if arg is not None else None
        scope = index.enclosing_function(self.canned_via)
        fn = index.resolve_function(self.canned_via.func, scope)
        return _at_call(arg.value, fn, self.canned_via) if isinstance(fn, cst.FunctionDef) else None


@dataclasses.dataclass
class InputFnUse:
    mode: str  # train | eval | predict
    call: cst.Call  # the train/evaluate/predict/TrainSpec/EvalSpec call
    arg: Optional[cst.Arg]
    plan: Optional[InputFnPlan]
    problem: Optional[str] = None  # why no plan could be made
    site: Optional["EstimatorSite"] = None  # None: the estimator is built elsewhere


class _Collector(Visitor):
    def __init__(self, imports: ImportTable) -> None:
        self.imports = imports
        self.stack: List[cst.FunctionDef] = []
        self.functions: List[Tuple[cst.FunctionDef, Optional[cst.FunctionDef]]] = []
        self.assigned: Dict[Tuple[Optional[cst.FunctionDef], str], cst.BaseExpression] = {}
        self.unpacked: Set[Tuple[Optional[cst.FunctionDef], str]] = set()  # bound, value unknown
        self.iterated: Dict[Tuple[Optional[cst.FunctionDef], str], cst.BaseExpression] = {}  # for-loop targets
        self.estimators: List[EstimatorSite] = []
        self.use_calls: List[Tuple[cst.Call, Optional[cst.FunctionDef]]] = []
        #: functions returning an EstimatorSpec or TPUEstimatorSpec -> the spec APIs they return
        self.spec_returners: Dict[cst.FunctionDef, Set[str]] = {}
        self.api_calls: List[Tuple[cst.Call, str, Optional[cst.FunctionDef]]] = []
        self.exports: List[Tuple[cst.Call, Optional[cst.FunctionDef]]] = []
        #: (scope, name) -> every value assigned to it, after how many assignments and uses
        self.history: Dict[Tuple[Optional[cst.FunctionDef], str], List[Tuple[int, cst.BaseExpression]]] = {}
        self.tick = 0
        self.use_ticks: Dict[cst.Call, int] = {}
        #: every call of a plain name or attribute (``f(...)``, ``m.f(...)``), by that name
        self.calls_by_name: Dict[str, List[Tuple[cst.Call, Optional[cst.FunctionDef]]]] = {}

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.functions.append((node, self.stack[-1] if self.stack else None))
        self.stack.append(node)

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.stack.pop()

    def visit_Assign(self, node: cst.Assign) -> None:
        self.tick += 1
        for target in node.targets:
            if isinstance(target.target, cst.Name):
                self.assigned[(self.scope, target.target.value)] = node.value
                self.history.setdefault((self.scope, target.target.value), []).append((self.tick, node.value))
            elif self_attribute(target.target):  # self.x = ...: one binding for the class
                self.assigned[(None, self_attribute(target.target))] = node.value
            elif isinstance(target.target, (cst.Tuple, cst.List)):  # FLAGS, _ = parse_known_args()
                self.unpacked.update((self.scope, name) for name in names_in(target.target))

    def visit_For(self, node: cst.For) -> None:
        if isinstance(node.target, cst.Name):  # for est in estimators: what it iterates over
            self.iterated[(self.scope, node.target.value)] = node.iter

    def visit_Return(self, node: cst.Return) -> None:
        api = self.imports.api(node.value.func) if self.stack and isinstance(node.value, cst.Call) else None
        if api in SPEC_APIS:
            self.spec_returners.setdefault(self.stack[-1], set()).add(api)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        name = func.value if isinstance(func, cst.Name) else func.attr.value if isinstance(func, cst.Attribute) else None
        if name is not None:
            self.calls_by_name.setdefault(name, []).append((node, self.scope))
        api = self.imports.api(node.func)
        if api is not None and api.endswith("V2") and api[:-2] in CANNED_APIS:
            api = api[:-2]  # the TF 2 class by its own name (canned.dnn.DNNClassifierV2)
        if api is not None:
            self.api_calls.append((node, api, self.scope))
        if api in ESTIMATOR_APIS or api in KERAS_APIS or api in CANNED_APIS:
            self.estimators.append(EstimatorSite(node, api, self.scope))
        elif isinstance(node.func, cst.Attribute) and node.func.attr.value in ("export_saved_model", "export_savedmodel"):
            self.exports.append((node, self.scope))
        elif api in SPEC_USES or (
            isinstance(node.func, cst.Attribute) and node.func.attr.value in USES
        ):
            self.use_calls.append((node, self.scope))
            self.tick += 1
            self.use_ticks[node] = self.tick

    @property
    def scope(self) -> Optional[cst.FunctionDef]:
        return self.stack[-1] if self.stack else None


class EstimatorIndex:
    """Everything the codemods need to know about the Estimators of one module.

    In a program of several modules (:class:`codemods.program.Program`), names imported
    from another module of the program resolve to its functions, and a question asked
    about a scope (a function) of another module is answered by that module's index.
    """

    def __init__(self, module: cst.Module, imports: ImportTable, program=None) -> None:
        """Collect the module's functions, Estimators and their uses; :meth:`resolve` (called
        once every module of the program is collected) links uses, input_fns and model_fns."""
        self.imports = imports
        self.program = program
        #: The module's nodes in walk order: every later walk of the module scans it (see
        #: :class:`codemods.walk.Preorder`) until this index is freed.
        self.preorder = Preorder(module)
        weakref.finalize(self, self.preorder.close)
        #: Each node's parent (whitespace and punctuation left out).
        self.parent_of: Dict[cst.CSTNode, cst.CSTNode] = self.preorder.parent_of()
        collector = _Collector(imports)
        collector.walk(module)
        self.module = module
        self._c = collector
        self.estimators = collector.estimators
        self.parents = {fn: parent for fn, parent in collector.functions}
        self.spec_returners = collector.spec_returners
        self.functions_by_name: Dict[str, List[cst.FunctionDef]] = {}
        #: The classes with methods, by name (a method's parent is the class body's).
        self.classes: Dict[str, cst.ClassDef] = {}
        for fn, _ in collector.functions:
            self.functions_by_name.setdefault(fn.name.value, []).append(fn)
            owner = self.parent_of.get(self.parent_of.get(fn))
            if isinstance(owner, cst.ClassDef):
                self.classes[owner.name.value] = owner
        self.uses: List[InputFnUse] = []
        self.api_calls = collector.api_calls
        self.exports = collector.exports
        self.model_fns: Set[cst.FunctionDef] = set(collector.spec_returners)
        #: The EstimatorSpec calls whose eval_metric_ops become eval_metrics: filled by
        #: EvalMetricOpsToEvalMetrics, which analyses the module before the other concerns.
        self.metrics_moved: Set[cst.Call] = set()
        self._metric_helpers: Dict[Function, list] = {}  # see metric_helpers
        self._helpers: Dict[Tuple[str, Function], List[cst.FunctionDef]] = {}  # see spec_helpers, train_op_helpers
        self._train_op_builders: Optional[Set[cst.FunctionDef]] = None
        #: The model_fns of this module an Estimator of the program calls itself (in order).
        self.estimator_model_fns: Dict[cst.FunctionDef, None] = {}
        if program is None:
            self.resolve()

    def resolve(self) -> None:
        """Link this module's uses to their Estimators and input_fns, and its Estimators to
        their model_fns (which may be functions of other modules of the program)."""
        for call, scope in self._c.use_calls:
            self._add_use(call, scope)
        for site in self.estimators:
            if site.api in ESTIMATOR_APIS:
                value = self.argument(site, "model_fn", 0)
                if value is not None:
                    for fn in self.resolve_functions(value, site.scope):
                        if isinstance(fn, cst.FunctionDef):
                            self._index_of(fn).model_fns.add(fn)
                            self._index_of(fn).estimator_model_fns[fn] = None

    @functools.cached_property
    def names_used(self) -> Set[str]:
        """Every name the module spells other than as the name of a def or class it defines."""
        return {node.value for node, parent in self.parent_of.items() if isinstance(node, cst.Name)
                and not (isinstance(parent, (cst.FunctionDef, cst.ClassDef)) and parent.name is node)}

    @functools.cached_property
    def name_nodes(self) -> Dict[str, List[cst.Name]]:
        """Every Name node of the module (a read, a binding, an attribute's name...), by its value."""
        found: Dict[str, List[cst.Name]] = {}
        for node in self.parent_of:
            if isinstance(node, cst.Name):
                found.setdefault(node.value, []).append(node)
        return found

    def _index_of(self, scope: Optional[cst.CSTNode]) -> "EstimatorIndex":
        """The index of the module that defines ``scope`` (a function; None: this module)."""
        if scope is None or scope in self.parents or self.program is None:
            return self
        return self.program.index_of(scope) or self

    def owns(self, node: cst.CSTNode) -> bool:
        """Whether ``node`` is a node of this index's module."""
        return node in self.parent_of or node is self.module
    # -- resolution -------------------------------------------------------------

    def scopes(self, scope: Optional[cst.FunctionDef]) -> Iterator[Optional[cst.FunctionDef]]:
        """``scope``, each enclosing function, then None (the module)."""
        parents = self._index_of(scope).parents
        while scope is not None:
            yield scope
            scope = parents.get(scope)
        yield None

    def lookup(self, name: str, scope: Optional[cst.FunctionDef]) -> Optional[cst.BaseExpression]:
        """The value last assigned to ``name`` in ``scope`` or an enclosing scope."""
        index = self._index_of(scope)
        if index is not self:
            return index.lookup(name, scope)
        for owner in self.scopes(scope):
            value = self._c.assigned.get((owner, name))
            if value is not None:
                return value
        return None

    def value_of(self, expr: cst.BaseExpression, scope: Optional[cst.FunctionDef]) -> Optional[cst.BaseExpression]:
        """The value last assigned to a name, or to ``self.x`` (one binding for the class), seen
        from ``scope`` (a name the module binds again: the value it holds where it is read, see
        :meth:`bound_at`); None for any other expression."""
        index = self._index_of(scope)
        if index is not self:
            return index.value_of(expr, scope)
        bound = self.bound_at(expr, scope)
        if bound is not None:  # a name the module binds again: what it holds here
            return None if isinstance(bound, cst.FunctionDef) else bound
        if isinstance(expr, cst.Name):
            key = expr.value
        elif isinstance(expr, cst.Attribute) and self._instance_of(expr.value, scope):  # exp.x: its self.x
            key = f"self.{expr.attr.value}"
        else:
            key = self_attribute(expr)
        return self.lookup(key, scope) if key else None

    def _instance_of(self, expr: cst.BaseExpression, scope) -> Optional[cst.ClassDef]:
        """The class of this module that a name holds an instance of (``exp = Experiment(...)``)."""
        value = self.lookup(expr.value, scope) if isinstance(expr, cst.Name) else None
        if isinstance(value, cst.Call) and isinstance(value.func, cst.Name):
            return self.classes.get(value.func.value)
        return None

    @functools.cached_property
    def _order(self) -> Dict[cst.CSTNode, int]:
        """Each node's place in source order (the walk recorded the parents in that order)."""
        return {node: i for i, node in enumerate(self.parent_of)}

    @functools.cached_property
    def _rebindings(self) -> Dict[str, List[cst.CSTNode]]:
        """The names the module binds more than once outside functions and classes (a
        notebook's later cell redefines input_fn): each def or assignment, in source order."""
        found: Dict[str, List[cst.CSTNode]] = {}
        for fn, parent in self._c.functions:
            if parent is None:
                found.setdefault(fn.name.value, []).append(fn)
        for (scope, name), values in self._c.history.items():
            if scope is None:
                found.setdefault(name, []).extend(self.parent_of[value] for _, value in values)
        found = {name: [node for node in nodes if not self._inside(node, cst.ClassDef)] for name, nodes in found.items()}
        return {name: sorted(nodes, key=self._order.__getitem__) for name, nodes in found.items() if len(nodes) > 1}

    def _inside(self, node: cst.CSTNode, outer) -> bool:
        """Whether ``outer`` (a node, or a node type) holds ``node``."""
        node = self.parent_of.get(node)
        while node is not None and not (node is outer if isinstance(outer, cst.CSTNode) else isinstance(node, outer)):
            node = self.parent_of.get(node)
        return node is not None

    def bound_at(self, name: cst.BaseExpression, scope) -> Optional[cst.CSTNode]:
        """What a name read at module level (``scope`` None) holds there when the module binds
        it more than once: the last def (a FunctionDef) or assigned value before the read.
        None when it is bound once, or read in a function (which runs when it is called)."""
        bindings = self._rebindings.get(name.value) if scope is None and isinstance(name, cst.Name) else None
        at = self._order.get(name) if bindings else None
        if at is None:
            return None
        before = [node for node in bindings if self._order[node] < at and not self._inside(name, node)]
        if not before:
            return None
        return before[-1] if isinstance(before[-1], cst.FunctionDef) else before[-1].value

    def function_named(self, name: str, scope: Optional[cst.FunctionDef]) -> Optional[cst.FunctionDef]:
        index = self._index_of(scope)
        if index is not self:
            return index.function_named(name, scope)
        candidates = self.functions_by_name.get(name, ())
        for owner in self.scopes(scope):
            for fn in candidates:
                if self.parents.get(fn) is owner:
                    return fn
        return None

    def resolve_function(self, expr: cst.BaseExpression, scope, depth: int = 0) -> Optional[Function]:
        """The function an expression evaluates to: a def, a lambda, what a factory returns, the
        ``__call__`` of an instance of a class of this module, or the one function that each
        value of a comprehension variable is (see :meth:`resolve_functions`)."""
        if depth > 4:
            return None
        index = self._index_of(scope)
        if index is not self:
            return index.resolve_function(expr, scope, depth)
        if isinstance(expr, cst.Lambda):
            return expr
        if isinstance(expr, cst.Name) and self.comprehension_values(expr) is not None:
            found = set(self.resolve_functions(expr, scope, depth))
            return found.pop() if len(found) == 1 else None
        if isinstance(expr, cst.Name):
            bound = self.bound_at(expr, scope)
            if bound is not None:
                return bound if isinstance(bound, cst.FunctionDef) else self.resolve_function(bound, scope, depth + 1)
            fn = self.function_named(expr.value, scope)
            if fn is not None:
                return fn
            value = self.lookup(expr.value, scope)
            if value is None:
                return self._imported(expr, depth)
            return self.resolve_function(value, scope, depth + 1)
        if self_attribute(expr):  # self.method, or self.x = <function>
            name = expr.attr.value
            methods = [fn for fn in self.functions_by_name.get(name, ()) if param_names(fn)[:1] == ["self"]]
            if methods:
                return methods[0]
            value = self.value_of(expr, scope)
            return self.resolve_function(value, scope, depth + 1) if value is not None else None
        if isinstance(expr, cst.Attribute) and isinstance(expr.value, cst.Name):  # Class.method, exp.method, cls.method
            owner = self._instance_of(expr.value, scope) or self.classes.get(expr.value.value) \
                or self._class_of_first_param(expr.value, scope)
            return self._method(owner, expr.attr.value) if owner is not None else self._imported(expr, depth)
        if isinstance(expr, cst.Attribute):  # package.module.function
            return self._imported(expr, depth)
        if isinstance(expr, cst.Call):
            owner = self.classes.get(expr.func.value) if isinstance(expr.func, cst.Name) else None
            if owner is not None and self.function_named(expr.func.value, scope) is None:  # Model(...)
                return self._method(owner, "__call__")
            found = self.program.imported(self, expr.func) if self.program is not None else None
            there, name = found or (self, "")
            owner = there.classes.get(name) if there is not self else None
            if owner is not None and there.parent_of.get(owner) is there.module:  # model.Model(...): a class of another module
                return there._method(owner, "__call__")
            return self._resolve_call(expr, scope, depth)[1]
        return None

    def _imported(self, expr: cst.BaseExpression, depth: int) -> Optional[Function]:
        """The function of another module of the program that an imported name (or an
        attribute of an imported module) is."""
        found = self.program.imported(self, expr) if self.program is not None else None
        if found is None:
            return None
        index, rest = found
        return index.resolve_function(dotted_expr(rest), None, depth + 1) if rest else None

    def resolve_functions(self, expr: cst.BaseExpression, scope, depth: int = 0) -> List[Optional[Function]]:
        """Each function an expression may be (None for one not known here): a variable of a
        comprehension over a tuple or list (``for f in (fn1, fn2)``) is each of its values."""
        values = self.comprehension_values(expr) if isinstance(expr, cst.Name) else None
        if values is None:
            return [self.resolve_function(expr, scope, depth)]
        return [fn for value in values for fn in self.resolve_functions(value, scope, depth + 1)] or [None]

    def comprehension_values(self, name: cst.Name) -> Optional[List[cst.BaseExpression]]:
        """The values of a comprehension variable (``f`` in ``[g(f) for f in (a, b)]``), seen
        in the comprehension's result; [] when they are not spelled out; None for a name that
        no enclosing comprehension binds."""
        node = self.parent_of.get(name)
        while node is not None and not isinstance(node, (cst.FunctionDef, cst.Lambda, cst.Module)):
            if isinstance(node, (cst.ListComp, cst.SetComp, cst.GeneratorExp, cst.DictComp)):
                loop = node.for_in
                while loop is not None:
                    if name.value in names_in(loop.target):
                        if isinstance(loop.target, cst.Name) and isinstance(loop.iter, (cst.Tuple, cst.List)) \
                                and all(isinstance(e, cst.Element) for e in loop.iter.elements):
                            return [e.value for e in loop.iter.elements]
                        return []
                    loop = loop.inner_for_in
            node = self.parent_of.get(node)
        return None

    def _method(self, owner: cst.ClassDef, name: str) -> Optional[cst.FunctionDef]:
        """The method ``name`` that class ``owner`` defines."""
        for fn in self.functions_by_name.get(name, ()):
            if self.parent_of.get(self.parent_of.get(fn)) is owner:  # fn -> body -> class
                return fn
        return None

    def _class_of_first_param(self, name: cst.Name, scope) -> Optional[cst.ClassDef]:
        """The class whose method ``scope`` is, when ``name`` is its first parameter (``cls``)."""
        owner = self.parent_of.get(self.parent_of.get(scope)) if scope is not None else None
        if isinstance(owner, cst.ClassDef) and param_names(scope)[:1] == [name.value]:
            return owner
        return None

    def _resolve_call(
        self, call: cst.Call, scope, depth: int = 0
    ) -> Tuple[Optional[cst.FunctionDef], Optional[Function]]:
        """(factory, function) for ``factory(…)``: the def called and what it returns.

        ``functools.partial(f, …)`` has no factory: (None, f).
        """
        index = self._index_of(scope)
        if index is not self:
            return index._resolve_call(call, scope, depth)
        if self.imports.api(call.func) == "functools.partial" or dotted(call.func) == "partial":
            return None, (self.resolve_function(call.args[0].value, scope, depth + 1) if call.args else None)
        factory = self.resolve_function(call.func, scope, depth + 1)
        if not isinstance(factory, cst.FunctionDef):
            return None, None
        return factory, returned_function(factory, self._index_of(factory))

    def sites_for(self, receiver: cst.BaseExpression, scope) -> List[EstimatorSite]:
        """The Estimators a receiver expression may be: one, each built in a branch of
        ``a if c else b``, each of a list a for loop goes through (``for est in ests``), or
        each one a factory builds (``return Linear(...) if wide else DNN(...)``), each one a
        local name is assigned in the branches of its def (``if keras: est = f() else: est =
        Estimator(...)``)."""
        branches = self._branch_values(receiver, scope)
        if branches:
            found = [site for v in branches for site in self.sites_for(v, scope)]
            return _distinct(found)
        value = self.value_of(receiver, scope) if isinstance(receiver, cst.Name) or self_attribute(receiver) else receiver
        if isinstance(value, cst.IfExp):
            return [site for branch in (value.body, value.orelse) for site in self.sites_for(branch, scope)]
        if value is None and isinstance(receiver, cst.Name):
            each = next((self._c.iterated[(owner, receiver.value)] for owner in self.scopes(scope)
                         if (owner, receiver.value) in self._c.iterated), None)
            listed = self.value_of(each, scope) if isinstance(each, cst.Name) else each
            if isinstance(listed, (cst.List, cst.Tuple)):
                return [site for e in listed.elements for site in self.sites_for(e.value, scope)]
            if isinstance(listed, cst.ListComp):
                return self.sites_for(listed.elt, scope)
        return self._built(receiver, scope) or self._passed_in(receiver, scope)

    def _passed_in(self, receiver: cst.BaseExpression, scope, depth: int = 0) -> List[EstimatorSite]:
        """The Estimators the calls of ``scope``, in the program, pass as its parameter
        ``receiver`` (``def run(estimator, args): ...train_and_evaluate(estimator, ...)``,
        called ``run(model.create(...), args)``), when the def binds that name nowhere else."""
        if not isinstance(receiver, cst.Name) or not isinstance(scope, cst.FunctionDef) or not self.owns(scope) \
                or receiver.value not in param_names(scope) or (scope, receiver.value) in self._c.history \
                or depth > 4:
            return []
        found: List[EstimatorSite] = []
        for call in self.callers(scope):
            value = bound_argument(call, scope, receiver.value)
            if value is not None:
                index = self.index_of_node(call)
                caller = index.enclosing_def(call)
                found.extend(index.sites_for(value, caller) or index._passed_in(value, caller, depth + 1))
        return _distinct(found)

    def _branch_values(self, receiver: cst.BaseExpression, scope) -> List[cst.BaseExpression]:
        """The calls a local name of ``scope`` is assigned in its statements, when there are
        several and every one is a call (each may build an Estimator); else []."""
        if not isinstance(receiver, cst.Name) or not isinstance(scope, cst.FunctionDef) or not self.owns(scope):
            return []
        values = local_bindings(scope).get(receiver.value) or []
        return values if len(values) > 1 and all(isinstance(v, cst.Call) for v in values) else []

    def site_for(self, receiver: cst.BaseExpression, scope, guess: bool = True) -> Optional[EstimatorSite]:
        """The Estimator a receiver expression (``estimator`` in ``estimator.train``) refers to
        (the first a factory may return); with ``guess``, a module with a single Estimator
        answers that one."""
        built = self._built(receiver, scope)
        return built[0] if built else self.sole_estimator if guess else None

    def _built(self, receiver: cst.BaseExpression, scope) -> List[EstimatorSite]:
        """The Estimators a receiver expression is, followed through assignments: the one
        built there, or each one the factory function it calls builds."""
        if isinstance(receiver, (cst.Name, cst.Call)) or self_attribute(receiver):
            # Estimator(...).train(...), or a name or self.x it was assigned to
            value = receiver if isinstance(receiver, cst.Call) else self.value_of(receiver, scope)
            if isinstance(value, cst.Call):
                for site in self.estimators:
                    if site.call is value:
                        return [site]
                factory = self.resolve_function(value.func, scope)
                if isinstance(factory, cst.FunctionDef):
                    return [site for site in self._index_of(factory).estimators if site.scope is factory]
        return []

    def _other_api(self, receiver: cst.BaseExpression, scope) -> bool:
        """Whether ``receiver`` is (a name bound to) a TensorFlow object other than an
        Estimator this module builds: a canned estimator, say."""
        value = self.lookup(receiver.value, scope) if isinstance(receiver, cst.Name) else receiver
        return isinstance(value, cst.Call) and (self.imports.api(value.func) or "").startswith("tf.")

    @property
    def sole_estimator(self) -> Optional[EstimatorSite]:
        """The module's Estimator, when it builds exactly one."""
        return self.estimators[0] if len(self.estimators) == 1 else None

    def dict_items(self, expr: cst.BaseExpression, scope) -> Optional[Dict[str, cst.BaseExpression]]:
        """Key -> value of ``{"k": v, ...}`` (string keys only) or of the builtin ``dict(k=v, ...)``
        (keywords only); None for anything else."""
        if isinstance(expr, cst.Dict):
            if not all(isinstance(e, cst.DictElement) and isinstance(e.key, cst.SimpleString) for e in expr.elements):
                return None
            return {e.key.evaluated_value: e.value for e in expr.elements}
        if (isinstance(expr, cst.Call) and isinstance(expr.func, cst.Name) and expr.func.value == "dict"
                and self.lookup("dict", scope) is None and self.function_named("dict", scope) is None
                and all(a.keyword is not None for a in expr.args)):
            return {a.keyword.value: a.value for a in expr.args}
        return None

    def star_keywords(self, call: cst.Call, scope) -> Optional[Dict[str, cst.BaseExpression]]:
        """Keyword -> value passed by the ``**`` arguments of ``call`` ({} without any): each a
        :meth:`dict_items` mapping, written there or bound to a name the module never
        subscripts nor calls a method of (``kw["config"] = ...``, ``kw.update(...)``); None
        when some mapping is not known here."""
        found: Dict[str, cst.BaseExpression] = {}
        for arg in call.args:
            if arg.star != "**":
                continue
            value = arg.value
            if isinstance(value, cst.Name):
                if value.value in self._touched:
                    return None
                value = self.lookup(value.value, scope)
            items = self.dict_items(value, scope) if value is not None else None
            if items is None:
                return None
            found.update(items)
        return found

    @functools.cached_property
    def _touched(self) -> Set[str]:
        return _Touched().walked(self.module).names

    def argument(self, site: EstimatorSite, keyword: str, position: Optional[int]) -> Optional[cst.BaseExpression]:
        """The value the site's call passes as ``keyword`` (or at ``position``), also through a
        ``**`` mapping known here (see :meth:`star_keywords`)."""
        arg = find_arg(site.call, keyword, position)
        if arg is not None:
            return arg.value
        return (self.star_keywords(site.call, site.scope) or {}).get(keyword)

    # -- uses -------------------------------------------------------------------

    def _add_use(self, call: cst.Call, scope) -> None:
        api = self.imports.api(call.func)
        if api in SPEC_USES:
            # a TrainSpec/EvalSpec names no estimator: the one built beside it and those a factory
            # builds into a name of the same scope (another module's), else those train_and_evaluate
            # is given there, else the module's only one
            beside = [site for site in self.estimators if site.scope is scope]
            built = [site for site in self._factory_built(scope) if all(site is not b for b in beside)]
            mode = SPEC_USES[api]
            if len(beside) == 1 or (built and not beside):
                sites = beside + built
            else:
                sites = self._trained_here(scope) or [self.sole_estimator]
        else:
            mode = USES[call.func.attr.value]
            sites = self.sites_for(call.func.value, scope)
            if not sites and self.program is not None and (self.program.imported(self, call.func.value) or ())[1:] == ("",):
                return  # evaluation.evaluate(...): a function of a module of the program
            if not sites:
                if find_arg(call, "input_fn") is None or self._other_api(call.func.value, scope):
                    return  # not an Estimator's method, or a canned estimator's (reported as such)
                sites = [self.sole_estimator]
        arg = find_arg(call, "input_fn", 0)
        if arg is None:
            return
        use = InputFnUse(mode, call, arg, None)
        value = self._bound_before(arg.value, scope, call) or arg.value  # input_fn = ...; est.train(input_fn)
        use.plan = self._canned_plan(value, scope) or self._plan(value, scope)
        if use.plan is None:
            use.problem = "unresolved"
        self.uses.append(use)
        for site in filter(None, sites):
            use.site = use.site or site
            site.uses.append(use)

    def _trained_here(self, scope) -> List[EstimatorSite]:
        """The Estimators the ``train_and_evaluate`` calls of ``scope`` (a def, or the module) are given."""
        found = []
        for call, api, where in self._c.api_calls:
            arg = find_arg(call, "estimator", 0) if api == TRAIN_AND_EVALUATE and where is scope else None
            if arg is not None:
                found.extend(self.sites_for(arg.value, scope))
        return found

    def _factory_built(self, scope) -> List[EstimatorSite]:
        """The Estimators the calls of factory functions assigned to local names of ``scope``
        build (``if keras: est = make_keras_estimator() else: est = Estimator(...)``)."""
        if not isinstance(scope, cst.FunctionDef) or not self.owns(scope):
            return []
        calls = [v for values in local_bindings(scope).values() for v in values if isinstance(v, cst.Call)]
        return [site for call in calls if not any(site.call is call for site in self.estimators)
                for site in self._built(call, scope)]

    def _bound_before(self, name: cst.BaseExpression, scope, use: cst.Call) -> Optional[cst.BaseExpression]:
        """The value a name that its scope binds more than once holds at ``use``: the last one
        assigned before it (None: bound once, or not in this scope)."""
        history = self._c.history.get((scope, name.value), ()) if isinstance(name, cst.Name) else ()
        if len(history) < 2:
            return None
        before = [value for tick, value in history if tick < self._c.use_ticks[use]]
        return before[-1] if before else None

    def canned_call(self, expr: cst.BaseExpression, scope) -> Tuple[Optional[cst.Call], Optional[cst.Call]]:
        """(``numpy_input_fn(...)`` or ``pandas_input_fn(...)``, the call of the function that
        returns it or None) for an input_fn expression: the call itself, a name bound to it,
        or a call of a function of the program that returns it."""
        value = self.value_of(expr, scope) or expr  # train_fn = numpy_input_fn(...)
        if not isinstance(value, cst.Call):
            return None, None
        if self.imports.api(value.func) in CANNED_INPUT_APIS:
            return value, None
        fn = self.resolve_function(value.func, scope)
        returned = returned_call(fn) if isinstance(fn, cst.FunctionDef) else None
        if returned is not None and self._index_of(fn).imports.api(returned.func) in CANNED_INPUT_APIS:
            return returned, value
        return None, None

    def _canned_plan(self, expr: cst.BaseExpression, scope) -> Optional[InputFnPlan]:
        """The plan of a canned input_fn: est2tpu's takes the same arguments and params; its
        batch size (``batch_size``, the 3rd argument, 128 by default) moves to TPUEstimator,
        as the caller of a function returning it binds it (None when that cannot be read)."""
        call, factory_call = self.canned_call(expr, scope)
        if call is None:
            return None
        plan = InputFnPlan(None, [], [], None, canned=call, canned_via=factory_call)
        if any(arg.star for arg in (*call.args, *(factory_call.args if factory_call else ()))):
            return plan  # the batch size may be in *args or **kwargs
        if find_arg(call, "batch_size", 2) is None:
            plan.batch = cst.Integer("128")
        else:
            plan.batch = plan.canned_argument(self, "batch_size", 2)
        return plan

    def _plan(self, expr: cst.BaseExpression, scope, depth: int = 0) -> Optional[InputFnPlan]:
        if depth > 4:
            return None
        index = self._index_of(scope)
        if index is not self:
            return index._plan(expr, scope, depth)
        bound = self.bound_at(expr, scope)
        if bound is not None and not isinstance(bound, cst.FunctionDef):
            return self._plan(bound, scope, depth + 1)
        if isinstance(expr, cst.Name) and bound is None and self.function_named(expr.value, scope) is None:
            value = self.lookup(expr.value, scope)
            if value is not None:
                return self._plan(value, scope, depth + 1)
            # else: an imported name, resolved below
        if isinstance(expr, cst.Lambda):
            return self._plan_lambda(expr, scope)
        factory_call = expr if isinstance(expr, cst.Call) else None
        if factory_call is not None:
            factory, fn = self._resolve_call(factory_call, scope)
            inner = returned_call(factory) if fn is None and isinstance(factory, cst.FunctionDef) else None
            if inner is not None:  # def get_train(): return read_dataset(..., batch_size=512)
                plan = self._index_of(factory)._plan(inner, factory, depth + 1)
                if plan is not None and isinstance(plan.batch, cst.Name):  # def get_train(size): ...(..., size)
                    plan.batch = _at_call(plan.batch, factory, factory_call)
                return plan
        else:
            factory, fn = None, self.resolve_function(expr, scope)
        if isinstance(fn, cst.Lambda):
            return self._plan_lambda(fn, scope)
        if not isinstance(fn, cst.FunctionDef):
            return None
        plan = self._index_of(fn)._plan_def(fn, factory_call, factory)
        if factory_call is not None and factory is None:
            plan.partial = factory_call
        return plan

    def _plan_def(self, fn: cst.FunctionDef, factory_call, factory) -> InputFnPlan:
        """A def that will be the input_fn itself (directly or returned by a factory)."""
        calls = list(batch_calls(fn))
        forwarded = returned_call(fn)
        if not calls and forwarded is not None:  # def train_input_fn(): return input_fn(...)
            plan = self._plan_forwarding(fn, forwarded, self.parents.get(fn))
            if plan is not None:
                return plan
        plan = InputFnPlan(fn, [], calls, None)
        if not calls:
            plan.unfollowed = self._batching_call(fn)
        for size in batch_sizes(calls):
            if is_batch_size_param(size) or _read_from_params(size, fn):
                plan.from_params = True
                continue
            plan.to_batch_param.append(size)
            if plan.batch is None:
                plan.batch = self._bound_value(size, fn, factory_call, factory)
        return plan

    def _bound_value(self, size: cst.BaseExpression, fn: cst.FunctionDef, factory_call, factory):
        """What a batch-size expression inside ``fn`` evaluates to where the estimator is built."""
        if not isinstance(size, cst.Name):
            return size
        name = size.value
        # functools.partial(fn, a, b): a and b are fn's first arguments
        bound_by_partial = factory_call.with_changes(args=factory_call.args[1:]) if factory is None and factory_call else None
        for owner, call in ((fn, bound_by_partial), (factory, factory_call)):
            if owner is None:
                continue
            if name in param_names(owner):
                if call is not None:
                    bound = bound_argument(call, owner, name)
                    if bound is not None:
                        return bound
                default = param_default(owner, name)
                return default
            if self._index_of(owner)._c.assigned.get((owner, name)) is not None:
                return None  # computed inside the input_fn: not known outside
        return size

    def _plan_lambda(self, lam: cst.Lambda, scope) -> Optional[InputFnPlan]:
        """``lambda: f(x, BATCH)``, ``lambda: f(x).repeat()``, ``lambda: ds.batch(BATCH)``."""
        if not isinstance(lam.body, cst.Call):
            return None
        own = _BatchCalls()
        own.walk(lam.body)
        if own.calls:
            sizes = [size for size in batch_sizes(own.calls) if not is_batch_size_param(size)]
            plan = InputFnPlan(lam, sizes, own.calls, sizes[0] if sizes else None)
            plan.from_params = any(is_batch_size_param(size) for size in batch_sizes(own.calls))
            return plan
        root = lam.body
        while isinstance(root.func, cst.Attribute) and isinstance(root.func.value, cst.Call):
            root = root.func.value  # f(x).repeat().prefetch(1) -> f(x)
        plan = self._plan_forwarding(lam, root, scope)
        if plan is None and not (self.imports.api(root.func) or "").startswith("tf."):
            return None  # a function from elsewhere (another module, an argument): not known here
        return plan or InputFnPlan(lam, [], [], None)

    def _plan_forwarding(self, outer: Function, body: cst.Call, scope) -> Optional[InputFnPlan]:
        """``lambda: f(x, y, BATCH)``: ``outer`` takes params and passes the batch size on to f
        (as a keyword when f's default is the batch size)."""
        fn = self.resolve_function(body.func, scope)
        if not isinstance(fn, cst.FunctionDef):
            return None
        calls = list(batch_calls(fn))
        if not calls:
            return self._plan_through(outer, body, fn)
        plan = InputFnPlan(outer, [], calls, None, forwards=body)
        for size in batch_sizes(calls):
            if is_batch_size_param(size):
                plan.from_params = True
                plan.pass_params = body
            elif isinstance(size, cst.Name) and size.value in param_names(fn):
                arg = bound_arg(body, fn, size.value)
                default = param_default(fn, size.value)
                if arg is None and default is not None:  # f(x) where def f(x, batch_size=32)
                    plan.batch_kwargs[body] = size.value
                    plan.batch = plan.batch or default
                elif arg is not None and not is_batch_size_param(arg.value):
                    plan.to_batch_param.append(arg.value)
                    value = arg.value
                    if isinstance(value, cst.Name) and value.value in param_names(outer):
                        value = param_default(outer, value.value)  # lambda bs=8: f(bs)
                    plan.batch = plan.batch or value
                elif arg is not None:
                    plan.from_params = True
            else:
                # the batch size is fixed inside f: f takes params too
                plan.to_batch_param.append(size)
                plan.batch = plan.batch or _at_call(size, fn, body)
                plan.pass_params = body
        return plan

    def _plan_through(self, outer: Function, body: cst.Call, fn: cst.FunctionDef) -> InputFnPlan:
        """``lambda: f(x)`` where f batches in a helper, ``def f(x): return helper(ds, BATCH)``
        whose batch size is a parameter bound at that call: f takes params and gives the
        helper params["batch_size"]; any other batching call in f is left ``unfollowed``."""
        plan = InputFnPlan(outer, [], [], None, forwards=body)
        helper = self._batching_call(fn)
        inner = self._plan_forwarding(fn, helper, fn) if helper is not None and helper is returned_call(fn) else None
        if inner is None or inner.pass_params is not None or inner.batch_kwargs or inner.unfollowed:
            plan.unfollowed = helper
            return plan
        plan.to_batch_param, plan.batch_calls, plan.from_params = inner.to_batch_param, inner.batch_calls, inner.from_params
        plan.batch = _at_call(inner.to_batch_param[0], fn, body) if inner.to_batch_param else None
        plan.pass_params = body
        return plan

    def _batching_call(self, fn: cst.FunctionDef) -> Optional[cst.Call]:
        """The first call in ``fn`` (not in nested defs) to a def of this module that batches."""
        for call in OwnCalls().walked(fn).calls:
            helper = self.resolve_function(call.func, fn)
            if isinstance(helper, cst.FunctionDef) and helper is not fn and next(batch_calls(helper), None):
                return call
        return None

    # -- queries ----------------------------------------------------------------

    def available_at(self, expr: cst.BaseExpression, scope: Optional[cst.FunctionDef]) -> bool:
        """Whether every name ``expr`` reads is bound in ``scope`` or an enclosing scope."""
        index = self._index_of(scope)
        if index is not self:
            return index.available_at(expr, scope)
        for name in names_in(expr):
            if name in self.imports.aliases or hasattr(builtins, name):
                continue
            if name in self.module_classes:  # class FLAGS: ...; FLAGS.batch_size = 200
                continue
            if not any(self._binds(owner, name) for owner in self.scopes(scope)):
                return False
        return True

    def _binds(self, owner: Optional[cst.FunctionDef], name: str) -> bool:
        """Whether the def ``owner`` (None: the module) binds ``name`` itself."""
        return (owner, name) in self._c.assigned or (owner, name) in self._c.unpacked \
            or any(self.parents.get(fn) is owner for fn in self.functions_by_name.get(name, ())) \
            or (owner is not None and name in param_names(owner))

    def same_at(self, expr: cst.BaseExpression, scope: Optional[cst.FunctionDef]) -> bool:
        """Whether each name ``expr`` reads, read in ``scope``, is the variable it is where ``expr``
        is: ``args.batch_size`` of ``def run(estimator, args)`` is not ``build(args)``'s ``args``.
        A name of a node made elsewhere (another module's, spelled here) is module-level here."""
        index = self._index_of(scope)
        if index is not self:
            return index.same_at(expr, scope)
        for name in NameNodes().walked(expr).found:
            where = self.enclosing_def(name) if name in self.parent_of else None
            here, there = self.binder(name.value, where), self.binder(name.value, scope)
            if here is not there and not self._same_self(name.value, here, there):
                return False
        return True

    def _same_self(self, name: str, *methods: Optional[cst.FunctionDef]) -> bool:
        """Whether ``name`` is the first parameter (``self``) of methods of one class."""
        classes = {self.parent_of.get(self.parent_of.get(fn)) if fn is not None and param_names(fn)[:1] == [name]
                   else None for fn in methods}
        return len(classes) == 1 and isinstance(classes.pop(), cst.ClassDef)

    def binder(self, name: str, scope: Optional[cst.FunctionDef]) -> Optional[cst.FunctionDef]:
        """The innermost def from ``scope`` out that binds ``name`` (None: the module's)."""
        for owner in self.scopes(scope):
            if owner is None or name in _declared(owner, cst.Global):
                return None
            if name not in _declared(owner, cst.Nonlocal) and self._binds(owner, name):
                return owner
        return None

    @functools.cached_property
    def module_classes(self) -> Set[str]:
        """The names of the classes the module defines at its top level."""
        return {stmt.name.value for stmt in self.module.body if isinstance(stmt, cst.ClassDef)}

    def input_fn_plans(self) -> Iterator[Tuple[InputFnUse, InputFnPlan]]:
        """The input_fns to rewrite: those of every use, in the program, of an estimator the
        program builds (their functions may be in any module)."""
        for index in self.program_indexes:
            for use in index.uses:
                if use.plan is not None and use.site is not None:
                    yield use, use.plan

    def callers(self, fn: Function) -> List[cst.Call]:
        """Every call, in the program, of a def or of a lambda bound to a name."""
        index = self._index_of(fn) if isinstance(fn, cst.FunctionDef) else self.index_of_node(fn)
        if isinstance(fn, cst.FunctionDef):
            return self.calls_of(fn, fn.name.value)
        bound = index.parent_of.get(fn)
        if isinstance(bound, cst.Assign) and len(bound.targets) == 1 and isinstance(bound.targets[0].target, cst.Name):
            return self.calls_of(fn, bound.targets[0].target.value)
        return []

    def calls_of(self, target: cst.CSTNode, name: str) -> List[cst.Call]:
        """Every call, in the program, of the function (or the value bound to a variable)
        ``target``, which is called ``name`` where it is defined: ``name(...)`` where the name
        resolves to it, also through an import."""
        found = []
        for index in self.program_indexes:
            for call, scope in index._c.calls_by_name.get(name, ()):
                if index.resolve_function(call.func, scope) is target or index.value_of(call.func, scope) is target:
                    found.append(call)
        return found

    def in_model_fn(self, scope: Optional[cst.FunctionDef]) -> bool:
        model_fns = self._index_of(scope).model_fns
        return any(owner in model_fns for owner in self.scopes(scope))

    def stays_estimator_spec(self, spec: cst.Call) -> bool:
        """Whether EstimatorSpec call ``spec`` stays one, which TPUEstimator runs on the CPU:
        its eval_metric_ops do not move (E2T215), so it takes no TPUEstimatorSpec argument."""
        return find_arg(spec, "eval_metric_ops", 4) is not None and spec not in self.metrics_moved

    def calls_to(self, *apis: str) -> List[cst.Call]:
        return [call for call, api, _ in self.api_calls if api in apis]

    # -- what an estimator runs -------------------------------------------------------

    def run_config_of(self, site: EstimatorSite, position: Optional[int] = 2) -> Optional[cst.Call]:
        """The ``RunConfig(...)`` call the site's ``config=`` (or argument at ``position``) is,
        followed through names, ``self.x``, ``.replace(...)`` and functions returning it;
        None when not known."""
        value, index, scope = self.argument(site, "config", position), self, site.scope
        for _ in range(4):
            given = self.factory_argument(site, value) if scope is site.scope else None
            if given is not None:  # def build_estimator(config): the one call's RunConfig
                call = self.factory_call(site)
                value, index = given, self.index_of_node(call)
                scope = index.enclosing_def(call)
            elif isinstance(value, (cst.Name, cst.Attribute)):  # config, self.config, exp.config
                value = index.value_of(value, scope)
            elif isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value == "replace":
                value = index._rebound_from(value.func.value, scope, value) or value.func.value
            elif isinstance(value, cst.Call) and isinstance(index.resolve_function(value.func, scope), cst.FunctionDef):
                value = returned_call(index.resolve_function(value.func, scope))
            else:
                break
        if isinstance(value, cst.Call) and self.index_of_node(value).imports.api(value.func) in RUN_CONFIG_APIS:
            return value
        return None

    def _rebound_from(self, name: cst.BaseExpression, scope, value: cst.BaseExpression) -> Optional[cst.BaseExpression]:
        """The value ``name`` held before the assignment of ``value`` (which reads it) bound it
        again in ``scope``: ``config = RunConfig(...)`` for ``config = config.replace(...)``."""
        history = [v for _, v in self._c.history.get((scope, name.value), ())] if isinstance(name, cst.Name) else []
        at = next((i for i, bound in enumerate(history) if bound is value), 0)
        return history[at - 1] if at else None

    def factory_call(self, site: EstimatorSite) -> Optional[cst.Call]:
        """The one call, in the program, of the function (not a method) that builds ``site``'s
        estimator, a factory (``def build_estimator(config, ...)``); None outside a function,
        or for a function called elsewhere too, or with ``*args``."""
        fn = site.scope
        if not isinstance(fn, cst.FunctionDef) or isinstance(self.parent_of.get(self.parent_of.get(fn)), cst.ClassDef):
            return None
        calls = self.callers(fn)
        return calls[0] if len(calls) == 1 and not any(arg.star for arg in calls[0].args) else None

    def factory_argument(self, site: EstimatorSite, value: Optional[cst.BaseExpression]) -> Optional[cst.BaseExpression]:
        """What the factory's one call passes for ``value``, a parameter of the factory the
        factory does not bind again (None: not such a parameter, or not passed)."""
        fn = site.scope
        if not isinstance(value, cst.Name) or not isinstance(fn, cst.FunctionDef) \
                or value.value not in param_names(fn) or (fn, value.value) in self._c.assigned:
            return None
        call = self.factory_call(site)
        positional = [p.name.value for p in (*fn.params.posonly_params, *fn.params.params)]
        position = positional.index(value.value) if value.value in positional else None
        arg = find_arg(call, value.value, position) if call is not None else None
        return arg.value if arg is not None else None

    def params_dict_of(self, site: EstimatorSite) -> Optional[cst.BaseExpression]:
        """The ``{...}`` or builtin ``dict(...)`` the site's ``params=`` is (directly or through
        one name)."""
        given = self.argument(site, "params", 3)
        value = self.lookup(given.value, site.scope) if isinstance(given, cst.Name) else given
        if isinstance(value, cst.Dict) or (isinstance(value, cst.Call) and self.dict_items(value, site.scope) is not None):
            return value
        return None

    def exports_of(self, site: EstimatorSite) -> List[cst.Call]:
        """The ``export_saved_model`` calls of this module on the site's estimator."""
        return [call for call, scope in self.exports
                if isinstance(call.func, cst.Attribute) and site in self.sites_for(call.func.value, scope)]

    def exported_only(self, site: EstimatorSite) -> bool:
        """Whether the program only exports the site's estimator (``est = model_to_estimator(
        model)`` to write a SavedModel): no train, evaluate or predict, and the name it is bound
        to is read nowhere but as the receiver of its export calls (not returned, stored or
        passed on), so no TPU runs it."""
        if site.uses or not self.owns(site.call):
            return False
        exports = self.exports_of(site)
        target = self._bound_name(site)
        if not exports or target is None:
            return False
        receivers = {id(call.func.value) for call in exports} | {id(target)}
        return all(id(read) in receivers for read in _Reads(target.value).walked(self.module).found)

    def kept_here(self, site: EstimatorSite) -> bool:
        """Whether no code but this module's own estimator calls can run the site's estimator:
        built at module level into one name that is read only as the receiver of estimator
        methods (not returned, stored or passed on), in a module that cannot be imported (a
        notebook)."""
        unit = self.program.unit_of(self) if self.program is not None else None
        if site.scope is not None or not self.owns(site.call) or (unit is not None and unit.source.names):
            return False
        target = self._bound_name(site)
        return target is not None and all(
            isinstance(self.parent_of.get(read), cst.AssignTarget) or self._only_run(read)
            for read in _Reads(target.value).walked(self.module).found)  # bound again, or run

    def _bound_name(self, site: EstimatorSite) -> Optional[cst.Name]:
        """The name the site's call is assigned to, alone (``est = Estimator(...)``), else None."""
        bound = self.parent_of.get(site.call)
        if isinstance(bound, cst.Assign) and len(bound.targets) == 1 and isinstance(bound.targets[0].target, cst.Name):
            return bound.targets[0].target
        return None

    @functools.cached_property
    def _run_receivers(self) -> Set[int]:
        """The ids of the receivers of this module's estimator uses and exports (``est`` of
        ``est.train(...)``); asked once every use is known."""
        calls = [use.call for use in self.uses] + [call for call, _ in self.exports]
        return {id(call.func.value) for call in calls if isinstance(call.func, cst.Attribute)}

    def _only_run(self, read: cst.Name, depth: int = 0) -> bool:
        """Whether this read of an estimator's name only runs it: the receiver of a train,
        evaluate, predict or export call, the estimator train_and_evaluate is given, or passed
        to a def of this module that only runs the parameter it binds (``print_rmse(model)``)."""
        if id(read) in self._run_receivers:
            return True
        arg = self.parent_of.get(read)
        call = self.parent_of.get(arg) if isinstance(arg, cst.Arg) else None
        if not isinstance(call, cst.Call):
            return False
        if self.imports.api(call.func) == TRAIN_AND_EVALUATE:
            return find_arg(call, "estimator", 0) is arg
        fn = self.resolve_function(call.func, self.enclosing_def(call))
        if depth or not isinstance(fn, cst.FunctionDef) or not self.owns(fn):
            return False
        name = next((p for p in param_names(fn) if bound_arg(call, fn, p) is arg), None)
        return name is not None and (fn, name) not in self._c.history and all(
            self._only_run(inner, depth + 1) for inner in _Reads(name).walked(fn.body).found)  # not bound again there

    def spec_helpers(self, fn: Function) -> List[cst.FunctionDef]:
        """The functions returning an EstimatorSpec that ``fn`` calls (directly, or through
        such a function), in any module of the program."""
        key = ("spec", fn)
        if key not in self._helpers:
            self._helpers[key] = self._find_spec_helpers(fn)
        return self._helpers[key]

    def _find_spec_helpers(self, fn: Function) -> List[cst.FunctionDef]:
        found: List[cst.FunctionDef] = []
        todo = [fn]
        while todo:
            caller = todo.pop()
            scope = caller if isinstance(caller, cst.FunctionDef) else self.enclosing_function(caller)
            for call in OwnCalls().walked(caller).calls:
                callee = self.resolve_function(call.func, scope)
                if isinstance(callee, cst.FunctionDef) and callee is not fn and callee not in found \
                        and callee in self._index_of(callee).spec_returners:
                    found.append(callee)
                    todo.append(callee)
        return found

    def metric_helpers(self, fn: Function) -> List[Tuple[cst.Call, int, Optional[cst.FunctionDef]]]:
        """``(call, i, helper)`` for each ``loss, metrics = helper(...)`` in model_fn ``fn`` whose
        ``i``-th target is a name that a spec of ``fn`` takes as eval_metric_ops; ``helper`` is
        the def of the program called, None when the call is not to one."""
        index = self._index_of(fn) if isinstance(fn, cst.FunctionDef) else self
        if index is not self:
            return index.metric_helpers(fn)
        if fn not in self._metric_helpers:
            self._metric_helpers[fn] = self._find_metric_helpers(fn)
        return self._metric_helpers[fn]

    def _find_metric_helpers(self, fn: Function) -> List[Tuple[cst.Call, int, Optional[cst.FunctionDef]]]:
        names: Dict[str, None] = {}
        for call in OwnCalls().walked(fn).calls:
            arg = find_arg(call, "eval_metric_ops", 4) if self.imports.api(call.func) in SPEC_APIS else None
            if arg is not None and isinstance(arg.value, cst.Name):
                names[arg.value.value] = None
        found = []
        for name in names if isinstance(fn, cst.FunctionDef) else ():
            for call, i in unpacked(fn, name):
                helper = self.resolve_function(call.func, fn)
                found.append((call, i, helper if isinstance(helper, cst.FunctionDef) else None))
        return found

    def metric_helpers_here(self) -> Dict[cst.FunctionDef, List[Tuple[cst.Call, int]]]:
        """The defs of this module that some model_fn of the program calls as a metric helper
        (see :meth:`metric_helpers`), each with those calls and the position unpacked."""
        found: Dict[cst.FunctionDef, List[Tuple[cst.Call, int]]] = {}
        for index in self.program_indexes:
            for fn in index.model_fns:
                for call, i, helper in index.metric_helpers(fn):
                    if helper is not None and self.owns(helper):
                        found.setdefault(helper, []).append((call, i))
        return found

    @property
    def program_indexes(self) -> List["EstimatorIndex"]:
        """The indexes of every module of the program (this one alone, outside a program)."""
        return self.program.indexes if self.program is not None else [self]

    def train_op_helpers(self, fn: Function) -> List[cst.FunctionDef]:
        """The functions of the program that ``fn`` (a model_fn) calls or names (``{"dense":
        dense_model}[kind](...)``), directly or through others, that build a train op themselves
        (:data:`TRAIN_OP_APIS`): their optimizer is not model_fn's to wrap."""
        key = ("train_op", fn)
        if key not in self._helpers:
            self._helpers[key] = self._find_train_op_helpers(fn)
        return self._helpers[key]

    def _find_train_op_helpers(self, fn: Function) -> List[cst.FunctionDef]:
        found: List[cst.FunctionDef] = []
        if not any(index.train_op_builders() for index in self.program_indexes):
            return found  # no function of the program builds one: no call graph to follow
        seen, todo = {fn}, [fn]
        while todo and len(seen) < 64:
            caller = todo.pop()
            scope = caller if isinstance(caller, cst.FunctionDef) else self.enclosing_def(caller)
            named = [cst.Name(name) for name in NameReads().walked(caller).reads]
            for expr in [*named, *(call.func for call in OwnCalls().walked(caller).calls if isinstance(call.func, cst.Attribute))]:
                callee = self.resolve_function(expr, scope)
                if isinstance(callee, cst.FunctionDef) and callee not in seen:
                    seen.add(callee)
                    todo.append(callee)
                    if callee in self._index_of(callee).train_op_builders():
                        found.append(callee)
        return found

    def train_op_builders(self) -> Set[cst.FunctionDef]:
        """The functions of this module that build a train op (:data:`TRAIN_OP_APIS`), in
        their own code or in a def nested in them."""
        if self._train_op_builders is None:
            self._train_op_builders = {scope for _, api, where in self.api_calls if api in TRAIN_OP_APIS
                                       for scope in self.scopes(where) if scope is not None}
        return self._train_op_builders

    def spec_returning(self, apis) -> List[cst.FunctionDef]:
        """The functions of this module that return a spec made by one of ``apis``."""
        return [fn for fn, returned in self.spec_returners.items() if returned & set(apis)]

    def enclosing_function(self, node: cst.CSTNode) -> Optional[Function]:
        """The innermost def or lambda of this module that holds ``node`` (None: module level)."""
        node = self.parent_of.get(node)
        while node is not None and not isinstance(node, (cst.FunctionDef, cst.Lambda)):
            node = self.parent_of.get(node)
        return node

    def enclosing_def(self, node: cst.CSTNode) -> Optional[cst.FunctionDef]:
        """The innermost def of this module that holds ``node`` (a lambda's scope is the def around it)."""
        fn = self.enclosing_function(node)
        while isinstance(fn, cst.Lambda):
            fn = self.enclosing_function(fn)
        return fn

    def index_of_node(self, node: cst.CSTNode) -> "EstimatorIndex":
        if self.owns(node) or self.program is None:
            return self
        unit = self.program.owner(node)
        return unit.index if unit is not None else self



def self_attribute(node: cst.BaseExpression) -> Optional[str]:
    """``"self.x"`` for the expression ``self.x``, else None."""
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == "self":
        return f"self.{node.attr.value}"
    return None


def _read_from_params(size: cst.BaseExpression, fn: cst.FunctionDef) -> bool:
    """Whether ``size`` is a local of ``fn`` bound once, to ``params["batch_size"]``
    (``batch_size = params["batch_size"]``: an input_fn written for TPUEstimator already)."""
    if not isinstance(size, cst.Name) or size.value in param_names(fn):
        return False
    values = local_bindings(fn).get(size.value, [])
    return len(values) == 1 and values[0] is not None and is_batch_size_param(values[0])


def returned_call(fn: cst.FunctionDef) -> Optional[cst.Call]:
    """``f(...)`` when the body of ``fn`` ends with ``return f(...)``."""
    last = fn.body.body[-1] if isinstance(fn.body, cst.IndentedBlock) and fn.body.body else None
    if isinstance(last, cst.SimpleStatementLine) and isinstance(last.body[-1], cst.Return):
        value = last.body[-1].value
        return value if isinstance(value, cst.Call) else None
    return None


def returned_function(factory: cst.FunctionDef, index: EstimatorIndex) -> Optional[Function]:
    """The nested def or lambda a factory returns."""
    for stmt in factory.body.body:
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.Return) and small.value is not None:
                    value = small.value
                    if isinstance(value, cst.Lambda):
                        return value
                    if isinstance(value, cst.Name):
                        return index.function_named(value.value, factory)
    return None



class _Touched(Visitor):
    """Names subscripted (``name[...]``) or with an attribute read (``name.update``)."""

    def __init__(self) -> None:
        self.names: Set[str] = set()

    def visit_Subscript(self, node: cst.Subscript) -> None:
        if isinstance(node.value, cst.Name):
            self.names.add(node.value.value)

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if isinstance(node.value, cst.Name):
            self.names.add(node.value.value)


def _distinct(sites: List[EstimatorSite]) -> List[EstimatorSite]:
    """``sites`` in order, each once (sites compare by identity)."""
    return [site for i, site in enumerate(sites) if all(site is not s for s in sites[:i])]


@functools.lru_cache(maxsize=64)
def _declared(fn: cst.FunctionDef, kind: type) -> FrozenSet[str]:
    """The names ``fn``'s own statements declare ``global`` (or ``nonlocal``)."""
    return frozenset(alias.name.value for line in simple_statements(fn.body) for small in line.body
                     if isinstance(small, kind) for alias in small.names)


class NameNodes(ValueNames):
    """The ``Name`` nodes where a name is a value."""

    def __init__(self) -> None:
        self.found: List[cst.Name] = []

    def visit_Name(self, node: cst.Name) -> None:
        self.found.append(node)


class _Reads(ValueNames):
    """The ``Name`` nodes of a name, where it is a value (bound or read)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.found: List[cst.Name] = []

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == self.name:
            self.found.append(node)


class OwnCalls(Visitor):
    """The calls and return statements in a function, not in the defs nested in it."""

    def __init__(self) -> None:
        self.calls: List[cst.Call] = []
        self.returns: List[cst.Return] = []
        self.depth = 0

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self.depth += 1
        return self.depth == 1

    def leave_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.depth -= 1

    def visit_Call(self, node: cst.Call) -> None:
        self.calls.append(node)

    def visit_Return(self, node: cst.Return) -> None:
        self.returns.append(node)


class _BatchCalls(OwnCalls):
    """The batching calls in a function, in the order they run (see :func:`batch_calls`)."""

    def visit_Call(self, node: cst.Call) -> None:
        pass  # collected on leaving

    def visit_Lambda(self, node: cst.Lambda) -> bool:
        return False  # flat_map(lambda w: w.batch(n)): a window's batch, not the pipeline's

    def leave_Call(self, node: cst.Call) -> None:  # on leaving: in the order they run
        if batching(node):
            self.calls.append(node)
        elif isinstance(node.func, cst.Attribute) and node.func.attr.value == "unbatch":
            self.calls.clear()  # batches undone before the pipeline's own


def batch_calls(fn: cst.FunctionDef) -> Iterator[cst.Call]:
    """The pipeline's :func:`batching` calls in a function body: not
    in nested defs or lambdas, nor before an ``.unbatch()``."""
    visitor = _BatchCalls()
    visitor.walk(fn)
    return iter(visitor.calls)


def _at_call(expr: cst.BaseExpression, fn: Function, call: cst.Call) -> Optional[cst.BaseExpression]:
    """``expr``, read inside ``fn``, as ``call`` sees it: ``fn``'s parameters (but a method's
    self) replaced by the arguments ``call`` binds to them, or their defaults (None when one
    has neither)."""
    mapping = {}
    names = param_names(fn)
    if isinstance(fn, cst.FunctionDef) and names[:1] in (["self"], ["cls"]):
        names = names[1:]  # self.batch_size: the same self where the method is called
    for name in set(names_in(expr)) & set(names):
        value = bound_argument(call, fn, name) or param_default(fn, name)
        if value is None:
            return None
        mapping[name] = value
    return renamed(expr, mapping)


def renamed(expr: cst.BaseExpression, mapping: Dict[str, cst.BaseExpression]) -> cst.BaseExpression:
    """``expr`` with the names it reads (not attribute names or keywords) in ``mapping`` replaced."""
    return expr.visit(_Rename(mapping)) if mapping else expr


class _Rename(cst.CSTTransformer):
    """Replaces the names read (not attribute names or keywords) by expressions."""

    def __init__(self, mapping: Dict[str, cst.BaseExpression]) -> None:
        super().__init__()
        self.mapping = mapping

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.BaseExpression:
        return self.mapping.get(original_node.value, updated_node)

    def leave_Attribute(self, original_node: cst.Attribute, updated_node: cst.Attribute) -> cst.Attribute:
        return updated_node.with_changes(attr=original_node.attr)

    def leave_Arg(self, original_node: cst.Arg, updated_node: cst.Arg) -> cst.Arg:
        return updated_node.with_changes(keyword=original_node.keyword)


def batch_sizes(calls) -> Iterator[cst.BaseExpression]:
    """The batch-size argument of each batching call that has one."""
    for call in calls:
        arg = find_arg(call, "batch_size", BATCHING[batching(call)][0])
        if arg is not None:
            yield arg.value


def bound_arg(call: cst.Call, fn: Function, name: str) -> Optional[cst.Arg]:
    names = param_names(fn)
    position = names.index(name) if name in names else None
    if isinstance(fn, cst.FunctionDef) and names and names[0] in ("self", "cls"):
        position = position - 1 if position else None
    return find_arg(call, name, position)


def bound_argument(call: cst.Call, fn: Function, name: str) -> Optional[cst.BaseExpression]:
    arg = bound_arg(call, fn, name)
    return arg.value if arg is not None else None


def param_default(fn: Function, name: str) -> Optional[cst.BaseExpression]:
    for param in (*fn.params.params, *fn.params.kwonly_params):
        if param.name.value == name:
            return param.default
    return None
