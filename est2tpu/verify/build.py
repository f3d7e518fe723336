"""Build TPUEstimator's real TPU graph of one mode on the CPU, recording what went into it.

:func:`construct` does what ``Estimator.train``/``evaluate``/``predict`` do up to the
session (a fresh graph, the global step, input_fn, model_fn) on a TPUEstimator whose
context says use_tpu: TPUEstimator then builds the infeed of input_fn's batches, the
model_fn replicated over the cores in its training loop, the outfeed and the host
calls.  While it does, :mod:`est2tpu.verify.capture` records into the :class:`Build`
what input_fn returned and each model_fn call on the TPU, and checks them on the spot
(before TPUEstimator's own checks raise).
"""

from __future__ import annotations

import dataclasses
from typing import Any, List, Optional, Set

import tensorflow as tf
from tensorflow_estimator.python.estimator.tpu import error_handling

from est2tpu.verify.locate import Place
from est2tpu.verify.session import Session

ModeKeys = tf.estimator.ModeKeys


@dataclasses.dataclass
class Computation:
    """One call of the user's model_fn inside the TPU computation."""

    graph: tf.Graph  # the (function) graph it ran in
    ops: List[tf.Operation]  # the ops it created there (TPUEstimator's own are the others)
    wrapper: Any  # TPUEstimator's _ModelFnWrapper that called it
    features: Any
    labels: Any
    spec: Any  # what model_fn returned


@dataclasses.dataclass
class Build:
    session: Session
    estimator: Any
    mode: str  # a ModeKeys value, or "export"
    site: Optional[Place]  # the user's call (train, evaluate, ...): where else to point
    input_batch: Optional[int] = None  # the params["batch_size"] input_fn is given
    graph: Optional[tf.Graph] = None
    computations: List[Computation] = dataclasses.field(default_factory=list)
    spec: Any = None  # the EstimatorSpec TPUEstimator made of it all
    error: Optional[BaseException] = None
    #: Whether a finding was reported on this build (perhaps one known already): an
    #: error TPUEstimator raises after it is the consequence, not news.
    reported: bool = False
    #: Ops a specific check reported (e.g. an export output): the generic op checks skip them.
    claimed: Set[tf.Operation] = dataclasses.field(default_factory=set)

    def report(self, rule, where: Optional[Place], message: str, hint: str = "") -> None:
        self.reported = True
        self.session.reporter.finding(rule.code, where or self.site, message, hint)


def construct(build: Build, input_fn) -> Build:
    """Build ``build.mode``'s TPU graph with ``input_fn``; an exception is kept in ``error``."""
    estimator, mode = build.estimator, build.mode
    # TPUEstimator.train/evaluate/predict create this; its model_fn wrapper reads it.
    estimator._rendezvous[mode] = error_handling.ErrorRendezvous(num_sources=3)
    with tf.Graph().as_default() as graph, build.session.building(build):
        build.graph = graph
        try:
            tf.compat.v1.random.set_random_seed(estimator.config.tf_random_seed)
            estimator._create_and_assert_global_step(graph)
            if mode == ModeKeys.PREDICT:
                features, _ = estimator._get_features_from_input_fn(input_fn, mode)
                labels = None
            else:
                features, labels, _ = estimator._get_features_and_labels_from_input_fn(input_fn, mode)
            build.spec = estimator._call_model_fn(features, labels, mode, estimator.config)
        except Exception as error:  # TPUEstimator's own checks, or the program's code
            build.error = error
    return build
