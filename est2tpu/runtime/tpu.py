"""Where the TPU is: the one rule every migrated file follows.

A migrated program runs on a TPU when the ``TPU_NAME`` environment variable names
one (the variable ``TPUClusterResolver`` itself reads), and on the CPU otherwise.
Inside an input_fn or model_fn, :func:`on_tpu` tells from its ``params`` whether
TPUEstimator runs that call on the TPU.
"""

import os

TPU_ENV = "TPU_NAME"


def use_tpu() -> bool:
    """True when ``TPU_NAME`` is set to a non-empty value."""
    return bool(os.environ.get(TPU_ENV))


def on_tpu(params) -> bool:
    """Whether TPUEstimator called the input_fn or model_fn given ``params`` for the TPU.

    TPUEstimator puts its ``TPUContext`` into ``params["context"]`` on its TPU paths only:
    not with ``use_tpu=False``, nor for an evaluation it runs on the CPU
    (``eval_on_tpu=False``), nor when it exports for the CPU.  (``params["use_tpu"]`` is
    given to model_fn only.)
    """
    from tensorflow_estimator.python.estimator.tpu.tpu_context import TPUContext

    return isinstance((params or {}).get("context"), TPUContext)


def tpu_cluster_resolver():
    """A ``TPUClusterResolver`` for ``TPU_NAME``, or None when running on the CPU."""
    if not use_tpu():
        return None
    import tensorflow as tf

    return tf.distribute.cluster_resolver.TPUClusterResolver(tpu=os.environ[TPU_ENV])
