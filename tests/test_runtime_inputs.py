"""est2tpu.numpy_input_fn / pandas_input_fn against tf.estimator.inputs' originals.

The originals' batches are read from their queues in a session; est2tpu's Datasets
must give the same elements (structure, dtypes, shapes, values, order) with
shuffle=False on the CPU.  On a TPU (params holds a TPUContext, as TPUEstimator's
input pipeline gives) training and evaluation batches have a static batch
dimension and drop the remainder, prediction keeps it.  An Estimator fed by the
original and a TPUEstimator(use_tpu=False) fed by est2tpu's must train, evaluate
and predict to the same numbers.
"""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
pd = pytest.importorskip("pandas")

import est2tpu  # noqa: E402
from tensorflow_estimator.python.estimator.tpu.tpu_context import (
    TPUContext,
)  # noqa: E402

tf.get_logger().setLevel("ERROR")

ORIGINAL = tf.compat.v1.estimator.inputs
MODES = tf.estimator.ModeKeys
ROWS = 11  # uneven: 1 and 2 epochs end with partial batches of 3 and 2
BATCH = 4
FOREVER_BATCHES = 7  # batches read from a num_epochs=None pipeline (wraps around twice)


def _rng():
    return np.random.RandomState(0)


def _arrays():
    rng = _rng()
    return {
        "age": np.arange(ROWS, dtype=np.int64),
        "pixels": rng.rand(ROWS, 2, 3).astype(np.float32),
        "ratio": rng.rand(ROWS),  # float64 stays float64, as in the original
        "word": np.array([f"w{i}" for i in range(ROWS)]),
    }


def _frame(index=None):
    rng = _rng()
    frame = pd.DataFrame(
        {
            "height": rng.rand(ROWS).astype(np.float32),
            "count": np.arange(ROWS, dtype=np.int32),
            "city": pd.Series([f"c{i % 3}" for i in range(ROWS)], dtype=object),
        }
    )
    if index is not None:
        frame.index = index
    return frame


def _original_batches(input_fn, limit):
    """The original's elements as numpy, and their (dtype, shape) spec."""
    with tf.Graph().as_default():
        element = input_fn()
        spec = tf.nest.map_structure(lambda t: (t.dtype, t.shape.as_list()), element)
        batches = []
        with tf.compat.v1.train.MonitoredSession() as session:
            while len(batches) < limit and not session.should_stop():
                try:
                    batches.append(session.run(element))
                except tf.errors.OutOfRangeError:
                    break
    return batches, spec


def _batches(dataset, limit):
    spec = tf.nest.map_structure(
        lambda s: (s.dtype, s.shape.as_list()), dataset.element_spec
    )
    return list(dataset.take(limit).as_numpy_iterator()), spec


def _assert_same(got, expected):
    assert len(got) == len(expected)
    for mine, theirs in zip(got, expected):
        tf.nest.assert_same_structure(mine, theirs)
        for a, b in zip(tf.nest.flatten(mine), tf.nest.flatten(theirs)):
            assert a.dtype == b.dtype
            np.testing.assert_array_equal(a, b)


def _numpy_cases():
    arrays = _arrays()
    y = np.arange(ROWS, dtype=np.int32) * 3
    return {
        "array_x": (arrays["pixels"], None),
        "array_x_array_y": (arrays["age"], y),
        "array_x_dict_y": (arrays["pixels"], {"a": y, "b": arrays["ratio"]}),
        "dict_x": (arrays, None),
        "dict_x_array_y": (arrays, y),
        "dict_x_dict_y": (
            {"age": arrays["age"]},
            {"ratio": arrays["ratio"], "w": arrays["word"]},
        ),
    }


def _pandas_cases():
    frame = _frame()
    return {
        "frame": (frame, None, "target"),
        "frame_series_y": (frame, pd.Series(np.arange(ROWS) * 0.5), "target"),
        "frame_frame_y": (
            frame,
            # a label column named like a feature: renamed inside, its own name in labels
            pd.DataFrame({"height": np.arange(ROWS), "t2": np.ones(ROWS, np.float32)}),
            "label",
        ),
        "frame_other_index": (
            _frame(index=np.arange(ROWS)[::-1] + 100),
            pd.Series(np.arange(ROWS), index=np.arange(ROWS)[::-1] + 100),
            "target",
        ),
    }


NUMPY = _numpy_cases()
PANDAS = _pandas_cases()


@pytest.mark.parametrize("num_epochs", [1, 2, None])
@pytest.mark.parametrize("case", sorted(NUMPY))
def test_numpy_batches_are_the_originals(case, num_epochs):
    x, y = NUMPY[case]
    args = dict(x=x, y=y, batch_size=BATCH, num_epochs=num_epochs, shuffle=False)
    expected, expected_spec = _original_batches(
        ORIGINAL.numpy_input_fn(**args), FOREVER_BATCHES
    )
    got, spec = _batches(est2tpu.numpy_input_fn(**args)(params={}), FOREVER_BATCHES)
    assert spec == expected_spec
    _assert_same(got, expected)
    if num_epochs is not None:  # ROWS % BATCH rows in the last batch
        assert len(tf.nest.flatten(got[-1])[0]) == num_epochs * ROWS % BATCH


@pytest.mark.parametrize("num_epochs", [1, 2, None])
@pytest.mark.parametrize("case", sorted(PANDAS))
def test_pandas_batches_are_the_originals(case, num_epochs):
    x, y, target = PANDAS[case]
    args = dict(
        x=x,
        y=y,
        batch_size=BATCH,
        num_epochs=num_epochs,
        shuffle=False,
        target_column=target,
    )
    expected, expected_spec = _original_batches(
        ORIGINAL.pandas_input_fn(**args), FOREVER_BATCHES
    )
    got, spec = _batches(est2tpu.pandas_input_fn(**args)(params={}), FOREVER_BATCHES)
    assert spec == expected_spec
    _assert_same(got, expected)


def test_pandas_string_dtype_reads_as_strings():
    """pandas 3's default ``str`` columns (which the original cannot feed) become tf.string."""
    frame = pd.DataFrame({"city": pd.array(["a", "b", "c"], dtype="string")})
    as_object = pd.DataFrame({"city": pd.Series(["a", "b", "c"], dtype=object)})
    got, spec = _batches(
        est2tpu.pandas_input_fn(frame, batch_size=2, shuffle=False)({}), 9
    )
    expected, expected_spec = _batches(
        est2tpu.pandas_input_fn(as_object, batch_size=2, shuffle=False)({}), 9
    )
    assert spec == expected_spec == {"city": (tf.string, [None])}
    _assert_same(got, expected)


def test_batch_size_comes_from_params():
    """TPUEstimator's params["batch_size"] wins over the batch_size given."""
    x, y = NUMPY["dict_x_array_y"]
    expected, _ = _original_batches(ORIGINAL.numpy_input_fn(x, y, 3, shuffle=False), 9)
    input_fn = est2tpu.numpy_input_fn(x, y, batch_size=BATCH, shuffle=False)
    got, _ = _batches(input_fn(params={"batch_size": 3}), 9)
    _assert_same(got, expected)
    assert len(got) == 4


def test_threads_read_every_epoch_each():
    """num_threads readers each read all epochs, as the original's threads do."""
    x = np.arange(ROWS)
    args = dict(x=x, batch_size=BATCH, num_epochs=2, shuffle=False, num_threads=3)
    expected, expected_spec = _original_batches(ORIGINAL.numpy_input_fn(**args), 99)
    got, spec = _batches(est2tpu.numpy_input_fn(**args)({}), 99)
    assert spec == expected_spec
    assert [len(b) for b in got] == [len(b) for b in expected]
    assert sorted(np.concatenate(got)) == sorted(np.concatenate(expected))
    assert sorted(np.concatenate(got)) == sorted(list(x) * 6)


# --- shuffling ----------------------------------------------------------------


def test_shuffle_gives_each_epoch_a_permutation():
    tf.random.set_seed(7)
    x = np.arange(ROWS)
    y = x * 10
    input_fn = est2tpu.numpy_input_fn(
        x, y, batch_size=BATCH, num_epochs=3, shuffle=True
    )
    got, spec = _batches(input_fn({}), 99)
    assert spec == ((tf.int64, [None]), (tf.int64, [None]))
    features = np.concatenate([f for f, _ in got])
    np.testing.assert_array_equal(np.concatenate([l for _, l in got]), features * 10)
    epochs = features.reshape(3, ROWS)
    for epoch in epochs:
        assert sorted(epoch) == list(x)
    assert not (epochs == x).all(axis=1).any()  # shuffled (seeded, so not by luck)
    assert len({tuple(epoch) for epoch in epochs}) == 3  # reshuffled every epoch
    expected, _ = _original_batches(
        ORIGINAL.numpy_input_fn(x, y, batch_size=BATCH, num_epochs=3, shuffle=True), 99
    )
    assert sorted(np.concatenate([f for f, _ in expected])) == sorted(features)


def test_shuffle_is_seeded_by_the_graph_seed():
    def order():
        tf.random.set_seed(3)
        input_fn = est2tpu.pandas_input_fn(_frame(), batch_size=BATCH, shuffle=True)
        return [b["count"].tolist() for b in input_fn({}).as_numpy_iterator()]

    assert order() == order()


# --- the TPU ------------------------------------------------------------------


def _tpu_params(batch_size=BATCH):
    """What TPUEstimator's input pipeline gives input_fn on a TPU (tpu_estimator.py)."""
    return {"batch_size": batch_size, "context": TPUContext(internal_ctx=None)}


@pytest.mark.parametrize("mode", [MODES.TRAIN, MODES.EVAL])
@pytest.mark.parametrize("num_epochs", [1, 2])
def test_tpu_training_and_evaluation_drop_the_remainder(mode, num_epochs):
    x, y = NUMPY["dict_x_dict_y"]
    args = dict(x=x, y=y, batch_size=BATCH, num_epochs=num_epochs, shuffle=False)
    expected, _ = _original_batches(ORIGINAL.numpy_input_fn(**args), 99)
    dataset = est2tpu.numpy_input_fn(**args)(params=_tpu_params(), mode=mode)
    for spec in tf.nest.flatten(dataset.element_spec):
        assert spec.shape.is_fully_defined() and spec.shape[0] == BATCH, spec
    got, _ = _batches(dataset, 99)
    assert len(got) == num_epochs * ROWS // BATCH
    _assert_same(got, expected[: len(got)])


def test_tpu_static_shapes_for_pandas():
    frame, y, target = PANDAS["frame_frame_y"]
    input_fn = est2tpu.pandas_input_fn(
        frame, y, BATCH, shuffle=False, target_column=target
    )
    specs = tf.nest.flatten(input_fn(_tpu_params(), MODES.TRAIN).element_spec)
    assert [s.shape.as_list() for s in specs] == [[BATCH]] * 5


def test_tpu_prediction_keeps_the_remainder():
    """TPUEstimator pads the last prediction batch itself."""
    x, _ = NUMPY["dict_x"]
    args = dict(x=x, batch_size=BATCH, shuffle=False)
    expected, _ = _original_batches(ORIGINAL.numpy_input_fn(**args), 99)
    got, _ = _batches(est2tpu.numpy_input_fn(**args)(_tpu_params(), MODES.PREDICT), 99)
    _assert_same(got, expected)


@pytest.mark.parametrize(
    "params", [{}, {"batch_size": BATCH}, {"context": "not a TPUContext"}]
)
def test_cpu_keeps_the_remainder(params):
    dataset = est2tpu.numpy_input_fn(np.arange(ROWS), batch_size=BATCH, shuffle=False)(
        params, MODES.TRAIN
    )
    assert dataset.element_spec.shape.as_list() == [None]
    assert [len(b) for b in dataset.as_numpy_iterator()] == [4, 4, 3]


def _graph_size(input_fn, params):
    with tf.Graph().as_default() as graph:
        input_fn(params, MODES.TRAIN)
        return graph.as_graph_def().ByteSize()


def test_only_the_tpu_pipeline_embeds_the_data():
    """On the CPU rows are gathered in Python (checkpoints stay small), on a TPU host
    they must travel in the graph."""
    data = np.zeros((1000, 250), np.float32)  # 1 MB
    input_fn = est2tpu.numpy_input_fn(data, batch_size=BATCH, shuffle=False)
    assert _graph_size(input_fn, {}) < data.nbytes / 20
    assert _graph_size(input_fn, _tpu_params()) > data.nbytes


# --- the original's argument checks -------------------------------------------


def _error(call):
    with pytest.raises(Exception) as info:
        with tf.Graph().as_default():
            call()
    return type(info.value), str(info.value)


NUMPY_ERRORS = {
    "shuffle_missing": dict(x=np.arange(3)),
    "shuffle_not_bool": dict(x=np.arange(3), shuffle=1),
    "x_empty_dict": dict(x={}, shuffle=False),
    "x_empty_array": dict(x=np.zeros(0), shuffle=False),
    "x_list": dict(x=[1, 2], shuffle=False),
    "y_empty_dict": dict(x=np.arange(3), y={}, shuffle=False),
    "duplicate_keys": dict(x={"a": np.arange(3)}, y={"a": np.arange(3)}, shuffle=False),
    "lengths_dict_y": dict(x={"a": np.arange(3)}, y={"b": np.arange(4)}, shuffle=False),
    "lengths_array_y": dict(x={"a": np.arange(3)}, y=np.arange(4), shuffle=False),
    "lengths_no_y": dict(x={"a": np.arange(3), "b": np.arange(2)}, shuffle=False),
}


@pytest.mark.parametrize("case", sorted(NUMPY_ERRORS))
def test_numpy_checks_are_the_originals(case):
    args = NUMPY_ERRORS[case]
    expected = _error(lambda: ORIGINAL.numpy_input_fn(**args)())
    assert _error(lambda: est2tpu.numpy_input_fn(**args)({})) == expected


def test_numpy_length_error_for_an_array_x():
    """The original names an array x '__direct_np_input__'; here its shape is shown."""
    kind, message = _error(
        lambda: est2tpu.numpy_input_fn(np.arange(3), np.arange(4), shuffle=False)({})
    )
    assert kind is ValueError
    assert message.endswith("Shapes in x: (3,)\nShapes in y: (4,)\n")
    assert (
        _error(
            lambda: ORIGINAL.numpy_input_fn(np.arange(3), np.arange(4), shuffle=False)()
        )[0]
        is kind
    )


PANDAS_ERRORS = {
    "shuffle_missing": dict(x=_frame()),
    "target_not_str": dict(x=_frame(), shuffle=False, target_column=1),
    "target_is_a_column": dict(
        x=_frame(), y=pd.Series(np.arange(ROWS)), shuffle=False, target_column="count"
    ),
    "frame_y_target_is_a_column": dict(
        x=_frame(),
        y=pd.DataFrame({"z": np.arange(ROWS)}),
        shuffle=False,
        target_column="city",
    ),
    "index_mismatch": dict(
        x=_frame(),
        y=pd.Series(np.arange(ROWS), index=np.arange(ROWS) + 1),
        shuffle=False,
    ),
}


@pytest.mark.parametrize("case", sorted(PANDAS_ERRORS))
def test_pandas_checks_are_the_originals(case):
    args = PANDAS_ERRORS[case]
    expected = _error(lambda: ORIGINAL.pandas_input_fn(**args))
    assert _error(lambda: est2tpu.pandas_input_fn(**args)) == expected


def test_pandas_copies_the_frame_when_called():
    frame = _frame()
    input_fn = est2tpu.pandas_input_fn(frame, batch_size=ROWS, shuffle=False)
    frame["count"] = -1
    frame["late"] = 0
    (batch,) = input_fn({}).as_numpy_iterator()
    assert sorted(batch) == ["city", "count", "height"]
    assert batch["count"].tolist() == list(range(ROWS))


# --- equivalence under the estimators -----------------------------------------

EXAMPLES = 50  # 7 batches of 8, the last of 2
ESTIMATOR_BATCH = 8
COLUMNS = ["a", "b", "c", "d"]


def _model_fn(features, labels, mode, params):
    """A linear classifier over the columns (seeded), as EstimatorSpec or TPUEstimatorSpec."""
    tpu = "use_tpu" in params  # TPUEstimator puts it into model_fn's params
    inputs = tf.stack([features[column] for column in COLUMNS], axis=1)
    logits = tf.compat.v1.layers.dense(
        inputs, 3, kernel_initializer=tf.compat.v1.glorot_uniform_initializer(seed=1)
    )
    if mode == MODES.PREDICT:
        predictions = {"probabilities": tf.nn.softmax(logits)}
        spec = (
            tf.compat.v1.estimator.tpu.TPUEstimatorSpec
            if tpu
            else tf.estimator.EstimatorSpec
        )
        return spec(mode, predictions=predictions)
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
    train_op = tf.compat.v1.train.GradientDescentOptimizer(0.5).minimize(
        loss, tf.compat.v1.train.get_global_step()
    )

    def metric_fn(labels, logits):
        return {"accuracy": tf.compat.v1.metrics.accuracy(labels, tf.argmax(logits, 1))}

    if tpu:
        return tf.compat.v1.estimator.tpu.TPUEstimatorSpec(
            mode,
            loss=loss,
            train_op=train_op,
            eval_metrics=(metric_fn, [labels, logits]),
        )
    return tf.estimator.EstimatorSpec(
        mode, loss=loss, train_op=train_op, eval_metric_ops=metric_fn(labels, logits)
    )


def _data():
    rng = np.random.RandomState(5)
    x = rng.rand(EXAMPLES, 4).astype(np.float32)
    return x, (x.sum(axis=1) * 2).astype(np.int32) % 3


def _source(kind, module):
    """input_fns over the 4 columns: numpy_input_fn of a dict, or pandas_input_fn."""

    def make(x, y, **kw):
        if kind == "numpy":
            return module.numpy_input_fn(dict(zip(COLUMNS, x.T)), y, **kw)
        frame = pd.DataFrame(x, columns=COLUMNS)
        return module.pandas_input_fn(frame, None if y is None else pd.Series(y), **kw)

    return make


def _run(estimator, make, train_epochs):
    x, y = _data()
    kw = dict(batch_size=ESTIMATOR_BATCH, shuffle=False)
    estimator.train(make(x, y, num_epochs=train_epochs, **kw), steps=9)
    metrics = estimator.evaluate(make(x, y, num_epochs=1, **kw))
    predictions = [p["probabilities"] for p in estimator.predict(make(x, None, **kw))]
    return metrics, np.stack(predictions)


@pytest.mark.parametrize("train_epochs", [1, None])
@pytest.mark.parametrize("kind", ["numpy", "pandas"])
def test_tpu_estimator_trains_as_the_estimator(
    tmp_path, monkeypatch, kind, train_epochs
):
    """num_epochs=1 ends training after 7 steps (the last batch of 2); None runs 9, across epochs."""
    monkeypatch.delenv("TPU_NAME", raising=False)
    before = tf.estimator.Estimator(
        _model_fn, str(tmp_path / "before"), tf.estimator.RunConfig(tf_random_seed=11)
    )
    after = tf.compat.v1.estimator.tpu.TPUEstimator(
        model_fn=_model_fn,
        config=tf.compat.v1.estimator.tpu.RunConfig(
            model_dir=str(tmp_path / "after"), tf_random_seed=11
        ),
        use_tpu=est2tpu.use_tpu(),
        train_batch_size=ESTIMATOR_BATCH,
        eval_batch_size=ESTIMATOR_BATCH,
        predict_batch_size=ESTIMATOR_BATCH,
    )
    metrics, predictions = _run(before, _source(kind, ORIGINAL), train_epochs)
    got_metrics, got_predictions = _run(after, _source(kind, est2tpu), train_epochs)
    assert (
        metrics["global_step"]
        == got_metrics["global_step"]
        == (7 if train_epochs else 9)
    )
    assert set(metrics) == set(got_metrics)
    for key in metrics:
        np.testing.assert_allclose(
            got_metrics[key], metrics[key], rtol=1e-6, err_msg=key
        )
    assert predictions.shape == (EXAMPLES, 3)
    np.testing.assert_allclose(got_predictions, predictions, rtol=1e-6)


def test_on_tpu_is_false_in_what_tpuestimator_gives_a_cpu_run(tmp_path):
    """est2tpu.on_tpu(params), which migrated input_fns test before dropping a remainder: a
    TPUEstimator(use_tpu=False) gives train, eval and predict input_fns no TPUContext."""
    seen = []

    def input_fn(params):
        seen.append(est2tpu.on_tpu(params))
        return tf.data.Dataset.from_tensors(({"x": [[1.0]]}, [[0.0]])).repeat(2)

    def model_fn(features, labels, mode, params):
        output = tf.compat.v1.layers.dense(features["x"], 1)
        loss = tf.reduce_mean(tf.square(output - labels)) if labels is not None else None
        step = tf.compat.v1.train.get_global_step()
        train_op = tf.compat.v1.assign_add(step, 1) if mode == MODES.TRAIN else None
        return tf.compat.v1.estimator.tpu.TPUEstimatorSpec(mode, loss=loss, train_op=train_op,
                                                           predictions={"y": output})

    estimator = tf.compat.v1.estimator.tpu.TPUEstimator(
        model_fn, config=tf.compat.v1.estimator.tpu.RunConfig(model_dir=str(tmp_path)),
        use_tpu=False, train_batch_size=1, eval_batch_size=1, predict_batch_size=1)
    estimator.train(input_fn, steps=1)
    estimator.evaluate(input_fn, steps=1)
    list(estimator.predict(input_fn))
    assert seen == [False, False, False]
    assert est2tpu.on_tpu(_tpu_params()) and not est2tpu.on_tpu(None)
