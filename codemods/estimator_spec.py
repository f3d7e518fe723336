"""EstimatorSpec -> TPUEstimatorSpec.

    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=op, scaffold=scaffold)
    # becomes
    return tf.compat.v1.estimator.tpu.TPUEstimatorSpec(
        mode, loss=loss, train_op=op, scaffold_fn=lambda: scaffold)

Matched by what the callee resolves to, so ``tf_estimator.EstimatorSpec``, a bare
``EstimatorSpec`` from ``from tensorflow.estimator import EstimatorSpec`` and
``tf.compat.v1.estimator.EstimatorSpec`` are all found.  Arguments past the fourth
become keywords (the two signatures differ there).  ``eval_metric_ops`` is left to
:mod:`codemods.eval_metrics`, which runs first.
"""

import libcst as cst

from codemods.base import MigrationCodemod, Rule
from codemods.syntax import add_args, find_arg, keywordize, kwarg, remove_kwarg, rename_kwarg

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
CHIEF_HOOKS = Rule(
    "E2T201",
    "training_chief_hooks moved to training_hooks",
    "TPUEstimatorSpec has no training_chief_hooks. They are moved to training_hooks, "
    "which run on every worker, not only on the chief: check that is acceptable.",
    before="tf.estimator.EstimatorSpec(mode, loss=loss, train_op=op, training_chief_hooks=[hook])",
    after="tf.compat.v1.estimator.tpu.TPUEstimatorSpec(mode, loss=loss, train_op=op, training_hooks=[hook])",
)


class EstimatorSpecToTPU(MigrationCodemod):
    """Rewrite every EstimatorSpec(...) call into a TPUEstimatorSpec(...) call."""

    DESCRIPTION = __doc__.splitlines()[0]
    RULES = [SPEC_TO_TPU, CHIEF_HOOKS]
    TRIGGERS = ("EstimatorSpec",)

    def visit_Module(self, node: cst.Module) -> None:
        self.calls = set(self.index.calls_to("tf.estimator.EstimatorSpec"))

    def rewrites(self) -> bool:
        return bool(self.calls)

    def targets(self):
        return self.calls

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        if original_node not in self.calls:
            return updated_node
        if find_arg(updated_node, "eval_metric_ops", 4) is not None and not any(
                find_arg(updated_node, k) for k in ("eval_metrics", "host_call", "scaffold_fn")):
            return updated_node  # metrics not moved (reported): TPUEstimator runs an EstimatorSpec on the CPU
        call = keywordize(updated_node, ESTIMATOR_SPEC_FIELDS, start=4)
        call = call.with_changes(func=self.target("TPUEstimatorSpec", like=original_node.func))
        scaffold = find_arg(call, "scaffold")
        if scaffold is not None:
            call = rename_kwarg(call, "scaffold", "scaffold_fn", cst.Lambda(cst.Parameters(), scaffold.value))
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
