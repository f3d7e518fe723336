"""Keras' model_to_estimator -> est2tpu.model_to_estimator, the TPU-aware converter.

    estimator = tf.keras.estimator.model_to_estimator(keras_model=model)
    estimator.train(lambda: make_dataset(x, y, 32), steps=100)
    # becomes
    estimator = est2tpu.model_to_estimator(
        keras_model=model, train_batch_size=32)
    estimator.train(lambda params: make_dataset(x, y, params["batch_size"]), steps=100)

Every spelling is matched by what it resolves to (``tf.keras.estimator``,
``tf.compat.v1.keras.estimator``, ``from tensorflow.keras.estimator import
model_to_estimator``, ``keras.estimator``, ``tensorflow.python.keras.estimator``).
The original arguments are kept; the batch sizes are lifted from the input_fns the
estimator is trained, evaluated and predicted with, which :mod:`codemods.input_fns`
makes take ``params``.
"""

import libcst as cst

from .base import MigrationCodemod, Rule
from .estimators import KERAS_APIS
from .syntax import add_args
from .tpu_estimator import batch_size_args

KERAS_TO_TPU = Rule(
    "E2T108",
    "model_to_estimator becomes est2tpu.model_to_estimator",
    "est2tpu.model_to_estimator takes the same arguments as Keras' converter plus the batch "
    "sizes, and returns a TPUEstimator that averages gradients across TPU shards and computes "
    "the compiled metrics on the host.",
    before="estimator = tf.keras.estimator.model_to_estimator(keras_model=model)",
    after="estimator = est2tpu.model_to_estimator(keras_model=model, train_batch_size=32)",
)


class KerasModelToTPUEstimator(MigrationCodemod):
    """Point model_to_estimator calls at est2tpu.model_to_estimator, with batch sizes."""

    DESCRIPTION = __doc__.splitlines()[0]
    RULES = [KERAS_TO_TPU]
    TRIGGERS = ("model_to_estimator",)

    def visit_Module(self, node: cst.Module) -> None:
        self.sites = {site.call: site for site in self.index.estimators if site.api in KERAS_APIS}
        # found (and their obstacles reported) before the program decides what converts
        self.batch_sizes = {call: batch_size_args(self, site) for call, site in self.sites.items()}

    def rewrites(self) -> bool:
        return bool(self.sites)

    def targets(self):
        return self.sites

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        if original_node not in self.sites:
            return updated_node
        self.drop_import_of(original_node.func)
        call = updated_node.with_changes(func=self.runtime("model_to_estimator"))
        return add_args(call, self.batch_sizes[original_node])
