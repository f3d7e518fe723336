"""Recording patches: what input_fn returned and each model_fn call on the TPU, into the Build.

They wrap TPUEstimator's internals at the two points its TPU path passes through
(``_Inputs.from_input_fn`` and ``_ModelFnWrapper._call_model_fn``) and record only while
a :class:`~est2tpu.verify.build.Build` is under construction, checking what they see on
the spot.  A third gives every hook the place in the user's code that created it.
"""

from __future__ import annotations

import tensorflow as tf

from est2tpu.verify import input_checks, session, spec_checks
from est2tpu.verify.build import Computation
from est2tpu.verify.locate import of_caller


def call_model_fn(original):
    """``_ModelFnWrapper._call_model_fn``: record and check model_fn's calls on the TPU."""

    def _call_model_fn(self, features, labels, is_export_mode=False):
        graph = tf.compat.v1.get_default_graph()
        before = len(graph.get_operations())
        spec = original(self, features, labels, is_export_mode)
        build = session.current_build()
        # On the TPU: train/evaluate/predict with use_tpu, or export's TPU rewrite (whose
        # model_fn TPUEstimator calls in PREDICT mode, with params["use_tpu"] False).
        if build is None or (build.mode != "export" and self._ctx.is_running_on_cpu(is_export_mode)):
            return spec
        computation = Computation(graph, graph.get_operations()[before:], self, features, labels, spec)
        build.computations.append(computation)
        with build.session.guarded("model_fn's TPUEstimatorSpec"):
            spec = spec_checks.check_spec(build, computation)
        return spec

    return _call_model_fn


def from_input_fn(original):
    """``_Inputs.from_input_fn`` (a staticmethod): check what input_fn returned."""

    def patched(return_values):
        build = session.current_build()
        if build is not None:
            with build.session.guarded("what input_fn returned"):
                input_checks.check(build, return_values)
        return original(return_values)

    return staticmethod(patched)


def hook_new(cls, *args, **kwargs):
    """``SessionRunHook.__new__``: remember where the user's code created the hook."""
    hook = object.__new__(cls)
    try:
        hook._est2tpu_site = of_caller() if session.ACTIVE is not None else None
    except AttributeError:  # a hook with __slots__
        pass
    return hook
