"""est2tpu: migrate tf.estimator code to TPUEstimator.

The package is both the CLI (which never imports TensorFlow) and the small runtime
that migrated code imports.  Runtime names are loaded on first use, so
``import est2tpu`` stays cheap and TensorFlow-free.
"""

__version__ = "0.1.0"

_RUNTIME = {
    "use_tpu": "est2tpu.runtime.tpu",
    "on_tpu": "est2tpu.runtime.tpu",
    "tpu_cluster_resolver": "est2tpu.runtime.tpu",
    "model_to_estimator": "est2tpu.runtime.keras_estimator",
    "numpy_input_fn": "est2tpu.runtime.inputs",
    "pandas_input_fn": "est2tpu.runtime.inputs",
    **{
        name: "est2tpu.runtime.canned"
        for name in (
            "DNNClassifier",
            "DNNRegressor",
            "LinearClassifier",
            "LinearRegressor",
            "DNNLinearCombinedClassifier",
            "DNNLinearCombinedRegressor",
        )
    },
}

__all__ = sorted(_RUNTIME)


def __getattr__(name):
    if name in _RUNTIME:
        import importlib

        return getattr(importlib.import_module(_RUNTIME[name]), name)
    raise AttributeError(f"module 'est2tpu' has no attribute {name!r}")
