"""model_fns take ``params``, and so do the spec helpers whose new code reads them.

    def model_fn(features, labels, mode):          # before
    def model_fn(features, labels, mode, params):  # after

TPUEstimator passes the per-shard batch size and ``use_tpu`` through ``params`` and
refuses a model_fn without it.  A model_fn is a function passed as ``model_fn`` to an
Estimator (by name, through ``functools.partial`` or returned by a factory).  A spec helper
(a function returning an EstimatorSpec that a model_fn calls) takes params where est2tpu
writes code in it that reads them (see :mod:`codemods.spec_helpers`), and every call of
it from a model_fn passes them on: ``train_spec(loss)`` -> ``train_spec(loss, params=params)``.
"""

from typing import Set

import libcst as cst

from .base import MigrationCodemod, Rule
from .estimators import returned_function
from .params_alias import HIDDEN_PARAMS, outer_params_read
from .spec_helpers import called, gains_params, takes_params, uses
from .syntax import add_args, add_param, find_arg, kwarg, param_names

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

PARAMS_NOT_PASSED = Rule(
    "E2T256",
    "a function that now takes params is used where they cannot be passed",
    "This model_fn or spec helper takes TPUEstimator's params once migrated (a spec helper where "
    "est2tpu writes code in it that reads them: its optimizer is wrapped behind "
    "params['use_tpu']), and every call of it from a model_fn passes them on (params=params). "
    "This use is not such a call: a call from code that has no TPUEstimator params, a call with "
    "*args or **kwargs, or the function used as a value. Migrating would leave it failing "
    "('missing ... argument: params'), so the estimator was left as it was. Call it from "
    "model_fn only, or pass it params yourself.",
    before="def train_spec(loss): ...  # builds the optimizer, called by model_fn\n"
           "spec = train_spec(tf.constant(1.0))  # a test, outside model_fn",
    after="spec = train_spec(tf.constant(1.0), params={\"use_tpu\": False})",
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
    RULES = [MODEL_FN_PARAMS, UNRESOLVED_MODEL_FN, HIDDEN_BY_DECORATOR, PARAMS_NOT_PASSED]
    TRIGGERS = ("model_fn", "EstimatorSpec")

    def visit_Module(self, node: cst.Module) -> None:
        index = self.index
        self.gaining = {fn for fn in index.model_fns if "params" not in param_names(fn) and takes_params(index, fn)}
        for fn in self.gaining:
            hidden = outer_params_read(fn)
            if hidden is not None:
                self.report(hidden, HIDDEN_PARAMS.code, HIDDEN_PARAMS.title, "rename the outer params")
        self.passing: Set[cst.Call] = set()  # calls that pass params on
        program = index.program
        callees = {fn for other in (program.indexes if program is not None else [index]) for fn in other.model_fns
                   if (program is None or program.is_region(fn)) and gains_params(index, fn)}
        for use, fn in uses(index, callees) if callees else ():
            self._pass_params(use, fn)
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

    def _pass_params(self, use: cst.BaseExpression, fn: cst.FunctionDef) -> None:
        """Plan ``params=params`` for a call of ``fn`` (which gains params) from a function that
        takes them; report any other use, but an Estimator's model_fn handed on as a value."""
        call = called(self.index, use)
        if call is None:
            if fn not in self.index.index_of_node(fn).estimator_model_fns:
                self.report(use, PARAMS_NOT_PASSED.code, f"{PARAMS_NOT_PASSED.title}: {fn.name.value} used as a value",
                            "call it from model_fn")
            return
        names = param_names(fn)
        if find_arg(call, "params", names.index("params") if "params" in names else None) is not None:
            return
        caller = self.index.enclosing_def(call)
        if any(arg.star for arg in call.args) or caller is None or caller not in self.index.model_fns \
                or not takes_params(self.index, caller):
            self.report(call, PARAMS_NOT_PASSED.code, f"{PARAMS_NOT_PASSED.title}: {fn.name.value}(...)",
                        "call it from model_fn, or pass params= yourself")
        else:
            self.passing.add(call)

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
        return bool(self.gaining or self.passing)

    def targets(self):
        return [*self.gaining, *self.passing]

    def leave_FunctionDef(self, original_node: cst.FunctionDef, updated_node: cst.FunctionDef) -> cst.FunctionDef:
        if original_node in self.gaining:
            return updated_node.with_changes(params=add_param(updated_node.params, "params"))
        return updated_node

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.Call:
        if original_node in self.passing:
            return add_args(updated_node, [kwarg("params", cst.Name(self.params_name()))])
        return updated_node
