"""est2tpu's canned estimators against tf.estimator's, and their TPU graphs.

On the CPU each est2tpu class must train, evaluate, predict and export to the
same numbers as its tf.estimator class (seeded by RunConfig(tf_random_seed)).
The TPU graphs are built (not run) in an 8-shard computation, as TPUEstimator
builds them: every variable update depends on a CrossReplicaSum, no summary and
no string op is left in the TPU computation, and metric_fn is fed batch-major
tensors.  Columns a TPU cannot compute are refused with their name.
"""

import types

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import est2tpu  # noqa: E402
from est2tpu.runtime import canned  # noqa: E402

tf.get_logger().setLevel("ERROR")
fc = tf.feature_column

BATCH = 8
EXAMPLES = 32
SHARDS = 8
TRAIN, EVAL, PREDICT = (
    tf.estimator.ModeKeys.TRAIN,
    tf.estimator.ModeKeys.EVAL,
    tf.estimator.ModeKeys.PREDICT,
)
CLASSES = sorted(
    [
        "DNNClassifier",
        "DNNRegressor",
        "LinearClassifier",
        "LinearRegressor",
        "DNNLinearCombinedClassifier",
        "DNNLinearCombinedRegressor",
    ]
)


def _data(rows=EXAMPLES, seed=0, regression=False, n_classes=3):
    rng = np.random.RandomState(seed)
    features = {
        "length": rng.uniform(4, 8, rows).astype("float32"),
        "width": rng.uniform(2, 4, (rows, 2)).astype("float32"),
        "kind": rng.randint(0, 4, rows).astype("int64"),
        "item": rng.randint(0, 6, rows).astype("int64"),
        "weight": rng.uniform(0.5, 2, rows).astype("float32"),
    }
    if regression:
        labels = (features["length"] * 0.3 + rng.normal(0, 0.1, rows)).astype("float32")
    else:
        labels = rng.randint(0, n_classes, rows).astype("int32")
    return features, labels


def _dataset(features, labels=None, batch_size=BATCH):
    data = features if labels is None else (features, labels)
    return tf.data.Dataset.from_tensor_slices(data).batch(
        batch_size, drop_remainder=True
    )


def _length():
    return fc.numeric_column("length")


def _kind():
    return fc.categorical_column_with_identity("kind", 4)


def _item():
    return fc.categorical_column_with_identity("item", 6)


def _cpu_columns():
    """A mix of columns, some a TPU cannot run (the CPU runs them all)."""
    bucketized = fc.bucketized_column(_length(), [5.0, 6.0, 7.0])
    return {
        "dnn": [
            _length(),
            fc.numeric_column("width", shape=(2,)),
            bucketized,
            fc.indicator_column(_kind()),
            fc.embedding_column(_item(), 3),
        ],
        "linear": [
            _length(),
            bucketized,
            _kind(),
            fc.crossed_column([bucketized, _kind()], 10),
        ],
    }


def _tpu_columns():
    """Columns a TPU computes (the embedding column becomes a TPU embedding column)."""
    return {
        "dnn": [
            _length(),
            fc.numeric_column("width", shape=(2,)),
            fc.bucketized_column(_length(), [5.0, 6.0, 7.0]),
            fc.indicator_column(_kind()),
            fc.embedding_column(_item(), 3),
        ],
        "linear": [
            _length(),
            fc.indicator_column(fc.bucketized_column(_length(), [5.0, 6.0])),
            fc.indicator_column(_kind()),
        ],
    }


def _arguments(name, columns):
    """Constructor arguments for class ``name``: 3 classes, weights, non-default settings."""
    weighted = fc.numeric_column("weight", normalizer_fn=lambda w: w * 2.0)
    if name.startswith("DNNLinearCombined"):
        arguments = dict(
            linear_feature_columns=columns["linear"],
            dnn_feature_columns=columns["dnn"],
            dnn_hidden_units=[6, 4],
            dnn_optimizer=tf.keras.optimizers.legacy.Adagrad(0.1),
            weight_column=weighted,
        )
    elif name.startswith("DNN"):
        arguments = dict(
            hidden_units=[6, 4],
            feature_columns=columns["dnn"],
            weight_column="weight",
            dropout=0.1,
        )
    else:
        arguments = dict(
            feature_columns=columns["linear"],
            weight_column="weight",
            optimizer="SGD",
        )
    if name.endswith("Classifier"):
        arguments["n_classes"] = 3
    return arguments


def _pair(name, tmp_path):
    """(est2tpu estimator, tf.estimator estimator) of class ``name``, same arguments."""
    config = tf.estimator.RunConfig(tf_random_seed=11)
    mine = getattr(est2tpu, name)(
        **_arguments(name, _cpu_columns()),
        model_dir=str(tmp_path / "est2tpu"),
        config=config,
        use_tpu=False,
        train_batch_size=BATCH,
        eval_batch_size=BATCH,
        predict_batch_size=BATCH,
    )
    original = getattr(tf.estimator, name)(
        **_arguments(name, _cpu_columns()),
        model_dir=str(tmp_path / "canned"),
        config=config,
    )
    return mine, original


def _assert_same(got, expected, what):
    if (
        isinstance(expected, (bytes, np.ndarray))
        and np.asarray(expected).dtype.kind in "SO"
    ):
        np.testing.assert_array_equal(got, expected, err_msg=what)
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7, err_msg=what)


@pytest.mark.parametrize("name", CLASSES)
def test_matches_canned_estimator_on_cpu(name, tmp_path):
    mine, original = _pair(name, tmp_path)
    assert isinstance(mine, tf.compat.v1.estimator.tpu.TPUEstimator)
    features, labels = _data(regression=name.endswith("Regressor"))

    def mine_input_fn(params):
        return _dataset(features, labels, params["batch_size"]).repeat()

    def original_input_fn():
        return _dataset(features, labels).repeat()

    mine.train(mine_input_fn, steps=6)
    original.train(original_input_fn, steps=6)
    got = mine.evaluate(mine_input_fn, steps=EXAMPLES // BATCH)
    expected = original.evaluate(original_input_fn, steps=EXAMPLES // BATCH)
    assert set(got) == set(expected) and len(expected) > 3
    for key in expected:
        _assert_same(got[key], expected[key], key)

    assert mine.get_variable_names() == original.get_variable_names()
    for variable in original.get_variable_names():
        _assert_same(
            mine.get_variable_value(variable),
            original.get_variable_value(variable),
            variable,
        )

    got = list(
        mine.predict(lambda params: _dataset(features, None, params["batch_size"]))
    )
    expected = list(original.predict(lambda: _dataset(features)))
    assert len(got) == len(expected) == EXAMPLES
    for mine_row, original_row in zip(got, expected):
        assert set(mine_row) == set(original_row)
        for key in original_row:
            _assert_same(mine_row[key], original_row[key], key)

    assert _served(mine, features, tmp_path / "mine") == _served(
        original, features, tmp_path / "original"
    )


def _served(estimator, features, export_dir):
    """The ``predict`` signature's outputs of the exported SavedModel, as lists."""

    def receiver_fn():
        placeholders = {
            key: tf.compat.v1.placeholder(value.dtype, [None, *value.shape[1:]])
            for key, value in features.items()
        }
        return tf.estimator.export.ServingInputReceiver(placeholders, placeholders)

    path = estimator.export_saved_model(str(export_dir), receiver_fn)
    serve = tf.saved_model.load(path).signatures["predict"]
    outputs = serve(
        **{key: tf.constant(value[:BATCH]) for key, value in features.items()}
    )
    return {key: value.numpy().tolist() for key, value in outputs.items()}


def test_batch_size_reaches_input_fn(tmp_path):
    mine, _ = _pair("LinearRegressor", tmp_path)
    features, labels = _data(regression=True)
    seen = []

    def input_fn(params):
        seen.append(params["batch_size"])
        return _dataset(features, labels, params["batch_size"])

    mine.train(input_fn, steps=1)
    assert seen == [BATCH]


# --- TPU graphs ---------------------------------------------------------------


def _tpu_model_fn(name, monkeypatch, **overrides):
    """The CannedModelFn (and TPUEstimator arguments) of ``name`` built for a TPU."""
    built = {}

    def record(**kwargs):
        built.update(kwargs)

    monkeypatch.setattr(canned, "tpu_estimator", record)
    arguments = dict(_arguments(name, _tpu_columns()), **overrides)
    getattr(est2tpu, name)(**arguments, use_tpu=True, train_batch_size=BATCH * SHARDS)
    return built["model_fn"], built


def _tpu_features(features, embedding_columns):
    """One shard's features as TPUEstimator gives them to model_fn: TPU embedding
    features replaced by their activations (looked up by the TPU embedding engine)."""
    features = {key: tf.constant(value[:BATCH]) for key, value in features.items()}
    for column in embedding_columns:
        features[column.get_feature_key_name()] = tf.zeros([BATCH, column.dimension])
    return features


def _build_tpu_graph(name, mode, monkeypatch, **overrides):
    """The model_fn called in an 8-shard TPU computation (``tpu.rewrite``).

    Returns the graph, the TPUEstimatorSpec and the computation's outputs.
    """
    model_fn, built = _tpu_model_fn(name, monkeypatch, **overrides)
    _, embedding_columns = model_fn.tpu_columns()
    features, labels = _data(regression=name.endswith("Regressor"))
    graph, specs = tf.Graph(), []
    with graph.as_default():
        tf.compat.v1.train.create_global_step()
        flat_labels = [] if mode == PREDICT else [tf.constant(labels[:BATCH])]

        def computation(*flat_labels):
            spec = model_fn(
                _tpu_features(features, embedding_columns),
                flat_labels[0] if flat_labels else None,
                mode,
                {"use_tpu": True, "batch_size": BATCH,
                 "context": types.SimpleNamespace(num_replicas=SHARDS)},
                built["config"],
            )  # fmt: skip
            specs.append(spec)
            if mode == TRAIN:
                with tf.control_dependencies([spec.train_op]):
                    return tf.identity(spec.loss)
            if mode == EVAL:
                return [spec.loss, *spec.eval_metrics[1].values()]
            return list(spec.predictions.values())

        outputs = tf.compat.v1.tpu.rewrite(computation, flat_labels)
    return graph, specs[0], outputs


def _cpu_graph(name, mode):
    """The canned estimator's own graph, for the names of its summaries and metrics."""
    estimator = getattr(tf.estimator, name)(**_arguments(name, _cpu_columns()))
    features, labels = _data(regression=name.endswith("Regressor"))
    graph = tf.Graph()
    with graph.as_default():
        tf.compat.v1.train.create_global_step()
        spec = estimator.model_fn(
            {key: tf.constant(value[:BATCH]) for key, value in features.items()},
            tf.constant(labels[:BATCH]),
            mode,
            estimator.config,
        )
    return graph, spec


def _ancestors(tensor):
    seen, stack = set(), [tensor.op]
    while stack:
        op = stack.pop()
        if op not in seen:
            seen.add(op)
            stack.extend(t.op for t in op.inputs)
    return seen


def _in_tpu_computation(op):
    try:
        return bool(op.get_attr("_tpu_replicate"))
    except ValueError:
        return False


def _gradient_input(update):
    """The gradient input of a ResourceApply* op."""
    names = [arg.name for arg in update.op_def.input_arg]
    return update.inputs[names.index("grad" if "grad" in names else "delta")]


def _tags(graph, op_type):
    """The tags of the ``op_type`` summary ops (ScalarSummary, WriteSummary) of ``graph``."""
    tags = []
    for op in graph.get_operations():
        if op.type == op_type:
            names = [arg.name for arg in op.op_def.input_arg]
            tag = op.inputs[names.index("tag" if "tag" in names else "tags")].op
            tags.append(tf.make_ndarray(tag.get_attr("value")).item().decode())
    return sorted(tags)


def _assert_tpu_compilable(graph):
    """No summary op, no string tensor in the TPU computation (but Assert messages)."""
    ops = [op for op in graph.get_operations() if _in_tpu_computation(op)]
    assert ops
    summaries = [op.name for op in graph.get_operations() if "Summary" in op.type]
    assert not summaries
    strings = [
        op.name
        for op in ops
        if any(t.dtype == tf.string for t in op.outputs) and not _assert_message(op)
    ]
    assert not strings


def _assert_message(op):
    """A string constant that only Assert ops read (XLA compiles Assert to nothing)."""
    consumers = op.outputs[0].consumers()
    return op.type == "Const" and all(c.type == "Assert" for c in consumers)


@pytest.mark.parametrize("name", CLASSES)
def test_tpu_training_aggregates_every_update(name, monkeypatch):
    graph, spec, _ = _build_tpu_graph(name, TRAIN, monkeypatch)
    _assert_tpu_compilable(graph)
    with graph.as_default():
        trainable = tf.compat.v1.trainable_variables()
    updates = [
        op for op in graph.get_operations() if op.type.startswith("ResourceApply")
    ]
    assert trainable and updates
    for variable in trainable:
        applied = [op for op in updates if op.inputs[0] is variable.handle]
        assert applied, f"no update of {variable.name}"
        for update in applied:
            sources = {op.type for op in _ancestors(_gradient_input(update))}
            assert "CrossReplicaSum" in sources, f"{variable.name} by {update.name}"
    assert "CrossReplicaSum" in {op.type for op in _ancestors(spec.loss)}


@pytest.mark.parametrize("name", CLASSES)
def test_tpu_scalar_summaries_go_to_the_host_call(name, monkeypatch):
    graph, spec, _ = _build_tpu_graph(name, TRAIN, monkeypatch)
    host_call, tensors = spec.host_call
    assert all(t.shape.rank == 1 for t in tensors)
    cpu_graph, _ = _cpu_graph(name, TRAIN)
    with graph.as_default():
        host_call(*tensors)
    # The canned estimator's scalar summaries, with the same tags.
    assert _tags(graph, "WriteSummary") == _tags(cpu_graph, "ScalarSummary")
    assert len(tensors) == 1 + len(_tags(cpu_graph, "ScalarSummary"))


@pytest.mark.parametrize("name", CLASSES)
def test_tpu_eval_metrics_are_host_computed_pairs(name, monkeypatch):
    graph, spec, outputs = _build_tpu_graph(name, EVAL, monkeypatch)
    _assert_tpu_compilable(graph)
    assert "CrossReplicaSum" in {op.type for op in _ancestors(spec.loss)}
    metric_fn, tensors = spec.eval_metrics
    for key, tensor in tensors.items():
        assert tensor.shape.rank >= 1 and tensor.shape[0] == BATCH, key
    with graph.as_default():  # on the host, fed the TPU computation's outputs
        metrics = metric_fn(**dict(zip(tensors, outputs[1:])))
    for key, pair in metrics.items():
        assert isinstance(pair, tuple) and len(pair) == 2, key
        assert all(
            tf.is_tensor(part) or isinstance(part, tf.Operation) for part in pair
        )
    _, cpu_spec = _cpu_graph(name, EVAL)
    assert set(metrics) == set(cpu_spec.eval_metric_ops)


@pytest.mark.parametrize("name", CLASSES)
def test_tpu_predictions_are_the_numeric_ones(name, monkeypatch):
    dense = _tpu_columns()["dnn"][:-1]  # without the TPU embedding column
    overrides = {}
    if name.startswith("DNNLinear"):
        overrides["dnn_feature_columns"] = dense
    elif name.startswith("DNN"):
        overrides["feature_columns"] = dense
    graph, spec, _ = _build_tpu_graph(name, PREDICT, monkeypatch, **overrides)
    _assert_tpu_compilable(graph)
    _, cpu_spec = _cpu_graph(name, PREDICT)
    assert set(spec.predictions) == set(cpu_spec.predictions) - {
        "classes",
        "all_classes",
    }
    for key, tensor in spec.predictions.items():
        assert tensor.shape[0] == BATCH, key


HEADS = {
    "binary": lambda: tf.estimator.BinaryClassHead(weight_column="weight"),
    "multi_class": lambda: tf.estimator.MultiClassHead(
        3, weight_column=fc.numeric_column("weight", normalizer_fn=lambda w: w * w)
    ),
    "regression": lambda: tf.estimator.RegressionHead(
        label_dimension=2, weight_column="weight", loss_reduction="sum"
    ),
}


@pytest.mark.parametrize("head_name", sorted(HEADS))
def test_host_metric_fn_computes_the_canned_metrics(head_name):
    """metric_fn, fed logits, labels and the raw weight feature, computes the
    canned head's own metrics (weight column normalizer applied once)."""
    head = HEADS[head_name]()
    rng = np.random.RandomState(7)
    features, labels = _data(regression=head_name == "regression")
    if head_name == "binary":
        labels = labels % 2
    if head_name == "regression":
        labels = np.stack([labels, labels * 2], axis=1)
    with tf.Graph().as_default():
        logits = tf.constant(
            rng.normal(size=(BATCH, head.logits_dimension)), tf.float32
        )
        features = {key: tf.constant(value[:BATCH]) for key, value in features.items()}
        labels = tf.constant(labels[:BATCH])
        expected = head.create_estimator_spec(
            features, EVAL, logits, labels
        ).eval_metric_ops
        metric_fn, tensors = canned._eval_metrics(head, features, logits, labels)
        assert set(tensors) == {"logits", "labels", "weights"}
        got = metric_fn(**tensors)
        assert set(got) == set(expected) and len(expected) >= 2
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.local_variables_initializer())
            session.run([update for _, update in [*got.values(), *expected.values()]])
            for key in expected:
                np.testing.assert_allclose(
                    session.run(got[key][0]),
                    session.run(expected[key][0]),
                    rtol=1e-6,
                    err_msg=key,
                )


def _train_step(model_fn, features, labels, params, config, initial=None):
    """Runs one training step of ``model_fn``: (loss, variables after), starting
    from ``initial`` (name -> value) if given, and the variables before."""
    with tf.Graph().as_default():
        tf.compat.v1.train.create_global_step()
        features = {key: tf.constant(value) for key, value in features.items()}
        spec = model_fn(features, tf.constant(labels), TRAIN, params, config)
        variables = tf.compat.v1.global_variables()
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            for variable in variables:
                if initial is not None:
                    variable.load(initial[variable.op.name], session)
            before = {v.op.name: session.run(v) for v in variables}
            _, loss = session.run([spec.train_op, spec.loss])
            return loss, before, {v.op.name: session.run(v) for v in variables}


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum"])
def test_tpu_step_on_identical_shards_is_the_step_on_the_global_batch(
    reduction, monkeypatch
):
    """CrossReplicaSum simulated for 8 shards fed the same batch (x -> 8 x): the
    TPU step moves every variable (both optimizers' slots included) as the canned
    step does on the global batch, and reports the global batch's loss."""
    name = "DNNLinearCombinedRegressor"
    overrides = dict(weight_column="weight", loss_reduction=reduction)
    model_fn, built = _tpu_model_fn(name, monkeypatch, **overrides)
    dense = {"dnn": [_length(), fc.numeric_column("width", shape=(2,))],
             "linear": [_length()]}  # fmt: skip
    original = tf.estimator.DNNLinearCombinedRegressor(
        **dict(_arguments(name, dense), **overrides)
    )
    model_fn = canned.CannedModelFn(
        model_fn._model_fn,
        model_fn._head,
        {"linear_feature_columns": ("linear", dense["linear"]),
         "dnn_feature_columns": ("dnn", dense["dnn"])},
        **model_fn._arguments,
    )  # fmt: skip
    features, labels = _data(BATCH, regression=True)
    global_batch = {k: np.concatenate([v] * SHARDS) for k, v in features.items()}
    expected_loss, initial, expected = _train_step(
        lambda f, l, m, p, c: original.model_fn(f, l, m, c),
        global_batch,
        np.concatenate([labels] * SHARDS),
        None,
        original.config,
    )
    monkeypatch.setattr(
        tf.compat.v1.tpu, "cross_replica_sum", lambda x, *args, **kwargs: x * SHARDS
    )
    params = {"use_tpu": True, "context": types.SimpleNamespace(num_replicas=SHARDS)}
    loss, _, got = _train_step(
        model_fn, features, labels, params, built["config"], initial
    )
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-5)
    assert set(got) == set(expected)
    moved = [key for key in expected if not np.array_equal(expected[key], initial[key])]
    assert len(moved) > 6  # weights, biases, Ftrl and Adagrad slots, global step
    for key in expected:
        # The 8 shards' gradients are summed in another order than the global batch's,
        # so an element near 0 differs by float32 rounding at the scale of its tensor.
        scale = float(np.abs(expected[key]).max())
        np.testing.assert_allclose(got[key], expected[key], rtol=1e-5, atol=1e-6 * scale, err_msg=key)


# --- What a TPU cannot run ------------------------------------------------------

_VOCABULARY = fc.categorical_column_with_vocabulary_list("shape", ["round", "long"])
_BUCKETS = fc.bucketized_column(fc.numeric_column("length"), [5.0])
REFUSED = {
    "crossed": (
        "DNNClassifier",
        dict(
            feature_columns=[
                fc.indicator_column(fc.crossed_column([_BUCKETS, _kind()], 8))
            ]
        ),
        "kind_X_length_bucketized_indicator.*SparseCross",
    ),
    "vocabulary": (
        "DNNRegressor",
        dict(feature_columns=[fc.indicator_column(_VOCABULARY)]),
        "shape_indicator.*string ops.*categorical_column_with_identity",
    ),
    "hashed": (
        "DNNClassifier",
        dict(
            feature_columns=[
                fc.indicator_column(fc.categorical_column_with_hash_bucket("tag", 9))
            ]
        ),
        "tag_indicator.*StringToHashBucketFast",
    ),
    "linear_bucketized": (
        "LinearRegressor",
        dict(feature_columns=[_BUCKETS]),
        "length_bucketized.*indicator_column",
    ),
    "linear_categorical": (
        "LinearClassifier",
        dict(feature_columns=[_kind()]),
        "'kind'.*indicator_column",
    ),
    "vocabulary_embedding": (
        "DNNClassifier",
        dict(feature_columns=[fc.embedding_column(_VOCABULARY, 2)]),
        "shape_embedding.*VocabularyListCategoricalColumn",
    ),
    "linear_embedding": (
        "DNNLinearCombinedClassifier",
        dict(linear_feature_columns=[fc.embedding_column(_item(), 2)]),
        "item_embedding.*dnn_feature_columns",
    ),
    "embedding_feature_read_twice": (
        "DNNClassifier",
        dict(
            feature_columns=[
                fc.embedding_column(_kind(), 2),
                fc.indicator_column(_kind()),
            ]
        ),
        "kind_embedding.*'kind'.*kind_indicator reads it too",
    ),
    "embedding_max_norm": (
        "DNNRegressor",
        dict(feature_columns=[fc.embedding_column(_item(), 2, max_norm=1.0)]),
        "item_embedding.*max_norm",
    ),
    "embedding_optimizer": (
        "DNNClassifier",
        dict(
            feature_columns=[fc.embedding_column(_item(), 2)],
            optimizer=tf.keras.optimizers.legacy.SGD(0.1, momentum=0.9),
        ),
        "item_embedding.*SGD.*no TPU embedding equivalent",
    ),
    "label_vocabulary": (
        "LinearClassifier",
        dict(n_classes=3, label_vocabulary=["a", "b", "c"]),
        "label_vocabulary.*ids",
    ),
    "sdca": (
        "LinearRegressor",
        dict(optimizer=tf.estimator.experimental.LinearSDCA("example_id")),
        "LinearSDCA",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_tpu_refuses_what_it_cannot_run(case, tmp_path):
    name, overrides, message = REFUSED[case]
    arguments = dict(_arguments(name, _tpu_columns()), **overrides)
    with pytest.raises(ValueError, match=message):
        getattr(est2tpu, name)(
            **arguments, model_dir=str(tmp_path), use_tpu=True, train_batch_size=64
        )
    # The CPU runs it: the canned estimator takes these arguments.
    getattr(est2tpu, name)(**arguments, model_dir=str(tmp_path), use_tpu=False)


def test_tpu_embedding_columns(monkeypatch, tmp_path):
    """An embedding column of an identity column becomes a TPU embedding column,
    trained with the DNN optimizer's settings; predict on the TPU is refused
    (TPUEstimator's predict loop does not look them up)."""
    name = "DNNLinearCombinedClassifier"
    model_fn, built = _tpu_model_fn(name, monkeypatch)
    spec = built["embedding_config_spec"]
    [column] = spec.feature_columns
    assert (column.get_feature_key_name(), column.dimension) == ("item", 3)
    assert isinstance(
        spec.optimization_parameters, tf.compat.v1.tpu.experimental.AdagradParameters
    )
    assert spec.optimization_parameters.learning_rate == 0.1
    graph, _, _ = _build_tpu_graph(name, TRAIN, monkeypatch)
    names = [
        v.op.name for v in graph.get_collection(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES)
    ]
    assert names and not [n for n in names if "item_embedding" in n]

    with pytest.raises(ValueError, match="predict.*item_embedding.*export"):
        _build_tpu_graph(name, PREDICT, monkeypatch)


def test_an_optimizer_instance_trains_in_every_graph(tmp_path):
    """The canned estimator given an optimizer instance trains once (its ``iterations``
    can be set once); est2tpu's trains again, in another graph (as verify builds the TPU
    graph, then the CPU one), as the instance would from the checkpoint: 2 + 2 steps on
    one repeated batch, without dropout, are the canned estimator's 4."""
    features, labels = _data(rows=BATCH)
    arguments = dict(_arguments("DNNClassifier", _tpu_columns()), dropout=None,
                     optimizer=tf.keras.optimizers.legacy.Adagrad(0.1))  # fmt: skip
    estimator = est2tpu.DNNClassifier(
        **arguments, model_dir=str(tmp_path / "mine"), use_tpu=False, train_batch_size=BATCH,
        config=tf.estimator.RunConfig(tf_random_seed=3),
    )  # fmt: skip
    original = tf.estimator.DNNClassifier(
        **dict(arguments, optimizer=tf.keras.optimizers.legacy.Adagrad(0.1)),
        model_dir=str(tmp_path / "canned"), config=tf.estimator.RunConfig(tf_random_seed=3),
    )  # fmt: skip

    def input_fn(params=None):
        return _dataset(features, labels).repeat()

    estimator.train(input_fn, steps=2)
    estimator.train(input_fn, steps=2)
    original.train(input_fn, steps=4)
    with pytest.raises(RuntimeError, match="Cannot set `iterations`"):
        original.train(input_fn, steps=1)
    for variable in original.get_variable_names():
        _assert_same(
            estimator.get_variable_value(variable),
            original.get_variable_value(variable),
            variable,
        )


def test_use_tpu_defaults_to_tpu_name(tmp_path, monkeypatch):
    arguments = _arguments("LinearRegressor", _tpu_columns())
    monkeypatch.setenv("TPU_NAME", "some-tpu")
    with pytest.raises(ValueError, match="train_batch_size"):
        est2tpu.LinearRegressor(**arguments, model_dir=str(tmp_path))
    monkeypatch.delenv("TPU_NAME")
    estimator = est2tpu.LinearRegressor(**arguments, model_dir=str(tmp_path))
    assert not estimator._ctx._use_tpu
