"""Checks of what input_fn returns, as TPUEstimator is about to feed it to the TPU.

Every tensor fed to the TPU needs a static shape (predict may leave the batch dimension
open: TPUEstimator pads the last batch), no strings, and a batch of the size
TPUEstimator asked for in ``params["batch_size"]``; predict needs a Dataset.  A problem
is located at the dataset transformation that introduced it (a ``batch`` without
``drop_remainder``), found by walking the dataset ops back from the one returned.
"""

from __future__ import annotations

import collections
from typing import Any, Callable, Dict, List, Optional, Tuple

import tensorflow as tf

from est2tpu.verify import rules
from est2tpu.verify.locate import of_op

ModeKeys = tf.estimator.ModeKeys
UNSUPPORTED_DTYPES = (tf.string, tf.complex128)


def check(build, values) -> None:
    """Check ``values``, what input_fn returned, for ``build``'s mode."""
    if isinstance(values, tf.data.Dataset):
        dataset_op = values._variant_tensor.op
        components = flatten(_named(values.element_spec))
    else:
        dataset_op = None
        components = flatten(_named(values))
        if build.mode == ModeKeys.PREDICT:
            tensor = next((t for _, t in components if isinstance(t, tf.Tensor)), None)
            build.report(rules.PREDICT_NOT_DATASET, tensor is not None and of_op(tensor) or None,
                         "predict's input_fn returns tensors, not a tf.data.Dataset: on a TPU "
                         "TPUEstimator.predict fails", "return the Dataset itself")
            return
    found: Dict[Tuple, List[str]] = collections.defaultdict(list)  # (rule, place, why, hint) -> what
    for index, (name, value) in enumerate(components):
        if not hasattr(value, "dtype"):
            continue  # not a tensor: TPUEstimator says what is wrong
        shape, dtype = tf.TensorShape(value.shape), tf.as_dtype(value.dtype)

        def where(already: Callable[[tf.TensorShape, tf.DType], bool]):
            return _origin(dataset_op, index, already) if dataset_op is not None else of_op(value)

        if dtype in UNSUPPORTED_DTYPES:
            found[(rules.TPU_DTYPE, where(lambda s, t: t == dtype), f"a TPU cannot take {dtype.name}",
                   "turn strings into ids in input_fn (e.g. a vocabulary lookup)" if dtype == tf.string
                   else "use complex64")].append(f"{name} is a {dtype.name} tensor")
        dims = shape.as_list() if shape.rank is not None else None
        open_dims = dims[1:] if build.mode == ModeKeys.PREDICT and dims else dims
        if dims is None or None in open_dims:
            hint = ("batch with drop_remainder=True" if dims and dims[0] is None else
                    "give every dimension a fixed size (padded_batch with padded_shapes)")
            found[(rules.DYNAMIC_INFEED, where(lambda s, t: s.rank == shape.rank and not s.is_fully_defined()),
                   "a TPU needs shapes known when the graph is built, and TPUEstimator fails ('must have "
                   "a fixed size ... known at construction time')", hint)].append(f"{name} has shape {shape_text(shape)}")
        elif build.input_batch and dims and dims[0] is not None and dims[0] != build.input_batch:
            wrong = dims[0]
            found[(rules.BATCH_IGNORED, where(lambda s, t: s.rank == shape.rank and s.as_list()[0] == wrong),
                   f"TPUEstimator asked input_fn for params['batch_size'] = {build.input_batch}: each TPU "
                   "core gets the wrong batch", "batch by params['batch_size']")].append(
                f"{name} comes in batches of {wrong}")
    for (rule, place, why, hint), what in found.items():
        build.report(rule, place, f"{' and '.join(what)}: {why}", hint)


def _named(structure) -> List[Tuple[str, Any]]:
    if isinstance(structure, tuple) and len(structure) == 2:
        return [("features", structure[0]), ("labels", structure[1])]
    return [("features", structure)]


def flatten(named: List[Tuple[str, Any]]) -> List[Tuple[str, Any]]:
    """(name, leaf) pairs of nested dicts/lists/tuples, named like ``features["x"]``."""
    out: List[Tuple[str, Any]] = []
    stack = list(reversed(named))
    while stack:
        name, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((f"{name}[{k!r}]", v) for k, v in reversed(sorted(value.items(), key=lambda kv: str(kv[0]))))
        elif isinstance(value, (list, tuple)):
            stack.extend((f"{name}[{i}]", v) for i, v in reversed(list(enumerate(value))))
        elif value is not None:
            out.append((name, value))
    return out


def shape_text(shape: tf.TensorShape) -> str:
    return "unknown" if shape.rank is None else "[" + ", ".join("None" if d is None else str(d) for d in shape.as_list()) + "]"


def _components(op) -> Optional[List[Tuple[tf.TensorShape, tf.DType]]]:
    """(shape, dtype) of each component of a dataset op's elements, or None if not one."""
    for types in ("output_types", "Toutput_types"):  # TensorSliceDataset's has a name of its own
        try:
            return [(tf.TensorShape(s), tf.as_dtype(t)) for s, t in zip(op.get_attr("output_shapes"),
                                                                         op.get_attr(types))]
        except ValueError:
            continue
    return None


def _origin(op, index: int, already: Callable[[tf.TensorShape, tf.DType], bool]):
    """Where the dataset transformation that gave component ``index`` its problem was
    written: walk back from ``op`` (the dataset returned) while the dataset it transforms
    has as many components and ``already`` the problem in this one."""
    components = _components(op)
    while components is not None:
        parent = next((t.op for t in op.inputs if t.dtype == tf.variant), None)
        before = _components(parent) if parent is not None else None
        if before is None or len(before) != len(components) or not already(*before[index]):
            break
        op, components = parent, before
    return of_op(op)
