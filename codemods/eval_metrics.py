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
tensors they read; Python values (see :mod:`codemods.metric_values`) stay bound by
closure.  The dict may be inline, in a variable, or built over several statements (``m =
{}``, ``m[k] = …``), and metric results computed earlier (``acc = tf.metrics.accuracy(…)``,
or by a helper returning one) come along (copied when something else still reads them).

A variable that holds the metrics in some branches and None in others (one spec for
every mode) is planned as a whole: each dict built for it becomes a metric_fn where it
is built, followed by ``name = (metric_fn, [tensors])``; its other bindings stay, and
``eval_metric_ops`` is renamed ``eval_metrics``.  ``loss, name = helper(...)`` takes what
the helper returns once the same is done inside it (it must be a function of the
program, return its metrics as one name, and be called only so); else it is E2T234, as is
a metric result a helper returns with the loss.  ``eval_metric_ops=None`` and an existing
``(metric_fn, tensors)`` called on its tensors pass as eval_metrics.  A (value, update_op)
pair built of model_fn's tensors cannot be computed in metric_fn (E2T215).

A scalar sent to the host
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
from typing import Callable, Counter, Dict, FrozenSet, List, Optional, Set, Tuple, Union

import libcst as cst

from .base import MigrationCodemod, Rule
from .estimator_spec import ESTIMATOR_SPEC_FIELDS
from .estimators import SPEC_APIS, OwnCalls
from .metric_values import CLOSURE_NAMES, MetricValues
from .metric_variables import Occurrences, building, in_import, returned_name
from .names import (
    NameReads, assigned_names, fresh_name, identifier, is_schedule, local_bindings, names_in, simple_statements,
    statements, unpacked,
)
from .syntax import (
    constant_key, find_arg, fmt_left_off, fmt_switch, is_name, keywordize, param_names, rename_kwarg, split_comments,
)
from .walk import ValueNames, Visitor

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

HELPER_METRICS = Rule(
    "E2T234",
    "eval metrics computed by a helper could not be moved into metric_fn",
    "On a TPU, metrics are computed on the host, by metric_fn, from tensors sent out of the TPU. "
    "Here model_fn gets its metrics from a helper that also returns other values (`loss, metrics = "
    "helper(...)`), so the call cannot move into metric_fn. est2tpu moves the metrics inside the "
    "helper (which then returns `(metric_fn, tensors)`) when the helper is a function of the "
    "program, returns its metrics as one name from every return, and is called only by model_fns "
    "that way; this one is not, or model_fn reads a metric result it returns: the estimator was "
    "left as it was. Have the helper return the tensors the metrics read, and compute the "
    "metrics in metric_fn.",
    before="loss, rmse = compute_errors(labels, predictions)  # rmse = tf.compat.v1.metrics.root_mean_squared_error(...)\n"
           "eval_metric_ops = {'rmse': rmse}",
    after="loss = compute_loss(labels, predictions)\n\n"
          "def metric_fn(labels, predictions):\n"
          "    return {'rmse': tf.compat.v1.metrics.root_mean_squared_error(labels, predictions)}\n\n"
          "eval_metrics = (metric_fn, [labels, predictions])",
    blocking=True,
    obstacle=True,
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
    anchor: cst.SimpleStatementLine  # the statement holding the spec call (see target)
    call: Optional[cst.Call]  # the spec (one of a variable's; None in a helper)
    value: cst.BaseExpression
    body: List[cst.SimpleStatementLine]  # statements that move (or are copied) into metric_fn
    moved: Set[cst.SimpleStatementLine]
    bindings: Dict[str, List[Optional[cst.BaseExpression]]]  # of fn, see names.local_bindings
    name: str
    keyed: Dict[str, cst.Subscript]  # metric_fn parameter -> the features["key"] (labels["key"]) sent to it
    #: A variable's (new) name: the anchor, which built its dict, becomes metric_fn and
    #: ``target = (metric_fn, [tensors])``; None: the anchor is the spec, which is sent them.
    target: Optional[str] = None
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
    RULES = [EVAL_METRICS, METRICS_NOT_REWRITTEN, KERAS_METRIC, DICT_READ, UNSURE_REDUCTION, HELPER_METRICS]
    TRIGGERS = ("eval_metric_ops",)  # a module holding another's metric helper runs every concern

    def visit_Module(self, node: cst.Module) -> None:
        self.plans: Dict[cst.SimpleStatementLine, _Plan] = {}
        self.moved: Set[cst.SimpleStatementLine] = set()
        self.calls: Dict[cst.Call, _Plan] = {}
        self.fmt_on: Dict[cst.BaseStatement, int] = {}  # statement -> its leading `# fmt: on` that moves
        self.given: Dict[cst.Call, cst.BaseExpression] = {}  # spec -> its eval_metrics, given already (see _given)
        self.variables: Dict[cst.Call, str] = {}  # spec -> the (new) name of the variable it passes
        self.renamed: Dict[cst.Name, str] = {}  # a variable's other spellings -> its new name
        self.taken: Dict[cst.FunctionDef, Set[str]] = {}  # metric_fn names given in each function
        self.values = MetricValues(self.index)
        for fn in self.index.model_fns:
            self._plan_function(fn)
        for helper, calls in self.index.metric_helpers_here().items():
            self._plan_helper(helper, calls)

    def rewrites(self) -> bool:
        return bool(self.plans or self.given or self.variables or self.renamed)

    def targets(self):
        return [*self.plans, *self.moved, *self.calls, *self.fmt_on, *self.given, *self.variables, *self.renamed]

    # -- planning ---------------------------------------------------------------

    def _plan_function(self, fn: cst.FunctionDef) -> None:
        variables: Dict[str, List[Tuple[cst.Call, cst.Arg]]] = {}  # name -> the specs passing it
        for path, stmt in statements(fn.body):
            for small in stmt.body if isinstance(stmt, cst.SimpleStatementLine) else ():
                call = _spec_call(small, self)
                arg = find_arg(call, "eval_metric_ops", 4) if call is not None else None
                if arg is None:
                    continue
                given = self._given(fn, arg.value)
                if given is not None:
                    self.given[call] = given
                    self.index.metrics_moved.add(call)
                elif isinstance(arg.value, cst.Name) and not self._linear(fn, path, arg.value.value):
                    variables.setdefault(arg.value.value, []).append((call, arg))
                else:
                    self._plan_spec(fn, path, stmt, call, arg)
        for name, sinks in variables.items():
            if not self._plan_variable(fn, name, {arg: call for call, arg in sinks}, None):
                for _, arg in sinks:
                    self._refuse(arg, f"the metrics {name} holds could not be moved")

    def _given(self, fn: cst.FunctionDef, value: cst.BaseExpression) -> Optional[cst.BaseExpression]:
        """eval_metrics for an eval_metric_ops that is one already, or None: ``None``, or an
        existing ``(metric_fn, tensors)`` called on its tensors (``metric_fn(*tensors)``,
        ``eval_metrics[0](*eval_metrics[1])``), which becomes that pair."""
        if is_name(value, "None"):
            return value
        if not (isinstance(value, cst.Call) and len(value.args) == 1 and value.args[0].star == "*"):
            return None
        func, tensors = value.func, value.args[0].value
        pair = _item_of(func, 0)
        if pair is not None and _item_of(tensors, 1) == pair:
            return cst.Name(pair)
        if isinstance(func, cst.Name) and isinstance(self.index.resolve_function(func, fn), cst.FunctionDef):
            return cst.Tuple([cst.Element(func), cst.Element(tensors)])
        return None

    def _plan_spec(self, fn, path, stmt, call, arg) -> None:
        """Plan the rewrite of one ``EstimatorSpec(eval_metric_ops=...)``, or report why not
        (the rewrite replaces the whole line: not one it shares with other statements)."""
        plan = self._plan_call(fn, path, stmt, call, arg.value) if len(stmt.body) == 1 else None
        if plan is None:
            self._refuse(arg)
            return
        self.calls[call] = plan
        self.index.metrics_moved.add(call)
        self._add(plan)

    def _add(self, plan: _Plan) -> None:
        self.plans[plan.anchor] = plan
        self.moved |= plan.moved
        self._take_fmt_on(plan.fn, plan)

    def _refuse(self, node: cst.CSTNode, why: str = "", helper: bool = False,
                hint: str = "write metric_fn and pass eval_metrics=(metric_fn, [tensors])") -> None:
        """Report why metrics cannot move: E2T215, or E2T234 (``helper``) for a helper's."""
        if helper:
            self.report(node, HELPER_METRICS.code, f"{HELPER_METRICS.title}: {why}", hint)
        else:
            self.report(node, METRICS_NOT_REWRITTEN.code, f"{METRICS_NOT_REWRITTEN.title}: {why}" if why
                        else METRICS_NOT_REWRITTEN.title, hint)

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

    def _linear(self, fn: cst.FunctionDef, path, name: str) -> bool:
        """Whether the metrics that the spec at ``path`` reads from ``name`` are built by
        statements of their own that all run before it, none setting it to None: metric_fn
        then goes right before the spec (else ``name`` is planned as a variable)."""
        before = {s for block in path for s in block}
        for found in Occurrences(name, self.index.index_of_node(fn).parent_of).walked(fn.body).found:
            if found.kind in ("none", "unpack", "binding") or (found.kind in ("dict", "mutation")
                                                             and found.stmt not in before):
                return False
        return True

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
        return self._finish(fn, stmt, call, value, body, before)

    def _finish(self, fn, anchor, call, value, own, before, target: Optional[str] = None) -> Optional[_Plan]:
        """The plan of a metric_fn returning ``value`` after the statements ``own`` (that
        build it) and the metric results they read, computed ``before``; None (reported) when
        a metric cannot be computed in metric_fn."""
        metric_results = self._metric_results(fn, before)
        needed = set(names_in(value)) | {n for s in own for n in names_in(s)}
        pulled = [s for s in before if s in metric_results and assigned_names([s]) & needed]
        body = [s for s in before if s in own or s in pulled] + [s for s in own if s not in before]
        if target is None:
            moved = _not_used_elsewhere(fn, body, value)
        else:  # the variable's statements go; the anchor becomes metric_fn
            moved = _not_used_elsewhere(fn, pulled, value) | (set(own) - {anchor})
        bindings = local_bindings(fn)
        name = self._fresh(fn, "metric_fn")
        keyed = self._keyed_sent(fn, bindings, [*body, value], name)
        keras, computable = self._has_keras_metric(value, body), self._computable(fn, body, value, bindings)
        if keras or keyed is None or not computable:  # each reported
            return None
        self.taken.setdefault(fn, set()).add(name)
        return _Plan(fn, anchor, call, value, body, moved, bindings, name, keyed, target)

    def _fresh(self, fn: cst.FunctionDef, base: str) -> str:
        return fresh_name(fn, base, self.taken.get(fn, ()))

    def _computable(self, fn, body, value, bindings) -> bool:
        """Whether metric_fn can compute each metric itself, from tensors it is sent: not a
        (value, update_op) pair made of model_fn's tensors, nor a metric result a helper
        returns with other values (``loss, rmse = errors(...)``).  Reported when not."""
        reads = NameReads()
        for node in (*body, value):
            reads.walk(node)
        bound = reads.bound | assigned_names(body)
        for name in reads.reads:
            if name in bound or name not in bindings or name in CLOSURE_NAMES:
                continue
            helper = next((call for call, i in unpacked(fn, name) if self.values.unpacked_metric(call, i, fn)), None)
            if helper is not None:
                self._refuse(helper, f"{name} is a metric result {cst.Module([]).code_for_node(helper.func)} "
                             "returns with other values", True,
                             f"compute {name} in metric_fn from the tensors the helper reads")
                return False
        pairs = _Pairs()
        for node in (*body, value):
            pairs.walk(node)
        for pair in pairs.found:
            made = [e.value for e in pair.elements if isinstance(e.value, cst.Name) and e.value.value in bindings
                    and e.value.value not in bound and not self.values.python(e.value, fn)]
            if made:
                self._refuse(pair, f"a (value, update_op) pair of model_fn's tensors ({made[0].value})", hint=(
                    "on a TPU only metric_fn's own ops update metrics: compute it there with a "
                    "tf.compat.v1.metrics function"))
                return False
        return True

    # -- variables ----------------------------------------------------------------

    def _plan_variable(self, fn: cst.FunctionDef, name: str, sinks: Dict[cst.Arg, cst.Call],
                       returned_at: Optional[int]) -> bool:
        """Plan a name that holds the metrics over several statements or branches: each dict
        built for it becomes a metric_fn and ``name = (metric_fn, [tensors])`` where it was
        built; ``name = None`` stays; ``loss, name = helper(...)`` takes what the helper now
        returns.  It is read only by the specs of ``sinks`` (then renamed ``eval_metrics``
        when it was ``eval_metric_ops``), or returned at ``returned_at`` of a helper's tuple.
        False when it cannot be planned (reported)."""
        parents = self.index.index_of_node(fn).parent_of
        occurrences = Occurrences(name, parents, set(sinks), returned_at).walked(fn.body)
        found = occurrences.found
        other = next((f for f in found if f.kind in ("read", "binding")), None)
        if name in param_names(fn) or occurrences.nested is not None or other is not None:
            node = other.node if other is not None else occurrences.nested or fn.name
            self._refuse(node, f"{name} is read or bound here, not only where the metrics are built")
            return False
        helpers = {call: helper for call, _, helper in self.index.metric_helpers(fn)} if returned_at is None else {}
        for f in found:
            if f.kind == "unpack" and helpers.get(f.stmt.body[0].value) is None:
                func = cst.Module([]).code_for_node(f.stmt.body[0].value.func)
                self._refuse(f.stmt.body[0].value, f"{name} comes from {func}, which is not a helper of the program "
                             "that only model_fns call", True,
                             "compute the metrics in model_fn, or migrate the helper with it")
                return False
        groups, stray = building(found, parents)
        if stray is not None:
            self._refuse(stray, f"{name} is changed where it is not built")
            return False
        paths = {stmt: path for path, stmt in statements(fn.body)}
        new = self._fresh(fn, "eval_metrics") if name == "eval_metric_ops" else name
        call = next(iter(sinks.values()), None)
        plans = []
        for group in groups:
            plan = self._plan_group(fn, group, name, new, call, paths[group[0]], parents)
            if plan is None:
                return False
            plans.append(plan)
        for plan in plans:
            self._add(plan)
        for sink, spec in sinks.items():
            self.variables[spec] = new
            self.index.metrics_moved.add(spec)
        if new != name:
            self.renamed.update({f.node: new for f in found if f.kind in ("none", "unpack", "return")})
        return True

    def _plan_group(self, fn, group, name, new, call, path, parents) -> Optional[_Plan]:
        """The metric_fn of the statements of one block that build ``name``'s dict: it goes
        where the last of them is, which also sends the tensors; the others move into it."""
        block = list(parents[group[0]].body)
        at = {s: block.index(s) for s in group}
        for s in block[at[group[0]] + 1:at[group[-1]]]:
            read = {n for g in group if at[g] < block.index(s) for n in names_in(g)}
            changed = assigned_names([s]) & read
            if changed and s not in at:
                self._refuse(s, f"{sorted(changed)[0]} changes while {name} is built")
                return None
        if len(group) == 1:
            value, own = group[0].body[0].value, [group[0]]
        else:
            value, own = cst.Name(name), group
        plan = self._finish(fn, group[-1], call, value, own, [s for b in path for s in b], target=new)
        if plan is not None and len(group) == 1:
            plan.body.remove(group[0])
        return plan

    def _plan_helper(self, helper: cst.FunctionDef, calls: List[Tuple[cst.Call, int]]) -> None:
        """A helper whose ``i``-th returned value model_fns unpack into their metrics: its
        metric dict becomes a metric_fn there, and it returns ``(metric_fn, [tensors])``."""
        positions = {i for _, i in calls}
        returns = OwnCalls().walked(helper).returns
        names = {returned_name(ret, i) for ret in returns for i in positions}
        if len(positions) != 1 or len(names) != 1 or None in names:
            self._refuse(helper.name, f"{helper.name.value} does not return its metrics as one name at one "
                         "position of a tuple", True, "return (loss, metrics) from every return")
        elif self._references(helper) > len(calls):
            self._refuse(helper.name, f"{helper.name.value} is used elsewhere than to give model_fn its metrics",
                         True, "give model_fn a helper of its own")
        elif not self._plan_variable(helper, names.pop(), {}, positions.pop()):
            self._refuse(helper.name, f"the metrics {helper.name.value} returns could not be moved", True,
                         "have it return the tensors the metrics read, and compute them in metric_fn")

    def _references(self, fn: cst.FunctionDef) -> int:
        """How often the program spells the name of ``fn`` other than in its def and imports."""
        name = fn.name.value
        return sum(1 for index in (self.program.indexes if self.program is not None else [self.index])
                   for node, parent in index.parent_of.items()
                   if isinstance(node, cst.Name) and node.value == name and parent is not fn
                   and not in_import(node, index.parent_of))

    def _metric_results(self, fn, statements) -> Set[cst.SimpleStatementLine]:
        """The statements that compute a metric's result of their own (``acc =
        tf.compat.v1.metrics.accuracy(...)``, ``acc, acc_op = ...``, ``acc = helper(...)`` where
        the helper returns one): they go into metric_fn with the metrics that read them."""
        out = set()
        for s in statements:
            small = _single(s)
            if isinstance(small, cst.Assign) and len(small.targets) == 1 and _names_only(small.targets[0].target) \
                    and isinstance(small.value, cst.Call) and self.values.metric_result(small.value, fn):
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
        built = [name for name, values in bindings.items()  # of tensors: a dict of Python values is closed over
                 if name not in moved and all(isinstance(v, cst.Dict) for v in values)
                 and not self.values.python(cst.Name(name), fn)]
        for base in (*KEYED, *built):
            if base in KEYED and (base not in param_names(fn) or bindings[base] != [None]):  # not model_fn's
                continue
            reads = _KeyedReads(base)
            for node in code:
                reads.walk(node)
            if not (reads.keys or reads.other or reads.sliced):
                continue  # the metrics do not read it
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
        bound = reads.bound | assigned_names(plan.body)
        for name in reads.reads:
            if name in bound or name in CLOSURE_NAMES or name not in local:
                continue
            if self.values.python(cst.Name(name), plan.fn):
                continue
            names.extend([p for p, node in plan.keyed.items() if node.value.value == name] or [name])
        return names

    def _scalar(self, plan: _Plan, value: cst.BaseExpression, seen: FrozenSet[str] = frozenset()) -> bool:
        """Whether ``value``, in the model_fn of ``plan``, is known to be a scalar tensor: the
        spec's loss, or a name bound to a scalar (a loss whose reduction is not known is not,
        and is reported)."""
        if isinstance(value, cst.Name):
            loss = find_arg(plan.call, "loss", 2) if plan.call is not None else None
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
        if plan is not None and plan.target is not None:  # where a variable's dict was built
            lines = updated_node.leading_lines  # its comments go into metric_fn with it, or above it
            lines = split_comments(lines)[0] if original_node in plan.body else lines
            if not lines or lines[0].comment is not None:  # a def among statements: a blank line first
                lines = (cst.EmptyLine(indent=False), *lines)
            metric_fn = self._metric_fn(plan).with_changes(leading_lines=lines)
            pair = cst.Assign([cst.AssignTarget(cst.Name(plan.target))], self._eval_metrics(plan))
            return cst.FlattenSentinel([metric_fn, cst.SimpleStatementLine([pair])])
        if plan is not None:
            blank, comments = split_comments(updated_node.leading_lines)  # the comments stay with it
            metric_fn = self._metric_fn(plan).with_changes(leading_lines=blank or (cst.EmptyLine(indent=False),))
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
            rename = _KeyedParams({(node.value.value, constant_key(node)): p for p, node in plan.keyed.items()})
            body = [s.visit(rename) for s in body]
        return cst.FunctionDef(
            name=cst.Name(plan.name),
            params=cst.Parameters([cst.Param(cst.Name(p)) for p in params]),
            body=cst.IndentedBlock(body),
        )

    def _eval_metrics(self, plan: _Plan) -> cst.Tuple:
        """``(metric_fn, [tensors])``: each scalar reshaped to rank 1."""
        tensors = []
        for name in self._tensor_params(plan):
            tensor: cst.BaseExpression = plan.keyed.get(name) or cst.Name(name)
            if self._scalar(plan, cst.Name(name)):
                reshape = self.spelled("tensorflow.reshape")
                tensor = cst.Call(reshape, [cst.Arg(tensor), cst.Arg(cst.List([cst.Element(cst.Integer("1"))]))])
            tensors.append(cst.Element(tensor))
        return cst.Tuple([cst.Element(cst.Name(plan.name)), cst.Element(cst.List(tensors))])

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call):
        plan = self.calls.get(original_node)
        if plan is not None:
            value = self._eval_metrics(plan)
        elif original_node in self.given:
            value = self.given[original_node]
        elif original_node in self.variables:
            value = cst.Name(self.variables[original_node])
        else:
            return updated_node
        updated_node = keywordize(updated_node, ESTIMATOR_SPEC_FIELDS, start=4)
        return rename_kwarg(updated_node, "eval_metric_ops", "eval_metrics", value)

    def leave_Name(self, original_node: cst.Name, updated_node: cst.Name) -> cst.Name:
        new = self.renamed.get(original_node)
        return updated_node if new is None else updated_node.with_changes(value=new)


def _spec_call(small, codemod) -> Optional[cst.Call]:
    value = getattr(small, "value", None)
    if isinstance(value, cst.Call) and codemod.api(value.func) in SPEC_APIS:
        return value
    return None


def _names_only(target: cst.BaseExpression) -> bool:
    """``a`` or a flat ``a, b`` of names."""
    if isinstance(target, (cst.Tuple, cst.List)):
        return all(isinstance(e, cst.Element) and isinstance(e.value, cst.Name) for e in target.elements)
    return isinstance(target, cst.Name)


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
    names = {s: assigned_names([s]) or {_mutated_name(_single(s))} for s in body}
    return {s for s in body if all(everywhere[name] <= inside[name] for name in names[s])}


def _count_reads(*nodes) -> Counter:
    counter = _NameCount()
    for node in nodes:
        counter.walk(node)
    return counter.counts


class _NameCount(ValueNames):
    """How often each name occurs, not counting attribute names and keywords."""

    def __init__(self) -> None:
        self.counts: Counter = collections.Counter()

    def visit_Name(self, node: cst.Name) -> None:
        self.counts[node.value] += 1


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
        key = constant_key(node)
        if key is not None:
            self.keys.setdefault(key, node)
        elif _tensor_index(node):
            self.sliced.append(node)
            self.as_tensor = True
        else:
            self.other.append(node)
        return False

    def visit_Attribute(self, node: cst.Attribute) -> Union[bool, cst.BaseExpression]:
        if is_name(node.value, self.base):
            self.other.append(node)
            self.as_tensor |= node.attr.value in ("shape", "dtype", "get_shape")
            return False
        return node.value

    def visit_BinaryOperation(self, node: cst.BinaryOperation) -> None:
        self.as_tensor |= is_name(node.left, self.base) or is_name(node.right, self.base)

    def visit_Call(self, node: cst.Call) -> None:
        if any(is_name(arg.value, self.base) for arg in node.args) and self.takes_tensors(node):
            self.as_tensor = True

    def visit_Arg(self, node: cst.Arg) -> cst.BaseExpression:
        if is_name(node.value, self.base):
            self.passed.add(node.value)
        return node.value

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
        param = self.params.get((base.value, constant_key(original_node))) if isinstance(base, cst.Name) else None
        if param is None:
            return updated_node
        return cst.Name(param, lpar=updated_node.lpar, rpar=updated_node.rpar)


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


def _item_of(node: cst.BaseExpression, i: int) -> Optional[str]:
    """``"pair"`` for ``pair[i]``."""
    if isinstance(node, cst.Subscript) and isinstance(node.value, cst.Name) and len(node.slice) == 1:
        index = node.slice[0].slice
        if isinstance(index, cst.Index) and isinstance(index.value, cst.Integer) and index.value.evaluated_value == i:
            return node.value.value
    return None


class _Pairs(Visitor):
    """The ``(value, update_op)`` tuples a piece of code puts in a dict."""

    def __init__(self) -> None:
        self.found: List[cst.Tuple] = []

    def _add(self, value) -> None:
        if isinstance(value, cst.Tuple) and len(value.elements) == 2:
            self.found.append(value)

    def visit_DictElement(self, node: cst.DictElement) -> None:
        self._add(node.value)

    def visit_Assign(self, node: cst.Assign) -> None:
        if any(isinstance(t.target, cst.Subscript) for t in node.targets):
            self._add(node.value)
