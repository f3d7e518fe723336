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

KERAS_TF1 = Rule(
    "E2T258",
    "model_to_estimator under --target tf1",
    "The TPU version of Keras' model_to_estimator is est2tpu.model_to_estimator, which TF 1.x "
    "programs cannot import (TF 1.x stops at Python 3.7, est2tpu needs 3.9), and which has no "
    "few-line equivalent to write inline. The estimator stays as it was. Port the program to "
    "TF 2 and migrate with the tf2 target, or write a model_fn around the Keras model (its "
    "layers called on features) and migrate that.",
    before="estimator = tf.keras.estimator.model_to_estimator(keras_model=model)  # --target tf1",
    after="estimator = tf.estimator.Estimator(model_fn)  # model_fn calls the model's layers",
    blocking=True,
    obstacle=True,
)


class KerasModelToTPUEstimator(MigrationCodemod):
    """Point model_to_estimator calls at est2tpu.model_to_estimator, with batch sizes."""

    DESCRIPTION = __doc__.splitlines()[0]
    RULES = [KERAS_TO_TPU, KERAS_TF1]
    TRIGGERS = ("model_to_estimator",)

    def visit_Module(self, node: cst.Module) -> None:
        self.sites = {site.call: site for site in self.index.estimators if site.api in KERAS_APIS}
        if self.options.target == "tf1":
            for call in self.sites:
                self.report(call, KERAS_TF1.code, f"{KERAS_TF1.title}: TF 1.x programs cannot import est2tpu",
                            "port the program to TF 2, or write a model_fn")
            self.sites = {}
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
