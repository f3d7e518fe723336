"""``numpy_input_fn`` and ``pandas_input_fn`` that TPUEstimator can call.

``tf.estimator.inputs.numpy_input_fn`` / ``pandas_input_fn`` return input_fns that
take no ``params`` and read their rows through queues (dynamic shapes), so
TPUEstimator cannot use them.  These take the same arguments, check them the same
way, and return an input_fn ``(params, mode)`` giving a ``tf.data.Dataset`` of the
original's elements: ``features`` (a tensor for an array ``x``, else a dict), or
``(features, labels)`` when ``y`` is given.

Batches are ``params["batch_size"]`` rows when params has it (TPUEstimator puts it
there: per shard on a TPU, the global size on the CPU), else ``batch_size``.  With
``shuffle=False`` they are the original's batches in the original's order: rows in
order, epochs back to back (a batch may span two epochs), the last batch partial;
with ``num_epochs=None`` the rows repeat forever and every batch is full (a static
batch dimension, as ``dequeue_many`` gives).  ``num_threads`` readers each read
every epoch (as the original's threads do), ``batch_size`` rows at a time in turn.

With ``shuffle=True`` each epoch is a uniformly random permutation of the rows (a
shuffle buffer of all the rows' indices, reshuffled every epoch, seeded by the
graph seed, e.g. ``RunConfig(tf_random_seed=...)``): every row once per epoch, in
another order than the original's, which starts at a random row and mixes rows in
a ``RandomShuffleQueue`` of ``queue_capacity``.  ``queue_capacity`` is not used.

On a TPU (params holds TPUEstimator's ``context``) training and evaluation batches
drop the remainder, so every batch has the static shape the TPU needs: the last
``num_epochs * rows % batch_size`` rows are not read (none when ``num_epochs`` is
None).  Prediction keeps the last partial batch, which TPUEstimator pads.  On the
CPU nothing is dropped.

Rows are gathered by Python on the CPU, as the original's feeding threads do.  On
a TPU the input pipeline runs on the TPU host, which may be another machine, so
the arrays are embedded in the graph as constants: at most 2 GB, and every
checkpoint's ``.meta`` (and ``graph.pbtxt``) carries them.  Larger data belongs
in files (TFRecord) the TPU host reads.
"""

import collections

import numpy as np
import tensorflow as tf

from .tpu import on_tpu

_PREDICT = tf.estimator.ModeKeys.PREDICT


def numpy_input_fn(
    x,
    y=None,
    batch_size=128,
    num_epochs=1,
    shuffle=None,
    queue_capacity=1000,
    num_threads=1,
):
    """``tf.estimator.inputs.numpy_input_fn`` as a ``tf.data`` input_fn taking params.

    ``x`` is an array or a dict of arrays, ``y`` None, an array or a dict of
    arrays; the data are checked when input_fn is called, as by the original.
    """
    _check_shuffle(shuffle)

    def read():
        if isinstance(x, dict):
            if not x:
                raise ValueError("x cannot be an empty dict")
            features = collections.OrderedDict(sorted(x.items(), key=lambda kv: kv[0]))
        elif isinstance(x, np.ndarray):
            if x.size == 0:
                raise ValueError("x cannot be an empty array")
            features = {None: x}
        else:
            raise TypeError(f"x must be a dict or array; got {type(x).__name__}")
        targets = {}
        if isinstance(y, dict):
            if not y:
                raise ValueError("y cannot be empty dict, use None instead.")
            targets = collections.OrderedDict(sorted(y.items(), key=lambda kv: kv[0]))
            duplicates = set(features) & set(targets)
            if duplicates:
                raise ValueError(
                    f"{len(duplicates)} duplicate keys are found in both x and y: "
                    f"{duplicates}"
                )
        elif y is not None:
            targets = {None: y}
        columns = list(features.values()) + list(targets.values())
        if len({column.shape[0] for column in columns}) != 1:
            raise ValueError(
                "Length of tensors in x and y is mismatched. All elements in x and "
                "y must have the same length.\n"
                f"Shapes in x: {_shapes(features)}\nShapes in y: {_shapes(targets)}\n"
            )
        return columns, _packer(features, targets, y is not None)

    return _input_fn(read, batch_size, num_epochs, shuffle, num_threads)


def pandas_input_fn(
    x,
    y=None,
    batch_size=128,
    num_epochs=1,
    shuffle=None,
    queue_capacity=1000,
    num_threads=1,
    target_column="target",
):
    """``tf.estimator.inputs.pandas_input_fn`` as a ``tf.data`` input_fn taking params.

    ``x`` is a DataFrame (copied now, as by the original), ``y`` None, a Series
    (labels a tensor) or a DataFrame (labels a dict by its column names), with
    ``x``'s index.  Features are a dict by ``x``'s column names.
    """
    try:
        import pandas as pd
    except ImportError:
        raise TypeError(
            "pandas_input_fn should not be called without pandas installed"
        ) from None
    _check_shuffle(shuffle)
    if not isinstance(target_column, str):
        raise TypeError("target_column must be a string type")
    x = x.copy()
    targets = {}
    if y is not None:
        if target_column in x:
            raise ValueError(
                f"Cannot use name {target_column} for target column: DataFrame "
                f"already has a column with that name: {x.columns}"
            )
        if not np.array_equal(x.index, y.index):
            raise ValueError(
                "Index for x and y are mismatched.\n"
                f"Index for x: {x.index}\nIndex for y: {y.index}\n"
            )
        y = y.copy()
        if isinstance(y, pd.DataFrame):
            targets = {name: y[name] for name in y.columns}
        else:
            targets = {None: y}
    features = {name: x[name] for name in x.columns}

    def read():
        columns = list(features.values()) + list(targets.values())
        arrays = [column.to_numpy() for column in columns]
        return arrays, _packer(features, targets, y is not None)

    return _input_fn(read, batch_size, num_epochs, shuffle, num_threads)


def _check_shuffle(shuffle):
    if not isinstance(shuffle, bool):
        raise ValueError(
            "shuffle must be provided and explicitly set as boolean (it is "
            f"recommended to set it as True for training); got {shuffle}"
        )


def _shapes(columns):
    """The shapes the original's length error shows: a dict, y's shape, or None."""
    if not columns:
        return None
    if None in columns:
        return columns[None].shape
    return {key: column.shape for key, column in columns.items()}


def _packer(features, targets, has_y):
    """Builds the original's element from the gathered columns, in read() order.

    A ``None`` key stands for a tensor rather than a dict.
    """
    feature_keys = list(features)
    target_keys = list(targets)

    def pack(tensors):
        def structure(keys, values):
            return values[0] if keys == [None] else dict(zip(keys, values))

        packed = structure(feature_keys, tensors[: len(feature_keys)])
        if not has_y:
            return packed
        return packed, structure(target_keys, tensors[len(feature_keys) :])

    return pack


def _input_fn(read, batch_size, num_epochs, shuffle, num_threads):
    """The input_fn over the columns ``read()`` returns, with their packer."""

    def input_fn(params=None, mode=None):
        """The Dataset for ``params`` and ``mode`` (Estimators pass both).

        Called on a TPU without a mode, it is taken for training or evaluation.
        """
        columns, pack = read()
        params = params or {}
        size = params.get("batch_size", batch_size)
        tpu = on_tpu(params)
        rows = len(columns[0])
        indices = tf.data.Dataset.range(rows)
        if shuffle:
            indices = indices.shuffle(rows, reshuffle_each_iteration=True)
        indices = indices.repeat(num_epochs)
        if num_threads > 1:
            reader = indices
            indices = tf.data.Dataset.range(num_threads).interleave(
                lambda _: reader, cycle_length=num_threads, block_length=size
            )
        drop = num_epochs is None or (tpu and mode != _PREDICT)
        batches = indices.batch(size, drop_remainder=drop)
        gather = _gather_in_graph if tpu else _gather_in_python
        return batches.map(lambda batch: pack(gather(columns, batch)))

    return input_fn


def _gather_in_graph(columns, batch):
    return [tf.gather(tf.constant(column), batch) for column in columns]


def _gather_in_python(columns, batch):
    dtypes = [tf.as_dtype(column.dtype) for column in columns]
    tensors = tf.numpy_function(
        lambda rows: [column[rows] for column in columns],
        [batch],
        dtypes,
        stateful=False,
    )
    for tensor, column in zip(tensors, columns):
        tensor.set_shape(batch.shape.concatenate(column.shape[1:]))
    return tensors
