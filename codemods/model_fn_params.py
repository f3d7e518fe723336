"""model_fns take ``params``.

    def model_fn(features, labels, mode):          # before
    def model_fn(features, labels, mode, params):  # after

TPUEstimator passes the per-shard batch size and ``use_tpu`` through ``params`` and
refuses a model_fn without it.  A model_fn is a function passed as ``model_fn`` to an
Estimator (by name, through ``functools.partial`` or returned by a factory) or any
function that returns an EstimatorSpec.
"""

import libcst as cst

from .base import MigrationCodemod, Rule
from .estimators import returned_function
from .syntax import add_param, find_arg, param_names

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
    "model_fn or input_fn not found in the program",
    "The function passed as model_fn/input_fn is not defined in the files migrated (it comes "
    "from an installed package or a module not given to the run) or is built dynamically, so "
    "it could not be given a `params` argument, and the estimator was left as it was. Migrate "
    "the module that defines it in the same run, or add `params` by hand (input_fns must batch "
    "by params['batch_size']).",
    before="estimator = tf.estimator.Estimator(model_fn=models.build(cfg))",
    after="def model_fn(features, labels, mode, params): ...",
    blocking=True,
    obstacle=True,
)

HIDDEN_BY_DECORATOR = Rule(
    "E2T229",
    "a decorator hides model_fn's params",
    "TPUEstimator reads the signature of the function it is given, here the decorator's "
    "wrapper, which takes neither `params` nor **kwargs: TPUEstimator refuses it ('does not "
    "include params argument'), whatever model_fn itself takes. Give the wrapper `params` "
    "and pass it on.",
    before="def wrapper(features, labels, mode):\n    return fn(features, labels, mode)",
    after="def wrapper(features, labels, mode, params):\n    return fn(features, labels, mode, params)",
    blocking=True,
    obstacle=True,
)


def unresolved(role: str, index, expr: cst.BaseExpression):
    """(message, hint) of an E2T212 finding for the ``role`` function ``expr`` names, which the
    program does not define: where its name comes from, as far as it can be told here."""
    where = index.program.where(index, expr) if index.program is not None else index.imports.qualified(expr)
    if where is not None:
        return f"{role} {where}", "give the module that defines it to the same run, or add `params` there by hand"
    spelled = "".join(cst.Module([]).code_for_node(expr).split())
    return f"{role} {spelled} is not a function defined in the program", "give it a `params` argument by hand"


class ModelFnTakesParams(MigrationCodemod):
    """Add ``params`` to every model_fn that lacks it."""

    DESCRIPTION = __doc__.splitlines()[0]
    RULES = [MODEL_FN_PARAMS, UNRESOLVED_MODEL_FN, HIDDEN_BY_DECORATOR]
    TRIGGERS = ("model_fn", "EstimatorSpec")

    def visit_Module(self, node: cst.Module) -> None:
        for site in self.index.estimators:
            if site.api != "tf.estimator.Estimator":  # a TPUEstimator already: nothing to convert
                continue
            arg = find_arg(site.call, "model_fn", 0)
            if arg is not None and None in self.index.resolve_functions(arg.value, site.scope):
                message, hint = unresolved("model_fn", self.index, arg.value)
                if isinstance(arg.value, cst.Name) and self.index.comprehension_values(arg.value) == []:
                    message = f"model_fn {arg.value.value} is each value of a sequence not spelled out in this file"
                self.report(arg, UNRESOLVED_MODEL_FN.code, message, hint)

        for fn in self.index.model_fns:
            for decorator in fn.decorators:
                wrapper = self._wrapper(decorator.decorator)
                if wrapper is not None and "params" not in param_names(wrapper) \
                        and not isinstance(wrapper.params.star_kwarg, cst.Param):
                    self.report(decorator, HIDDEN_BY_DECORATOR.code, HIDDEN_BY_DECORATOR.title,
                                "give the wrapper `params` and pass it on")

    def _wrapper(self, decorator: cst.BaseExpression):
        """The function a decorator of this module wraps a def in (``@logged`` or
        ``@logged(...)``), or None when it is not known here."""
        factories = 2 if isinstance(decorator, cst.Call) else 1
        function = self.index.resolve_function(decorator.func if factories == 2 else decorator, None)
        for _ in range(factories):
            if not isinstance(function, cst.FunctionDef):
                return None
            function = returned_function(function, self.index)
        return function

    def rewrites(self) -> bool:
        return any("params" not in param_names(fn) for fn in self.index.model_fns)

    def targets(self):
        return self.index.model_fns

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
        if original_node in self.index.model_fns and "params" not in param_names(original_node):
            return updated_node.with_changes(params=add_param(updated_node.params, "params"))
        return updated_node
