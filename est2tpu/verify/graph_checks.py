"""Checks of the TPU computation TPUEstimator built: ops, dtypes, summaries, gradient sums.

An op runs on a TPU only if XLA can compile it: the XLA kernels registered for the CPU
backend stand in for the TPU's (the same set, in TF 2.15), plus the TPU's own
(infeed, outfeed, cross-replica ops).  TPUs have no strings (but in constants and
assertions) nor complex128.  Summary ops are dropped there.  In training every update
of a trainable variable must depend on a CrossReplicaSum, or each core trains its own
copy.  Only ops model_fn created are judged (TPUEstimator's own are not), and findings
are grouped by the line that created them.
"""

from __future__ import annotations

import collections
import functools
from typing import Dict, FrozenSet, List, Set, Tuple

import tensorflow as tf
from tensorflow.python.framework import kernels

from est2tpu.verify import graphs, rules
from est2tpu.verify.input_checks import UNSUPPORTED_DTYPES
from est2tpu.verify.locate import of_op

ModeKeys = tf.estimator.ModeKeys

#: Ops with TPU kernels only, and function arguments: not judged by the XLA CPU registry.
TPU_ONLY = frozenset({
    "InfeedDequeue", "InfeedDequeueTuple", "OutfeedEnqueue", "OutfeedEnqueueTuple", "CrossReplicaSum",
    "AllToAll", "CollectivePermute", "TPUReplicatedInput", "TPUReplicatedOutput", "TPUReplicateMetadata",
    "TPUCompilationResult", "TPUOrdinalSelector", "TPUPartitionedCall", "Placeholder",
})
SUMMARY_OPS = frozenset({
    "ScalarSummary", "HistogramSummary", "ImageSummary", "AudioSummary", "AudioSummaryV2", "TensorSummary",
    "TensorSummaryV2", "MergeSummary", "WriteSummary", "WriteScalarSummary", "WriteHistogramSummary",
    "WriteImageSummary", "WriteAudioSummary", "WriteRawProtoSummary", "WriteGraphSummary",
})
#: Strings may appear in these (their messages, their constants).
STRINGS_ALLOWED = frozenset({"Const", "Assert"})
_DTYPE_HINTS = {"string": "keep strings in input_fn (ids instead)", "complex128": "use complex64"}
UPDATE_PREFIXES = ("ResourceApply", "ResourceSparseApply", "AssignVariableOp", "AssignAddVariableOp",
                   "AssignSubVariableOp", "ResourceScatter")


@functools.lru_cache(maxsize=None)
def xla_kernels() -> FrozenSet[str]:
    """The op types XLA compiles for the CPU (registered once an XLA device exists)."""
    from tensorflow.python.compiler.xla import xla

    with tf.Graph().as_default():
        x = tf.compat.v1.placeholder(tf.float32, [1])
        (y,) = xla.compile(lambda x: x + 1, [x])
        with tf.compat.v1.Session() as session:
            session.run(y, {x: [0.0]})
    return frozenset(k.op for k in kernels.get_all_registered_kernels().kernel if k.device_type == "XLA_CPU_JIT")


def check(build) -> bool:
    """Check the ops of ``build``'s TPU computations; whether an op cannot compile there."""
    ops = _unique(op for computation in build.computations for op in graphs.tpu_ops(computation.ops))
    compiled = xla_kernels()
    grouped: Dict[Tuple, Set[str]] = collections.defaultdict(set)  # (rule, place) -> op types or dtypes
    for op in ops:
        if op.type == "Placeholder":
            where = of_op(graphs.external(op.outputs[0]).op) if op.outputs else None
        else:
            where = of_op(op)
        if where is None or op in build.claimed:
            continue  # not created by the user's code, or reported already
        if op.type in SUMMARY_OPS:
            grouped[(rules.SUMMARY_ON_TPU, where)].add(op.type)
        elif op.type not in compiled and op.type not in TPU_ONLY:
            grouped[(rules.NO_TPU_KERNEL, where)].add(op.type)
        elif op.type not in STRINGS_ALLOWED:
            grouped[(rules.TPU_DTYPE, where)].update(
                tf.as_dtype(t.dtype).name for t in op.outputs if tf.as_dtype(t.dtype) in UNSUPPORTED_DTYPES)
    for (rule, where), found in grouped.items():
        if not found:
            continue
        names, one = ", ".join(sorted(found)), len(found) == 1
        if rule is rules.SUMMARY_ON_TPU:
            build.report(rule, where, f"summary op{'' if one else 's'} {names} inside the TPU computation: "
                         f"TPUEstimator drops {'it' if one else 'them'} on a TPU, never written",
                         "write summaries in a host_call")
        elif rule is rules.NO_TPU_KERNEL:
            build.report(rule, where, f"{names} {'has' if one else 'have'} no TPU kernel: XLA cannot compile "
                         f"{'it' if one else 'them'}, and the TPU computation fails to compile",
                         "compute it in input_fn, or in tf.compat.v1.tpu.outside_compilation")
        else:
            build.report(rule, where, f"{names} tensors inside the TPU computation: a TPU has no {names}",
                         " and ".join(_DTYPE_HINTS[name] for name in sorted(found)))
    if build.mode == ModeKeys.TRAIN and build.session.settings.cores > 1:
        _gradient_sums(build, ops)
    return any(found and rule in (rules.NO_TPU_KERNEL, rules.TPU_DTYPE) for (rule, _), found in grouped.items())


def _unique(ops) -> List[tf.Operation]:
    seen: Set[tf.Operation] = set()
    return [op for op in ops if not (op in seen or seen.add(op))]


def _gradient_sums(build, ops: List[tf.Operation]) -> None:
    """Trainable variables updated from one core's gradients (no CrossReplicaSum upstream)."""
    trainable = {v.handle.op: v.name.split(":")[0] for v in build.graph.get_collection(
        tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES) if hasattr(v, "handle")}
    summed = graphs.Upstream("CrossReplicaSum")
    alone: Dict = collections.defaultdict(list)
    for op in ops:
        if not op.type.startswith(UPDATE_PREFIXES) or not op.inputs:
            continue
        name = trainable.get(graphs.external(op.inputs[0]).op)
        if name and not summed(op):
            alone[of_op(op)].append(name)
    cores = build.session.settings.cores
    for where, names in alone.items():
        shown = ", ".join(sorted(names)[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        build.report(rules.UNAGGREGATED_UPDATE, where,
                     f"{len(names)} trainable variable{'s' if len(names) > 1 else ''} ({shown}) updated from "
                     f"each core's own gradients: no CrossReplicaSum combines them across the {cores} cores, "
                     "so every core trains a different model",
                     "if params['use_tpu']: optimizer = tf.compat.v1.tpu.CrossShardOptimizer(optimizer)")
