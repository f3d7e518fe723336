"""Checks of what model_fn returned on the TPU: what it sends out, and what holds its tensors.

``check_spec`` runs as model_fn returns inside the TPU computation: every tensor sent to
metric_fn or host_call leaves through the outfeed, batch-major and of static shape, and
so do predictions; metric_fn is wrapped so that its results are checked when
TPUEstimator calls it on the host.  ``check_held`` runs on the finished graph: hooks
and Scaffolds run on the host and cannot fetch tensors of the TPU computation, and
export_outputs computed on the TPU must be of types it has.
"""

from __future__ import annotations

from typing import Any, Iterator, List, Optional, Set, Tuple

import tensorflow as tf
from tensorflow.python.framework import func_graph as func_graph_lib
from tensorflow.python.util import function_utils
from tensorflow_estimator.python.estimator import model_fn as model_fn_lib

from est2tpu.verify import graphs, rules
from est2tpu.verify.input_checks import UNSUPPORTED_DTYPES, flatten, shape_text
from est2tpu.verify.locate import of_function, of_op

ModeKeys = tf.estimator.ModeKeys
TPUSpec = model_fn_lib._TPUEstimatorSpec
_HOOK_FIELDS = {ModeKeys.TRAIN: "training_hooks", ModeKeys.EVAL: "evaluation_hooks",
                ModeKeys.PREDICT: "prediction_hooks"}


def check_spec(build, computation) -> Any:
    """Check a model_fn result on the TPU; returns it with a checking metric_fn."""
    spec = computation.spec
    if not isinstance(spec, TPUSpec):
        return spec
    per_core = computation.wrapper._ctx.batch_size_for_model_fn
    if build.mode == ModeKeys.EVAL and spec.eval_metrics:
        _outfeed(build, "metric_fn", spec.eval_metrics, per_core)
    if spec.host_call:
        _outfeed(build, "host_call", spec.host_call, per_core)
    if build.mode == ModeKeys.PREDICT and isinstance(spec.predictions, dict):
        for name, tensor in flatten([("predictions", spec.predictions)]):
            if isinstance(tensor, tf.Tensor) and not tensor.shape.is_fully_defined():
                build.report(rules.DYNAMIC_OUTFEED, of_op(tensor),
                             f"{name} has shape {shape_text(tensor.shape)}: predictions leave the TPU through its "
                             "outfeed, which needs static shapes", "compute it with ops of static shape")
    if build.mode == ModeKeys.EVAL and _is_pair(spec.eval_metrics):
        spec = spec._replace(eval_metrics=(_checking(build, spec.eval_metrics[0]), spec.eval_metrics[1]))
    return spec


def _is_pair(value) -> bool:
    return isinstance(value, (tuple, list)) and len(value) == 2 and callable(value[0])


def _outfeed(build, what: str, call, per_core: int) -> None:
    """The tensors of ``call`` = (fn, tensors), as TPUEstimator will send them."""
    if not _is_pair(call):
        return  # TPUEstimator says what is wrong
    fn, tensors = call
    if isinstance(tensors, dict):
        named = list(tensors.items())
    elif isinstance(tensors, (list, tuple)):
        names = function_utils.fn_args(fn)
        named = [(names[i] if i < len(names) else f"#{i}", t) for i, t in enumerate(tensors)]
    else:
        return
    for name, tensor in named:
        if not isinstance(tensor, tf.Tensor):
            continue
        shape = tensor.shape
        where = of_op(tensor)
        if shape.rank == 0:
            build.report(rules.NOT_BATCH_MAJOR, where,
                         f"'{name}', sent to {what}, is a scalar: TPUEstimator fails ('All tensors outfed "
                         "from TPU should preserve batch size dimension')",
                         f"send tf.reshape({name}, [1]) (or a per-example tensor)")
        elif not shape.is_fully_defined():
            build.report(rules.DYNAMIC_OUTFEED, where,
                         f"'{name}', sent to {what}, has shape {shape_text(shape)}: the TPU outfeed needs static shapes",
                         "compute it with ops of static shape")
        elif shape[0] != per_core and per_core in shape.as_list()[1:]:
            build.report(rules.NOT_BATCH_MAJOR, where,
                         f"'{name}', sent to {what}, has shape {shape_text(shape)}: the batch ({per_core} per core) is "
                         f"in dimension {shape.as_list().index(per_core)}, but the host joins the cores' "
                         "tensors along dimension 0", "send it batch-major (transpose it)")


def _checking(build, metric_fn):
    """metric_fn, checking what it returns (on the host, when TPUEstimator calls it)."""

    def checked_metric_fn(*args, **kwargs):
        result = metric_fn(*args, **kwargs)
        if not isinstance(result, dict):
            build.report(rules.METRIC_RESULT, of_function(metric_fn),
                         f"metric_fn returns a {type(result).__name__}, not a dict of (value, update_op) pairs",
                         "return {name: tf.compat.v1.metrics.*(...)}")
            return result
        for name, value in result.items():
            if not (isinstance(value, (tuple, list)) and len(value) == 2
                    and all(isinstance(v, (tf.Tensor, tf.Operation, tf.Variable)) for v in value)):
                build.report(rules.METRIC_RESULT, of_function(metric_fn),
                             f"metric_fn's '{name}' is a {type(value).__name__}, not a (value, update_op) "
                             "pair: on a TPU TPUEstimator splits it as value[0], value[1]",
                             "use tf.compat.v1.metrics.* (Keras Metric objects work on the CPU only)")
        return result

    return checked_metric_fn


# --------------------------------------------------------------------------- held tensors


def tpu_graphs(build) -> Set[tf.Graph]:
    """The graphs of ``build``'s TPU computations and of everything they call."""
    found: Set[tf.Graph] = set()
    for computation in build.computations:
        found.add(computation.graph)
        found.update(op.graph for op in graphs.tpu_ops(computation.ops))
    return found


def _on_tpu(value, inside: Set[tf.Graph]) -> bool:
    op = value.op if isinstance(value, tf.Tensor) else value
    return op.graph in inside and (isinstance(op.graph, func_graph_lib.FuncGraph)
                                   or graphs.has_attr(op, graphs.TPU_REPLICATE_ATTR))


def _held(obj, depth: int = 3) -> Iterator[Tuple[str, Any]]:
    """(attribute, tensor or op) of what ``obj`` holds, a few containers deep."""
    stack: List[Tuple[str, Any, int]] = [(k, v, depth) for k, v in sorted(getattr(obj, "__dict__", {}).items())]
    while stack:
        name, value, left = stack.pop()
        if isinstance(value, (tf.Tensor, tf.Operation)):
            yield name, value
        elif left and isinstance(value, dict):
            stack.extend((f"{name}[{k!r}]", v, left - 1) for k, v in value.items())
        elif left and isinstance(value, (list, tuple, set)):
            stack.extend((f"{name}[{i}]", v, left - 1) for i, v in enumerate(value))


def _named_tensors(hook, build) -> Iterator[Tuple[str, Any]]:
    """What a hook holds, with the tensor names a LoggingTensorHook was given resolved."""
    yield from _held(hook)
    if isinstance(hook, tf.compat.v1.train.LoggingTensorHook):
        for tag, name in getattr(hook, "_tensors", {}).items():
            if isinstance(name, str):
                for graph in tpu_graphs(build):
                    try:
                        yield tag, graph.as_graph_element(name)
                        break
                    except (KeyError, ValueError):
                        continue


def check_held(build, hooks: Optional[List] = None) -> None:
    """Hooks (the spec's and the program's) and the Scaffold holding TPU tensors;
    export_outputs the TPU cannot compute."""
    inside = tpu_graphs(build)
    if not inside:
        return
    all_hooks = list(hooks or [])
    for computation in build.computations:
        spec = computation.spec
        all_hooks.extend(getattr(spec, _HOOK_FIELDS.get(build.mode, "prediction_hooks"), None) or [])
        if build.mode == "export":
            _export_outputs(build, spec)
    for hook in all_hooks:
        held = [(name, value) for name, value in _named_tensors(hook, build) if _on_tpu(value, inside)]
        if held:
            shown = ", ".join(f"{value.name}" for _, value in held)
            build.report(rules.TPU_TENSOR_HELD, getattr(hook, "_est2tpu_site", None) or of_op(held[0][1]),
                         f"{type(hook).__name__} holds {shown}, computed inside the TPU computation: the hook "
                         "fails when the session starts ('... has been marked as not fetchable')",
                         "log them through host_call, or drop the hook")
    scaffold = getattr(build.spec, "scaffold", None)
    if scaffold is not None:
        scaffold_fn = next((c.spec.scaffold_fn for c in build.computations
                            if isinstance(c.spec, TPUSpec) and c.spec.scaffold_fn), None)
        for name, value in _held(scaffold):
            if _on_tpu(value, inside):
                build.report(rules.TPU_TENSOR_HELD, of_function(scaffold_fn) or of_op(value),
                             f"the Scaffold of scaffold_fn holds '{name.lstrip('_')}' ({value.name}), computed "
                             "inside the TPU computation: the session cannot start",
                             "build the Scaffold in scaffold_fn from variables only")


def _export_outputs(build, spec) -> None:
    for key, output in (getattr(spec, "export_outputs", None) or {}).items():
        for name, tensor in _held(output, depth=1):
            if isinstance(tensor, tf.Tensor) and tf.as_dtype(tensor.dtype) in UNSUPPORTED_DTYPES:
                build.claimed.add(tensor.op)
                build.report(rules.TPU_EXPORT, of_op(tensor),
                             f"export_outputs['{key}'] holds '{name.lstrip('_')}', a {tensor.dtype.name} tensor "
                             "computed on the TPU for the TPU SavedModel: a TPU has no "
                             f"{tensor.dtype.name}", "compute it from the predictions outside model_fn, "
                             "or pass export_to_tpu=False")
