"""A compiled Keras model as a ``TPUEstimator``.

``model_to_estimator`` is ``tf.keras.estimator.model_to_estimator`` (TF/Keras 2.15)
with a TPU path.  Its model_fn clones the compiled model into the Estimator graph
the way Keras' converter does, so on the CPU both estimators compute the same
numbers.  On a TPU it also

* averages the gradients across shards (CrossReplicaSum) before the model's own
  optimizer applies them, so the optimizer sees the global batch's gradient;
* computes the compiled metrics on the host, in a ``metric_fn`` fed with
  batch-major tensors (labels, predictions, masks, sample weights);
* reports the loss averaged across shards (TPUEstimator reports shard 0's).

Where Keras' converter is wrong, this one is not: ``weighted_metrics`` use the
sample weights, metric names do not grow an output prefix at each graph
rebuild, non-trainable weights (BatchNorm statistics) are warm-started too, and
the Keras model stays usable in eager mode (``fit``, ``predict``).
"""

import contextlib
import os
import re

import tensorflow as tf
from keras.src.engine import training_utils_v1
from tensorflow.python.checkpoint import checkpoint as checkpoint_lib

from est2tpu.runtime import tpu
from est2tpu.runtime.tpu_estimator import (
    check_train_batch_size,
    cross_shard_aggregator,
    tpu_estimator,
    tpu_run_config,
)

_TPU = tf.compat.v1.estimator.tpu
_MODE = tf.estimator.ModeKeys
_MEAN_REDUCTIONS = (
    tf.keras.losses.Reduction.AUTO,
    tf.keras.losses.Reduction.SUM_OVER_BATCH_SIZE,
)


def model_to_estimator(
    keras_model=None,
    keras_model_path=None,
    custom_objects=None,
    model_dir=None,
    config=None,
    checkpoint_format="checkpoint",
    metric_names_map=None,
    export_outputs=None,
    *,
    use_tpu=None,
    train_batch_size=None,
    eval_batch_size=None,
    predict_batch_size=None,
    iterations_per_loop=100,
):
    """Returns a ``TPUEstimator`` that trains, evaluates and serves ``keras_model``.

    The arguments before ``*`` are those of ``tf.keras.estimator.model_to_estimator``
    and mean the same; as there, input_fn may return features
    ``{"features": ..., "sample_weights": ...}`` to weight the examples.
    ``use_tpu`` defaults to ``est2tpu.runtime.tpu.use_tpu()``; the batch sizes are
    TPUEstimator's global ones (``train_batch_size`` is required on a TPU), given
    to input_fn as ``params["batch_size"]``.  ``config`` may be None, a
    ``tf.estimator.RunConfig`` (converted to a TPU RunConfig with
    ``iterations_per_loop``) or a TPU RunConfig (used as is).  Training starts from
    the model's current weights.  SavedModels get a TPU graph only when
    ``use_tpu``.

    Raises ValueError for a subclassed or unbuilt model, an optimizer without a
    legacy Keras version and, on a TPU, a loss that is not a batch mean
    (reduction SUM or NONE) or an optimizer whose gradients cannot be averaged.
    """
    if (keras_model is None) == (keras_model_path is None):
        raise ValueError("Pass exactly one of `keras_model` and `keras_model_path`.")
    if checkpoint_format not in ("checkpoint", "saver"):
        raise ValueError(
            "`checkpoint_format` must be 'checkpoint' or 'saver', "
            f"got {checkpoint_format!r}."
        )
    if use_tpu is None:
        use_tpu = tpu.use_tpu()
    check_train_batch_size(use_tpu, train_batch_size)
    config = tpu_run_config(config, model_dir, use_tpu, iterations_per_loop)
    if keras_model is None:
        keras_model = tf.keras.models.load_model(
            keras_model_path, custom_objects=custom_objects
        )
    model_fn = KerasModelFn(
        keras_model,
        custom_objects=custom_objects,
        object_checkpoint=checkpoint_format == "checkpoint",
        metric_names_map=metric_names_map,
        export_outputs=export_outputs,
    )
    warm_start = model_fn.save_first_checkpoint(config) if config.is_chief else None
    return tpu_estimator(
        model_fn=model_fn,
        config=config,
        use_tpu=use_tpu,
        train_batch_size=train_batch_size,
        eval_batch_size=eval_batch_size,
        predict_batch_size=predict_batch_size,
        export_to_tpu=use_tpu,
        warm_start_from=warm_start,
    )


class KerasModelFn:
    """The TPUEstimator ``model_fn`` of a compiled Sequential or functional model.

    Each call clones the model into the current graph, in the given mode, on the
    estimator's features and labels.  ``features`` may be
    ``{"features": ..., "sample_weights": ...}`` to pass sample weights, as with
    Keras' converter.  ``params["use_tpu"]`` selects the TPU graph, for
    ``params["context"].num_replicas`` shards (TPUEstimator sets both).
    """

    def __init__(
        self,
        keras_model,
        custom_objects=None,
        object_checkpoint=True,
        metric_names_map=None,
        export_outputs=None,
    ):
        _check_model(keras_model)
        if export_outputs is not None:
            unknown = set(export_outputs) - set(keras_model.output_names)
            if unknown:
                raise ValueError(
                    f"`export_outputs` names {sorted(unknown)} are not outputs of the "
                    f"model; its outputs are {keras_model.output_names}."
                )
        self._model = keras_model
        self._compile_args = dict(
            keras_model._get_compile_args(),
            optimizer=_legacy_optimizer(keras_model.optimizer),
        )
        # Read now: the optimizer's hyperparameters cannot be read from the
        # Estimator's graph and session.
        try:
            self._optimizer_config = self._compile_args["optimizer"].get_config()
        except NotImplementedError:  # a TFOptimizer has no config
            self._optimizer_config = None
        self._custom_objects = custom_objects
        self._object_checkpoint = object_checkpoint
        self._metric_names_map = metric_names_map
        self._export_outputs = export_outputs or {}

    def __call__(self, features, labels, mode, params):
        with _keras_class_bases_kept():
            return self._model_fn(features, labels, mode, params)

    def _model_fn(self, features, labels, mode, params):
        on_tpu = params["use_tpu"]
        features, sample_weights = _split_sample_weights(features)
        model, weights = self._clone(mode, features, labels, sample_weights)
        predictions = dict(zip(model.output_names, model.outputs))
        spec = dict(
            mode=mode,
            predictions=predictions,
            scaffold_fn=self._scaffold_fn(model),
            export_outputs=self._serving_outputs(predictions),
        )
        if mode == _MODE.PREDICT:
            return _TPU.TPUEstimatorSpec(**spec)

        num_replicas = params["context"].num_replicas if on_tpu else 1
        if on_tpu:
            _check_mean_losses(model)
        if mode == _MODE.TRAIN:
            with _averaged_across_shards(model.optimizer, num_replicas, on_tpu):
                model._make_train_function()
            spec["train_op"] = model.train_function.updates_op
        else:
            model._make_test_function()
            spec["eval_metrics"] = self._eval_metrics(model, weights)
        _initialize_compiled_metrics(model)
        loss = model.total_loss
        if on_tpu:
            loss = tf.compat.v1.tpu.cross_replica_sum(loss) / num_replicas
        return _TPU.TPUEstimatorSpec(loss=loss, **spec)

    def clone(self, mode, features=None, labels=None, sample_weights=None):
        """The model rebuilt in the current graph on ``features`` and ``labels``.

        In TRAIN and EVAL modes it is compiled like the original model, with the
        global step as its optimizer's iteration count and ``sample_weights``
        (tensor, list or dict by output name) weighting its loss and weighted
        metrics.  Without features, it is built on placeholders.
        """
        return self._clone(mode, features, labels, sample_weights)[0]

    def _clone(self, mode, features, labels, sample_weights):
        """``(clone, weights)``: weights are the sample weights applied, per output."""
        tf.compat.v1.keras.backend.set_learning_phase(mode == _MODE.TRAIN)
        compile_clone = mode != _MODE.PREDICT
        with _compiled_with(self._model, self._compile_args):
            clone = tf.compat.v2.keras.__internal__.models.clone_and_build_model(
                self._model,
                input_tensors=_in_model_order(
                    features, self._model.input_names, "features"
                ),
                target_tensors=_in_model_order(
                    labels, self._model.output_names, "labels"
                ),
                custom_objects=self._custom_objects,
                compile_clone=compile_clone,
                optimizer_iterations=(
                    tf.compat.v1.train.get_or_create_global_step()
                    if compile_clone
                    else None
                ),
                optimizer_config=self._optimizer_config,
            )
        weights = [None] * len(clone.output_names)
        if compile_clone and sample_weights is not None:
            weights = _per_output(sample_weights, clone.output_names)
            clone._compile_weights_loss_and_weighted_metrics(weights)
        return clone, weights

    def save_first_checkpoint(self, config):
        """Writes the model's current weights under ``<model_dir>/keras``.

        Returns the ``WarmStartSettings`` that start training from them: all the
        model's weights, trainable or not (Keras' converter warm-starts only the
        trainable ones).  The optimizer starts afresh, as with Keras' converter.
        """
        # Not get_weights(): it fails once Keras' converter has rebased the class.
        weights = tf.keras.backend.batch_get_value(self._model.weights)
        directory = os.path.join(config.model_dir, "keras")
        tf.io.gfile.makedirs(directory)
        path = os.path.join(directory, "keras_model.ckpt")
        with tf.Graph().as_default(), _keras_class_bases_kept():
            tf.compat.v1.random.set_random_seed(config.tf_random_seed)
            model = self.clone(_MODE.TRAIN)
            # Creates the optimizer's variables, so the checkpoint has them all.
            model._make_train_function()
            with tf.compat.v1.Session(config=config.session_config) as sess:
                sess.run(tf.compat.v1.global_variables_initializer())
                model.set_weights(weights)
                if self._object_checkpoint:
                    _track_global_step(model)
                    model.save_weights(path)
                else:
                    tf.compat.v1.train.Saver().save(sess, path)
            names = [v.name for v in model.weights]
        return tf.estimator.WarmStartSettings(
            ckpt_to_initialize_from=path,
            vars_to_warm_start=[f"^{re.escape(name)}$" for name in names],
        )

    def _scaffold_fn(self, model):
        """A scaffold_fn whose saver writes object-based checkpoints, if asked."""
        if not self._object_checkpoint:
            return None

        def scaffold_fn():
            _track_global_step(model)
            saveables = tf.compat.v2.__internal__.tracking.ObjectGraphView(
                model
            ).frozen_saveable_objects()
            saver = tf.compat.v1.train.Saver(var_list=saveables, sharded=True)
            # Lets the saver also restore checkpoints written by Keras' save_weights.
            saver._object_restore_saver = checkpoint_lib.frozen_saver(model)
            return tf.compat.v1.train.Scaffold(saver=saver)

        return scaffold_fn

    def _serving_outputs(self, predictions):
        """A PredictOutput of all outputs, plus ``export_outputs`` (as Keras does)."""
        outputs = {
            tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY: (
                tf.estimator.export.PredictOutput(predictions)
            )
        }
        for name, output_class in self._export_outputs.items():
            outputs[name] = output_class(predictions[name])
        return outputs

    def _eval_metrics(self, model, weights):
        """``(metric_fn, tensors)`` computing the compiled metrics on the host.

        Each metric is rebuilt from its config and updated from batch-major
        tensors exactly as Keras calls it (mask and sample weights included).
        ``weights`` holds the sample weights (or None) per output.  Returns None
        when the model has no compiled metrics.
        """
        names = _metric_names(model, self._metric_names_map)
        tensors, metrics = {}, []
        for i, endpoint in enumerate(model._training_endpoints):
            unweighted = list(model._per_output_metrics[i].values())
            weighted = list(model._per_output_weighted_metrics[i].values())
            if endpoint.should_skip_target() or not (unweighted or weighted):
                continue
            tensors[f"y_true_{i}"] = endpoint.training_target.target
            tensors[f"y_pred_{i}"] = endpoint.output
            mask = getattr(endpoint.output, "_keras_mask", None)
            if mask is not None:
                tensors[f"mask_{i}"] = tf.cast(mask, endpoint.output.dtype)
            if weighted and weights[i] is not None:
                tensors[f"sample_weight_{i}"] = weights[i]
            metrics += [(m, i, False) for m in unweighted]
            metrics += [(m, i, True) for m in weighted]
        if not metrics:
            return None

        @_keras_class_bases_kept()
        def metric_fn(**tensors):
            ops = {}
            for metric, i, weighted in metrics:
                fresh = _rebuild_metric(metric)
                update = training_utils_v1.call_metric_function(
                    fresh,
                    tensors[f"y_true_{i}"],
                    tensors[f"y_pred_{i}"],
                    weights=tensors.get(f"sample_weight_{i}") if weighted else None,
                    mask=tensors.get(f"mask_{i}"),
                )
                for variable in fresh.variables:
                    tf.compat.v1.add_to_collection(
                        tf.compat.v1.GraphKeys.LOCAL_VARIABLES, variable
                    )
                    tf.compat.v1.add_to_collection(
                        tf.compat.v1.GraphKeys.METRIC_VARIABLES, variable
                    )
                ops[names[metric.name]] = (fresh.result(), update)
            return ops

        return metric_fn, tensors


@contextlib.contextmanager
def _keras_class_bases_kept():
    """Undoes Keras' rebasing of its classes while building a graph.

    Keras rebases a layer or model class on its graph-mode (v1) base whenever it
    is instantiated in a graph; the eager models and layers of that class then
    fail (Keras' converter leaves ``model.fit`` and ``predict`` broken this way).
    """
    bases = {cls: cls.__bases__ for cls in _subclasses(tf.keras.layers.Layer)}
    try:
        yield
    finally:
        for cls, cls_bases in bases.items():
            if cls.__bases__ != cls_bases:
                cls.__bases__ = cls_bases


def _subclasses(cls):
    found, stack = set(), [cls]
    while stack:
        for sub in stack.pop().__subclasses__():
            if sub not in found:
                found.add(sub)
                stack.append(sub)
    return found


def _check_model(model):
    if not getattr(model, "optimizer", None):
        raise ValueError(
            f"Model {model.name!r} is not compiled: call model.compile() before "
            "model_to_estimator()."
        )
    if not model._is_graph_network:
        raise ValueError(
            f"Model {model.name!r} ({type(model).__name__}) is not supported: "
            "model_to_estimator needs a functional model or a Sequential model "
            "built with a known input shape, whose weights it can copy."
        )


def _legacy_optimizer(optimizer):
    """The optimizer, or the legacy twin of a new-style one (Estimators need those)."""
    if not isinstance(optimizer, tf.keras.optimizers.Optimizer):
        return optimizer
    try:
        return tf.keras.__internal__.optimizers.convert_to_legacy_optimizer(optimizer)
    except ValueError as error:
        raise ValueError(
            f"Optimizer {type(optimizer).__name__} has no tf.keras.optimizers.legacy "
            "equivalent, which Estimators need."
        ) from error


@contextlib.contextmanager
def _compiled_with(model, compile_args):
    """Within: ``model`` reports ``compile_args`` and their optimizer.

    ``clone_and_build_model`` reads the optimizer and compile arguments from the
    model, then pins a mutated copy on it: each clone would inherit the previous
    clone's renamed metrics.  Here every read gets a fresh copy, and the model is
    left as it was (including what Keras' converter may have pinned on it).
    """
    optimizer = model.optimizer
    pinned = vars(model).get("_get_compile_args")
    model.optimizer = compile_args["optimizer"]
    model._get_compile_args = lambda: dict(compile_args)
    try:
        yield
    finally:
        if pinned is None:
            del model._get_compile_args
        else:
            model._get_compile_args = pinned
        model.optimizer = optimizer


def _in_model_order(tensors, names, what):
    """A dict, list or single tensor as a list in the model's input/output order."""
    if tensors is None:
        return None
    if isinstance(tensors, dict):
        missing = set(names) - set(tensors)
        if missing:
            raise KeyError(
                f"The {what} lack the model's {sorted(missing)}: the model expects "
                f"{names}, the {what} have {sorted(tensors)}."
            )
        return [tensors[name] for name in names]
    if isinstance(tensors, (list, tuple)):
        return list(tensors)
    return [tensors]


def _split_sample_weights(features):
    """``(features, sample_weights)`` from Keras' converter's features format."""
    if isinstance(features, dict) and set(features) == {"features", "sample_weights"}:
        return features["features"], features["sample_weights"]
    return features, None


def _per_output(sample_weights, output_names):
    """Sample weights (None, tensor, list or dict) as one entry (or None) per output."""
    if sample_weights is None:
        return [None] * len(output_names)
    if isinstance(sample_weights, dict):
        unknown = set(sample_weights) - set(output_names)
        if unknown:
            raise ValueError(
                f"sample_weights name {sorted(unknown)}, which are not model "
                f"outputs {output_names}."
            )
        return [sample_weights.get(name) for name in output_names]
    if isinstance(sample_weights, (list, tuple)):
        if len(sample_weights) != len(output_names):
            raise ValueError(
                f"{len(sample_weights)} sample_weights for {len(output_names)} "
                f"model outputs {output_names}."
            )
        return list(sample_weights)
    if len(output_names) > 1:
        raise ValueError(
            f"The model has outputs {output_names}: pass sample_weights as a list "
            "or a dict keyed by output name."
        )
    return [sample_weights]


def _check_mean_losses(model):
    """Cross-shard gradient averaging is exact only for batch-mean losses."""
    for name, loss in zip(model.output_names, model.loss_functions):
        reduction = getattr(loss, "reduction", tf.keras.losses.Reduction.AUTO)
        if loss is not None and reduction not in _MEAN_REDUCTIONS:
            raise ValueError(
                f"Loss {getattr(loss, 'name', loss)!r} of output {name!r} uses "
                f"reduction {reduction!r}; on a TPU only batch-mean losses "
                "(AUTO, SUM_OVER_BATCH_SIZE) are supported, because gradients are "
                "averaged across shards."
            )


@contextlib.contextmanager
def _averaged_across_shards(optimizer, num_replicas, on_tpu):
    """Within: on a TPU, ``optimizer`` applies the mean over shards of each gradient.

    The mean is taken before clipping and the update, so they see the gradient of
    the global batch, as on a single device.  Raises if the optimizer built its
    update without aggregating its gradients.
    """
    if not on_tpu:
        yield
        return
    if isinstance(getattr(optimizer, "optimizer", None), tf.compat.v1.train.Optimizer):
        # A tf.compat.v1.train optimizer wrapped by Keras (TFOptimizer).
        optimizer.optimizer = tf.compat.v1.tpu.CrossShardOptimizer(optimizer.optimizer)
        yield
        return
    averaged = []
    optimizer.gradient_aggregator = cross_shard_aggregator(
        num_replicas, aggregated=averaged
    )
    yield
    if not averaged:
        raise ValueError(
            f"Optimizer {type(optimizer).__name__} is not supported on a TPU: it "
            "applies its gradients without OptimizerV2's gradient aggregation, so "
            "they cannot be averaged across TPU shards."
        )


def _initialize_compiled_metrics(model):
    """Puts the state of the clone's compiled metrics in LOCAL_VARIABLES.

    Keras' compile builds metric updates into the model graph (the compiled
    metrics and, with several outputs, a mean of each output's loss).  The
    Estimator never runs them, but on a TPU they are part of the compiled
    computation, so their variables must be initialized.
    """
    metrics = model.metrics + [
        e.output_loss_metric for e in model._training_endpoints if e.output_loss_metric
    ]
    for metric in metrics:
        for variable in metric.variables:
            tf.compat.v1.add_to_collection(
                tf.compat.v1.GraphKeys.LOCAL_VARIABLES, variable
            )


def _metric_names(model, metric_names_map):
    """Keras metric name -> reported name, with Keras' converter's checks."""
    names = [m.name for m in model._compile_metric_functions]
    if not metric_names_map:
        return {name: name for name in names}
    missing = set(names) - set(metric_names_map)
    extra = set(metric_names_map) - set(names)
    if missing or extra:
        raise ValueError(
            f"Invalid `metric_names_map`: the model's metrics are {names}; "
            f"missing {sorted(missing)}, unexpected {sorted(extra)}."
        )
    return dict(metric_names_map)


def _rebuild_metric(metric):
    try:
        return type(metric).from_config(metric.get_config())
    except (TypeError, ValueError, NotImplementedError) as error:
        raise ValueError(
            f"Metric {metric.name!r} ({type(metric).__name__}) cannot be rebuilt "
            "from its config for the host metric_fn: implement get_config() and "
            "from_config()."
        ) from error


def _track_global_step(model):
    """Saves the global step with the model in object-based checkpoints."""
    model._track_trackable(
        tf.compat.v1.train.get_global_step(), "estimator_global_step"
    )
