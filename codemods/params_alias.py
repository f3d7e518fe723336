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
"""

from __future__ import annotations

from typing import Optional

import libcst as cst

from .names import fresh_name, own_bindings

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
