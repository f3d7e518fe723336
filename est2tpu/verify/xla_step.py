"""Compile one training step with XLA on the CPU, as the TPU compiler would compile it.

The step is model_fn in TRAIN mode as one TPU core runs it (params["use_tpu"], the
per-core batch, inside a shard context of the cores), on placeholders shaped like the
infeed, under ``xla.compile``; the cross-core sum, which has no CPU kernel, stands in as
an identity.  Running it once on zeros makes XLA compile it: what fails to compile here
(dynamic shapes, ops without a kernel) fails on the TPU too; a failure of the run itself
(an assertion about the data) is not the TPU's.  CPU-XLA is a little more lenient than
the TPU's compiler (complex128, some dynamic shapes).
"""

from __future__ import annotations

import contextlib
import re

import numpy as np
import tensorflow as tf
from tensorflow.python.compiler.xla import xla
from tensorflow.python.tpu import tpu_function
from tensorflow.python.tpu.ops import tpu_ops

from est2tpu.verify import rules
from est2tpu.verify.locate import of_op

ModeKeys = tf.estimator.ModeKeys
_NODE = re.compile(r"Node: '([^']+)'|\{\{node ([^}]+)\}\}")
#: What XLA's compile errors say (a run's errors, e.g. a failed assertion, do not).
_COMPILING = re.compile(r"tf2xla|compil", re.IGNORECASE)


def _identity_sum(x, group_assignment=None, name=None):
    return tf.identity(x, name=name)


@contextlib.contextmanager
def _cross_replica_sum_is_identity():
    modules = (tpu_ops, tf.compat.v1.tpu)
    saved = [m.cross_replica_sum for m in modules]
    try:
        for m in modules:
            m.cross_replica_sum = _identity_sum
        yield
    finally:
        for m, original in zip(modules, saved):
            m.cross_replica_sum = original


def compile_train_step(build) -> None:
    """Compile ``build``'s training step (a TRAIN build whose graph was built)."""
    computation = build.computations[0]
    structure = (computation.features, computation.labels)
    leaves = tf.nest.flatten(structure)  # labels may be None
    with tf.Graph().as_default() as graph:
        try:
            build.estimator._create_global_step(graph)
            feeds = [tf.compat.v1.placeholder(t.dtype, t.shape, name=f"infeed_{i}")
                     for i, t in enumerate(leaves) if t is not None]

            def step(*inputs):
                given = iter(inputs)
                features, labels = tf.nest.pack_sequence_as(
                    structure, [None if t is None else next(given) for t in leaves])
                with tpu_function.tpu_shard_context(build.session.settings.cores), _cross_replica_sum_is_identity():
                    spec = computation.wrapper._call_model_fn(features, labels)
                with tf.control_dependencies([spec.train_op]):
                    return tf.identity(spec.loss)

            (loss,) = xla.compile(step, feeds)
            init = [tf.compat.v1.global_variables_initializer(), tf.compat.v1.local_variables_initializer(),
                    tf.compat.v1.tables_initializer()]
        except Exception as error:  # building it is verify's business, not the program's
            build.session.reporter.error(f"the XLA compile of the train step could not be built: "
                                         f"{type(error).__name__}: {error}")
            return
        with tf.compat.v1.Session(graph=graph) as session:
            session.run(init)
            try:
                session.run(loss, {f: np.zeros(f.shape, f.dtype.as_numpy_dtype) for f in feeds})
            except tf.errors.OpError as error:
                if not _COMPILING.search(error.message):  # it compiled, and failed on zeros
                    build.session.reporter.note(f"the train step compiled with XLA, then failed on zeros: "
                                                f"{_summary(error)}")
                    return
                build.report(rules.XLA_COMPILE, _culprit(graph, error) or build.site,
                             f"XLA cannot compile the train step: {_summary(error)}",
                             "make the shapes static; move ops XLA cannot compile into input_fn")


def _culprit(graph: tf.Graph, error: tf.errors.OpError):
    for match in _NODE.finditer(error.message):
        try:
            where = of_op(graph.get_operation_by_name(match.group(1) or match.group(2)))
        except KeyError:
            continue
        if where is not None:
            return where
    return None


def _summary(error: tf.errors.OpError) -> str:
    """XLA's reason: the line after "Node: 'name'", else the first that is not a stack."""
    found = re.search(r"Node: '[^']+'\n\s*(\S.*)", error.message)
    lines = [line.strip() for line in error.message.splitlines() if line.strip()]
    text = found.group(1) if found else next(
        (line for line in lines if not line.startswith(("Graph execution error", "Detected at node", "File "))), "")
    return re.sub(r"\s*\[*\{\{node [^}]+\}\}\]*", "", text)[:400]
