"""Which model_fns and spec helpers take TPUEstimator's ``params``, and where they are used.

A model_fn given to an Estimator takes params (TPUEstimator passes them).  A spec helper
(a function returning an EstimatorSpec that a model_fn calls) takes them only where the
code est2tpu writes in it reads them: where it builds a ``tf.compat.v1.train`` optimizer,
which is wrapped behind ``if params["use_tpu"]:``, or calls a helper that does.  Every
call of such a function from a model_fn (or helper) then passes ``params=params``; any
other use of it (a call from code without TPUEstimator's params, the function passed as a
value) cannot be given them: an obstacle (:mod:`codemods.model_fn_params`).
:class:`codemods.program.Program` makes those uses part of the estimator's regions.
"""

from __future__ import annotations

from typing import Iterator, Optional, Set, Tuple

import libcst as cst

from .cross_shard_optimizer import _is_v1_optimizer
from .estimators import EstimatorIndex, param_default
from .syntax import param_names


def takes_params(index: EstimatorIndex, fn: cst.FunctionDef) -> bool:
    """Whether ``fn`` (a model_fn or spec helper of the program) must take TPUEstimator's
    params: it, or a helper it calls (at any depth), is an Estimator's model_fn or builds an
    optimizer."""
    return any(f in index.index_of_node(f).estimator_model_fns or _builds_optimizer(index, f)
               for f in (fn, *index.index_of_node(fn).spec_helpers(fn)))


def _builds_optimizer(index: EstimatorIndex, fn: cst.FunctionDef) -> bool:
    """Whether ``fn`` builds a tf.compat.v1.train optimizer itself (which est2tpu wraps)."""
    return any(scope is fn and _is_v1_optimizer(api) for _, api, scope in index.index_of_node(fn).api_calls)


def gains_params(index: EstimatorIndex, fn: cst.FunctionDef) -> bool:
    """Whether the calls of ``fn`` may need ``params=`` added: it takes params and lacks them,
    or has them with a default (a call may leave them out)."""
    return takes_params(index, fn) and ("params" not in param_names(fn) or param_default(fn, "params") is not None)


def uses(index: EstimatorIndex, fns: Set[cst.FunctionDef]) -> Iterator[Tuple[cst.BaseExpression, cst.FunctionDef]]:
    """``(expression, function)`` for each expression of ``index``'s module that names one of
    ``fns`` (``train_spec``, ``model.train_spec``, ``self.train_spec``), other than its def."""
    for name in {fn.name.value for fn in fns}:
        for node in index.name_nodes.get(name, ()):
            parent = index.parent_of.get(node)
            if isinstance(parent, cst.Attribute) and parent.attr is node:
                node, parent = parent, index.parent_of.get(parent)
            elif isinstance(parent, (cst.FunctionDef, cst.ClassDef, cst.Param, cst.ImportAlias, cst.AsName,
                                     cst.AssignTarget, cst.Attribute)) or \
                    isinstance(parent, cst.Arg) and parent.keyword is node:
                continue  # a def, a parameter, an import, a binding, an attribute or keyword's name
            fn = index.resolve_function(node, index.enclosing_def(node))
            if fn in fns:
                yield node, fn


def called(index: EstimatorIndex, node: cst.BaseExpression) -> Optional[cst.Call]:
    """The call ``node`` is the function of (``f`` in ``f(x)``), else None."""
    parent = index.parent_of.get(node)
    return parent if isinstance(parent, cst.Call) and parent.func is node else None

