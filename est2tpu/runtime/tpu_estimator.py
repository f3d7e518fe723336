"""What the TPU-aware converters share: their RunConfig, their TPUEstimator, their gradients.

``model_to_estimator`` (Keras) and the canned estimators (``est2tpu.DNNClassifier``,
...) take a plain ``tf.estimator.RunConfig`` or a TPU one, build a ``TPUEstimator``
that logs on the CPU as an Estimator does, and on a TPU have their Keras
(OptimizerV2) optimizers aggregate the gradients of all shards.
"""

import tensorflow as tf
from tensorflow_estimator.python.estimator.estimator import (
    maybe_overwrite_model_dir_and_session_config,
)

from est2tpu.runtime import tpu

_TPU = tf.compat.v1.estimator.tpu
# RunConfig settings carried over when a plain RunConfig becomes a TPU RunConfig.
_RUN_CONFIG_KEYS = (
    "model_dir",
    "tf_random_seed",
    "save_summary_steps",
    "save_checkpoints_steps",
    "save_checkpoints_secs",
    "session_config",
    "keep_checkpoint_max",
    "keep_checkpoint_every_n_hours",
    "log_step_count_steps",
    "session_creation_timeout_secs",
    "checkpoint_save_graph_def",
)


def check_train_batch_size(use_tpu, train_batch_size):
    if use_tpu and train_batch_size is None:
        raise ValueError(
            "`train_batch_size` is required on a TPU: it is the global batch size "
            "TPUEstimator passes (divided by the number of shards) to input_fn as "
            "params['batch_size']."
        )


def tpu_run_config(config, model_dir, use_tpu, iterations_per_loop):
    """A TPU RunConfig from None, a RunConfig or a TPU RunConfig."""
    if config is None:
        config = tf.estimator.RunConfig()
    if not isinstance(config, tf.estimator.RunConfig):
        raise TypeError(f"`config` must be a tf.estimator.RunConfig, got {config!r}.")
    if not isinstance(config, _TPU.RunConfig):
        if config.train_distribute or config.eval_distribute:
            raise ValueError(
                "RunConfig(train_distribute/eval_distribute) cannot be converted: "
                "TPUEstimator distributes over TPU shards itself."
            )
        config = _TPU.RunConfig(
            tpu_config=_TPU.TPUConfig(iterations_per_loop=iterations_per_loop),
            cluster=tpu.tpu_cluster_resolver() if use_tpu else None,
            **{key: getattr(config, key) for key in _RUN_CONFIG_KEYS},
        )
    return maybe_overwrite_model_dir_and_session_config(config, model_dir)


def tpu_estimator(**kwargs):
    """``TPUEstimator(**kwargs)``, logging steps on the CPU as an Estimator does.

    TPUEstimator logs steps/s every log_step_count_steps / iterations_per_loop
    session runs, as a TPU run is iterations_per_loop steps.  A CPU run is one
    step: it would log, and write two summaries, at every step.
    """
    estimator = _TPU.TPUEstimator(**kwargs)
    if not kwargs.get("use_tpu") and estimator._log_every_n_steps is not None:
        estimator._log_every_n_steps = estimator.config.log_step_count_steps
    return estimator


def cross_shard_aggregator(num_replicas, average=True, aggregated=None):
    """An OptimizerV2 ``gradient_aggregator`` summing (or averaging) gradients over shards.

    Averaging gives the gradient of a batch-mean loss over the global batch, the
    sum that of a summed loss.  The variables whose gradients it aggregated are
    appended to ``aggregated`` (a list), if given.
    """

    def aggregate(grads_and_vars):
        if aggregated is not None:
            aggregated.extend(var for _, var in grads_and_vars)
        summed = [
            (tf.compat.v1.tpu.cross_replica_sum(tf.convert_to_tensor(grad)), var)
            for grad, var in grads_and_vars
        ]
        if not average:
            return summed
        return [(grad / num_replicas, var) for grad, var in summed]

    return aggregate
