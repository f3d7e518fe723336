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
(the loss, a ``reduce_*`` result, a ``tf.compat.v1.losses`` loss unless its reduction is
``NONE``, a learning-rate schedule, the global step, a cast of one) is reshaped to rank 1: TPUs only outfeed tensors that keep a batch dimension; a
loss whose reduction cannot be told is sent as it is (E2T232).  A dict cannot be sent
either: a metric reading ``features["weight"]`` (or ``labels["click"]``) gets a parameter ``weight`` and
``features["weight"]`` is sent; any other read of either, where it may be a dict (see
``KEYED``), is reported (E2T222) and left alone.  Runs before
:mod:`codemods.estimator_spec`.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
from typing import Callable, Counter, Dict, FrozenSet, List, Optional, Set, Tuple

import libcst as cst

from .base import MigrationCodemod, Rule
from .estimators import SPEC_APIS
from .estimator_spec import ESTIMATOR_SPEC_FIELDS
from .names import (
    NameReads, assigned_names, fresh_name, identifier, is_schedule, names_in, simple_statements, statements,
)
from .syntax import (
    find_arg, fmt_left_off, fmt_switch, is_name, keywordize, param_names, rename_kwarg, split_comments,
)
from .walk import Visitor

EVAL_METRICS = Rule(
    "E2T106",
    "eval_metric_ops becomes eval_metrics=(metric_fn, tensors)",
    "TPUEstimatorSpec takes eval_metrics: a metric_fn and the tensors it reads, sent from the "
    "TPU to the host. Every tensor keeps the batch dimension (rank >= 1); features['name'] (or "
    "labels['name']) read by a metric is sent as a tensor of its own; metric_fn returns "
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
    before="metrics = {}\nfor k in (1, 5):\n"
           "    metrics[f\"top_{k}\"] = tf.compat.v1.metrics.mean(tf.nn.in_top_k(logits, labels, k))",
    after="def metric_fn(logits, labels):\n"
          "    return {f\"top_{k}\": tf.compat.v1.metrics.mean(tf.nn.in_top_k(logits, labels, k)) for k in (1, 5)}\n"
          "\n"
          "spec = tf.compat.v1.estimator.tpu.TPUEstimatorSpec(mode, loss=loss, eval_metrics=(metric_fn, [logits, labels]))",
    blocking=True,
    obstacle=True,
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
DICT_READ = Rule(
    "E2T222",
    "metric reads a dict of tensors other than by a constant key",
    "On a TPU, everything sent to metric_fn must be a tensor that keeps the batch dimension; "
    "a dict of features or labels cannot be sent. est2tpu sends features['name'] (a constant "
    "key) as a tensor of its own, but not `features` itself, features[key] with a computed key, "
    "or features.name; the same for labels that model_fn reads by string keys (multi-head), "
    "and for a dict model_fn builds itself (predictions = {...}). "
    "Read what a metric needs by constant keys, or write metric_fn by hand and send it the "
    "tensors it needs.",
    before="'weighted_acc': tf.compat.v1.metrics.accuracy(labels, pred, weights=features[WEIGHT])",
    after="'weighted_acc': tf.compat.v1.metrics.accuracy(labels, pred, weights=features['weight'])",
    blocking=True,
)

UNSURE_REDUCTION = Rule(
    "E2T232",
    "loss sent to metric_fn whose reduction est2tpu cannot tell",
    "A tf.compat.v1.losses loss is a scalar with a scalar reduction (the default, SUM, MEAN, "
    "SUM_OVER_BATCH_SIZE, SUM_BY_NONZERO_WEIGHTS) and one loss per element with Reduction.NONE. "
    "On a TPU a scalar sent to metric_fn must be reshaped to rank 1, and a per-element loss sent "
    "as it is. This loss's reduction is not spelled out, so it is sent as it is: if it is a "
    "scalar, send tf.reshape(loss, [1]).",
    before="per_ex = tf.compat.v1.losses.log_loss(labels, probs, reduction=params['reduction'])",
    after="per_ex = tf.compat.v1.losses.log_loss(labels, probs, reduction=tf.compat.v1.losses.Reduction.NONE)",
)

#: Calls that return a scalar tensor (and the learning-rate schedules, see names.is_schedule).
SCALAR_APIS = {"tf.nn.l2_loss", "tf.nn.scale_regularization_loss", "tf.losses.get_regularization_loss",
               "tf.losses.get_total_loss", "tf.losses.mean_pairwise_squared_error", "tf.train.get_global_step",
               "tf.train.get_or_create_global_step"}
#: Calls whose result has the shape of their first argument (named so) -> that argument's name.
SAME_SHAPE = {"tf.cast": "x", "tf.dtypes.cast": "x", "tf.to_float": "x", "tf.identity": "input"}
#: tf.compat.v1.losses functions -> the position of their ``reduction`` argument: the loss is
#: a scalar unless the reduction is Reduction.NONE.
LOSS_REDUCTION = {
    "absolute_difference": 5, "compute_weighted_loss": 4, "cosine_distance": 6, "hinge_loss": 5, "huber_loss": 6,
    "log_loss": 6, "mean_squared_error": 5, "sigmoid_cross_entropy": 6, "softmax_cross_entropy": 6,
    "sparse_softmax_cross_entropy": 5,
}
#: The scalar reductions, by Reduction attribute and by value.
SCALAR_REDUCTIONS = {"SUM", "MEAN", "SUM_OVER_BATCH_SIZE", "SUM_OVER_NONZERO_WEIGHTS", "SUM_BY_NONZERO_WEIGHTS",
                     "weighted_sum", "weighted_mean", "weighted_sum_over_batch_size", "weighted_sum_by_nonzero_weights"}
CLOSURE_NAMES = {"params", "mode", "config", "self"}
#: model_fn parameters that may hold a dict of tensors.  Indexed by a string anywhere in
#: model_fn, either is one; sliced (``labels[:, 0]``), it is a tensor; else ``features``
#: may be one (feature columns read it whole) and ``labels`` is taken for a tensor.
KEYED = ("features", "labels")
#: Calls that take tensors only: ``features`` passed to one is not a dict (a feature
#: column's input_layer, or a Keras model, may take a dict).
TENSOR_OPS = (
    "tf.layers.", "tf.compat.v1.layers.", "tf.nn.", "tf.math.", "tf.reduce_", "tf.reshape", "tf.cast",
    "tf.matmul", "tf.shape", "tf.squeeze", "tf.expand_dims", "tf.transpose", "tf.identity", "tf.to_float",
)


@dataclasses.dataclass
class _Plan:
    fn: cst.FunctionDef
    anchor: cst.SimpleStatementLine  # the statement holding the spec call
    call: cst.Call
    value: cst.BaseExpression
    body: List[cst.SimpleStatementLine]  # statements that move (or are copied) into metric_fn
    moved: Set[cst.SimpleStatementLine]
    bindings: Dict[str, List[Optional[cst.BaseExpression]]]  # of fn, see _local_bindings
    name: str
    keyed: Dict[str, cst.Subscript]  # metric_fn parameter -> the features["key"] (labels["key"]) sent to it
    fmt_on: Dict[cst.SimpleStatementLine, cst.EmptyLine] = dataclasses.field(default_factory=dict)  # see _take_fmt_on


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
    RULES = [EVAL_METRICS, METRICS_NOT_REWRITTEN, KERAS_METRIC, DICT_READ, UNSURE_REDUCTION]
    TRIGGERS = ("eval_metric_ops",)

    def visit_Module(self, node: cst.Module) -> None:
        self.plans: Dict[cst.SimpleStatementLine, _Plan] = {}
        self.moved: Set[cst.SimpleStatementLine] = set()
        self.calls: Dict[cst.Call, _Plan] = {}
        self.fmt_on: Dict[cst.BaseStatement, int] = {}  # statement -> its leading `# fmt: on` that moves
        for fn in self.index.model_fns:
            self._plan_function(fn)

    def rewrites(self) -> bool:
        return bool(self.plans)

    def targets(self):
        return [*self.plans, *self.moved, *self.calls, *self.fmt_on]

    # -- planning ---------------------------------------------------------------

    def _plan_function(self, fn: cst.FunctionDef) -> None:
        for path, stmt in statements(fn.body):
            for small in stmt.body if isinstance(stmt, cst.SimpleStatementLine) else ():
                call = _spec_call(small, self)
                arg = find_arg(call, "eval_metric_ops", 4) if call is not None else None
                if arg is not None and not is_name(arg.value, "None"):
                    self._plan_spec(fn, path, stmt, call, arg)

    def _plan_spec(self, fn, path, stmt, call, arg) -> None:
        """Plan the rewrite of one ``EstimatorSpec(eval_metric_ops=...)``, or report why not
        (the rewrite replaces the whole line: not one it shares with other statements)."""
        plan = self._plan_call(fn, path, stmt, call, arg.value) if len(stmt.body) == 1 else None
        if plan is None:
            self.report(arg, METRICS_NOT_REWRITTEN.code, METRICS_NOT_REWRITTEN.title,
                        "write metric_fn and pass eval_metrics=(metric_fn, [tensors])")
            return
        self.plans[stmt] = plan
        self.calls[call] = plan
        self.index.metrics_moved.add(call)
        self.moved |= plan.moved
        self._take_fmt_on(fn, plan)

    def _take_fmt_on(self, fn, plan: _Plan) -> None:
        """Moved statements that switch black's formatting off take along the ``# fmt: on``
        that the statement after them opens with, so that the pair stays together."""
        for path, stmt in statements(fn.body):
            run = list(itertools.takewhile(plan.moved.__contains__, reversed(path[-1])))  # last first
            if stmt in plan.moved or not run or not fmt_left_off([l for s in run[::-1] for l in s.leading_lines]):
                continue
            index = next((i for i, line in enumerate(stmt.leading_lines) if fmt_switch(line) is not None), None)
            if index is not None and fmt_switch(stmt.leading_lines[index]):
                self.fmt_on[stmt] = index
                plan.fmt_on[run[0]] = stmt.leading_lines[index]

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
        needed = set(names_in(value)) | {n for s in body for n in names_in(s)}
        pulled = [s for s in before if s in metric_results and _assigned_name(_single(s)) in needed]
        body = [s for s in before if s in body or s in pulled]
        moved = _not_used_elsewhere(fn, body, value)
        bindings = _local_bindings(fn)
        name = fresh_name(fn, "metric_fn")
        keyed = self._keyed_sent(fn, bindings, [*body, value], name)
        if self._has_keras_metric(value, body) or keyed is None:
            return None
        return _Plan(fn, stmt, call, value, body, moved, bindings, name, keyed)

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

    def _keyed_sent(self, fn, bindings, code, metric_fn) -> Optional[Dict[str, cst.Subscript]]:
        """metric_fn parameter -> ``features["key"]`` (``labels["key"]``, or a key of a dict
        literal model_fn binds), for each key the metric ``code`` reads.

        None (reported) when it reads one of them that may be a dict (see KEYED) otherwise.
        """
        sent: Dict[str, cst.Subscript] = {}
        blocked = False
        moved = assigned_names([node for node in code if isinstance(node, cst.BaseStatement)])  # metric_fn's own
        built = [name for name, values in bindings.items()
                 if name not in moved and all(isinstance(v, cst.Dict) for v in values)]
        for base in (*KEYED, *built):
            if base in KEYED and (base not in param_names(fn) or bindings[base] != [None]):  # not model_fn's
                continue
            reads = _KeyedReads(base)
            for node in code:
                reads.walk(node)
            evidence = _KeyedReads(base, self._takes_tensors).walked(fn.body) if base in KEYED else None
            if evidence is None or evidence.keys or (base == "features" and not evidence.as_tensor):  # a dict
                for node in reads.other + reads.sliced:
                    hint = (f"pass the entries the call needs, as {base}['name']" if node in reads.passed
                            else f"read it as {base}['name']")
                    self.report(node, DICT_READ.code, f"{DICT_READ.title}: {cst.Module([]).code_for_node(node)}",
                                f"{hint}, or write metric_fn by hand")
                blocked |= bool(reads.other or reads.sliced)
            for key, node in reads.keys.items():
                sent[fresh_name(fn, identifier(key), [metric_fn, *sent])] = node.with_changes(
                    lpar=(), rpar=())
        return None if blocked else sent

    def _takes_tensors(self, call: cst.Call) -> bool:
        return (self.api(call.func) or "").startswith(TENSOR_OPS)

    # -- tensors ----------------------------------------------------------------

    def _tensor_params(self, plan: _Plan) -> List[str]:
        reads = NameReads()
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
            names.extend([p for p, node in plan.keyed.items() if node.value.value == name] or [name])
        return names

    def _scalar(self, plan: _Plan, value: cst.BaseExpression, seen: FrozenSet[str] = frozenset()) -> bool:
        """Whether ``value``, in the model_fn of ``plan``, is known to be a scalar tensor: the
        spec's loss, or a name bound to a scalar (a loss whose reduction is not known is not,
        and is reported)."""
        if isinstance(value, cst.Name):
            loss = find_arg(plan.call, "loss", 2)
            if loss is not None and is_name(loss.value, value.value):
                return True
            return value.value not in seen and any(self._scalar(plan, v, seen | {value.value})
                                                   for v in plan.bindings.get(value.value, []) if v is not None)
        if not isinstance(value, cst.Call):
            return False
        api = self.api(value.func) or ""
        if api.startswith(("tf.reduce_", "tf.math.reduce_")):
            return find_arg(value, "axis", 1) is None
        if api in SAME_SHAPE:
            arg = find_arg(value, SAME_SHAPE[api], 0)
            return arg is not None and self._scalar(plan, arg.value, seen)
        if api == "tf.add_n":  # of scalars, or of the regularization losses
            inputs = find_arg(value, "inputs", 0)
            if inputs is not None and isinstance(inputs.value, cst.Call):
                return self.api(inputs.value.func) == "tf.losses.get_regularization_losses"
            return inputs is not None and isinstance(inputs.value, (cst.List, cst.Tuple)) and all(
                self._scalar(plan, e.value, seen) for e in inputs.value.elements)
        position = LOSS_REDUCTION.get(api[len("tf.losses."):]) if api.startswith("tf.losses.") else None
        reduction = find_arg(value, "reduction", position) if position is not None else None
        if reduction is None:
            return api in SCALAR_APIS or is_schedule(api) or position is not None
        if isinstance(reduction.value, cst.SimpleString):
            kind = str(reduction.value.evaluated_value)
        else:
            kind = (self.api(reduction.value) or "").partition("tf.losses.Reduction.")[2]
        if kind not in SCALAR_REDUCTIONS and kind not in ("NONE", "none"):
            self.report(reduction, UNSURE_REDUCTION.code, UNSURE_REDUCTION.title,
                        "if the loss is a scalar, send tf.reshape(loss, [1]) to metric_fn")
        return kind in SCALAR_REDUCTIONS

    # -- rewriting --------------------------------------------------------------

    def _give_fmt_on(self, original_node, updated_node):
        """``updated_node`` without the ``# fmt: on`` that moves into a metric_fn."""
        index = self.fmt_on.get(original_node)
        if index is None:
            return updated_node
        lines = updated_node.leading_lines
        return updated_node.with_changes(leading_lines=(*lines[:index], *lines[index + 1:]))

    leave_If = leave_For = leave_While = leave_With = leave_Try = leave_FunctionDef = _give_fmt_on

    def leave_SimpleStatementLine(self, original_node, updated_node):
        updated_node = self._give_fmt_on(original_node, updated_node)
        plan = self.plans.get(original_node)
        if plan is not None:
            blank, comments = split_comments(updated_node.leading_lines)  # the comments stay with it
            metric_fn = self._metric_fn(plan).with_changes(leading_lines=blank)
            return cst.FlattenSentinel([metric_fn, updated_node.with_changes(leading_lines=comments)])
        if original_node in self.moved:
            return cst.RemoveFromParent()
        return updated_node

    def _metric_fn(self, plan: _Plan) -> cst.FunctionDef:
        params = self._tensor_params(plan)
        body, fmt_on = [], ()
        for i, s in enumerate(plan.body):  # each with its comments; a region switched off is switched on again
            lines = s.leading_lines if i else split_comments(s.leading_lines)[1]
            body.append(s.with_changes(leading_lines=(*fmt_on, *lines)))
            fmt_on = (plan.fmt_on[s],) if s in plan.fmt_on else ()
        body.append(cst.SimpleStatementLine([cst.Return(plan.value)], leading_lines=fmt_on))
        if plan.keyed:
            rename = _KeyedParams({(node.value.value, _constant_key(node)): p for p, node in plan.keyed.items()})
            body = [s.visit(rename) for s in body]
        return cst.FunctionDef(
            name=cst.Name(plan.name),
            params=cst.Parameters([cst.Param(cst.Name(p)) for p in params]),
            body=cst.IndentedBlock(body),
        )

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call):
        plan = self.calls.get(original_node)
        if plan is None:
            return updated_node
        tensors = []
        for name in self._tensor_params(plan):
            tensor: cst.BaseExpression = plan.keyed.get(name) or cst.Name(name)
            if self._scalar(plan, cst.Name(name)):
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


def _assigned_in_compound(stmt) -> Set[str]:
    """Names that ``stmt`` assigns or mutates other than as a statement alone on its line:
    in the blocks of a compound statement, or on a line of several (``a = 1; m["k"] = v``)."""
    if isinstance(stmt, cst.SimpleStatementLine):
        lines = [stmt] if len(stmt.body) > 1 else []
    elif isinstance(stmt, cst.BaseCompoundStatement) and isinstance(stmt.body, cst.IndentedBlock):
        lines = simple_statements(stmt.body)
    else:
        lines = []
    return {name for line in lines for small in line.body
            for name in (_assigned_name(small), _mutated_name(small)) if name}


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


class _KeyedReads(Visitor):
    """Some code's reads of ``base``: by a constant string key, sliced as a tensor, other;
    and whether it is used as a tensor (sliced, in arithmetic, ``.shape``/``.dtype``, or
    passed to a call for which ``takes_tensors`` holds)."""

    def __init__(self, base: str, takes_tensors: Callable[[cst.Call], bool] = lambda call: False) -> None:
        self.base = base
        self.takes_tensors = takes_tensors
        self.keys: Dict[str, cst.Subscript] = {}  # constant key -> its first read
        self.sliced: List[cst.Subscript] = []  # base[:, 0], base[0], base[..., None]
        self.other: List[cst.BaseExpression] = []
        self.passed: Set[cst.Name] = set()  # of ``other``: the dict passed whole to a call
        self.as_tensor = False

    def visit_Subscript(self, node: cst.Subscript) -> bool:
        if not is_name(node.value, self.base):
            return True
        key = _constant_key(node)
        if key is not None:
            self.keys.setdefault(key, node)
        elif _tensor_index(node):
            self.sliced.append(node)
            self.as_tensor = True
        else:
            self.other.append(node)
        return False

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        if is_name(node.value, self.base):
            self.other.append(node)
            self.as_tensor |= node.attr.value in ("shape", "dtype", "get_shape")
        else:
            self.walk(node.value)
        return False

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        self.as_tensor |= is_name(node.left, self.base) or is_name(node.right, self.base)

    def visit_Call(self, node: cst.Call) -> None:
        if any(is_name(arg.value, self.base) for arg in node.args) and self.takes_tensors(node):
            self.as_tensor = True

    def visit_Arg(self, node: cst.Arg) -> bool:
        if is_name(node.value, self.base):
            self.passed.add(node.value)
        self.walk(node.value)
        return False

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == self.base:
            self.other.append(node)


class _KeyedParams(cst.CSTTransformer):
    """``features["key"]`` (``labels["key"]``) -> the metric_fn parameter it is sent as."""

    def __init__(self, params: Dict[Tuple[str, Optional[str]], str]) -> None:  # (base, key) -> parameter
        super().__init__()
        self.params = params

    def leave_Subscript(self, original_node: cst.Subscript, updated_node: cst.Subscript) -> cst.BaseExpression:
        base = original_node.value
        param = self.params.get((base.value, _constant_key(original_node))) if isinstance(base, cst.Name) else None
        if param is None:
            return updated_node
        return cst.Name(param, lpar=updated_node.lpar, rpar=updated_node.rpar)


def _constant_key(node: cst.Subscript) -> Optional[str]:
    """``"key"`` in ``x["key"]``, else None."""
    if len(node.slice) == 1 and isinstance(node.slice[0].slice, cst.Index):
        value = node.slice[0].slice.value
        if isinstance(value, cst.SimpleString) and isinstance(value.evaluated_value, str):
            return value.evaluated_value
    return None


def _tensor_index(node: cst.Subscript) -> bool:
    """Whether ``x[...]`` indexes a tensor: slices, several indices, integers, ``...``, None."""
    if len(node.slice) != 1 or isinstance(node.slice[0].slice, cst.Slice):
        return True
    value = node.slice[0].slice.value
    if isinstance(value, cst.UnaryOperation):
        value = value.expression
    return isinstance(value, (cst.Integer, cst.Ellipsis)) or is_name(value, "None")


class _Calls(Visitor):
    def __init__(self) -> None:
        self.calls: List[cst.Call] = []

    def visit_Call(self, node: cst.Call) -> None:
        self.calls.append(node)


def _local_bindings(fn: cst.FunctionDef) -> Dict[str, List[Optional[cst.BaseExpression]]]:
    """Every value assigned to each local name (None for parameters and other bindings)."""
    out: Dict[str, List] = {name: [None] for name in param_names(fn)}
    for small in (small for s in simple_statements(fn.body) for small in s.body):  # `a = f(); a = g(a)` too
        if isinstance(small, cst.Assign):
            for target in small.targets:
                for name in names_in(target.target) if not isinstance(target.target, cst.Subscript) else ():
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
        return is_name(value.value, "params")
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute):
        return is_name(value.func.value, "params")
    if isinstance(value, cst.BinaryOperation):
        return _is_python_value(value.left) and _is_python_value(value.right)
    if isinstance(value, cst.UnaryOperation):
        return _is_python_value(value.expression)
    return False
