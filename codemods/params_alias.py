"""TPUEstimator's ``params`` where a function deletes or rebinds the name itself.

Code est2tpu writes reads TPUEstimator's params (``params["batch_size"]`` in an input_fn,
``if params["use_tpu"]:`` in a model_fn).  In a function that deletes or rebinds
``params`` (``del params  # unused``, as TPU code often does, or ``params = load_hparams()``),
such a read would fail (UnboundLocalError) or read another dict.  There it reads a fresh
name bound to params on the function's first line instead::

    def input_fn(params):
        tpu_params = params  # TPUEstimator's params: the name is deleted or rebound below
        del params
        return ds.batch(tpu_params["batch_size"], drop_remainder=True)

:class:`codemods.migrate.Migrate` asks :func:`alias_needed` where new code reads params,
and binds the alias with :func:`bind_alias` when it leaves the function.

The other way round, a function that gains a ``params`` parameter while it reads a params
of the code around it (``lambda: make_dataset(params["train_file"], 32)``) would read
TPUEstimator's instead: :func:`outer_params_read` finds that read, an obstacle (E2T257).
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from .base import Rule, register
from .estimators import is_batch_size_param
from .names import fresh_name, own_bindings
from .syntax import param_names
from .walk import ValueNames

HIDDEN_PARAMS = Rule(
    "E2T257",
    "the params parameter est2tpu adds would hide another params",
    "TPUEstimator calls model_fn and input_fn with a parameter named params, so est2tpu gives "
    "this function one; but the function already reads a params of the code around it (a dict "
    "of hyperparameters, say), which that parameter would hide: it would read TPUEstimator's "
    "params instead. The estimator was left as it was. Rename the outer params, or pass what "
    "the function needs from it explicitly.",
    before='params = {"train_file": path}\nest.train(lambda: make_dataset(params["train_file"], 32), max_steps=100)',
    after='hparams = {"train_file": path}\nest.train(lambda: make_dataset(hparams["train_file"], 32), max_steps=100)',
    blocking=True,
    obstacle=True,
)
register(HIDDEN_PARAMS)

COMMENT = "# TPUEstimator's params: the name is deleted or rebound below"


def alias_needed(fn: Optional[cst.CSTNode]) -> Optional[str]:
    """The name code written in ``fn`` (a def or lambda, None: the module) reads params by
    when ``fn`` deletes or rebinds ``params`` itself; None when ``params`` will do."""
    if isinstance(fn, cst.FunctionDef) and "params" in own_bindings(fn):
        return fresh_name(fn, "tpu_params")
    return None


def bind_alias(fn: cst.FunctionDef, alias: str) -> cst.FunctionDef:
    """``fn`` binding ``alias`` to ``params`` first (after its docstring)."""
    line = cst.SimpleStatementLine(
        [cst.Assign([cst.AssignTarget(cst.Name(alias))], cst.Name("params"))],
        trailing_whitespace=cst.TrailingWhitespace(cst.SimpleWhitespace("  "), cst.Comment(COMMENT)))
    if not isinstance(fn.body, cst.IndentedBlock):  # def f(params): del params; return ...
        return fn.with_changes(body=cst.IndentedBlock([line, cst.SimpleStatementLine(fn.body.body)]))
    body = list(fn.body.body)
    at = 1 if _is_docstring(body[0]) else 0
    return fn.with_changes(body=fn.body.with_changes(body=[*body[:at], line, *body[at:]]))


def _is_docstring(stmt: cst.BaseStatement) -> bool:
    return (isinstance(stmt, cst.SimpleStatementLine) and isinstance(stmt.body[0], cst.Expr)
            and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString)))


def outer_params_read(fn: cst.CSTNode) -> Optional[cst.Name]:
    """The first read of a ``params`` of the code around ``fn`` (a def or lambda without a
    params parameter that binds none itself), which a params parameter added to it would hide;
    ``params["batch_size"]`` is not one (that batch size becomes TPUEstimator's)."""
    if "params" in param_names(fn) or isinstance(fn, cst.FunctionDef) and "params" in own_bindings(fn):
        return None
    return _ParamsRead().walked(fn.body).found


class _ParamsRead(ValueNames):
    def __init__(self) -> None:
        self.found: Optional[cst.Name] = None

    def visit_Name(self, node: cst.Name) -> None:
        if node.value == "params" and self.found is None:
            self.found = node

    def visit_Subscript(self, node: cst.Subscript) -> bool:
        return not is_batch_size_param(node)  # params["batch_size"]: the same, TPUEstimator's per shard

    visit_Call = visit_Subscript

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return outer_params_read(node) is not None  # a def of its own params reads its own

    visit_Lambda = visit_FunctionDef
