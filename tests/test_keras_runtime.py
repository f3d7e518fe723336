"""est2tpu.model_to_estimator against Keras' own converter, and its TPU graph.

On the CPU both estimators must train, evaluate and predict to the same numbers.
The TPU graphs are built (not run) to check what TPUEstimator needs: gradients
averaged across shards before each update, and a host metric_fn fed batch-major
tensors that returns (value, update_op) pairs.
"""

import re
import types

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import est2tpu  # noqa: E402
from est2tpu.runtime.keras_estimator import KerasModelFn  # noqa: E402

tf.get_logger().setLevel("ERROR")

BATCH = 8
EXAMPLES = 32
STEPS = EXAMPLES // BATCH
RTOL = 1e-5


def _sequential():
    """Sequential, BatchNorm, loss as a function, metrics as a list, legacy SGD."""
    model = tf.keras.Sequential(
        [
            tf.keras.Input((4,)),
            tf.keras.layers.Dense(8, activation="relu"),
            tf.keras.layers.BatchNormalization(),
            tf.keras.layers.Dense(2),
        ]
    )
    model.compile(
        tf.keras.optimizers.legacy.SGD(0.05, momentum=0.9),
        loss=tf.keras.losses.mean_squared_error,
        metrics=["mae", tf.keras.metrics.RootMeanSquaredError()],
    )
    rng = np.random.RandomState(1)
    features = rng.rand(EXAMPLES, 4).astype("float32")
    return model, features, rng.rand(EXAMPLES, 2).astype("float32")


def _functional():
    """Named inputs and outputs, losses and metrics as dicts, new-style Adam."""
    a = tf.keras.Input((3,), name="a")
    b = tf.keras.Input((2,), name="b")
    hidden = tf.keras.layers.Dense(6, activation="tanh")(
        tf.keras.layers.Concatenate()([a, b])
    )
    reg = tf.keras.layers.Dense(1, name="reg")(hidden)
    cls = tf.keras.layers.Dense(3, activation="softmax", name="cls")(hidden)
    model = tf.keras.Model({"a": a, "b": b}, {"reg": reg, "cls": cls})
    model.compile(
        tf.keras.optimizers.Adam(0.05, clipnorm=1.0),
        loss={"reg": tf.keras.losses.Huber(), "cls": "sparse_categorical_crossentropy"},
        loss_weights={"reg": 1.0, "cls": 0.5},
        metrics={
            "reg": ["mae"],
            "cls": ["accuracy", tf.keras.metrics.SparseCategoricalAccuracy(name="sca")],
        },
    )
    rng = np.random.RandomState(2)
    features = {
        "a": rng.rand(EXAMPLES, 3).astype("float32"),
        "b": rng.rand(EXAMPLES, 2).astype("float32"),
    }
    labels = {
        "reg": rng.rand(EXAMPLES, 1).astype("float32"),
        "cls": rng.randint(0, 3, (EXAMPLES, 1)).astype("int32"),
    }
    return model, features, labels


def _sample_weighted():
    """Outputs and losses as lists, sample weights per output, weighted metrics, L2."""
    x = tf.keras.Input((5,), name="x")
    hidden = tf.keras.layers.Dense(
        4, activation="relu", kernel_regularizer=tf.keras.regularizers.l2(0.01)
    )(x)
    model = tf.keras.Model(
        x,
        [
            tf.keras.layers.Dense(1, name="out_1")(hidden),
            tf.keras.layers.Dense(1, activation="sigmoid", name="out_2")(hidden),
        ],
    )
    model.compile(
        tf.keras.optimizers.legacy.Adam(0.05),
        loss=["mse", "binary_crossentropy"],
        metrics=["mae"],
        weighted_metrics=["mse"],
    )
    rng = np.random.RandomState(3)
    features = {
        "features": rng.rand(EXAMPLES, 5).astype("float32"),
        "sample_weights": {
            "out_1": rng.rand(EXAMPLES).astype("float32"),
            "out_2": rng.rand(EXAMPLES).astype("float32"),
        },
    }
    labels = (
        rng.rand(EXAMPLES, 1).astype("float32"),
        rng.randint(0, 2, (EXAMPLES, 1)).astype("float32"),
    )
    return model, features, labels


def _masked_sequence():
    """A masked sequence output (Embedding mask_zero) and a tf.compat.v1 optimizer."""
    tokens = tf.keras.Input((5,), dtype="int32", name="tokens")
    embedded = tf.keras.layers.Embedding(10, 4, mask_zero=True)(tokens)
    model = tf.keras.Model(tokens, tf.keras.layers.Dense(1, name="score")(embedded))
    model.compile(
        tf.compat.v1.train.GradientDescentOptimizer(0.1), loss="mse", metrics=["mae"]
    )
    rng = np.random.RandomState(4)
    features = rng.randint(0, 10, (EXAMPLES, 5)).astype("int32")
    return model, features, rng.rand(EXAMPLES, 5, 1).astype("float32")


MODELS = {
    "sequential": _sequential,
    "functional": _functional,
    "sample_weighted": _sample_weighted,
    "masked_sequence": _masked_sequence,
}


# Keras' converter evaluates weighted_metrics without the sample weights (it
# reports the metric's first, unweighted, update); test_weighted_metrics checks them.
WEIGHTED_METRICS = {"out_1_mse", "out_2_mse"}


def _build(name):
    tf.keras.utils.set_random_seed(0)
    return MODELS[name]()


def _dataset(features, labels=None, batch_size=BATCH):
    data = features if labels is None else (features, labels)
    return tf.data.Dataset.from_tensor_slices(data).batch(
        batch_size, drop_remainder=True
    )


def _inputs(features):
    """Features without Keras' converter's sample-weights wrapping."""
    if isinstance(features, dict) and "sample_weights" in features:
        return features["features"]
    return features


def _collapse_output_prefixes(name, output_names):
    """Undoes Keras' converter renaming ``cls_sca`` to ``cls_cls_sca`` at each clone."""
    for output in output_names:
        name = re.sub(rf"^({re.escape(output)}_)+", f"{output}_", name)
    return name


def _assert_close(actual, expected, what):
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=1e-7, err_msg=what)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_matches_keras_converter_on_cpu(name, tmp_path):
    model, features, labels = _build(name)
    mine = est2tpu.model_to_estimator(
        model,
        model_dir=str(tmp_path / "est2tpu"),
        use_tpu=False,
        train_batch_size=BATCH,
        eval_batch_size=BATCH,
        predict_batch_size=BATCH,
    )
    keras = tf.keras.estimator.model_to_estimator(
        model, model_dir=str(tmp_path / "keras")
    )
    assert isinstance(mine, tf.compat.v1.estimator.tpu.TPUEstimator)

    def mine_input_fn(params):
        return _dataset(features, labels, params["batch_size"])

    def keras_input_fn():
        return _dataset(features, labels)

    mine.train(mine_input_fn, steps=STEPS)
    keras.train(keras_input_fn, steps=STEPS)
    mine_eval = mine.evaluate(mine_input_fn, steps=STEPS)
    keras_eval = {
        _collapse_output_prefixes(key, model.output_names): value
        for key, value in keras.evaluate(keras_input_fn, steps=STEPS).items()
    }
    assert set(mine_eval) == set(keras_eval)
    assert len(mine_eval) > 2  # loss, global_step and the compiled metrics
    for key in set(mine_eval) - WEIGHTED_METRICS:
        _assert_close(mine_eval[key], keras_eval[key], key)

    # Same checkpoint contents, the object graph (bytes) included.
    assert mine.get_variable_names() == keras.get_variable_names()
    for variable in keras.get_variable_names():
        got = mine.get_variable_value(variable)
        expected = keras.get_variable_value(variable)
        if isinstance(expected, bytes):
            assert got == expected, variable
        else:
            _assert_close(got, expected, variable)

    inputs = _inputs(features)
    mine_predictions = list(
        mine.predict(lambda params: _dataset(inputs, batch_size=params["batch_size"]))
    )
    keras_predictions = list(keras.predict(lambda: _dataset(inputs)))
    assert len(mine_predictions) == len(keras_predictions) == EXAMPLES
    for got, expected in zip(mine_predictions, keras_predictions):
        assert set(got) == set(expected) == set(model.output_names)
        for output in got:
            _assert_close(got[output], expected[output], output)

    _check_export(mine, model, inputs, mine_predictions, tmp_path / "export")


def _check_export(estimator, model, inputs, predictions, export_dir):
    """The exported SavedModel serves what ``predict`` returned."""

    def receiver_fn():
        placeholders = {
            name: tf.compat.v1.placeholder(
                tensor.dtype, [None, *tensor.shape[1:]], name=name
            )
            for name, tensor in zip(model.input_names, model.inputs)
        }
        return tf.estimator.export.ServingInputReceiver(placeholders, placeholders)

    path = estimator.export_saved_model(str(export_dir), receiver_fn)
    serve = tf.saved_model.load(path).signatures["serving_default"]
    if not isinstance(inputs, dict):
        inputs = {model.input_names[0]: inputs}
    served = serve(
        **{name: tf.constant(value[:BATCH]) for name, value in inputs.items()}
    )
    for output in model.output_names:
        expected = np.stack([p[output] for p in predictions[:BATCH]])
        _assert_close(served[output].numpy(), expected, output)


def _train_and_evaluate(estimator, input_fn, steps=2):
    estimator.train(input_fn, steps=steps)
    return estimator.evaluate(input_fn, steps=steps)


def test_saver_checkpoint_format_matches_keras(tmp_path):
    model, features, labels = _build("sequential")
    mine = est2tpu.model_to_estimator(
        model,
        model_dir=str(tmp_path / "est2tpu"),
        checkpoint_format="saver",
        use_tpu=False,
        train_batch_size=BATCH,
        eval_batch_size=BATCH,
    )
    keras = tf.keras.estimator.model_to_estimator(
        model, model_dir=str(tmp_path / "keras"), checkpoint_format="saver"
    )
    got = _train_and_evaluate(
        mine, lambda params: _dataset(features, labels, params["batch_size"])
    )
    expected = _train_and_evaluate(keras, lambda: _dataset(features, labels))
    names = mine.get_variable_names()
    assert names == keras.get_variable_names()
    # Name-based keys, not object-based ones.
    assert not any(".ATTRIBUTES" in name for name in names)
    assert set(got) == set(expected)
    for key in got:
        _assert_close(got[key], expected[key], key)


def test_keras_model_path(tmp_path):
    """A model saved by Keras converts like the model itself."""
    model, features, labels = _build("functional")
    model.save(tmp_path / "model.keras")
    kwargs = dict(use_tpu=False, train_batch_size=BATCH, eval_batch_size=BATCH)
    from_path = est2tpu.model_to_estimator(
        keras_model_path=str(tmp_path / "model.keras"),
        model_dir=str(tmp_path / "from_path"),
        **kwargs,
    )
    from_model = est2tpu.model_to_estimator(
        model, model_dir=str(tmp_path / "from_model"), **kwargs
    )

    def input_fn(params):
        return _dataset(features, labels, params["batch_size"])

    got = _train_and_evaluate(from_path, input_fn)
    expected = _train_and_evaluate(from_model, input_fn)
    assert set(got) == set(expected)
    for key in got:
        _assert_close(got[key], expected[key], key)


def test_export_outputs():
    model, features, _ = _build("functional")
    model_fn = KerasModelFn(
        model, export_outputs={"reg": tf.estimator.export.RegressionOutput}
    )
    with tf.Graph().as_default():
        spec = model_fn(_constants(features), None, PREDICT, {"use_tpu": False})
    assert set(spec.export_outputs) == {"serving_default", "reg"}
    assert isinstance(spec.export_outputs["reg"], tf.estimator.export.RegressionOutput)
    with pytest.raises(ValueError, match="nope"):
        KerasModelFn(
            model, export_outputs={"nope": tf.estimator.export.RegressionOutput}
        )


def test_weighted_metrics(tmp_path):
    """weighted_metrics are weighted by the sample weights, as in Keras' fit."""
    model, features, labels = _build("sample_weighted")
    estimator = est2tpu.model_to_estimator(
        model,
        model_dir=str(tmp_path),
        use_tpu=False,
        train_batch_size=BATCH,
        eval_batch_size=BATCH,
        predict_batch_size=BATCH,
    )

    def input_fn(params):
        return _dataset(features, labels, params["batch_size"])

    estimator.train(input_fn, steps=1)
    metrics = estimator.evaluate(input_fn, steps=STEPS)
    predictions = list(
        estimator.predict(
            lambda params: _dataset(features["features"], batch_size=BATCH)
        )
    )
    for output, label in zip(model.output_names, labels):
        predicted = np.stack([p[output] for p in predictions])
        weights = features["sample_weights"][output]
        squared_errors = ((predicted - label) ** 2).mean(axis=-1)
        expected = (weights * squared_errors).sum() / weights.sum()
        _assert_close(metrics[f"{output}_mse"], expected, output)
        assert abs(metrics[f"{output}_mse"] - squared_errors.mean()) > 1e-4


def test_training_starts_from_all_current_weights(tmp_path):
    """Trainable weights and BatchNorm statistics come from the Keras model."""
    model = tf.keras.Sequential(
        [
            tf.keras.Input((3,)),
            tf.keras.layers.Dense(4),
            tf.keras.layers.BatchNormalization(momentum=1.0),  # statistics stay put
        ]
    )
    model.compile(tf.keras.optimizers.legacy.SGD(0.0), loss="mse")
    model.layers[1].set_weights(
        [np.full(4, 0.5), np.full(4, -1.0), np.full(4, 2.0), np.full(4, 3.0)]
    )
    features = np.random.RandomState(5).rand(BATCH, 3).astype("float32")
    estimator = est2tpu.model_to_estimator(
        model, model_dir=str(tmp_path), use_tpu=False, train_batch_size=BATCH
    )
    estimator.train(
        lambda params: _dataset(features, np.zeros((BATCH, 4), "float32")), steps=1
    )
    output = model.output_names[0]
    predictions = estimator.predict(lambda params: _dataset(features))
    predicted = np.stack([p[output] for p in predictions])
    _assert_close(predicted, model.predict(features, verbose=0), output)


def test_keras_model_stays_usable(tmp_path):
    """Unlike Keras' converter, the converted model can still fit and predict."""
    model, features, labels = _build("functional")
    optimizer = model.optimizer
    estimator = est2tpu.model_to_estimator(
        model, model_dir=str(tmp_path), use_tpu=False, train_batch_size=BATCH
    )
    estimator.train(
        lambda params: _dataset(features, labels, params["batch_size"]), steps=1
    )
    assert model.optimizer is optimizer
    model.fit(features, labels, batch_size=BATCH, epochs=1, verbose=0)
    model.predict(features, verbose=0)


def test_metric_names_map(tmp_path):
    model, features, labels = _build("functional")
    names = {"reg_mae": "mae", "cls_accuracy": "accuracy", "cls_sca": "sca"}
    estimator = est2tpu.model_to_estimator(
        model,
        model_dir=str(tmp_path),
        metric_names_map=names,
        use_tpu=False,
        train_batch_size=BATCH,
        eval_batch_size=BATCH,
    )

    def input_fn(params):
        return _dataset(features, labels, params["batch_size"])

    estimator.train(input_fn, steps=1)
    assert set(estimator.evaluate(input_fn, steps=1)) == {
        "loss",
        "global_step",
        *names.values(),
    }

    model_fn = KerasModelFn(model, metric_names_map={"reg_mae": "mae"})
    with tf.Graph().as_default(), pytest.raises(ValueError, match="cls_accuracy"):
        model_fn(*_graph_inputs(features, labels), EVAL, {"use_tpu": False})


# --- TPU graphs ---------------------------------------------------------------

TRAIN, EVAL, PREDICT = (
    tf.estimator.ModeKeys.TRAIN,
    tf.estimator.ModeKeys.EVAL,
    tf.estimator.ModeKeys.PREDICT,
)
TPU_PARAMS = {
    "use_tpu": True,
    "batch_size": BATCH,
    "context": types.SimpleNamespace(num_replicas=2),
}


def _constants(arrays):
    """One batch of ``arrays`` (a nest) as constants of the current graph."""
    return tf.nest.map_structure(lambda array: tf.constant(array[:BATCH]), arrays)


def _graph_inputs(features, labels):
    return _constants(features), _constants(labels)


def _ancestors(tensor):
    """The ops ``tensor`` is computed from (data inputs only)."""
    seen, stack = set(), [tensor.op]
    while stack:
        op = stack.pop()
        if op not in seen:
            seen.add(op)
            stack.extend(t.op for t in op.inputs)
    return seen


def _gradient_input(update):
    """The gradient input of a ResourceApply* op."""
    names = [arg.name for arg in update.op_def.input_arg]
    return update.inputs[names.index("grad" if "grad" in names else "delta")]


def _build_tpu_graph(name, mode):
    """Calls the model_fn in a TPU computation (``tpu.rewrite``), as TPUEstimator does.

    Returns the graph, the TPUEstimatorSpec, the computation's outputs (the loss
    after the train op, the loss and the eval_metrics tensors, or the
    predictions) and the Keras model.
    """
    model, features, labels = _build(name)
    model_fn = KerasModelFn(model)
    graph, specs = tf.Graph(), []
    with graph.as_default():
        tf.compat.v1.train.create_global_step()  # made outside the TPU computation
        if mode == PREDICT:
            inputs = {"features": _constants(_inputs(features))}
        else:
            inputs = {"features": _constants(features), "labels": _constants(labels)}

        def computation(*flat):
            arguments = {"labels": None, **tf.nest.pack_sequence_as(inputs, flat)}
            spec = model_fn(mode=mode, params=dict(TPU_PARAMS), **arguments)
            specs.append(spec)
            if mode == TRAIN:
                with tf.control_dependencies([spec.train_op]):
                    return tf.identity(spec.loss)
            if mode == EVAL:
                return [spec.loss, *spec.eval_metrics[1].values()]
            return list(spec.predictions.values())

        outputs = tf.compat.v1.tpu.rewrite(computation, tf.nest.flatten(inputs))
    return graph, specs[0], outputs, model


@pytest.mark.parametrize("name", sorted(MODELS))
def test_tpu_gradients_are_averaged_across_shards(name):
    graph, spec, _, _ = _build_tpu_graph(name, TRAIN)
    with graph.as_default():
        trainable = tf.compat.v1.trainable_variables()
        initialized = tf.compat.v1.global_variables() + tf.compat.v1.local_variables()
        assert isinstance(
            spec.scaffold_fn(), tf.compat.v1.train.Scaffold
        )  # on the host
    assert trainable
    updates = [
        op for op in graph.get_operations() if op.type.startswith("ResourceApply")
    ]
    for variable in trainable:
        applied = [op for op in updates if op.inputs[0] is variable.handle]
        assert applied, f"no update of {variable.name}"
        for update in applied:
            sources = {op.type for op in _ancestors(_gradient_input(update))}
            assert (
                "CrossReplicaSum" in sources
            ), f"{variable.name} updated by {update.name}"
    assert "CrossReplicaSum" in {op.type for op in _ancestors(spec.loss)}
    # Every variable the TPU computation uses is initialized by the Estimator.
    handles = {v.handle.op for v in initialized}
    assert all(
        op in handles for op in graph.get_operations() if op.type == "VarHandleOp"
    )


def test_cpu_graph_has_no_cross_shard_op():
    model, features, labels = _build("functional")
    model_fn = KerasModelFn(model)
    graph = tf.Graph()
    with graph.as_default():
        model_fn(*_graph_inputs(features, labels), TRAIN, {"use_tpu": False})
    assert "CrossReplicaSum" not in {op.type for op in graph.get_operations()}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_tpu_eval_metrics_are_host_computed_pairs(name):
    graph, spec, outputs, _ = _build_tpu_graph(name, EVAL)
    metric_fn, tensors = spec.eval_metrics
    assert isinstance(tensors, dict) and tensors
    for key, tensor in tensors.items():
        assert tensor.shape.rank >= 1 and tensor.shape[0] == BATCH, key
    assert "CrossReplicaSum" in {op.type for op in _ancestors(spec.loss)}
    with graph.as_default():  # on the host, fed the TPU computation's outputs
        metrics = metric_fn(**dict(zip(tensors, outputs[1:])))
    assert metrics
    for key, pair in metrics.items():
        assert isinstance(pair, tuple) and len(pair) == 2, key
        assert all(tf.is_tensor(part) for part in pair), key


def test_tpu_eval_metric_names():
    _, spec, _, _ = _build_tpu_graph("functional", EVAL)
    with tf.Graph().as_default():
        tensors = {
            k: tf.zeros(t.shape, t.dtype) for k, t in spec.eval_metrics[1].items()
        }
        assert set(spec.eval_metrics[0](**tensors)) == {
            "reg_mae",
            "cls_accuracy",
            "cls_sca",
        }


@pytest.mark.parametrize("name", sorted(MODELS))
def test_tpu_predictions_are_named_outputs(name):
    _, spec, _, model = _build_tpu_graph(name, PREDICT)
    assert set(spec.predictions) == set(model.output_names)
    for key, tensor in spec.predictions.items():
        assert tensor.shape[0] == BATCH, key


def test_tpu_rejects_sum_reduced_loss():
    model, features, labels = _build("sequential")
    model.compile(
        "sgd", loss=tf.keras.losses.MeanSquaredError(reduction="sum", name="summed_mse")
    )
    model_fn = KerasModelFn(model)
    with tf.Graph().as_default(), pytest.raises(ValueError, match="summed_mse"):
        model_fn(*_graph_inputs(features, labels), TRAIN, dict(TPU_PARAMS))


# --- Arguments and configuration ----------------------------------------------


def test_rejects_unsupported_models():
    class Subclassed(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = tf.keras.layers.Dense(1)

        def call(self, inputs):
            return self.dense(inputs)

    subclassed = Subclassed()
    subclassed.compile("sgd", "mse")
    with pytest.raises(ValueError, match="Subclassed"):
        est2tpu.model_to_estimator(subclassed, use_tpu=False)
    uncompiled = tf.keras.Sequential([tf.keras.Input((2,)), tf.keras.layers.Dense(1)])
    with pytest.raises(ValueError, match="not compiled"):
        est2tpu.model_to_estimator(uncompiled, use_tpu=False)
    with pytest.raises(ValueError, match="exactly one"):
        est2tpu.model_to_estimator(use_tpu=False)


def test_tpu_needs_train_batch_size(tmp_path):
    model, _, _ = _build("sequential")
    with pytest.raises(ValueError, match="train_batch_size"):
        est2tpu.model_to_estimator(model, model_dir=str(tmp_path), use_tpu=True)


def test_use_tpu_defaults_to_tpu_name(tmp_path, monkeypatch):
    model, _, _ = _build("sequential")
    monkeypatch.setenv("TPU_NAME", "some-tpu")
    with pytest.raises(ValueError, match="train_batch_size"):
        est2tpu.model_to_estimator(model, model_dir=str(tmp_path))
    monkeypatch.delenv("TPU_NAME")
    est2tpu.model_to_estimator(model, model_dir=str(tmp_path))


def test_batch_sizes_are_optional_on_cpu(tmp_path):
    """Without batch sizes, TPUEstimator gives input_fn no params["batch_size"]."""
    model, features, labels = _build("sequential")
    estimator = est2tpu.model_to_estimator(
        model, model_dir=str(tmp_path), use_tpu=False
    )
    seen = []

    def input_fn(params):
        seen.append(dict(params))
        return _dataset(features, labels)

    estimator.train(input_fn, steps=1)
    assert seen and "batch_size" not in seen[0]


def test_plain_run_config_becomes_tpu_run_config(tmp_path):
    model, _, _ = _build("sequential")
    session_config = tf.compat.v1.ConfigProto(inter_op_parallelism_threads=1)
    config = tf.estimator.RunConfig(
        model_dir=str(tmp_path),
        tf_random_seed=7,
        save_summary_steps=3,
        save_checkpoints_steps=11,
        keep_checkpoint_max=2,
        session_config=session_config,
    )
    estimator = est2tpu.model_to_estimator(
        model,
        config=config,
        use_tpu=False,
        iterations_per_loop=5,
        train_batch_size=BATCH,
    )
    converted = estimator.config
    assert isinstance(converted, tf.compat.v1.estimator.tpu.RunConfig)
    assert converted.model_dir == str(tmp_path)
    assert (converted.tf_random_seed, converted.save_summary_steps) == (7, 3)
    assert (converted.save_checkpoints_steps, converted.keep_checkpoint_max) == (11, 2)
    assert converted.session_config.inter_op_parallelism_threads == 1
    assert converted.tpu_config.iterations_per_loop == 5


def test_tpu_run_config_is_kept(tmp_path):
    model, _, _ = _build("sequential")
    config = tf.compat.v1.estimator.tpu.RunConfig(
        model_dir=str(tmp_path),
        tpu_config=tf.compat.v1.estimator.tpu.TPUConfig(iterations_per_loop=9),
    )
    estimator = est2tpu.model_to_estimator(model, config=config, use_tpu=False)
    assert estimator.config.tpu_config.iterations_per_loop == 9
    with pytest.raises(ValueError, match="model_dir"):
        est2tpu.model_to_estimator(
            model, config=config, model_dir=str(tmp_path / "other"), use_tpu=False
        )
