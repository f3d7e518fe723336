"""EstimatorSpec -> TPUEstimatorSpec.

    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=op, scaffold=tf.compat.v1.train.Scaffold())
    # becomes
    return tf.compat.v1.estimator.tpu.TPUEstimatorSpec(
        mode, loss=loss, train_op=op, scaffold_fn=lambda: tf.compat.v1.train.Scaffold())

Matched by what the callee resolves to, so ``tf_estimator.EstimatorSpec``, a bare
``EstimatorSpec`` from ``from tensorflow.estimator import EstimatorSpec`` and
``tf.compat.v1.estimator.EstimatorSpec`` are all found.  Arguments past the fourth
become keywords (the two signatures differ there).  ``scaffold=None`` becomes
``scaffold_fn=None``: TPUEstimator refuses a scaffold_fn that returns None.  ``eval_metric_ops`` is left to
:mod:`codemods.eval_metrics`, which runs first; a spec whose metrics it could not move
stays an EstimatorSpec.  A Scaffold built in model_fn (``scaffold=scaffold``) is E2T225;
``scaffold=scaffold_fn`` where ``scaffold_fn`` is a function already (``scaffold_fn =
tpu_scaffold``) or None, as code written for TPUEstimator has it, becomes
``scaffold_fn=scaffold_fn``.
"""

import libcst as cst

from .base import MigrationCodemod, Rule
from .estimators import SPEC_APIS, OwnCalls
from .names import local_bindings
from .syntax import add_args, find_arg, is_name, keywordize, kwarg, param_names, remove_kwarg, rename_kwarg

ESTIMATOR_SPEC_FIELDS = (
    "mode", "predictions", "loss", "train_op", "eval_metric_ops", "export_outputs",
    "training_chief_hooks", "training_hooks", "scaffold", "evaluation_hooks",
    "prediction_hooks",
)

SPEC_TO_TPU = Rule(
    "E2T101",
    "EstimatorSpec becomes TPUEstimatorSpec",
    "TPUEstimator requires model_fn to return a TPUEstimatorSpec. `scaffold=` becomes "
    "`scaffold_fn=` (a function returning the Scaffold).",
    before="return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)",
    after="return tf.compat.v1.estimator.tpu.TPUEstimatorSpec(mode, loss=loss, train_op=train_op)",
)
SCAFFOLD_BUILT_IN_MODEL_FN = Rule(
    "E2T225",
    "scaffold_fn returns a Scaffold built in model_fn",
    "TPUEstimator calls scaffold_fn outside the TPU computation, and the Scaffold (with its "
    "Saver and init ops) must be built there: one built in model_fn puts those ops inside the "
    "TPU computation. Build it in scaffold_fn.",
    before="scaffold = tf.compat.v1.train.Scaffold(saver=tf.compat.v1.train.Saver(max_to_keep=2))\n"
           "return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=op, scaffold=scaffold)",
    after="return tf.compat.v1.estimator.tpu.TPUEstimatorSpec(mode, loss=loss, train_op=op, scaffold_fn=lambda: "
          "tf.compat.v1.train.Scaffold(saver=tf.compat.v1.train.Saver(max_to_keep=2)))",
    blocking=True,
)
CHIEF_HOOKS = Rule(
    "E2T201",
    "training_chief_hooks moved to training_hooks",
    "TPUEstimatorSpec has no training_chief_hooks. They are moved to training_hooks, "
    "which run on every worker, not only on the chief: check that is acceptable.",
    before="tf.estimator.EstimatorSpec(mode, loss=loss, train_op=op, training_chief_hooks=[hook])",
    after="tf.compat.v1.estimator.tpu.TPUEstimatorSpec(mode, loss=loss, train_op=op, training_hooks=[hook])",
)


UNKNOWN_RETURN = Rule(
    "E2T245",
    "model_fn returns something not seen to be a spec",
    "TPUEstimator needs every spec its model_fn returns to be a TPUEstimatorSpec. est2tpu follows "
    "returns of EstimatorSpec(...) calls, of names bound to them and of functions returning them; "
    "this return is something else (a value built elsewhere, a call it cannot follow), so it could "
    "not be converted, and the estimator was left as it was. Return the spec from model_fn itself.",
    before="spec = make_spec(mode, loss)  # make_spec is not a function of the program\nreturn spec",
    after="return tf.estimator.EstimatorSpec(mode, loss=loss)",
    blocking=True,
    obstacle=True,
)


class EstimatorSpecToTPU(MigrationCodemod):
    """Rewrite every EstimatorSpec(...) call into a TPUEstimatorSpec(...) call."""

    DESCRIPTION = __doc__.splitlines()[0]
    RULES = [SPEC_TO_TPU, SCAFFOLD_BUILT_IN_MODEL_FN, CHIEF_HOOKS, UNKNOWN_RETURN]
    TRIGGERS = ("EstimatorSpec",)

    def visit_Module(self, node: cst.Module) -> None:
        self.calls = set(self.index.calls_to("tf.estimator.EstimatorSpec"))
        self.scaffold_fns = set()  # the specs given a scaffold_fn as scaffold=
        for call in self.calls:  # scaffold=scaffold would become scaffold_fn=lambda: scaffold
            arg = find_arg(call, "scaffold", 8)
            if arg is not None and scaffold_fn_given(self.index, call, arg.value):
                self.scaffold_fns.add(call)
            elif arg is not None:
                self._check_scaffold(arg, arg.value)
        for call in self.index.calls_to("tf.estimator.tpu.TPUEstimatorSpec", "tf.contrib.tpu.TPUEstimatorSpec"):
            arg = find_arg(call, "scaffold_fn")
            if arg is not None and isinstance(arg.value, cst.Lambda):
                self._check_scaffold(arg, arg.value.body)
        for fn in self.index.estimator_model_fns:
            for ret in OwnCalls().walked(fn).returns:
                if ret.value is not None and not self._is_spec(ret.value, fn):
                    self.report(ret.value, UNKNOWN_RETURN.code, UNKNOWN_RETURN.title, "return the spec from model_fn")

    def _is_spec(self, value: cst.BaseExpression, fn: cst.FunctionDef, depth: int = 0) -> bool:
        """Whether ``value``, returned by ``fn``, is a spec est2tpu converts (or a TPUEstimatorSpec)."""
        if isinstance(value, cst.IfExp):
            return self._is_spec(value.body, fn, depth) and self._is_spec(value.orelse, fn, depth)
        if isinstance(value, cst.Name) and depth < 3:
            bound = self.index.lookup(value.value, fn)
            return bound is not None and self._is_spec(bound, fn, depth + 1)
        if not isinstance(value, cst.Call):
            return False
        if self.api(value.func) in SPEC_APIS:
            return True
        helper = self.index.resolve_function(value.func, fn)
        return isinstance(helper, cst.FunctionDef) and helper in self.index.index_of_node(helper).spec_returners

    def _check_scaffold(self, arg: cst.Arg, scaffold: cst.BaseExpression) -> None:
        """Report ``scaffold`` (given as ``arg``) unless scaffold_fn builds it (a call) or there
        is none."""
        if not isinstance(scaffold, cst.Call) and not is_name(scaffold, "None"):
            self.report(arg, SCAFFOLD_BUILT_IN_MODEL_FN.code, SCAFFOLD_BUILT_IN_MODEL_FN.title,
                        "build the Scaffold in scaffold_fn")

    def rewrites(self) -> bool:
        return bool(self.calls)

    def targets(self):
        return self.calls

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        if original_node not in self.calls:
            return updated_node
        if self.index.stays_estimator_spec(original_node):
            return updated_node
        call = keywordize(updated_node, ESTIMATOR_SPEC_FIELDS, start=4)
        call = call.with_changes(func=self.target("TPUEstimatorSpec", like=original_node.func))
        scaffold = find_arg(call, "scaffold")
        if scaffold is not None:  # scaffold=None stays None: TPUEstimator refuses a scaffold_fn returning None
            given = original_node in self.scaffold_fns or is_name(scaffold.value, "None")
            call = rename_kwarg(call, "scaffold", "scaffold_fn",
                                None if given else cst.Lambda(cst.Parameters(), scaffold.value))
        chief = find_arg(call, "training_chief_hooks")
        if chief is not None:
            self.report(find_arg(original_node, "training_chief_hooks", 6) or original_node,
                        CHIEF_HOOKS.code, CHIEF_HOOKS.title, "TPUEstimator runs training_hooks on every worker")
            hooks = find_arg(call, "training_hooks")
            call = remove_kwarg(call, "training_chief_hooks")
            if hooks is None:
                call = add_args(call, [kwarg("training_hooks", chief.value)])
            else:
                merged = cst.BinaryOperation(
                    cst.Call(cst.Name("list"), [cst.Arg(hooks.value)]),
                    cst.Add(),
                    cst.Call(cst.Name("list"), [cst.Arg(chief.value)]),
                )
                call = rename_kwarg(call, "training_hooks", "training_hooks", merged)
        self.drop_import_of(original_node.func)
        return call


def scaffold_fn_given(index, spec: cst.Call, value: cst.BaseExpression) -> bool:
    """Whether ``value``, the ``scaffold=`` of ``spec``, is a scaffold_fn already: a name the
    function around the spec binds only to None and to functions (a def, a lambda), or a def."""
    if not isinstance(value, cst.Name):
        return False
    fn = index.enclosing_def(spec)
    if fn is None or value.value in param_names(fn):
        return False
    function = lambda v: isinstance(index.resolve_function(v, fn), (cst.FunctionDef, cst.Lambda))  # noqa: E731
    values = local_bindings(fn).get(value.value)
    if values is None:
        return function(value)
    return all(v is not None and (is_name(v, "None") or function(v)) for v in values)
