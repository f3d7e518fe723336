"""What the names a metric reads hold: a Python value, a metric result, or a tensor.

On a TPU, metric_fn receives tensors only, through the outfeed; every other value it needs
it reads by closure.  A value is Python (closed over) when it is built from literals,
names of the module or of ``params``/``config``/``self``/``mode``, their items and
attributes, Python's builtins and numpy: ``k = params["top_k"]``, ``n = len(LABELS)``,
``thresholds = np.linspace(0, 1, 11).tolist()``, ``weights = {"a": 0.3}``, or a value a
helper of the program returns (``logits, n_classes = model(...)``, ``return logits,
NCLASSES``).  A TensorFlow call, a model_fn tensor parameter or a call est2tpu cannot follow
is a tensor.  A metric result is what ``tf.compat.v1.metrics.*`` returns, a
``(value, update_op)`` pair: it must be computed in metric_fn, not sent.
"""

from __future__ import annotations

import builtins
from typing import FrozenSet, List, Optional

import libcst as cst

from .estimators import OwnCalls
from .names import local_bindings, unpacked
from .syntax import param_names

#: model_fn parameters (and ``self``) that hold Python values: metric_fn reads them by closure.
CLOSURE_NAMES = {"params", "mode", "config", "self"}
#: Builtins that make Python values of Python values.
PYTHON_BUILTINS = {"len", "int", "float", "str", "bool", "range", "list", "tuple", "dict", "set", "min", "max",
                   "sum", "sorted", "round", "abs", "zip", "enumerate", "reversed"}
DEPTH = 4


#: TF 1's contrib metrics that give no ``(value, update_op)`` pair.
_CONTRIB_NOT_PAIRS = {"tf.contrib.metrics.confusion_matrix", "tf.contrib.metrics.aggregate_metrics",
                      "tf.contrib.metrics.aggregate_metric_map"}


def is_metric_call(api: str) -> bool:
    """Whether a call of ``api`` gives a metric's ``(value, update_op)``: ``tf.metrics.*``, and
    TF 1's ``tf.contrib.metrics.*`` (``f1_score``, ``streaming_auc``...)."""
    return api.startswith("tf.metrics.") or api.startswith("tf.contrib.metrics.") and api not in _CONTRIB_NOT_PAIRS


class MetricValues:
    """Answers about the values a metric reads, from a module's index (its program's)."""

    def __init__(self, index) -> None:
        self.index = index

    def _index(self, fn: cst.FunctionDef):
        return self.index.index_of_node(fn)

    def _api(self, node: cst.BaseExpression, fn: cst.FunctionDef) -> str:
        return self._index(fn).imports.api(node) or ""

    def python(self, value: Optional[cst.BaseExpression], fn: cst.FunctionDef, depth: int = 0,
               seen: FrozenSet[str] = frozenset()) -> bool:
        """Whether ``value``, evaluated in ``fn``, is a Python value (see the module's doc)."""
        if value is None or depth > DEPTH:
            return False
        python = lambda v: self.python(v, fn, depth, seen)  # noqa: E731
        if isinstance(value, (cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.ConcatenatedString)):
            return True
        if isinstance(value, cst.FormattedString):
            return all(python(p.expression) for p in value.parts if isinstance(p, cst.FormattedStringExpression))
        if isinstance(value, cst.Name):
            return self._python_name(value.value, fn, depth, seen)
        if isinstance(value, (cst.List, cst.Tuple, cst.Set)):
            return all(isinstance(e, cst.Element) and python(e.value) for e in value.elements)
        if isinstance(value, cst.Dict):
            return all(isinstance(e, cst.DictElement) and python(e.key) and python(e.value) for e in value.elements)
        if isinstance(value, (cst.Subscript, cst.Attribute)):
            return python(value.value)
        if isinstance(value, cst.Call):
            return self._python_call(value, fn, python)
        if isinstance(value, (cst.BinaryOperation, cst.BooleanOperation)):
            return python(value.left) and python(value.right)
        if isinstance(value, cst.UnaryOperation):
            return python(value.expression)
        if isinstance(value, cst.Comparison):
            return python(value.left) and all(python(c.comparator) for c in value.comparisons)
        if isinstance(value, cst.IfExp):
            return python(value.test) and python(value.body) and python(value.orelse)
        return False

    def _python_name(self, name: str, fn: cst.FunctionDef, depth: int, seen: FrozenSet[str]) -> bool:
        if name in ("True", "False", "None") or name in CLOSURE_NAMES:
            return True
        bindings = local_bindings(fn)
        if name not in bindings:  # the module's, an enclosing function's or a builtin: a closure
            return True
        if name in seen or name in param_names(fn):
            return False
        values = bindings[name]
        known = [v for v in values if v is not None]
        unpacking = unpacked(fn, name)
        if len(known) + len(unpacking) != len(values):
            return False  # bound otherwise too (a += 1, for loops are not in the bindings)
        return all(self.python(v, fn, depth, seen | {name}) for v in known) and all(
            self._returns_python(call, i, fn, depth) for call, i in unpacking)

    def _python_call(self, call: cst.Call, fn: cst.FunctionDef, python) -> bool:
        args = all(python(a.value) for a in call.args)
        func = call.func
        if isinstance(func, cst.Name) and func.value in PYTHON_BUILTINS and func.value not in local_bindings(fn) \
                and self._index(fn).function_named(func.value, fn) is None and hasattr(builtins, func.value):
            return args
        qualified = self._index(fn).imports.qualified(func) or ""
        if qualified == "numpy" or qualified.startswith("numpy."):
            return args
        if qualified.startswith(("tensorflow", "keras")) or self._api(func, fn).startswith("tf."):
            return False
        if isinstance(func, cst.Attribute):  # params.get("k", 5), LABELS.index(x), "{}".format(n)
            return python(func.value) and args
        return False

    def returned(self, call: cst.Call, i: Optional[int], fn: cst.FunctionDef) -> Optional[List[tuple]]:
        """``(value, helper)`` for what each return of each def ``call`` may call gives at
        position ``i`` of its tuple (None: the whole value); None when it cannot be followed."""
        helpers = self._callees(call.func, fn)
        if not helpers or fn in helpers:
            return None
        found = []
        for helper in helpers:
            for ret in OwnCalls().walked(helper).returns:
                value = ret.value
                if i is not None:
                    if not isinstance(value, cst.Tuple) or len(value.elements) <= i:
                        return None
                    value = value.elements[i].value
                if value is None:
                    return None
                found.append((value, helper))
        return found or None

    def _callees(self, func: cst.BaseExpression, fn: cst.FunctionDef, depth: int = 0) -> List[cst.FunctionDef]:
        """The defs ``func`` may be: the one it resolves to, or each value of a dict of them it
        picks from (``model_functions[params["model"]]``); [] when one is not known."""
        helper = self.index.resolve_function(func, fn)
        if isinstance(helper, cst.FunctionDef):
            return [helper]
        bound = local_bindings(fn).get(func.value) if isinstance(func, cst.Name) else None
        if depth < DEPTH and bound is not None and len(bound) == 1 and bound[0] is not None:
            return self._callees(bound[0], fn, depth + 1)
        table = local_bindings(fn).get(func.value.value) if isinstance(func, cst.Subscript) \
            and isinstance(func.value, cst.Name) else None
        if table is None or len(table) != 1 or not isinstance(table[0], cst.Dict):
            return []
        found = []
        for element in table[0].elements:
            callees = self._callees(element.value, fn, depth + 1) if isinstance(element, cst.DictElement) else []
            if not callees:
                return []
            found.extend(callees)
        return found

    def _returns_python(self, call: cst.Call, i: int, fn: cst.FunctionDef, depth: int) -> bool:
        values = self.returned(call, i, fn)
        return values is not None and all(self.python(v, helper, depth + 1) for v, helper in values)

    def metric_result(self, value: cst.BaseExpression, fn: cst.FunctionDef, depth: int = 0) -> bool:
        """Whether ``value`` in ``fn`` is a metric's ``(value, update_op)``: a tf.metrics call, a
        name bound to one, or what a helper returning one returns (``loss, rmse = errors(...)``)."""
        if depth > DEPTH:
            return False
        if isinstance(value, cst.Call):
            if is_metric_call(self._api(value.func, fn)):
                return True
            values = self.returned(value, None, fn)
            return values is not None and all(self.metric_result(v, h, depth + 1) for v, h in values)
        if isinstance(value, cst.Name) and value.value not in param_names(fn):
            bound = [v for v in local_bindings(fn).get(value.value, []) if v is not None]
            if any(self.metric_result(v, fn, depth + 1) for v in bound):
                return True
            return any(self.unpacked_metric(call, i, fn, depth + 1) for call, i in unpacked(fn, value.value))
        return False

    def unpacked_metric(self, call: cst.Call, i: int, fn: cst.FunctionDef, depth: int = 0) -> bool:
        """Whether ``a, m = call`` gives ``m`` (at ``i``) a metric result from a helper it follows."""
        values = self.returned(call, i, fn)
        return values is not None and any(self.metric_result(v, helper, depth + 1) for v, helper in values)
