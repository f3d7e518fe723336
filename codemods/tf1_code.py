"""TF 1.x code: what only TF 1.x has, and the target that migrates it (nothing is rewritten here).

    experiment = tf.contrib.learn.Experiment(estimator, train_fn, eval_fn)  # E2T248: stays
    est = tf.estimator.Estimator(model_fn)  # E2T247 with --target tf2 when the program calls tf.logging

``tf.contrib.learn`` (Experiment, learn_runner, ModelFnOps, its Estimator and canned
classes) and the contrib estimators (WALSMatrixFactorization, the boosted trees, ...) are
not tf.estimator code: est2tpu cannot follow how they run an estimator, so every
estimator of a program using them stays as it was (a program-wide obstacle).  A program
that calls what only TF 1.x has (:data:`TF1_ONLY`: ``tf.contrib``, ``tf.logging``...) runs
on TF 1.x only, where the default target's output (which imports est2tpu, Python 3.9+)
cannot run: a note suggests ``--target tf1``.
"""

from __future__ import annotations

from typing import Callable, Optional

import libcst as cst

from .base import MigrationCodemod, Rule
from .estimators import CANNED_APIS, ESTIMATOR_APIS, KERAS_APIS, TPU_ESTIMATOR_APIS, EstimatorIndex
from .syntax import spelled_call

TF1_TARGET = Rule(
    "E2T247",
    "TF 1.x code migrated for TF 2: use --target tf1",
    "The program calls what only TF 1.x has (tf.contrib, tf.logging, tf.train.AdamOptimizer, "
    "tf.Session, ...), so it runs on TF 1.x, whose last Python is 3.7. The default target "
    "(tf2) writes code that imports est2tpu, which needs Python 3.9 and TF 2: that output "
    "runs neither there nor on TF 2. Migrate with --target tf1 (tf.contrib.tpu names, the "
    "TPU switch written inline, no est2tpu import), or port the program to TF 2 first.",
    before="est2tpu migrate trainer/  # trainer/model.py calls tf.contrib.layers.optimize_loss",
    after="est2tpu migrate --target tf1 trainer/",
)
CONTRIB_LEARN = Rule(
    "E2T248",
    "tf.contrib.learn or contrib estimator: port to tf.estimator first",
    "tf.contrib.learn (Experiment, learn_runner, ModelFnOps, tf.contrib.learn.Estimator and "
    "its canned classes) and the contrib estimators (WALSMatrixFactorization, the boosted "
    "trees' GradientBoostedDecisionTree*, tensor_forest, timeseries) are not tf.estimator "
    "code: TPUEstimator cannot run them, and est2tpu cannot follow how they run the "
    "program's estimators, so every estimator of the program stays as it was. Port the "
    "program to tf.estimator (an EstimatorSpec model_fn, est.train/evaluate or "
    "tf.estimator.train_and_evaluate instead of an Experiment), then migrate again.",
    before="learn_runner.run(experiment_fn, output_dir)  # experiment_fn builds a tf.contrib.learn.Experiment",
    after="tf.estimator.train_and_evaluate(estimator, train_spec, eval_spec)",
    blocking=True,
    obstacle=True,
    program_wide=True,
)

#: Classes of tf.contrib.learn that are not an estimator's by their name.
_LEARN_CLASSES = {"Experiment", "ModelFnOps", "SKCompat", "SVM"}
#: The contrib packages of estimators that are not tf.estimator's.
_CONTRIB_ESTIMATORS = ("tf.contrib.factorization.", "tf.contrib.boosted_trees.", "tf.contrib.tensor_forest.",
                       "tf.contrib.timeseries.")
_ESTIMATOR_SUFFIXES = ("Estimator", "Classifier", "Regressor", "Factorization", "Clustering")

#: Names of TF 1's API that TF 2 does not have (spelled without tf.compat.v1): a program
#: calling one is TF 1.x code, whose tf.estimator classes are the TF 1 ones.
TF1_ONLY = {
    "contrib", "logging", "app", "flags", "gfile", "layers", "Session", "placeholder", "placeholder_with_default",
    "get_variable", "variable_scope", "get_collection", "add_to_collection", "decode_csv", "parse_single_example",
    "parse_example", "string_split", "string_to_number", "sparse_tensor_to_dense", "python_io", "assign",
    "assign_add", "global_variables_initializer", "set_random_seed", "random_normal", "random_uniform",
    "train.get_global_step", "train.get_or_create_global_step", "train.AdamOptimizer", "train.AdagradOptimizer",
    "train.GradientDescentOptimizer", "train.MomentumOptimizer", "train.FtrlOptimizer", "train.RMSPropOptimizer",
    "summary.FileWriter", "summary.FileWriterCache", "summary.merge_all", "estimator.inputs", "nn.rnn_cell",
    "nn.dynamic_rnn", "feature_column.input_layer", "metrics.accuracy", "metrics.root_mean_squared_error",
    "metrics.mean", "metrics.auc", "losses.sparse_softmax_cross_entropy", "losses.softmax_cross_entropy",
    "ConfigProto", "GPUOptions", "InteractiveSession", "reset_default_graph", "get_default_graph", "log", "div",
    "to_float", "to_int32", "to_int64", "py_func", "decode_raw", "FixedLenFeature", "VarLenFeature",
    "sparse_placeholder", "local_variables_initializer", "tables_initializer", "variables_initializer",
    "train.Server", "train.Saver", "train.MonitoredTrainingSession", "train.SessionRunHook",
    "train.LoggingTensorHook", "train.exponential_decay", "train.piecewise_constant", "train.cosine_decay",
    "train.polynomial_decay", "train.match_filenames_once", "train.string_input_producer",
}


def not_tf_estimator(api: str) -> bool:
    """Whether canonical ``api`` is tf.contrib.learn's or a contrib estimator's (a class, or
    learn_runner, or the boosted trees' in-memory trainers)."""
    parts = api.split(".")
    name = parts[-1]
    if api.startswith("tf.contrib.learn."):
        return "learn_runner" in parts or name in _LEARN_CLASSES or name[:1].isupper() and name.endswith(
            _ESTIMATOR_SUFFIXES)
    if api.startswith("tf.contrib.estimator.boosted_trees_"):
        return True
    return api.startswith(_CONTRIB_ESTIMATORS) and name[:1].isupper() and (
        "GradientBoosted" in name or name.endswith(_ESTIMATOR_SUFFIXES))


def first_call(index: EstimatorIndex, test: Callable[[str], bool]) -> Optional[str]:
    """The first call of the program (of the module, alone) to a fully qualified TensorFlow
    name that passes ``test``: ``tf.logging.set_verbosity at trainer/model.py:5``, or None."""
    program = index.program
    for owner in program.indexes if program is not None else [index]:
        for call, _, _ in owner.api_calls:
            qualified = owner.imports.qualified(call.func) or ""
            if qualified.startswith("tensorflow.") and test(qualified):
                spelled = "tf." + qualified.partition(".")[2]
                if program is None:
                    return spelled
                unit = program.unit_of(owner)
                return f"{spelled} at {unit.source.display}:{unit.line_of(call)}"
    return None


def tf1_code(index: EstimatorIndex, migrated: bool = False) -> Optional[str]:
    """The first call of the program to a TF 1 name TF 2 lacks (``tf.logging.set_verbosity
    at trainer/model.py:5``), or None; ``migrated``: of those the default target keeps (not
    ``tf.estimator.inputs``, whose input_fns become est2tpu's)."""
    def tf1_only(qualified: str) -> bool:
        parts = qualified.split(".")
        name = parts[1] if len(parts) > 1 and parts[1] in TF1_ONLY else ".".join(parts[1:3])
        return name in TF1_ONLY and not (migrated and name == "estimator.inputs")

    return first_call(index, tf1_only)


class ReportTF1Code(MigrationCodemod):
    """Report tf.contrib.learn and contrib estimators, and TF 1.x code migrated for TF 2."""

    DESCRIPTION = __doc__.splitlines()[0]
    RULES = [TF1_TARGET, CONTRIB_LEARN]
    TRIGGERS = ("contrib", "stimator")

    def visit_Module(self, node: cst.Module) -> None:
        index = self.index
        for call, api, _ in index.api_calls:
            if not_tf_estimator(api):
                self.report(call, CONTRIB_LEARN.code, f"{CONTRIB_LEARN.title}: {spelled_call(call, api)}",
                            "port it to tf.estimator, then migrate again")
        sites = [site for site in index.estimators if site.api not in TPU_ESTIMATOR_APIS and (
            site.api in ESTIMATOR_APIS or site.api in KERAS_APIS or site.api in CANNED_APIS)]
        if self.options.target != "tf2" or not sites:
            return
        evidence = tf1_code(index, migrated=True)
        if evidence is not None:
            for site in sites:
                self.report(site.call, TF1_TARGET.code, f"{TF1_TARGET.title}: the program calls {evidence}",
                            "migrate with --target tf1")

    def rewrites(self) -> bool:
        return False
