"""Where the TPU is: the one rule every migrated file follows.

A migrated program runs on a TPU when the ``TPU_NAME`` environment variable names
one (the variable ``TPUClusterResolver`` itself reads), and on the CPU otherwise.
"""

import os

TPU_ENV = "TPU_NAME"


def use_tpu() -> bool:
    """True when ``TPU_NAME`` is set to a non-empty value."""
    return bool(os.environ.get(TPU_ENV))


def tpu_cluster_resolver():
    """A ``TPUClusterResolver`` for ``TPU_NAME``, or None when running on the CPU."""
    if not use_tpu():
        return None
    import tensorflow as tf

    return tf.distribute.cluster_resolver.TPUClusterResolver(tpu=os.environ[TPU_ENV])
