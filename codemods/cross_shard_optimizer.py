"""Optimizers in model_fn are wrapped in CrossShardOptimizer when running on a TPU.

    optimizer = tf.compat.v1.train.AdamOptimizer(0.01)
    # gains
    if params["use_tpu"]:
        optimizer = tf.compat.v1.tpu.CrossShardOptimizer(optimizer)

Never unconditionally: CrossShardOptimizer's CrossReplicaSum has no CPU kernel, and
TPUEstimator sets ``params["use_tpu"]``.  An optimizer built inline
(``tf.train.AdamOptimizer(lr).minimize(loss)``) is first given a name of its own
(``optimizer``, or ``optimizer_2`` when model_fn already uses that name).

``tf.contrib.layers.optimize_loss`` and ``create_train_op`` (contrib, slim, tf_slim) take
an Optimizer instance, so on a TPU they are given a CrossShardOptimizer around the
optimizer they would use::

    train_op = tf.contrib.layers.optimize_loss(loss, step, learning_rate=0.01, optimizer="Adam")
    # becomes
    train_op = tf.contrib.layers.optimize_loss(loss, step, learning_rate=0.01, optimizer=(
        tf.compat.v1.tpu.CrossShardOptimizer(tf.compat.v1.train.AdamOptimizer(0.01))
        if params["use_tpu"] else "Adam"))

(with a ``learning_rate_decay_fn``, or a learning rate that is not a plain value, the
optimizer is made from the rate optimize_loss computes: ``lambda lr: ...``); an instance
built in the call is named first and wrapped as above.
"""

from typing import Dict, List, Optional, Set

import libcst as cst

from .base import MigrationCodemod, Rule
from .estimators import TRAIN_OP_APIS, bound_arg
from .summaries_to_host_call import SUMMARY as DROPPED_SUMMARY
from .names import MethodCalls, fresh_name, statements
from .syntax import add_args, find_arg, is_name, kwarg, param_names, params_item, replace_arg
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
TRAIN_OP_WRAPPED = Rule(
    "E2T113",
    "optimize_loss/create_train_op get a CrossShardOptimizer on TPU",
    "tf.contrib.layers.optimize_loss and create_train_op accept an Optimizer instance. On a TPU "
    "they are given a CrossShardOptimizer around the optimizer the name or class stands for "
    "(optimize_loss's names: Adagrad, Adam, Ftrl, Momentum with momentum 0.9, RMSProp, SGD), "
    "with the learning rate given to optimize_loss; on the CPU the call is unchanged.",
    before='train_op = tf.contrib.layers.optimize_loss(loss, step, learning_rate=0.01, optimizer="Adam")',
    after="train_op = tf.contrib.layers.optimize_loss(loss, step, learning_rate=0.01, optimizer=(\n"
          "    tf.compat.v1.tpu.CrossShardOptimizer(tf.compat.v1.train.AdamOptimizer(0.01))\n"
          '    if params["use_tpu"] else "Adam"))',
)
CLIPS = {"tf.clip_by_global_norm", "tf.clip_by_norm", "tf.clip_by_value", "tf.clip_by_average_norm"}
#: optimize_loss's optimizer names -> the tf.compat.v1.train class and the keywords it adds.
OPTIMIZER_NAMES = {
    "Adagrad": ("AdagradOptimizer", {}), "Adam": ("AdamOptimizer", {}), "Ftrl": ("FtrlOptimizer", {}),
    "Momentum": ("MomentumOptimizer", {"momentum": "0.9"}), "RMSProp": ("RMSPropOptimizer", {}),
    "SGD": ("GradientDescentOptimizer", {}),
}
#: What the train-op builders do to the gradients between computing and applying them.
GRADIENT_TRANSFORMS = {"clip_gradients": 6, "gradient_noise_scale": 4, "gradient_multipliers": 5,
                       "transform_grads_fn": None, "clip_gradient_norm": None}


def _is_v1_optimizer(api: Optional[str]) -> bool:
    return bool(api) and api.startswith("tf.train.") and api.endswith("Optimizer")


class WrapOptimizerForTPU(MigrationCodemod):
    """Add a params["use_tpu"]-guarded CrossShardOptimizer after each model_fn optimizer."""

    DESCRIPTION = __doc__.splitlines()[0]
    RULES = [CROSS_SHARD, TRAIN_OP_WRAPPED, OPTIMIZER_NOT_WRAPPED, CLIPPED_PER_SHARD, SUMMED_GRADIENTS]
    TRIGGERS = ("Optimizer", "optimize_loss", "create_train_op", "optimizers", "minimize", "apply_gradients")

    def visit_Module(self, node: cst.Module) -> None:
        self.wrap: Dict[cst.SimpleStatementLine, str] = {}
        self.inline: Dict[cst.SimpleStatementLine, str] = {}  # -> the name its optimizer gets
        #: train-op builders' optimizer arguments -> the value they get
        self.train_ops: Dict[cst.Arg, cst.BaseExpression] = {}
        #: optimizers built in a train-op builder's call -> the name they get, on their statement
        self.hoisted: Dict[cst.Call, str] = {}
        self.hoisted_in: Dict[cst.SimpleStatementLine, cst.Call] = {}
        self.quiet: Set[cst.Call] = set()  # optimize_loss calls that write no summaries on a TPU
        self._built: Dict[cst.Call, cst.Call] = {}  # hoisted optimizers, rewritten
        reported = set()  # model_fns with an optimizer reported here
        model_fns = [fn for index in (self.program.indexes if self.program else [self.index]) for fn in index.model_fns]
        helpers = {helper for fn in model_fns for helper in self.index.train_op_helpers(fn)}  # of the program's model_fns
        for fn in self.index.model_fns:  # planned first: a train-op builder may use their optimizers
            self._plan(fn)
        for call, api, scope in self.index.api_calls:
            if api.startswith("tf.keras.optimizers.") and self.index.in_model_fn(scope):
                self.report(call, OPTIMIZER_NOT_WRAPPED.code, OPTIMIZER_NOT_WRAPPED.title,
                            "use a tf.compat.v1.train optimizer and CrossShardOptimizer")
                reported.update(self.index.scopes(scope))
            elif api in TRAIN_OP_APIS and (self.index.in_model_fn(scope) or scope in helpers):
                if not self._plan_train_op(call, api, scope):
                    reported.update(self.index.scopes(scope))
        wrapping = []  # model_fns whose optimizer is, or will be, a CrossShardOptimizer
        for fn in self.index.model_fns:
            if self._plan(fn) or any(fn in self.index.scopes(self.index.enclosing_def(a)) for a in self.train_ops):
                wrapping.append(fn)
            elif fn not in reported:
                self._report_unwrapped(fn)
        self._report_gradients(wrapping)

    def rewrites(self) -> bool:
        return bool(self.wrap or self.inline or self.train_ops or self.hoisted or self.quiet)

    def targets(self):
        return [*self.wrap, *self.inline, *self.train_ops, *self.hoisted, *self.hoisted_in, *self.quiet]

    def rewrite_code(self, node: cst.CSTNode) -> Optional[str]:
        if node in self.quiet:
            return None  # its optimizer argument is the rewrite reported
        return (TRAIN_OP_WRAPPED if node in self.train_ops or node in self.hoisted_in else CROSS_SHARD).code

    def _plan_train_op(self, call: cst.Call, api: str, scope) -> bool:
        """Plan how ``optimize_loss(...)``/``create_train_op(...)`` in a model_fn gets a
        CrossShardOptimizer on a TPU; report it (E2T214) when it cannot: whether planned."""
        position = TRAIN_OP_APIS[api]
        arg = find_arg(call, "optimizer", position)
        value = arg.value if arg is not None else None
        problem = None
        if not self.index.in_model_fn(scope) and not self._given_model_fn_params(scope):
            problem = "called in a helper of model_fn that is not given model_fn's params"
        elif value is None or _Wrapping(None).walked(value).found:
            return True  # no optimizer (the original fails), or one already wrapped
        else:
            problem = self._plan_optimizer_value(call, arg, position == 3, scope)
        if problem:
            self.report(call, OPTIMIZER_NOT_WRAPPED.code, f"{OPTIMIZER_NOT_WRAPPED.title}: {problem}",
                        "pass optimizer=a tf.compat.v1.train optimizer instance, wrapped in CrossShardOptimizer on a TPU")
            return False
        summaries = find_arg(call, "summaries", 11)
        if position == 3 and not (summaries is not None and isinstance(summaries.value, cst.List) and not summaries.value.elements):
            self.quiet.add(call)
            self.report(call, DROPPED_SUMMARY.code, "optimize_loss's summaries are not written on a TPU: "
                        "summaries=[] there", "write what a TPU run needs from a host_call")
        for keyword, at in GRADIENT_TRANSFORMS.items():
            transform = find_arg(call, keyword, at if position == 3 else None)
            if transform is not None and not is_name(transform.value, "None"):
                self.report(transform, CLIPPED_PER_SHARD.code, CLIPPED_PER_SHARD.title, "check it on a TPU")
        return True

    def _given_model_fn_params(self, helper) -> bool:
        """Whether ``params`` in a helper of model_fn is model_fn's own (which holds "use_tpu"):
        it is a parameter of the helper that every call of it, each in a model_fn, binds to
        model_fn's ``params``."""
        if helper is None or "params" not in param_names(helper):
            return False
        calls = self.index.callers(helper)
        for call in calls:
            index = self.index.index_of_node(call)
            arg = bound_arg(call, helper, "params")
            if arg is None or not is_name(arg.value, "params") or not index.in_model_fn(index.enclosing_def(call)):
                return False
        return bool(calls)

    def _plan_optimizer_value(self, call: cst.Call, arg: cst.Arg, by_name: bool, scope) -> Optional[str]:
        """Plan the optimizer argument of a train-op builder (``by_name``: optimize_loss, which
        also takes a name or a class); the reason it cannot be, or None."""
        value = arg.value
        if isinstance(value, cst.Call) and _is_v1_optimizer(self.api(value.func)):  # built here: named first
            stmt = self._own_statement(call, scope)
            if stmt is None:
                return "its optimizer is built where it cannot be given a name of its own"
            self.hoisted[value] = fresh_name(self.index.enclosing_def(call), "optimizer")
            self.hoisted_in[stmt] = value
            return None
        if isinstance(value, cst.Name) and not _is_v1_optimizer(self.api(value)):
            bound = self.index.value_of(value, scope)
            if isinstance(bound, cst.Call) and _is_v1_optimizer(self.api(bound.func)):
                if not any(name == value.value for name in self.wrap.values()) and not _already_wrapped(
                        self.index.enclosing_def(call), value.value):
                    self.train_ops[arg] = self._on_tpu_else(self._cross_shard(value), value)
                return None  # or wrapped where it is built (E2T107)
            return f"{value.value} is not known here to be a tf.compat.v1.train optimizer"
        name = value.evaluated_value if isinstance(value, cst.SimpleString) else None
        cls = self.api(value) if isinstance(value, (cst.Name, cst.Attribute)) else None
        if by_name and (name in OPTIMIZER_NAMES or _is_v1_optimizer(cls)):
            learning_rate = find_arg(call, "learning_rate", 2)
            if learning_rate is None or is_name(learning_rate.value, "None"):
                return "no learning rate"  # the original fails the same way
            if name is not None:
                cls_name, extra = OPTIMIZER_NAMES[name]
                prefix = "tensorflow.compat.v1.train." if self.options.target == "tf2" else "tensorflow.train."
                make = self.spelled(prefix + cls_name)
            else:
                make, extra = value, {}
            self.train_ops[arg] = self._on_tpu_else(self._from_learning_rate(call, make, extra, learning_rate.value), value)
            return None
        return "its optimizer is not a name, class or instance of a tf.compat.v1.train optimizer known here"

    def _from_learning_rate(self, call, make, extra, learning_rate) -> cst.BaseExpression:
        """``CrossShardOptimizer(make(learning_rate, **extra))``; ``lambda lr: ...`` of the rate
        optimize_loss computes when it decays it, or when it is not a plain value to repeat."""
        decayed = find_arg(call, "learning_rate_decay_fn", 7)
        plain = isinstance(learning_rate, (cst.Integer, cst.Float, cst.Name, cst.Attribute, cst.Subscript))
        rate = learning_rate if plain and (decayed is None or is_name(decayed.value, "None")) else cst.Name("lr")
        args = [cst.Arg(rate), *(kwarg(k, cst.parse_expression(v)) for k, v in extra.items())]
        wrapped = self._cross_shard(cst.Call(make, args))
        if rate is learning_rate:
            return wrapped
        return cst.Lambda(cst.Parameters([cst.Param(cst.Name("lr"))]), wrapped,
                          lpar=[cst.LeftParen()], rpar=[cst.RightParen()])

    def _cross_shard(self, optimizer: cst.BaseExpression) -> cst.Call:
        return cst.Call(self.target("CrossShardOptimizer"), [cst.Arg(optimizer)])

    @staticmethod
    def _on_tpu_else(tpu: cst.BaseExpression, cpu: cst.BaseExpression) -> cst.IfExp:
        return cst.IfExp(test=params_item("use_tpu"), body=tpu, orelse=cpu,
                         lpar=[cst.LeftParen()], rpar=[cst.RightParen()])

    def _own_statement(self, call: cst.Call, scope) -> Optional[cst.SimpleStatementLine]:
        """The statement of model_fn ``call`` is in, when it is alone on its line and not
        inside a lambda or comprehension (its optimizer can be built just before it)."""
        node = self.index.parent_of.get(call)
        while node is not None and not isinstance(node, cst.SimpleStatementLine):
            if isinstance(node, (cst.Lambda, cst.ListComp, cst.GeneratorExp, cst.DictComp, cst.SetComp)):
                return None
            node = self.index.parent_of.get(node)
        if node is None or len(node.body) != 1 or self.index.enclosing_def(node) is not scope:
            return None
        return node

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

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        name = self.hoisted.get(original_node)
        if name is not None:  # named on the statement before (leave_SimpleStatementLine)
            self._built[original_node] = updated_node
            return cst.Name(name)
        if original_node in self.quiet:  # optimize_loss's summaries, which a TPU drops
            summaries = find_arg(updated_node, "summaries", 11)
            cpu = summaries.value if summaries is not None else cst.Name("None")
            value = self._on_tpu_else(cst.List([]), cpu)
            updated_node = replace_arg(updated_node, "summaries", 11, value) if summaries is not None \
                else add_args(updated_node, [kwarg("summaries", value)])
        return updated_node

    def leave_Arg(self, original_node: cst.Arg, updated_node: cst.Arg) -> cst.Arg:
        value = self.train_ops.get(original_node)
        return updated_node if value is None else updated_node.with_changes(value=value)

    def leave_SimpleStatementLine(self, original_node, updated_node):
        optimizer = self.hoisted_in.get(original_node)
        if optimizer is not None:
            name = self.hoisted[optimizer]
            create = cst.SimpleStatementLine([cst.Assign([cst.AssignTarget(cst.Name(name))], self._built.pop(optimizer))],
                                             leading_lines=updated_node.leading_lines)
            return cst.FlattenSentinel([create, self._guard(name), updated_node.with_changes(leading_lines=())])
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
        return cst.If(test=params_item("use_tpu", self.params_name()), body=cst.IndentedBlock([assign]))


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
