"""eval_metric_ops -> eval_metrics=(metric_fn, tensors).

    metrics = {"acc": tf.compat.v1.metrics.accuracy(labels, predicted),
               "loss": tf.compat.v1.metrics.mean(loss)}
    return tf.estimator.EstimatorSpec(mode, loss=loss, eval_metric_ops=metrics)
    # becomes
    def metric_fn(labels, predicted, loss):
        metrics = {"acc": tf.compat.v1.metrics.accuracy(labels, predicted),
                   "loss": tf.compat.v1.metrics.mean(loss)}
        return metrics

    return tf.estimator.EstimatorSpec(
        mode, loss=loss, eval_metrics=(metric_fn, [labels, predicted, tf.reshape(loss, [1])]))

On a TPU the metrics run on the host, from tensors sent out of the TPU.  The metric
expressions move into a generated ``metric_fn`` whose parameters are exactly the
tensors they read; Python values (literals, ``params``) stay bound by closure.  The
dict may be inline, in a variable, or built over several statements (``m = {}``,
``m[k] = …``), and metric results computed earlier (``acc = tf.metrics.accuracy(…)``)
come along (copied when something else still reads them).  A scalar sent to the host
(the loss, a ``reduce_*`` result) is reshaped to rank 1: TPUs only outfeed tensors that
keep a batch dimension.  Runs before :mod:`codemods.estimator_spec`.
"""

from __future__ import annotations

import collections
import dataclasses
from typing import Counter, Dict, List, Optional, Set

import libcst as cst

from codemods.base import MigrationCodemod, Rule
from codemods.estimators import SPEC_APIS
from codemods.estimator_spec import ESTIMATOR_SPEC_FIELDS
from codemods.syntax import find_arg, keywordize, param_names, rename_kwarg
from codemods.walk import Visitor

EVAL_METRICS = Rule(
    "E2T106",
    "eval_metric_ops becomes eval_metrics=(metric_fn, tensors)",
    "TPUEstimatorSpec takes eval_metrics: a metric_fn and the tensors it reads, sent from the "
    "TPU to the host. Every tensor keeps the batch dimension (rank >= 1); metric_fn returns "
    "(value, update_op) pairs.",
    before="return tf.estimator.EstimatorSpec(mode, loss=loss, eval_metric_ops={'acc': tf.compat.v1.metrics.accuracy(labels, pred)})",
    after="def metric_fn(labels, pred):\n    return {'acc': tf.compat.v1.metrics.accuracy(labels, pred)}\n\n"
          "return tf.compat.v1.estimator.tpu.TPUEstimatorSpec(mode, loss=loss, eval_metrics=(metric_fn, [labels, pred]))",
)
METRICS_NOT_REWRITTEN = Rule(
    "E2T215",
    "eval_metric_ops could not be rewritten",
    "The metric dict is built in a way est2tpu cannot follow (in a loop or branch, or outside "
    "model_fn). Write a metric_fn taking the tensors it needs and pass "
    "eval_metrics=(metric_fn, [tensors]).",
    blocking=True,
)
KERAS_METRIC = Rule(
    "E2T220",
    "Keras Metric object in eval metrics",
    "On a TPU, metric_fn results are split as (value, update_op); a Keras Metric object passes "
    "on the CPU but fails on the TPU. Use tf.compat.v1.metrics.* instead.",
    before="'auc': tf.keras.metrics.AUC()",
    after="'auc': tf.compat.v1.metrics.auc(labels, probabilities)",
    blocking=True,
)

SCALAR_PREFIXES = ("tf.losses.", "tf.reduce_", "tf.math.reduce_", "tf.nn.l2_loss", "tf.add_n", "tf.nn.scale_regularization_loss")
CLOSURE_NAMES = {"params", "mode", "config", "self"}


@dataclasses.dataclass
class _Plan:
    fn: cst.FunctionDef
    anchor: cst.SimpleStatementLine  # the statement holding the spec call
    call: cst.Call
    value: cst.BaseExpression
    body: List[cst.SimpleStatementLine]  # statements that move (or are copied) into metric_fn
    moved: Set[cst.SimpleStatementLine]
    bindings: Dict[str, List[Optional[cst.BaseExpression]]]  # of fn, see _local_bindings
    name: str = "metric_fn"


class _Reads(Visitor):
    """Names read and names bound by a piece of code (comprehension/lambda scopes aware enough)."""

    def __init__(self) -> None:
        self._reads: Dict[str, None] = {}  # ordered, without repeats
        self.bound: Set[str] = set()

    @property
    def reads(self) -> List[str]:
        return list(self._reads)

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        self.walk(node.value)
        return False

    def visit_Name(self, node: cst.Name) -> None:
        self._reads[node.value] = None

    def visit_AssignTarget(self, node: cst.AssignTarget) -> bool:
        if isinstance(node.target, cst.Name):
            self.bound.add(node.target.value)
            return False
        return True

    def visit_CompFor(self, node: cst.CompFor) -> None:
        for name in _names_in(node.target):
            self.bound.add(name)

    def visit_Param(self, node: cst.Param) -> bool:
        self.bound.add(node.name.value)
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        self.walk(node.value)
        return False


def _names_in(node: cst.CSTNode) -> List[str]:
    reads = _Reads()
    reads.walk(node)
    return reads.reads


def _single(stmt) -> Optional[cst.BaseSmallStatement]:
    if isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1:
        return stmt.body[0]
    return None


def _assigned_name(small) -> Optional[str]:
    if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
        return small.targets[0].target.value
    return None


def _mutated_name(small) -> Optional[str]:
    """``m`` in ``m[k] = v`` or ``m.update(...)``."""
    if isinstance(small, cst.Assign) and len(small.targets) == 1:
        target = small.targets[0].target
        if isinstance(target, cst.Subscript) and isinstance(target.value, cst.Name):
            return target.value.value
    if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
        func = small.value.func
        if isinstance(func, cst.Attribute) and func.attr.value in ("update", "setdefault") and isinstance(func.value, cst.Name):
            return func.value.value
    return None


class EvalMetricOpsToEvalMetrics(MigrationCodemod):
    """Move eval_metric_ops into a metric_fn sent as eval_metrics."""

    DESCRIPTION = __doc__.splitlines()[0]
    RULES = [EVAL_METRICS, METRICS_NOT_REWRITTEN, KERAS_METRIC]
    TRIGGERS = ("eval_metric_ops",)

    def visit_Module(self, node: cst.Module) -> None:
        self.plans: Dict[cst.SimpleStatementLine, _Plan] = {}
        self.moved: Set[cst.SimpleStatementLine] = set()
        self.calls: Dict[cst.Call, _Plan] = {}
        for fn in self.index.model_fns:
            self._plan_function(fn)

    def rewrites(self) -> bool:
        return bool(self.plans)

    def targets(self):
        return [*self.plans, *self.moved, *self.calls]

    # -- planning ---------------------------------------------------------------

    def _plan_function(self, fn: cst.FunctionDef) -> None:
        for path, stmt in _statements(fn.body, []):
            small = _single(stmt)
            call = _spec_call(small, self) if small is not None else None
            if call is None:
                continue
            arg = find_arg(call, "eval_metric_ops", 4)
            if arg is None or (isinstance(arg.value, cst.Name) and arg.value.value == "None"):
                continue
            plan = self._plan_call(fn, path, stmt, call, arg.value)
            if plan is None:
                self.report(arg, METRICS_NOT_REWRITTEN.code, METRICS_NOT_REWRITTEN.title,
                            "write metric_fn and pass eval_metrics=(metric_fn, [tensors])")
                continue
            self.plans[stmt] = plan
            self.calls[call] = plan
            self.moved |= plan.moved

    def _plan_call(self, fn, path, stmt, call, value) -> Optional[_Plan]:
        before = [s for block in path for s in block]  # statements that run before `stmt`
        body: List[cst.SimpleStatementLine] = []
        if isinstance(value, cst.Name):
            name = value.value
            for s in before:
                small = _single(s)
                if small is not None and name in (_assigned_name(small), _mutated_name(small)):
                    body.append(s)
                elif name in _assigned_in_compound(s):
                    return None
            if not body or _assigned_name(_single(body[0])) != name:
                return None
        metric_results = self._metric_results(before)
        needed = set(_names_in(value)) | {n for s in body for n in _names_in(s)}
        pulled = [s for s in before if s in metric_results and _assigned_name(_single(s)) in needed]
        body = [s for s in before if s in body or s in pulled]
        moved = _not_used_elsewhere(fn, body, value)
        if self._has_keras_metric(value, body):
            return None
        bindings = _local_bindings(fn)
        return _Plan(fn, stmt, call, value, body, moved, bindings, _fresh_name(fn, bindings, "metric_fn"))

    def _metric_results(self, statements) -> Set[cst.SimpleStatementLine]:
        out = set()
        for s in statements:
            small = _single(s)
            if isinstance(small, cst.Assign) and isinstance(small.value, cst.Call):
                api = self.api(small.value.func) or ""
                if api.startswith("tf.metrics."):
                    out.add(s)
        return out

    def _has_keras_metric(self, value, body) -> bool:
        calls = _Calls()
        calls.walk(value)
        for s in body:
            calls.walk(s)
        found = [node for node in calls.calls if (self.api(node.func) or "").startswith("tf.keras.metrics.")]
        for node in found:
            self.report(node, KERAS_METRIC.code, KERAS_METRIC.title, "use tf.compat.v1.metrics.*")
        return bool(found)

    # -- tensors ----------------------------------------------------------------

    def _tensor_params(self, plan: _Plan) -> List[str]:
        reads = _Reads()
        for s in plan.body:
            reads.walk(s)
        if not (isinstance(plan.value, cst.Name) and plan.body):
            reads.walk(plan.value)
        local = plan.bindings
        names = []
        for name in reads.reads:
            if name in reads.bound or name in CLOSURE_NAMES or name not in local:
                continue
            if all(_is_python_value(v) for v in local[name]):
                continue
            names.append(name)
        return names

    def _is_scalar(self, plan: _Plan, name: str) -> bool:
        loss = find_arg(plan.call, "loss", 2)
        if loss is not None and isinstance(loss.value, cst.Name) and loss.value.value == name:
            return True
        for value in plan.bindings.get(name, []):
            if isinstance(value, cst.Call):
                api = self.api(value.func) or ""
                if api.startswith(SCALAR_PREFIXES) and (
                    not api.startswith(("tf.reduce_", "tf.math.reduce_"))
                    or find_arg(value, "axis", 1) is None
                ):
                    return True
        return False

    # -- rewriting --------------------------------------------------------------

    def leave_SimpleStatementLine(self, original_node, updated_node):
        plan = self.plans.get(original_node)
        if plan is not None:
            return cst.FlattenSentinel([self._metric_fn(plan), updated_node])
        if original_node in self.moved:
            return cst.RemoveFromParent()
        return updated_node

    def _metric_fn(self, plan: _Plan) -> cst.FunctionDef:
        params = self._tensor_params(plan)
        body = [s.with_changes(leading_lines=s.leading_lines if i else ()) for i, s in enumerate(plan.body)]
        body.append(cst.SimpleStatementLine([cst.Return(plan.value)]))
        return cst.FunctionDef(
            name=cst.Name(plan.name),
            params=cst.Parameters([cst.Param(cst.Name(p)) for p in params]),
            body=cst.IndentedBlock(body),
            leading_lines=plan.anchor.leading_lines,
        )

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call):
        plan = self.calls.get(original_node)
        if plan is None:
            return updated_node
        tensors = []
        for name in self._tensor_params(plan):
            tensor: cst.BaseExpression = cst.Name(name)
            if self._is_scalar(plan, name):
                reshape = self.spelled("tensorflow.reshape")
                tensor = cst.Call(reshape, [cst.Arg(tensor), cst.Arg(cst.List([cst.Element(cst.Integer("1"))]))])
            tensors.append(cst.Element(tensor))
        value = cst.Tuple([cst.Element(cst.Name(plan.name)), cst.Element(cst.List(tensors))])
        updated_node = keywordize(updated_node, ESTIMATOR_SPEC_FIELDS, start=4)
        return rename_kwarg(updated_node, "eval_metric_ops", "eval_metrics", value)


def _spec_call(small, codemod) -> Optional[cst.Call]:
    value = getattr(small, "value", None)
    if isinstance(value, cst.Call) and codemod.api(value.func) in SPEC_APIS:
        return value
    return None


def _statements(block: cst.BaseSuite, path):
    """(statements before it on the way down, statement) for every statement of a function body."""
    if not isinstance(block, cst.IndentedBlock):
        return
    for i, stmt in enumerate(block.body):
        here = path + [block.body[:i]]
        yield here, stmt
        if isinstance(stmt, cst.BaseCompoundStatement) and not isinstance(stmt, (cst.FunctionDef, cst.ClassDef)):
            from codemods.names import _blocks

            for inner in _blocks(stmt):
                yield from _statements(inner, here)


def _all_statements(block):
    for _, stmt in _statements(block, []):
        if isinstance(stmt, cst.SimpleStatementLine):
            yield stmt
        elif isinstance(stmt, cst.BaseCompoundStatement):
            test = getattr(stmt, "test", None) or getattr(stmt, "iter", None)
            if test is not None:
                yield cst.SimpleStatementLine([cst.Expr(test)])


def _assigned_in_compound(stmt) -> Set[str]:
    if not isinstance(stmt, cst.BaseCompoundStatement):
        return set()
    out = set()
    for s in _all_statements(stmt.body) if isinstance(stmt.body, cst.IndentedBlock) else ():
        small = _single(s)
        for name in (_assigned_name(small), _mutated_name(small)):
            if name:
                out.add(name)
    return out


def _not_used_elsewhere(fn, body, value) -> Set[cst.SimpleStatementLine]:
    """The statements of ``body`` whose name occurs in ``fn`` only there and in the metric value."""
    inside = _count_reads(value, *body)
    everywhere = _count_reads(fn.body)
    names = {s: _assigned_name(_single(s)) or _mutated_name(_single(s)) for s in body}
    return {s for s in body if everywhere[names[s]] <= inside[names[s]]}


def _count_reads(*nodes) -> Counter:
    counter = _NameCount()
    for node in nodes:
        counter.walk(node)
    return counter.counts


class _NameCount(Visitor):
    """How often each name occurs, not counting attribute names and keywords."""

    def __init__(self) -> None:
        self.counts: Counter = collections.Counter()

    def visit_Name(self, node: cst.Name) -> None:
        self.counts[node.value] += 1

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        self.walk(node.value)
        return False

    def visit_Arg(self, node: cst.Arg) -> bool:
        self.walk(node.value)
        return False


class _Calls(Visitor):
    def __init__(self) -> None:
        self.calls: List[cst.Call] = []

    def visit_Call(self, node: cst.Call) -> None:
        self.calls.append(node)


def _local_bindings(fn: cst.FunctionDef) -> Dict[str, List[Optional[cst.BaseExpression]]]:
    """Every value assigned to each local name (None for parameters and other bindings)."""
    out: Dict[str, List] = {name: [None] for name in param_names(fn)}
    for s in _all_statements(fn.body):
        small = _single(s)
        if isinstance(small, cst.Assign):
            for target in small.targets:
                for name in _names_in(target.target) if not isinstance(target.target, cst.Subscript) else ():
                    out.setdefault(name, []).append(small.value if isinstance(target.target, cst.Name) else None)
        elif isinstance(small, (cst.AugAssign, cst.AnnAssign)) and isinstance(small.target, cst.Name):
            out.setdefault(small.target.value, []).append(None)
    return out


def _is_python_value(value) -> bool:
    """Literals, params[...] and arithmetic on them: values that stay bound by closure."""
    if value is None:
        return False
    if isinstance(value, (cst.Integer, cst.Float, cst.SimpleString, cst.ConcatenatedString)):
        return True
    if isinstance(value, cst.Name):
        return value.value in ("True", "False", "None")
    if isinstance(value, (cst.List, cst.Tuple)):
        return all(_is_python_value(e.value) for e in value.elements)
    if isinstance(value, cst.Subscript):
        return isinstance(value.value, cst.Name) and value.value.value == "params"
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute):
        return isinstance(value.func.value, cst.Name) and value.func.value.value == "params"
    if isinstance(value, cst.BinaryOperation):
        return _is_python_value(value.left) and _is_python_value(value.right)
    if isinstance(value, cst.UnaryOperation):
        return _is_python_value(value.expression)
    return False


def _fresh_name(fn: cst.FunctionDef, bindings, base: str) -> str:
    taken = set(bindings) | {n for n in _names_in(fn.body)}
    name, i = base, 1
    while name in taken:
        i += 1
        name = f"{base}_{i}"
    return name
