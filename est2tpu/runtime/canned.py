"""Canned estimators as ``TPUEstimator``s: ``est2tpu.DNNClassifier`` and its siblings.

``DNNClassifier``, ``DNNRegressor``, ``LinearClassifier``, ``LinearRegressor``,
``DNNLinearCombinedClassifier`` and ``DNNLinearCombinedRegressor`` take the
arguments of their ``tf.estimator`` (V2) classes, plus TPUEstimator's
``use_tpu`` and batch sizes, and return a ``TPUEstimator`` running the canned
model_fn with the canned head.  On the CPU (``use_tpu`` false) that model_fn
runs unchanged: training, evaluation, predictions and exports are the canned
estimator's.  On a TPU it runs with

* a head that builds a TPU-safe spec: the loss averaged (or, for a SUM
  reduction, summed) across shards, metrics computed on the host by a
  ``metric_fn`` from batch-major logits, labels and weights, and only the
  numeric predictions (no ``classes``/``all_classes`` strings);
* its Keras (OptimizerV2) optimizers, created where the canned code creates
  them (so each keeps its defaults), aggregating gradients across shards;
* its scalar summaries (loss, zero fractions, bias) written from a host_call,
  histograms dropped;
* feature columns that compile for the TPU: dense columns as they are,
  embedding columns of ``categorical_column_with_identity`` as TPU embedding
  columns (``embedding_config_spec``); any other column is refused, naming it.

SavedModels are the CPU graph (``export_to_tpu=False``), as the canned
estimator exports them.
"""

import contextlib

import tensorflow as tf
from tensorflow.python.feature_column import feature_column_v2 as fc
from tensorflow_estimator.python.estimator import model_fn as model_fn_lib
from tensorflow_estimator.python.estimator.canned import dnn
from tensorflow_estimator.python.estimator.canned import dnn_linear_combined
from tensorflow_estimator.python.estimator.canned import linear
from tensorflow_estimator.python.estimator.canned import optimizers
from tensorflow_estimator.python.estimator.canned.metric_keys import MetricKeys
from tensorflow_estimator.python.estimator.canned.prediction_keys import (
    PredictionKeys,
)
from tensorflow_estimator.python.estimator.head import base_head
from tensorflow_estimator.python.estimator.head import binary_class_head
from tensorflow_estimator.python.estimator.head import head_utils
from tensorflow_estimator.python.estimator.head import multi_class_head
from tensorflow_estimator.python.estimator.head import regression_head

from est2tpu.runtime import tpu
from est2tpu.runtime.tpu_estimator import (
    check_train_batch_size,
    cross_shard_aggregator,
    tpu_estimator,
    tpu_run_config,
)

_TPU = tf.compat.v1.estimator.tpu
_MODE = tf.estimator.ModeKeys
_MEAN = tf.losses.Reduction.SUM_OVER_BATCH_SIZE
_DNN, _LINEAR = "dnn", "linear"
_NUMERIC_PREDICTIONS = {
    binary_class_head.BinaryClassHead: (
        PredictionKeys.LOGITS,
        PredictionKeys.LOGISTIC,
        PredictionKeys.PROBABILITIES,
        PredictionKeys.CLASS_IDS,
        PredictionKeys.ALL_CLASS_IDS,
    ),
    multi_class_head.MultiClassHead: (
        PredictionKeys.LOGITS,
        PredictionKeys.PROBABILITIES,
        PredictionKeys.CLASS_IDS,
        PredictionKeys.ALL_CLASS_IDS,
    ),
}


def DNNClassifier(
    hidden_units,
    feature_columns,
    model_dir=None,
    n_classes=2,
    weight_column=None,
    label_vocabulary=None,
    optimizer="Adagrad",
    activation_fn=tf.nn.relu,
    dropout=None,
    config=None,
    warm_start_from=None,
    loss_reduction=_MEAN,
    batch_norm=False,
    *,
    use_tpu=None,
    train_batch_size=None,
    eval_batch_size=None,
    predict_batch_size=None,
    iterations_per_loop=100,
):
    """``tf.estimator.DNNClassifier`` as a TPUEstimator (see the module docstring)."""
    head = head_utils.binary_or_multi_class_head(
        n_classes, weight_column, label_vocabulary, loss_reduction
    )
    model_fn = CannedModelFn(
        dnn.dnn_model_fn_v2,
        head,
        {"feature_columns": (_DNN, tuple(feature_columns or []))},
        embedding_optimizer=(optimizer, None),
        hidden_units=hidden_units,
        optimizer=optimizer,
        activation_fn=activation_fn,
        dropout=dropout,
        batch_norm=batch_norm,
    )
    return _estimator(model_fn, model_dir, config, warm_start_from, use_tpu,
                      train_batch_size, eval_batch_size, predict_batch_size,
                      iterations_per_loop)  # fmt: skip


def DNNRegressor(
    hidden_units,
    feature_columns,
    model_dir=None,
    label_dimension=1,
    weight_column=None,
    optimizer="Adagrad",
    activation_fn=tf.nn.relu,
    dropout=None,
    config=None,
    warm_start_from=None,
    loss_reduction=_MEAN,
    batch_norm=False,
    *,
    use_tpu=None,
    train_batch_size=None,
    eval_batch_size=None,
    predict_batch_size=None,
    iterations_per_loop=100,
):
    """``tf.estimator.DNNRegressor`` as a TPUEstimator (see the module docstring)."""
    head = regression_head.RegressionHead(
        label_dimension=label_dimension,
        weight_column=weight_column,
        loss_reduction=loss_reduction,
    )
    model_fn = CannedModelFn(
        dnn.dnn_model_fn_v2,
        head,
        {"feature_columns": (_DNN, tuple(feature_columns or []))},
        embedding_optimizer=(optimizer, None),
        hidden_units=hidden_units,
        optimizer=optimizer,
        activation_fn=activation_fn,
        dropout=dropout,
        batch_norm=batch_norm,
    )
    return _estimator(model_fn, model_dir, config, warm_start_from, use_tpu,
                      train_batch_size, eval_batch_size, predict_batch_size,
                      iterations_per_loop)  # fmt: skip


def LinearClassifier(
    feature_columns,
    model_dir=None,
    n_classes=2,
    weight_column=None,
    label_vocabulary=None,
    optimizer="Ftrl",
    config=None,
    warm_start_from=None,
    loss_reduction=_MEAN,
    sparse_combiner="sum",
    *,
    use_tpu=None,
    train_batch_size=None,
    eval_batch_size=None,
    predict_batch_size=None,
    iterations_per_loop=100,
):
    """``tf.estimator.LinearClassifier`` as a TPUEstimator (see the module docstring)."""
    linear._validate_linear_sdca_optimizer_for_linear_classifier(
        feature_columns, n_classes, optimizer, sparse_combiner
    )
    head = head_utils.binary_or_multi_class_head(
        n_classes, weight_column, label_vocabulary, loss_reduction
    )
    model_fn = CannedModelFn(
        linear._linear_model_fn_v2,
        head,
        {"feature_columns": (_LINEAR, tuple(feature_columns or []))},
        optimizer=optimizer,
        sparse_combiner=sparse_combiner,
    )
    return _estimator(model_fn, model_dir, config, warm_start_from, use_tpu,
                      train_batch_size, eval_batch_size, predict_batch_size,
                      iterations_per_loop)  # fmt: skip


def LinearRegressor(
    feature_columns,
    model_dir=None,
    label_dimension=1,
    weight_column=None,
    optimizer="Ftrl",
    config=None,
    warm_start_from=None,
    loss_reduction=_MEAN,
    sparse_combiner="sum",
    *,
    use_tpu=None,
    train_batch_size=None,
    eval_batch_size=None,
    predict_batch_size=None,
    iterations_per_loop=100,
):
    """``tf.estimator.LinearRegressor`` as a TPUEstimator (see the module docstring)."""
    linear._validate_linear_sdca_optimizer_for_linear_regressor(
        feature_columns, label_dimension, optimizer, sparse_combiner
    )
    head = regression_head.RegressionHead(
        label_dimension=label_dimension,
        weight_column=weight_column,
        loss_reduction=loss_reduction,
    )
    model_fn = CannedModelFn(
        linear._linear_model_fn_v2,
        head,
        {"feature_columns": (_LINEAR, tuple(feature_columns or []))},
        optimizer=optimizer,
        sparse_combiner=sparse_combiner,
    )
    return _estimator(model_fn, model_dir, config, warm_start_from, use_tpu,
                      train_batch_size, eval_batch_size, predict_batch_size,
                      iterations_per_loop)  # fmt: skip


def DNNLinearCombinedClassifier(
    model_dir=None,
    linear_feature_columns=None,
    linear_optimizer="Ftrl",
    dnn_feature_columns=None,
    dnn_optimizer="Adagrad",
    dnn_hidden_units=None,
    dnn_activation_fn=tf.nn.relu,
    dnn_dropout=None,
    n_classes=2,
    weight_column=None,
    label_vocabulary=None,
    config=None,
    warm_start_from=None,
    loss_reduction=_MEAN,
    batch_norm=False,
    linear_sparse_combiner="sum",
    *,
    use_tpu=None,
    train_batch_size=None,
    eval_batch_size=None,
    predict_batch_size=None,
    iterations_per_loop=100,
):
    """``tf.estimator.DNNLinearCombinedClassifier`` as a TPUEstimator (see the module docstring)."""
    head = head_utils.binary_or_multi_class_head(
        n_classes, weight_column, label_vocabulary, loss_reduction
    )
    model_fn = _combined_model_fn(
        head, linear_feature_columns, linear_optimizer, dnn_feature_columns,
        dnn_optimizer, dnn_hidden_units, dnn_activation_fn, dnn_dropout,
        batch_norm, linear_sparse_combiner, loss_reduction,
    )  # fmt: skip
    return _estimator(model_fn, model_dir, config, warm_start_from, use_tpu,
                      train_batch_size, eval_batch_size, predict_batch_size,
                      iterations_per_loop)  # fmt: skip


def DNNLinearCombinedRegressor(
    model_dir=None,
    linear_feature_columns=None,
    linear_optimizer="Ftrl",
    dnn_feature_columns=None,
    dnn_optimizer="Adagrad",
    dnn_hidden_units=None,
    dnn_activation_fn=tf.nn.relu,
    dnn_dropout=None,
    label_dimension=1,
    weight_column=None,
    config=None,
    warm_start_from=None,
    loss_reduction=_MEAN,
    batch_norm=False,
    linear_sparse_combiner="sum",
    *,
    use_tpu=None,
    train_batch_size=None,
    eval_batch_size=None,
    predict_batch_size=None,
    iterations_per_loop=100,
):
    """``tf.estimator.DNNLinearCombinedRegressor`` as a TPUEstimator (see the module docstring)."""
    head = regression_head.RegressionHead(
        label_dimension=label_dimension,
        weight_column=weight_column,
        loss_reduction=loss_reduction,
    )
    model_fn = _combined_model_fn(
        head, linear_feature_columns, linear_optimizer, dnn_feature_columns,
        dnn_optimizer, dnn_hidden_units, dnn_activation_fn, dnn_dropout,
        batch_norm, linear_sparse_combiner, loss_reduction,
    )  # fmt: skip
    return _estimator(model_fn, model_dir, config, warm_start_from, use_tpu,
                      train_batch_size, eval_batch_size, predict_batch_size,
                      iterations_per_loop)  # fmt: skip


def _combined_model_fn(
    head,
    linear_feature_columns,
    linear_optimizer,
    dnn_feature_columns,
    dnn_optimizer,
    dnn_hidden_units,
    dnn_activation_fn,
    dnn_dropout,
    batch_norm,
    linear_sparse_combiner,
    loss_reduction,
):
    dnn_linear_combined._validate_feature_columns(
        linear_feature_columns=linear_feature_columns,
        dnn_feature_columns=dnn_feature_columns,
    )
    return CannedModelFn(
        dnn_linear_combined._dnn_linear_combined_model_fn_v2,
        head,
        {
            "linear_feature_columns": (_LINEAR, linear_feature_columns),
            "dnn_feature_columns": (_DNN, dnn_feature_columns),
        },
        embedding_optimizer=(dnn_optimizer, dnn_linear_combined._DNN_LEARNING_RATE),
        linear_optimizer=linear_optimizer,
        dnn_optimizer=dnn_optimizer,
        dnn_hidden_units=dnn_hidden_units,
        dnn_activation_fn=dnn_activation_fn,
        dnn_dropout=dnn_dropout,
        batch_norm=batch_norm,
        linear_sparse_combiner=linear_sparse_combiner,
        loss_reduction=loss_reduction,
    )


def _estimator(
    model_fn,
    model_dir,
    config,
    warm_start_from,
    use_tpu,
    train_batch_size,
    eval_batch_size,
    predict_batch_size,
    iterations_per_loop,
):
    if use_tpu is None:
        use_tpu = tpu.use_tpu()
    check_train_batch_size(use_tpu, train_batch_size)
    embedding = model_fn.embedding_config_spec() if use_tpu else None
    return tpu_estimator(
        model_fn=model_fn,
        config=tpu_run_config(config, model_dir, use_tpu, iterations_per_loop),
        use_tpu=use_tpu,
        train_batch_size=train_batch_size,
        eval_batch_size=eval_batch_size,
        predict_batch_size=predict_batch_size,
        export_to_tpu=False,
        warm_start_from=warm_start_from,
        embedding_config_spec=embedding,
    )


class CannedModelFn:
    """The TPUEstimator ``model_fn`` of a canned estimator.

    ``model_fn`` is the canned module's model_fn (``dnn.dnn_model_fn_v2``, ...),
    called with ``head``, the feature columns (``columns``: model_fn argument ->
    (``"dnn"`` or ``"linear"``, columns)) and ``arguments``, exactly as the
    canned class calls it.  ``params["use_tpu"]`` (set by TPUEstimator) selects
    the TPU path, for ``params["context"].num_replicas`` shards.
    ``embedding_optimizer`` is (optimizer, default learning rate) of the DNN
    part, whose settings the TPU embedding tables train with.
    """

    def __init__(self, model_fn, head, columns, embedding_optimizer=None, **arguments):
        self._model_fn = model_fn
        self._head = head
        self._columns = columns
        self._embedding_optimizer = embedding_optimizer
        self._arguments = arguments
        self._tpu = None
        # The optimizer instances' settings, read before they build a graph (see _fresh_optimizers).
        self._optimizers = {
            id(value): (type(value), value.get_config())
            for value in arguments.values()
            if isinstance(value, tf.keras.optimizers.legacy.Optimizer)
        }

    def __call__(self, features, labels, mode, params, config):
        with _fresh_optimizers(self._optimizers):
            return self._call(features, labels, mode, params, config)

    def _call(self, features, labels, mode, params, config):
        if not params["use_tpu"]:
            columns = {name: cols for name, (_, cols) in self._columns.items()}
            return self._model_fn(
                features=features, labels=labels, mode=mode, head=self._head,
                config=config, **columns, **self._arguments,
            )  # fmt: skip
        columns, embedding_columns = self.tpu_columns()
        if mode == _MODE.PREDICT and embedding_columns:
            names = ", ".join(column.name for column in embedding_columns)
            raise ValueError(
                f"predict() on a TPU is not supported with TPU embedding columns "
                f"({names}): TPUEstimator's predict loop does not look them up.  "
                "Export the model (export_saved_model serves the CPU graph) or "
                "predict on the CPU (TPU_NAME unset) from the same model_dir."
            )
        num_replicas = params["context"].num_replicas
        average = self._head.loss_reduction != tf.losses.Reduction.SUM
        aggregating = _aggregating_optimizers(num_replicas, average, mode)
        with _scalar_summaries() as scalars, aggregating:
            head = _TPUHead(self._head, num_replicas, scalars, config.model_dir)
            return self._model_fn(
                features=features, labels=labels, mode=mode, head=head,
                config=config, **columns, **self._arguments,
            )  # fmt: skip

    def tpu_columns(self):
        """``(columns, embedding_columns)`` for a TPU; raises for what a TPU cannot run."""
        if self._tpu is None:
            _check_tpu_head(self._head)
            if isinstance(self._arguments.get("optimizer"), linear.LinearSDCA):
                raise ValueError(
                    "LinearSDCA is not supported on a TPU: it trains with sparse "
                    "ops and a session hook of its own; use a gradient optimizer."
                )
            self._tpu = _tpu_columns(self._columns, _weight_key(self._head))
        return self._tpu

    def embedding_config_spec(self):
        """TPUEstimator's ``embedding_config_spec`` for the TPU embedding columns, or None."""
        _, embedding_columns = self.tpu_columns()
        if not embedding_columns:
            return None
        return _TPU.experimental.EmbeddingConfigSpec(
            feature_columns=embedding_columns,
            optimization_parameters=_embedding_optimization(
                *self._embedding_optimizer, embedding_columns
            ),
        )


class _TPUHead:
    """A canned head whose estimator spec a TPU can run (see the module docstring).

    Everything but ``create_estimator_spec`` is the canned head's.  Scalar
    summaries recorded in ``scalars`` (the model's, and the loss) are written
    under ``model_dir`` by the training spec's host_call.
    """

    def __init__(self, head, num_replicas, scalars, model_dir):
        self._head = head
        self._num_replicas = num_replicas
        self._scalars = scalars
        self._model_dir = model_dir

    def __getattr__(self, name):
        return getattr(self._head, name)

    def create_estimator_spec(
        self,
        features,
        mode,
        logits,
        labels=None,
        optimizer=None,
        trainable_variables=None,
        train_op_fn=None,
        update_ops=None,
        regularization_losses=None,
    ):
        head = self._head
        if regularization_losses is not None:
            raise ValueError("regularization_losses are not supported on a TPU.")
        with tf.compat.v1.name_scope(head.name, "head"):
            predictions = _numeric_predictions(head, logits)
            if mode == _MODE.PREDICT:
                return _TPU.TPUEstimatorSpec(mode=mode, predictions=predictions)
            loss = head.loss(labels=labels, logits=logits, features=features, mode=mode)
            if mode == _MODE.EVAL:
                return _TPU.TPUEstimatorSpec(
                    mode=mode,
                    loss=self._across_shards(loss),
                    eval_metrics=_eval_metrics(head, features, logits, labels),
                )
            train_op = base_head.create_estimator_spec_train_op(
                head_name=head.name,
                optimizer=optimizer,
                trainable_variables=trainable_variables,
                train_op_fn=train_op_fn,
                update_ops=update_ops,
                regularized_training_loss=loss,
                loss_reduction=head.loss_reduction,
            )
        loss = self._across_shards(loss)
        self._scalars.append((head._summary_key(MetricKeys.LOSS), loss))
        return _TPU.TPUEstimatorSpec(
            mode=mode,
            loss=loss,
            train_op=train_op,
            host_call=_host_call(self._model_dir, self._scalars),
        )

    def _across_shards(self, loss):
        """The global batch's loss: the shards' mean (or sum, for a SUM reduction)."""
        total = tf.compat.v1.tpu.cross_replica_sum(loss)
        if self._head.loss_reduction == tf.losses.Reduction.SUM:
            return total
        return total / self._num_replicas


def _check_tpu_head(head):
    if getattr(head, "_label_vocabulary", None):
        raise ValueError(
            f"label_vocabulary={list(head._label_vocabulary)!r} is not supported on "
            "a TPU: string labels cannot be fed to a TPU, nor looked up there.  Map "
            "the labels to ids 0..n_classes-1 in input_fn and drop label_vocabulary."
        )


def _numeric_predictions(head, logits):
    """The head's predictions without its string ones (``classes``, ``all_classes``)."""
    keys = _NUMERIC_PREDICTIONS.get(type(head))
    if keys is None:
        return head.predictions(logits)
    return head.predictions(logits, keys=keys)


def _weight_key(head):
    """The feature that ``head``'s weight column reads, or None."""
    column = head._weight_column
    if column is None or isinstance(column, str):
        return column
    return column.key


def _eval_metrics(head, features, logits, labels):
    """``(metric_fn, tensors)``: the head's metrics, updated on the host.

    The head reads only the example weights from the features, so metric_fn gets
    the weight feature alone (the head applies the weight column to it again).
    """
    tensors = {"logits": logits, "labels": labels}
    key = _weight_key(head)
    if key is not None:
        tensors["weights"] = features[key]

    def metric_fn(logits, labels, weights=None):
        metrics = head.metrics()
        head.update_metrics(metrics, {key: weights} if key else {}, logits, labels)
        # Metric objects -> (value, update_op), as EstimatorSpec converts them.
        return model_fn_lib._validate_eval_metric_ops(metrics)

    return metric_fn, tensors


def _host_call(model_dir, scalars):
    """A host_call writing ``scalars`` ((tag, tensor) pairs), averaged over shards."""
    tags = [tag for tag, _ in scalars]

    def host_call(global_step, *values):
        with (
            tf.compat.v2.summary.create_file_writer(model_dir).as_default(),
            tf.compat.v2.summary.record_if(True),
        ):
            for tag, value in zip(tags, values):
                tf.compat.v2.summary.scalar(
                    tag, tf.reduce_mean(value), step=global_step[0]
                )
        return tf.compat.v1.summary.all_v2_summary_ops()

    global_step = tf.compat.v1.train.get_or_create_global_step()
    tensors = [tf.reshape(tensor, [1]) for _, tensor in scalars]
    return host_call, [tf.reshape(global_step, [1]), *tensors]


@contextlib.contextmanager
def _scalar_summaries():
    """Within: v1 scalar summaries are recorded in the yielded list, histograms dropped.

    The canned model_fns write them inside the TPU computation, which cannot
    run summary ops; recorded, the scalars reach a host_call instead.
    """
    summary = tf.compat.v1.summary
    scalar, histogram = summary.scalar, summary.histogram
    scalars = []

    def record(name, tensor, collections=None, family=None):
        scope = tf.compat.v1.get_default_graph().get_name_scope()
        scalars.append((f"{scope}/{name}" if scope else name, tensor))

    summary.scalar = record
    summary.histogram = lambda *args, **kwargs: None
    try:
        yield scalars
    finally:
        summary.scalar, summary.histogram = scalar, histogram


@contextlib.contextmanager
def _fresh_optimizers(settings):
    """Within: an optimizer instance that built another graph is given to the canned code
    as a new one of its class and ``settings`` (id -> (class, config), read before it
    built any graph).

    The canned model_fns make the global step of their graph the optimizer's
    ``iterations``, which an OptimizerV2 allows once: the canned estimator given an
    instance builds one training graph.  TPUEstimator may build several, as
    ``est2tpu verify`` does (the TPU graph, then the CPU one) and train() called again
    does; the new optimizer trains as the instance would, from the checkpoint.
    """
    get = optimizers.get_optimizer_instance_v2

    def fresh(opt, learning_rate=None):
        if id(opt) in settings and opt.weights:
            cls, config = settings[id(opt)]
            opt = cls.from_config(config)
        return get(opt, learning_rate=learning_rate)

    optimizers.get_optimizer_instance_v2 = fresh
    try:
        yield
    finally:
        optimizers.get_optimizer_instance_v2 = get


@contextlib.contextmanager
def _aggregating_optimizers(num_replicas, average, mode):
    """Within: the canned code's optimizers aggregate their gradients across shards.

    The optimizers are those ``optimizers.get_optimizer_instance_v2`` returns,
    the one place the canned model_fns create them; a user's optimizer instance
    gets its own aggregator back afterwards.  Raises if an optimizer built its
    training op without aggregating.
    """
    create = optimizers.get_optimizer_instance_v2
    created, aggregated = [], []

    def aggregating(opt, learning_rate=None):
        optimizer = create(opt, learning_rate=learning_rate)
        created.append((optimizer, optimizer.gradient_aggregator))
        optimizer.gradient_aggregator = cross_shard_aggregator(
            num_replicas, average, aggregated
        )
        return optimizer

    optimizers.get_optimizer_instance_v2 = aggregating
    try:
        yield
    finally:
        optimizers.get_optimizer_instance_v2 = create
        for optimizer, aggregator in created:
            optimizer.gradient_aggregator = aggregator
    if mode == _MODE.TRAIN and not aggregated:
        raise ValueError(
            "The optimizer applied its gradients without OptimizerV2's gradient "
            "aggregation, so they cannot be aggregated across TPU shards."
        )


# --- Feature columns on a TPU -------------------------------------------------

_TO_IDS = (
    "TPUs run no string ops: map the values to integer ids in input_fn and use "
    "categorical_column_with_identity"
)


def _tpu_columns(columns, weight_key):
    """``(columns, embedding_columns)``: the model_fn's columns for a TPU.

    Raises ValueError naming the first column a TPU cannot compute, and why.
    """
    converted = {
        argument: cols and tuple(_tpu_column(column, model) for column in cols)
        for argument, (model, cols) in columns.items()
    }
    embedding = [
        column
        for cols in converted.values()
        for column in cols or ()
        if _is_tpu_embedding(column)
    ]
    _check_embedding_features(converted, embedding, weight_key)
    return converted, embedding


def _is_tpu_embedding(column):
    return isinstance(column, fc.EmbeddingColumn) and hasattr(
        column, "get_feature_key_name"
    )


def _tpu_column(column, model):
    """The column, or its TPU embedding column; raises if a TPU cannot compute it."""
    if isinstance(column, fc.NumericColumn):
        return column
    if isinstance(column, fc.BucketizedColumn):
        if model == _DNN:
            return column
        raise _refused(
            column,
            "a linear model looks up the weights of a bucketized column with "
            "sparse ops, which have no TPU kernel: wrap it in "
            "tf.feature_column.indicator_column(...)",
        )
    if isinstance(column, fc.IndicatorColumn):
        _check_dense_ids(column, column.categorical_column)
        return column
    if isinstance(column, fc.EmbeddingColumn) and not isinstance(
        column, fc.SharedEmbeddingColumn
    ):
        return _tpu_embedding_column(column, model)
    if isinstance(column, fc.CategoricalColumn):
        raise _refused(
            column,
            "a linear model looks up the weights of a categorical column with "
            "sparse ops, which have no TPU kernel: wrap it in "
            "tf.feature_column.indicator_column(...)",
        )
    raise _refused(
        column,
        f"{type(column).__name__} is not supported on a TPU; use numeric, "
        "bucketized, indicator or embedding columns",
    )


def _check_dense_ids(column, categorical):
    """An indicator column's categorical column must compute its ids with XLA ops."""
    if isinstance(categorical, (fc.IdentityCategoricalColumn, fc.BucketizedColumn)):
        return
    if isinstance(
        categorical,
        (fc.VocabularyListCategoricalColumn, fc.VocabularyFileCategoricalColumn),
    ):
        raise _refused(column, f"a vocabulary lookup is a string op; {_TO_IDS}")
    if isinstance(categorical, fc.HashedCategoricalColumn):
        raise _refused(column, f"hashing (AsString, StringToHashBucketFast); {_TO_IDS}")
    if isinstance(categorical, fc.CrossedColumn):
        raise _refused(
            column,
            "crossing (SparseCross) has no TPU kernel: compute the crossed ids "
            "in input_fn and use categorical_column_with_identity",
        )
    raise _refused(
        column,
        f"{type(categorical).__name__} ids are computed with sparse ops, which "
        "have no TPU kernel",
    )


def _tpu_embedding_column(column, model):
    """``tf.compat.v1.tpu.experimental.embedding_column`` for an embedding column."""
    if model != _DNN:
        raise _refused(
            column,
            "TPU embedding columns are supported in the DNN part only: pass it "
            "in dnn_feature_columns",
        )
    categorical = column.categorical_column
    if not isinstance(categorical, fc.IdentityCategoricalColumn):
        if isinstance(categorical, fc.BucketizedColumn):
            reason = "an embedding of a bucketized column needs sparse ops on a TPU"
        else:
            reason = (
                f"its {type(categorical).__name__} needs string or sparse ops; "
                f"{_TO_IDS}"
            )
        raise _refused(column, reason)
    unsupported = [
        name
        for name, value, default in (
            ("max_norm", column.max_norm, None),
            ("trainable", column.trainable, True),
            ("ckpt_to_load_from", column.ckpt_to_load_from, None),
        )
        if value != default
    ]
    if unsupported:
        raise _refused(
            column, f"TPU embedding columns have no {', '.join(unsupported)}"
        )
    return tf.compat.v1.tpu.experimental.embedding_column(
        categorical,
        column.dimension,
        combiner=column.combiner,
        initializer=column.initializer,
        use_safe_embedding_lookup=column.use_safe_embedding_lookup,
    )


def _check_embedding_features(columns, embedding_columns, weight_key):
    """TPU embedding takes its features out of the features dict: no one else may read them."""
    keys = [c.categorical_column.key for c in embedding_columns]
    readers = {}
    for cols in columns.values():
        for column in cols or ():
            if column not in embedding_columns:
                for key in fc.make_parse_example_spec_v2([column]):
                    readers.setdefault(key, column.name)
    if weight_key is not None:
        readers.setdefault(weight_key, "weight_column")
    for column, key in zip(embedding_columns, keys):
        if keys.count(key) > 1 or key in readers:
            other = readers.get(key, "another embedding column")
            raise _refused(
                column,
                f"TPU embedding takes feature {key!r} out of the features, and "
                f"{other} reads it too; give each its own feature",
            )


def _embedding_optimization(optimizer, learning_rate, embedding_columns):
    """TPU embedding optimization parameters equal to the DNN optimizer's settings."""
    names = ", ".join(c.name for c in embedding_columns)
    if callable(optimizer) and not isinstance(
        optimizer, tf.keras.optimizers.legacy.Optimizer
    ):
        raise ValueError(
            f"The TPU embedding columns {names} train with the DNN optimizer's "
            "settings, which an optimizer given as a callable hides: pass an "
            "optimizer instance or name."
        )
    instance = optimizers.get_optimizer_instance_v2(optimizer, learning_rate)
    config = instance.get_config()
    kind, rate = type(instance).__name__, config["learning_rate"]
    problems = [
        key for key in ("clipnorm", "clipvalue", "global_clipnorm") if config.get(key)
    ]
    if not isinstance(rate, float):
        problems.append("a learning-rate schedule")
    if kind == "Adagrad" and not problems:
        return tf.compat.v1.tpu.experimental.AdagradParameters(
            rate, initial_accumulator=config["initial_accumulator_value"]
        )
    if kind == "Adam" and not problems and not config["amsgrad"]:
        return tf.compat.v1.tpu.experimental.AdamParameters(
            rate,
            beta1=config["beta_1"],
            beta2=config["beta_2"],
            epsilon=config["epsilon"],
        )
    if kind == "SGD" and not problems and not config["momentum"]:
        return tf.compat.v1.tpu.experimental.StochasticGradientDescentParameters(rate)
    raise ValueError(
        f"The TPU embedding columns {names} train with the DNN optimizer's "
        f"settings, and {kind}"
        + (f" with {', '.join(problems)}" if problems else "")
        + " has no TPU embedding equivalent: use Adagrad, Adam (no amsgrad) or SGD "
        "(no momentum), without clipping or schedules."
    )


def _refused(column, reason):
    return ValueError(f"Feature column {column.name!r} cannot run on a TPU: {reason}.")
