"""Optimizers in model_fn are wrapped in CrossShardOptimizer when running on a TPU.

    optimizer = tf.compat.v1.train.AdamOptimizer(0.01)
    # gains
    if params["use_tpu"]:
        optimizer = tf.compat.v1.tpu.CrossShardOptimizer(optimizer)

Never unconditionally: CrossShardOptimizer's CrossReplicaSum has no CPU kernel, and
TPUEstimator sets ``params["use_tpu"]``.  An optimizer built inline
(``tf.train.AdamOptimizer(lr).minimize(loss)``) is first given a name of its own
(``optimizer``, or ``optimizer_2`` when model_fn already uses that name).
"""

from typing import Dict, List, Optional

import libcst as cst

from .base import MigrationCodemod, Rule
from .names import MethodCalls, fresh_name, statements
from .syntax import params_item
from .walk import Visitor

CROSS_SHARD = Rule(
    "E2T107",
    "optimizer wrapped in CrossShardOptimizer on TPU",
    "On a TPU each shard computes gradients of its own batch; CrossShardOptimizer averages "
    "them across shards. It is added only when params['use_tpu'] is true: it cannot run on "
    "the CPU.",
    before="optimizer = tf.compat.v1.train.AdamOptimizer(0.01)",
    after='optimizer = tf.compat.v1.train.AdamOptimizer(0.01)\nif params["use_tpu"]:\n'
          "    optimizer = tf.compat.v1.tpu.CrossShardOptimizer(optimizer)",
)
OPTIMIZER_NOT_WRAPPED = Rule(
    "E2T214",
    "optimizer could not be wrapped in CrossShardOptimizer",
    "The optimizer is not a tf.compat.v1.train optimizer created in model_fn on a line of "
    "its own (a Keras optimizer, tf.contrib.layers.optimize_loss, one built elsewhere or on a "
    "line of several statements). On a TPU, gradients "
    "must be averaged across shards: use a tf.compat.v1.train optimizer wrapped in "
    "tf.compat.v1.tpu.CrossShardOptimizer when params['use_tpu'].",
    before='optimizer = tf.keras.optimizers.Adam(1e-3)  # in model_fn',
    after="optimizer = tf.compat.v1.train.AdamOptimizer(1e-3)\n"
          "if params[\"use_tpu\"]:\n"
          "    optimizer = tf.compat.v1.tpu.CrossShardOptimizer(optimizer)",
    blocking=True,
    obstacle=True,
)
CLIPPED_PER_SHARD = Rule(
    "E2T226",
    "gradients are clipped per shard, before the cross-shard sum",
    "CrossShardOptimizer sums the shards' gradients in apply_gradients, after the code between "
    "compute_gradients and apply_gradients has seen them. A clip there bounds each shard's "
    "gradient (of its own batch, scaled by 1/shards), not the global one; the threshold may "
    "need tuning again. (BERT's TPU code clips this way.)",
    before="grads = [tf.clip_by_norm(g, 1.0) for g in grads]  # clips the global gradient",
    after="grads = [tf.clip_by_norm(g, 1.0) for g in grads]  # on a TPU: each shard's gradient; retune 1.0",
)
SUMMED_GRADIENTS = Rule(
    "E2T227",
    "gradients from tf.gradients are summed across shards, not averaged",
    "CrossShardOptimizer averages the gradients of its own compute_gradients, which scales the "
    "loss by 1/shards; its apply_gradients sums across shards whatever it is given. Gradients "
    "from tf.gradients are summed: on 8 shards each step goes 8 times as far. Use "
    "optimizer.compute_gradients(loss), or divide the loss by the number of shards.",
    before="grads = tf.gradients(loss, tvars)\ntrain_op = optimizer.apply_gradients(zip(grads, tvars))",
    after="grads_and_vars = optimizer.compute_gradients(loss, tvars)\n"
          "train_op = optimizer.apply_gradients(grads_and_vars)",
    blocking=True,
    obstacle=True,
)
CLIPS = {"tf.clip_by_global_norm", "tf.clip_by_norm", "tf.clip_by_value", "tf.clip_by_average_norm"}


def _is_v1_optimizer(api: Optional[str]) -> bool:
    return bool(api) and api.startswith("tf.train.") and api.endswith("Optimizer")


class WrapOptimizerForTPU(MigrationCodemod):
    """Add a params["use_tpu"]-guarded CrossShardOptimizer after each model_fn optimizer."""

    DESCRIPTION = __doc__.splitlines()[0]
    RULES = [CROSS_SHARD, OPTIMIZER_NOT_WRAPPED, CLIPPED_PER_SHARD, SUMMED_GRADIENTS]
    TRIGGERS = ("Optimizer", "optimize_loss", "optimizers", "minimize", "apply_gradients")

    def visit_Module(self, node: cst.Module) -> None:
        self.wrap: Dict[cst.SimpleStatementLine, str] = {}
        self.inline: Dict[cst.SimpleStatementLine, str] = {}  # -> the name its optimizer gets
        reported = set()  # model_fns with an optimizer reported here
        for call, api, scope in self.index.api_calls:
            if (api == "tf.contrib.layers.optimize_loss" or api.startswith("tf.keras.optimizers.")) \
                    and self.index.in_model_fn(scope):
                self.report(call, OPTIMIZER_NOT_WRAPPED.code, OPTIMIZER_NOT_WRAPPED.title,
                            "use a tf.compat.v1.train optimizer and CrossShardOptimizer")
                reported.update(self.index.scopes(scope))
        wrapping = []  # model_fns whose optimizer is, or will be, a CrossShardOptimizer
        for fn in self.index.model_fns:
            if self._plan(fn):
                wrapping.append(fn)
            elif fn not in reported:
                self._report_unwrapped(fn)
        self._report_gradients(wrapping)

    def rewrites(self) -> bool:
        return bool(self.wrap or self.inline)

    def targets(self):
        return [*self.wrap, *self.inline]

    def _plan(self, fn: cst.FunctionDef) -> bool:
        """Plan the wrapping of ``fn``'s optimizers: whether it has one wrapped or to wrap."""
        found = False
        for _, stmt in statements(fn.body):
            if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1):
                continue
            small = stmt.body[0]
            if isinstance(small, cst.Assign) and isinstance(small.value, cst.Call) and len(small.targets) == 1 \
                    and isinstance(small.targets[0].target, cst.Name) and _is_v1_optimizer(self.api(small.value.func)):
                name = small.targets[0].target.value
                if not _already_wrapped(fn, name):
                    self.wrap[stmt] = name
                found = True
            elif self._inline_optimizer(small) is not None:
                self.inline[stmt] = fresh_name(fn, "optimizer")
                found = True
        return found

    def _report_unwrapped(self, fn: cst.FunctionDef) -> None:
        """A model_fn that trains with an optimizer none of the patterns above found (built on
        a line of several statements, in a one-line ``if``, by a helper...): on a TPU its
        gradients would not be averaged across shards, so it is reported, never left silent."""
        calls = MethodCalls("minimize", "apply_gradients").walked(fn).calls
        if calls and not _Wrapping(None).walked(fn).found:
            created = [call for call, api, scope in self.index.api_calls
                       if _is_v1_optimizer(api) and fn in self.index.scopes(scope)]
            self.report((created or calls)[0], OPTIMIZER_NOT_WRAPPED.code, OPTIMIZER_NOT_WRAPPED.title,
                        "create the optimizer on a line of its own: optimizer = tf.compat.v1.train.XOptimizer(...)")

    def _report_gradients(self, model_fns: List[cst.FunctionDef]) -> None:
        """What a model_fn that applies gradients itself does to them before a
        CrossShardOptimizer sums them: clips them per shard, or computes them unscaled."""
        calls = [(call, api, scope) for call, api, scope in self.index.api_calls
                 if api in CLIPS or api == "tf.gradients"]
        applying = calls and {fn for fn in model_fns if MethodCalls("apply_gradients").walked(fn).calls}
        for call, api, scope in calls:
            if applying.intersection(self.index.scopes(scope)):
                if api == "tf.gradients":
                    self.report(call, SUMMED_GRADIENTS.code, SUMMED_GRADIENTS.title,
                                "use optimizer.compute_gradients(loss)")
                else:
                    self.report(call, CLIPPED_PER_SHARD.code, CLIPPED_PER_SHARD.title,
                                "check the clipping threshold on a TPU")

    def _inline_optimizer(self, small) -> Optional[cst.Call]:
        """``tf.train.XOptimizer(...)`` in ``x = tf.train.XOptimizer(...).minimize(...)``."""
        value = getattr(small, "value", None)
        if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute):
            inner = value.func.value
            if isinstance(inner, cst.Call) and _is_v1_optimizer(self.api(inner.func)):
                return inner
        return None

    def leave_SimpleStatementLine(self, original_node, updated_node):
        if original_node in self.wrap:
            return cst.FlattenSentinel([updated_node, self._guard(self.wrap[original_node])])
        if original_node in self.inline:
            name = self.inline[original_node]
            small = updated_node.body[0]
            optimizer = small.value.func.value
            create = cst.SimpleStatementLine(
                [cst.Assign([cst.AssignTarget(cst.Name(name))], optimizer)],
                leading_lines=updated_node.leading_lines,
            )
            use = updated_node.with_changes(
                body=[small.with_changes(value=small.value.with_changes(
                    func=small.value.func.with_changes(value=cst.Name(name))))],
                leading_lines=(),
            )
            return cst.FlattenSentinel([create, self._guard(name), use])
        return updated_node

    def _guard(self, name: str) -> cst.If:
        wrapper = self.target("CrossShardOptimizer")
        assign = cst.SimpleStatementLine([cst.Assign(
            [cst.AssignTarget(cst.Name(name))], cst.Call(wrapper, [cst.Arg(cst.Name(name))]))])
        return cst.If(test=params_item("use_tpu"), body=cst.IndentedBlock([assign]))


def _already_wrapped(fn: cst.FunctionDef, name: str) -> bool:
    return _Wrapping(name).walked(fn).found


class _Wrapping(Visitor):
    """Finds ``CrossShardOptimizer(name)`` calls (of any name, if None)."""

    def __init__(self, name: Optional[str]) -> None:
        self.name, self.found = name, False

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        attr = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", "")
        if attr == "CrossShardOptimizer" and (self.name is None or any(
            isinstance(a.value, cst.Name) and a.value.value == self.name for a in node.args
        )):
            self.found = True
