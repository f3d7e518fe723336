"""Report what cannot be migrated safely (nothing is rewritten here).

    hidden = tf.compat.v1.py_func(my_fn, [x], tf.float32)   # E2T206: no TPU kernel
    hook = tf.compat.v1.train.LoggingTensorHook({"loss": loss}, every_n_iter=10)  # E2T208

Each finding names the TPU rule it breaks and what to do instead.
"""

import libcst as cst

from .base import MigrationCodemod, Rule
from .estimators import CANNED_APIS
from .names import is_schedule
from .syntax import find_arg, in_cpu_branch, spelled_call

GLOBAL_BATCH = Rule(
    "E2T205", "batch size becomes global",
    "train_batch_size is the global batch size; params['batch_size'] is per shard. Learning-rate "
    "schedules, decay_steps and steps-per-epoch derived from the batch size change meaning on a "
    "multi-core TPU: check them.",
    before='steps_per_epoch = NUM_EXAMPLES // params["batch_size"]  # in model_fn',
    after="steps_per_epoch = NUM_EXAMPLES // TRAIN_BATCH_SIZE  # the global batch size",
)
NOT_ON_TPU = Rule(
    "E2T206", "op does not compile for the TPU",
    "Dynamic shapes (tf.unique, tf.boolean_mask, tf.where with one argument, dynamic_partition), "
    "string ops, lookup tables and py_func inside model_fn do not compile for the TPU. Move them "
    "into the input_fn or give the data a static shape.",
    before="ids = tf.strings.to_hash_bucket_fast(words, 1000)  # in model_fn",
    after="ids = ...  # computed in input_fn",
    blocking=True,
)
HOOK = Rule(
    "E2T208", "hook captures model_fn tensors",
    "Hooks that read tensors of the model_fn (LoggingTensorHook, SummarySaverHook, NanTensorHook) "
    "cannot see tensors inside the TPU computation ('Operation ... has been marked as not "
    "fetchable'). Log through host_call or drop the hook.",
    before='hook = tf.compat.v1.train.LoggingTensorHook({"loss": loss}, every_n_iter=100)',
    after="host_call = (host_fn, [tf.reshape(loss, [1])])  # host_fn writes or logs the loss",
    blocking=True,
)
EXPORT = Rule(
    "E2T210", "export defaults to a TPU SavedModel",
    "TPUEstimator(export_to_tpu=True) by default exports a TPU graph; for CPU serving pass "
    "export_to_tpu=False to TPUEstimator.",
    before="est.export_saved_model(export_dir, serving_input_fn)",
    after="est = tf.compat.v1.estimator.tpu.TPUEstimator(..., export_to_tpu=False)\n"
          "est.export_saved_model(export_dir, serving_input_fn)",
)
MULTI_GPU = Rule(
    "E2T211", "multi-GPU code",
    "MirroredStrategy, replicate_model_fn, TowerOptimizer and RunConfig(train_distribute=...) "
    "do not apply to TPUEstimator, which shards across TPU cores itself. Remove them.",
    before="config = tf.estimator.RunConfig(train_distribute=tf.distribute.MirroredStrategy())",
    after="config = tf.estimator.RunConfig()",
    blocking=True,
    obstacle=True,
)
PREDICTIONS = Rule(
    "E2T228", "predictions are not a dict of tensors",
    "'TPUEstimatorSpec.predictions must be dict of Tensors.' A single tensor runs on the CPU "
    "but not on a TPU: name it.",
    before="return tf.estimator.EstimatorSpec(mode, predictions=tf.nn.softmax(logits))",
    after='return tf.estimator.EstimatorSpec(mode, predictions={"probabilities": tf.nn.softmax(logits)})',
    blocking=True,
)

DYNAMIC_APIS = {"tf.unique", "tf.unique_with_counts", "tf.boolean_mask", "tf.dynamic_partition", "tf.py_func", "tf.py_function",
                "tf.numpy_function", "tf.as_string", "tf.string_split", "tf.string_to_number",
                "tf.string_to_hash_bucket_fast", "tf.placeholder"}
DYNAMIC_PREFIXES = ("tf.strings.", "tf.lookup.", "tf.contrib.lookup.")
HOOK_APIS = {"tf.train.LoggingTensorHook", "tf.train.SummarySaverHook", "tf.train.NanTensorHook",
             "tf.estimator.LoggingTensorHook", "tf.estimator.SummarySaverHook", "tf.estimator.NanTensorHook"}
SPEC_APIS = {"tf.estimator.EstimatorSpec", "tf.estimator.tpu.TPUEstimatorSpec", "tf.contrib.tpu.TPUEstimatorSpec"}
MULTI_GPU_APIS = {"tf.distribute.MirroredStrategy", "tf.contrib.distribute.MirroredStrategy",
                  "tf.contrib.estimator.replicate_model_fn", "tf.contrib.estimator.TowerOptimizer"}


class ReportTPUHazards(MigrationCodemod):
    """Report TPU hazards: non-TPU ops, hooks, schedules, export, multi-GPU code."""

    DESCRIPTION = __doc__.splitlines()[0]
    RULES = [GLOBAL_BATCH, NOT_ON_TPU, HOOK, EXPORT, MULTI_GPU, PREDICTIONS]
    TRIGGERS = ("stimator",)

    def visit_Module(self, node: cst.Module) -> None:
        index = self.index
        for call, api, scope in index.api_calls:
            if in_cpu_branch(call, index.parent_of):  # `else:` of an `if use_tpu:` never runs on a TPU
                continue
            self._check(call, api, index.in_model_fn(scope))
            if api in SPEC_APIS:
                self._check_predictions(call, scope)
        # est2tpu's canned estimators export the CPU graph themselves
        canned = {call for site in index.estimators if site.api in CANNED_APIS for call in index.exports_of(site)}
        if index.estimators:
            for call, _ in index.exports:
                if call not in canned:
                    self.report(call, EXPORT.code, EXPORT.title, "pass export_to_tpu=False to TPUEstimator for CPU serving")

    def rewrites(self) -> bool:
        return False

    def _check_predictions(self, spec: cst.Call, scope) -> None:
        """A spec whose predictions are a tensor: the value of a TensorFlow op (tf.nest's
        may be dicts), given directly or through a name."""
        arg = find_arg(spec, "predictions", 1)
        value = arg and (self.index.value_of(arg.value, scope) or arg.value)
        api = self.api(value.func) if isinstance(value, cst.Call) else None
        if api and not api.startswith("tf.nest."):
            self.report(arg, PREDICTIONS.code, PREDICTIONS.title, "return a dict: predictions={\"name\": tensor}")

    def _check(self, node: cst.Call, api: str, in_model_fn: bool) -> None:
        if api in MULTI_GPU_APIS:
            self.report(node, MULTI_GPU.code, f"{MULTI_GPU.title}: {spelled_call(node, api)}", "remove it")
        elif api == "tf.estimator.RunConfig" and any(
                a.keyword and a.keyword.value in ("train_distribute", "eval_distribute") for a in node.args):
            self.report(node, MULTI_GPU.code, f"{MULTI_GPU.title}: RunConfig(train_distribute=...)", "remove it")
        if not in_model_fn:
            return
        if api in DYNAMIC_APIS or api.startswith(DYNAMIC_PREFIXES) or (api in ("tf.where", "tf.where_v2") and len(node.args) == 1):
            self.report(node, NOT_ON_TPU.code, f"{NOT_ON_TPU.title}: {spelled_call(node, api)}", "move it to the input_fn")
        elif api in HOOK_APIS:
            self.report(node, HOOK.code, f"{HOOK.title}: {spelled_call(node, api)}", "log through host_call")
        elif is_schedule(api):
            self.report(node, GLOBAL_BATCH.code, f"{GLOBAL_BATCH.title}: check {spelled_call(node, api)}",
                        "decay_steps and step counts now count global batches")

