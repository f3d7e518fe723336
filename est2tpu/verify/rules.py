"""The findings of ``est2tpu verify`` (codes E2T3xx): what fails on a TPU, found on the CPU.

Each is a :class:`~est2tpu.codemods.base.Rule`, registered with migrate's rules so that
``est2tpu rules`` lists and explains them.  ``MIGRATE_CODES`` names, for each, the
``migrate`` findings that report the same problem in the source: a verify finding over a
migrated program is *explained* when migrate reported one of these, blocking, at its line.
"""

from typing import Dict, Tuple

from est2tpu.codemods.base import Rule, register

TPU_ERROR = Rule(
    "E2T301", "TPUEstimator rejects the program in TPU mode",
    "TPUEstimator raised this error building the TPU graph (use_tpu=True), which it does not "
    "raise on the CPU: the program as it is cannot start on a TPU. The message is "
    "TPUEstimator's own.",
    before="estimator.evaluate(input_fn=eval_input_fn)",
    after="estimator.evaluate(input_fn=eval_input_fn, steps=EVAL_ROWS // EVAL_BATCH)",
    blocking=True,
)
BATCH_NOT_DIVISIBLE = Rule(
    "E2T302", "batch size not divisible by the number of TPU cores",
    "TPUEstimator splits each global batch (train_batch_size, eval_batch_size, "
    "predict_batch_size) evenly across the TPU cores: 'train batch size 20 must be divisible "
    "by number of replicas 8'. Use a multiple of the core count (8 on a v2-8/v3-8).",
    before="train_batch_size=20",
    after="train_batch_size=24",
    blocking=True,
)
BATCH_IGNORED = Rule(
    "E2T303", "input_fn does not batch by params['batch_size']",
    "TPUEstimator passes input_fn the batch size each input pipeline must produce in "
    "params['batch_size'] and splits those batches across the cores. An input_fn that batches "
    "by a size of its own trains on the wrong batch on every core, silently.",
    before="return dataset.batch(32, drop_remainder=True)",
    after='return dataset.batch(params["batch_size"], drop_remainder=True)',
    blocking=True,
)
DYNAMIC_INFEED = Rule(
    "E2T304", "input_fn yields tensors of dynamic shape",
    "Everything fed to the TPU needs a shape known when the graph is built ('Shape [None, 3] "
    "must have a fixed size for dimension 0 that is known at construction time'). Batch with "
    "drop_remainder=True and give padded_batch fixed padded_shapes.",
    before="return dataset.batch(params['batch_size'])",
    after="return dataset.batch(params['batch_size'], drop_remainder=True)",
    blocking=True,
)
DYNAMIC_OUTFEED = Rule(
    "E2T305", "tensor sent from the TPU has a dynamic shape",
    "Tensors sent to metric_fn or host_call, and predictions, leave the TPU through its "
    "outfeed, which needs shapes known when the graph is built. Compute them with ops of "
    "static shape (no tf.boolean_mask, tf.unique, tf.where with one argument).",
    before="positive = tf.boolean_mask(logits, labels > 0)  # sent to metric_fn",
    after="weights = tf.cast(labels > 0, tf.float32)  # sent with logits; metric_fn weighs by it",
    blocking=True,
)
NO_TPU_KERNEL = Rule(
    "E2T306", "op has no TPU kernel",
    "The TPU computation (model_fn) holds an op XLA cannot compile: string and sparse ops, "
    "lookup tables, py_func, tf.print, file and dataset ops. Move it into input_fn (which runs "
    "on the host), or off the TPU with tf.compat.v1.tpu.outside_compilation.",
    before="ids = tf.strings.to_hash_bucket_fast(words, 1000)  # in model_fn",
    after="ids = tf.strings.to_hash_bucket_fast(words, 1000)  # in input_fn",
    blocking=True,
)
TPU_DTYPE = Rule(
    "E2T307", "dtype not supported on a TPU",
    "TPUs have no strings (except in constants and assertions) and no complex128. Convert "
    "strings to ids in input_fn; use complex64.",
    before="predictions = {'class': tf.gather(CLASS_NAMES, tf.argmax(logits, 1))}",
    after="predictions = {'class_id': tf.argmax(logits, 1)}  # names looked up after predict",
    blocking=True,
)
SUMMARY_ON_TPU = Rule(
    "E2T308", "summary op inside the TPU computation",
    "tf.summary ops in model_fn are not written on a TPU (TPUEstimator drops them with a "
    "warning). Send the values to a host_call and write them there with the v2 summary API.",
    before="tf.compat.v1.summary.histogram('logits', logits)  # in model_fn",
    after="host_call=(host_call, [tf.reshape(tf.compat.v1.train.get_global_step(), [1]), logits])",
    blocking=True,
)
UNAGGREGATED_UPDATE = Rule(
    "E2T309", "variable updated from one core's gradients",
    "On a TPU each core computes gradients on its share of the batch; unless a CrossReplicaSum "
    "combines them, every core applies its own and the copies of the model drift apart. "
    "TF 2.15 no longer checks this. Wrap the optimizer: if params['use_tpu']: optimizer = "
    "tf.compat.v1.tpu.CrossShardOptimizer(optimizer).",
    before="optimizer = tf.compat.v1.train.AdamOptimizer(0.01)",
    after="optimizer = tf.compat.v1.train.AdamOptimizer(0.01)\nif params['use_tpu']:\n"
          "    optimizer = tf.compat.v1.tpu.CrossShardOptimizer(optimizer)",
    blocking=True,
)
NOT_BATCH_MAJOR = Rule(
    "E2T310", "tensor sent to metric_fn or host_call is not batch-major",
    "The host concatenates what each core sends along dimension 0, so every tensor given to "
    "metric_fn or host_call keeps the batch in dimension 0 ('All tensors outfed from TPU "
    "should preserve batch size dimension, but got scalar'). Reshape scalars to [1].",
    before="eval_metrics=(metric_fn, [labels, loss])",
    after="eval_metrics=(metric_fn, [labels, tf.reshape(loss, [1])])",
    blocking=True,
)
METRIC_RESULT = Rule(
    "E2T311", "metric_fn result is not a (value, update_op) pair",
    "On a TPU metric_fn runs on the host and each of its results is split as "
    "(value, update_op); a Keras Metric object or a bare tensor passes on the CPU but not "
    "there. Return tf.compat.v1.metrics.* results.",
    before="return {'auc': tf.keras.metrics.AUC()}",
    after="return {'auc': tf.compat.v1.metrics.auc(labels, probabilities)}",
    blocking=True,
)
TPU_TENSOR_HELD = Rule(
    "E2T312", "hook or scaffold holds a tensor of the TPU computation",
    "Tensors computed in model_fn live inside the TPU computation and cannot be fetched from "
    "the host: a hook (LoggingTensorHook, NanTensorHook, SummarySaverHook) or a Scaffold "
    "holding one fails when the session starts. Log through host_call; build Scaffolds in "
    "scaffold_fn from variables only.",
    before="training_hooks=[tf.compat.v1.train.LoggingTensorHook({'loss': loss}, every_n_iter=10)]",
    after="host_call=(host_call, [tf.reshape(loss, [1])])",
    blocking=True,
)
TPU_EXPORT = Rule(
    "E2T313", "the TPU SavedModel cannot be exported",
    "With export_to_tpu=True (the default) export_saved_model also builds model_fn's PREDICT "
    "graph for serving on a TPU, with predictions and export_outputs computed on it. That "
    "graph failed or holds what a TPU cannot run; pass export_to_tpu=False to TPUEstimator to "
    "serve on CPUs only.",
    before="est = tf.compat.v1.estimator.tpu.TPUEstimator(model_fn, use_tpu=True, train_batch_size=64)",
    after="est = tf.compat.v1.estimator.tpu.TPUEstimator(model_fn, use_tpu=True, train_batch_size=64, "
          "export_to_tpu=False)",
    blocking=True,
)
PREDICT_NOT_DATASET = Rule(
    "E2T314", "predict input_fn does not return a Dataset",
    "TPUEstimator.predict on a TPU needs input_fn to return a tf.data.Dataset ('For mode "
    "PREDICT, `input_fn` must return `Dataset` instead of `features` and `labels`.').",
    before="return tf.compat.v1.data.make_one_shot_iterator(dataset).get_next()",
    after="return dataset",
    blocking=True,
)
XLA_COMPILE = Rule(
    "E2T315", "the train step does not compile with XLA",
    "One training step of model_fn, as the TPU runs it, was compiled with XLA on the CPU (the "
    "cross-core sum stood in for) and failed: the TPU compiler fails too. The message is "
    "XLA's; dynamic shapes and ops without an XLA kernel are the usual causes.",
    before="ids, _ = tf.unique(tf.reshape(labels, [-1]))  # in model_fn: a shape known only when it runs",
    after="onehot = tf.one_hot(labels, NUM_CLASSES)  # a shape known when the graph is built",
    blocking=True,
)

ALL = (TPU_ERROR, BATCH_NOT_DIVISIBLE, BATCH_IGNORED, DYNAMIC_INFEED, DYNAMIC_OUTFEED, NO_TPU_KERNEL,
       TPU_DTYPE, SUMMARY_ON_TPU, UNAGGREGATED_UPDATE, NOT_BATCH_MAJOR, METRIC_RESULT, TPU_TENSOR_HELD,
       TPU_EXPORT, PREDICT_NOT_DATASET, XLA_COMPILE)
register(*ALL)

#: The migrate findings that report the same problem in the source.
MIGRATE_CODES: Dict[str, Tuple[str, ...]] = {
    BATCH_NOT_DIVISIBLE.code: ("E2T230", "E2T249"),
    BATCH_IGNORED.code: ("E2T216", "E2T218", "E2T240", "E2T242"),
    DYNAMIC_INFEED.code: ("E2T217", "E2T224", "E2T240"),
    DYNAMIC_OUTFEED.code: ("E2T206",),
    NO_TPU_KERNEL.code: ("E2T206",),
    TPU_DTYPE.code: ("E2T206",),
    SUMMARY_ON_TPU.code: ("E2T207",),
    UNAGGREGATED_UPDATE.code: ("E2T214", "E2T227"),
    NOT_BATCH_MAJOR.code: ("E2T222", "E2T232"),
    METRIC_RESULT.code: ("E2T215", "E2T220"),
    TPU_TENSOR_HELD.code: ("E2T208", "E2T225"),
    TPU_EXPORT.code: ("E2T210",),
    PREDICT_NOT_DATASET.code: ("E2T216", "E2T241"),
    XLA_COMPILE.code: ("E2T206",),
}
