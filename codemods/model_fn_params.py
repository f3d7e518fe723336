"""model_fns take ``params``.

    def model_fn(features, labels, mode):          # before
    def model_fn(features, labels, mode, params):  # after

TPUEstimator passes the per-shard batch size and ``use_tpu`` through ``params`` and
refuses a model_fn without it.  A model_fn is a function passed as ``model_fn`` to an
Estimator (by name, through ``functools.partial`` or returned by a factory) or any
function that returns an EstimatorSpec.
"""

import libcst as cst

from codemods.base import MigrationCodemod, Rule
from codemods.estimators import ESTIMATOR_APIS
from codemods.syntax import add_param, find_arg, param_names

MODEL_FN_PARAMS = Rule(
    "E2T102",
    "model_fn takes params",
    "TPUEstimator calls model_fn with `params` (holding `batch_size` and `use_tpu`) and "
    "rejects a model_fn that does not accept it.",
    before="def model_fn(features, labels, mode):",
    after="def model_fn(features, labels, mode, params):",
)
UNRESOLVED_MODEL_FN = Rule(
    "E2T212",
    "model_fn or input_fn not found in this file",
    "The function passed as model_fn/input_fn is defined elsewhere or built dynamically, "
    "so it could not be given a `params` argument here. Migrate the module that defines "
    "it, or add `params` by hand (input_fns must batch by params['batch_size']).",
    before="estimator = tf.estimator.Estimator(model_fn=models.build(cfg))",
    after="def model_fn(features, labels, mode, params): ...",
)


class ModelFnTakesParams(MigrationCodemod):
    """Add ``params`` to every model_fn that lacks it."""

    DESCRIPTION = __doc__.splitlines()[0]
    RULES = [MODEL_FN_PARAMS, UNRESOLVED_MODEL_FN]
    TRIGGERS = ("model_fn", "EstimatorSpec")

    def visit_Module(self, node: cst.Module) -> None:
        for site in self.index.estimators:
            if site.api not in ESTIMATOR_APIS:
                continue
            arg = find_arg(site.call, "model_fn", 0)
            if arg is not None and self.index.resolve_function(arg.value, site.scope) is None:
                where = self.imports.qualified(arg.value)
                message = f"model_fn {where} is defined in another module" if where else "model_fn is not defined in this file"
                self.report(arg, UNRESOLVED_MODEL_FN.code, message,
                            "migrate the module that defines it too" if where else "give it a `params` argument")

    def rewrites(self) -> bool:
        return any("params" not in param_names(fn) for fn in self.index.model_fns)

    def targets(self):
        return self.index.model_fns

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
        if original_node in self.index.model_fns and "params" not in param_names(original_node):
            return updated_node.with_changes(params=add_param(updated_node.params, "params"))
        return updated_node
