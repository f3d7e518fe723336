"""Canned estimators -> est2tpu's TPU-aware equivalents (``est2tpu.DNNClassifier``, ...).

    est = tf.estimator.DNNClassifier(hidden_units=[30, 10], feature_columns=columns)
    est.train(lambda: input_fn(train, 32), steps=100)
    # becomes
    est = est2tpu.DNNClassifier(hidden_units=[30, 10], feature_columns=columns, train_batch_size=32)
    est.train(lambda params: input_fn(train, params["batch_size"]), steps=100)

The six TF 2 classes the runtime has (``est2tpu/runtime/canned.py``) keep every argument;
the batch sizes are lifted from the input_fns as for an Estimator, which
:mod:`codemods.input_fns` makes take ``params``.  A canned estimator is an Estimator of the
program: it converts with the code it shares, or stays with it.  It stays, with a blocking
finding, where its conversion would change its numbers or could not run on a TPU, as far
as that is visible here: a class without an equivalent (E2T204), the TF 1 class (E2T252),
feature columns a TPU cannot compute (E2T253) and arguments the runtime refuses on a TPU
(E2T254), each checked as the runtime checks them.  Columns built where they cannot be
followed are left to the runtime, which names them on a TPU.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Iterator, List, Optional, Set, Tuple

import libcst as cst

from .base import MigrationCodemod, Options, Rule
from .estimators import CANNED_APIS, RUNTIME_CANNED_APIS, EstimatorIndex, EstimatorSite, OwnCalls
from .names import dotted
from .syntax import add_args, dotted_expr, find_arg, is_name, kwarg, one_line, param_names, spelled_call
from .tf1_code import tf1_code
from .tpu_estimator import batch_size_args
from .walk import Visitor

CANNED_TO_RUNTIME = Rule(
    "E2T111",
    "canned estimator becomes est2tpu's",
    "est2tpu.DNNClassifier, DNNRegressor, LinearClassifier, LinearRegressor, "
    "DNNLinearCombinedClassifier and DNNLinearCombinedRegressor take the arguments of the "
    "tf.estimator classes plus TPUEstimator's batch sizes (lifted from the input_fns), and "
    "return a TPUEstimator that on the CPU trains, evaluates, predicts and exports as the "
    "canned estimator does, and on a TPU sums the shards' gradients, computes metrics and "
    "summaries on the host and predicts the numeric keys. Feature columns est2tpu cannot see "
    "here are checked on a TPU, when the estimator is built.",
    before="est = tf.estimator.DNNClassifier(hidden_units=[10], feature_columns=cols)",
    after="est = est2tpu.DNNClassifier(hidden_units=[10], feature_columns=cols, train_batch_size=32)",
)
CANNED = Rule(
    "E2T204", "canned estimator has no TPU version",
    "est2tpu has TPU versions of the TF 2 DNNClassifier, DNNRegressor, LinearClassifier, "
    "LinearRegressor and DNNLinearCombined{Classifier,Regressor} only. BoostedTrees*, "
    "Baseline*, the *Estimator classes that take a head, RNN* and KMeans have none: the "
    "estimator stays, with the code it shares. Rewrite it as a model_fn (e.g. with "
    "tf.compat.v1.layers) to run on a TPU.",
    before="est = tf.estimator.BoostedTreesClassifier(feature_columns=cols, n_batches_per_layer=10)",
    after="est = tf.compat.v1.estimator.tpu.TPUEstimator(model_fn=trees_model_fn, ...)",
    blocking=True,
    obstacle=True,
)
TF1_CLASS = Rule(
    "E2T252", "canned estimator of TF 1",
    "The TF 1 canned classes (tf.compat.v1.estimator.*, tf.estimator.* under `import "
    "tensorflow.compat.v1 as tf` or in TF 1.x code) sum the loss over the batch and train "
    "with v1 optimizers; est2tpu's are the TF 2 classes, which compute other numbers, and "
    "need TensorFlow 2. The estimator stays. Port it to the TF 2 class "
    "(tf.estimator.X; loss_reduction=tf.losses.Reduction.SUM keeps a summed loss), then "
    "migrate again.",
    before="est = tf.compat.v1.estimator.DNNClassifier(hidden_units=[10], feature_columns=cols)",
    after="est = tf.estimator.DNNClassifier(hidden_units=[10], feature_columns=cols,\n"
          "                                 loss_reduction=tf.losses.Reduction.SUM)",
    blocking=True,
    obstacle=True,
)
COLUMN = Rule(
    "E2T253", "feature column a TPU cannot compute",
    "On a TPU the canned model runs its feature columns inside the TPU computation, which has "
    "no string ops (vocabulary lookups, hashing), no SparseCross and no sparse lookups: "
    "est2tpu's canned estimators take numeric, bucketized (DNN part) and indicator columns of "
    "identity or bucketized columns, and embedding columns of identity columns in the DNN part "
    "(as TPU embedding columns, without max_norm, trainable=False or ckpt_to_load_from). The "
    "estimator stays. Compute integer ids in input_fn and use "
    "categorical_column_with_identity, wrapped in indicator_column or embedding_column.",
    before="color = tf.feature_column.categorical_column_with_vocabulary_list('color', ['red', 'blue'])\n"
           "columns = [tf.feature_column.indicator_column(color)]",
    after="color = tf.feature_column.categorical_column_with_identity('color_id', 2)  # ids made in input_fn\n"
          "columns = [tf.feature_column.indicator_column(color)]",
    blocking=True,
    obstacle=True,
)
ARGUMENT = Rule(
    "E2T254", "canned estimator argument a TPU cannot run",
    "est2tpu's canned estimators refuse on a TPU what it cannot run: string labels "
    "(label_vocabulary), LinearSDCA, and for TPU embedding columns a DNN optimizer other than "
    "Adagrad, Adam (no amsgrad) or SGD (no momentum), with clipping, a schedule or given as a "
    "callable. An estimator wrapped by add_metrics or forward_features becomes a "
    "tf.estimator.Estimator that cannot run a TPUEstimator's model_fn, and the arguments of "
    "`**mapping` cannot be read here. The estimator stays.",
    before="est = tf.estimator.LinearClassifier(feature_columns=cols, label_vocabulary=['no', 'yes'])",
    after="est = tf.estimator.LinearClassifier(feature_columns=cols, n_classes=2)  # labels mapped to 0, 1 in input_fn",
    blocking=True,
    obstacle=True,
)
PREDICT_EMBEDDING = Rule(
    "E2T255", "predict() on a TPU with TPU embedding columns",
    "The embedding columns become TPU embedding columns, which TPUEstimator's predict loop does "
    "not look up: on a TPU est2tpu refuses predict() with them (training and evaluation run). "
    "Predict on the CPU (TPU_NAME unset) from the same model_dir, or export the model "
    "(export_saved_model serves the CPU graph).",
    before="est = tf.estimator.DNNClassifier(feature_columns=[embedding], ...)\npredictions = est.predict(input_fn)",
    after="predictions = est.predict(input_fn)  # run with TPU_NAME unset, from the trained model_dir",
    blocking=True,
)

#: The arguments of the TF 2 canned classes, in order (est2tpu's take them, then the batch sizes).
PARAMETERS: Dict[str, Tuple[str, ...]] = {
    "tf.estimator.DNNClassifier": (
        "hidden_units", "feature_columns", "model_dir", "n_classes", "weight_column", "label_vocabulary",
        "optimizer", "activation_fn", "dropout", "config", "warm_start_from", "loss_reduction", "batch_norm"),
    "tf.estimator.DNNRegressor": (
        "hidden_units", "feature_columns", "model_dir", "label_dimension", "weight_column", "optimizer",
        "activation_fn", "dropout", "config", "warm_start_from", "loss_reduction", "batch_norm"),
    "tf.estimator.LinearClassifier": (
        "feature_columns", "model_dir", "n_classes", "weight_column", "label_vocabulary", "optimizer", "config",
        "warm_start_from", "loss_reduction", "sparse_combiner"),
    "tf.estimator.LinearRegressor": (
        "feature_columns", "model_dir", "label_dimension", "weight_column", "optimizer", "config",
        "warm_start_from", "loss_reduction", "sparse_combiner"),
    "tf.estimator.DNNLinearCombinedClassifier": (
        "model_dir", "linear_feature_columns", "linear_optimizer", "dnn_feature_columns", "dnn_optimizer",
        "dnn_hidden_units", "dnn_activation_fn", "dnn_dropout", "n_classes", "weight_column", "label_vocabulary",
        "config", "warm_start_from", "loss_reduction", "batch_norm", "linear_sparse_combiner"),
    "tf.estimator.DNNLinearCombinedRegressor": (
        "model_dir", "linear_feature_columns", "linear_optimizer", "dnn_feature_columns", "dnn_optimizer",
        "dnn_hidden_units", "dnn_activation_fn", "dnn_dropout", "label_dimension", "weight_column", "config",
        "warm_start_from", "loss_reduction", "batch_norm", "linear_sparse_combiner"),
}
#: Feature-column arguments -> the part of the model they feed ("dnn" or "linear").
COLUMN_ARGUMENTS = {"feature_columns": None, "dnn_feature_columns": "dnn", "linear_feature_columns": "linear"}
#: Where the TF 2 classes are spelled (fully qualified prefixes); every other spelling of a
#: canned class (tf.compat.v1.estimator, tensorflow_estimator.estimator, the internal
#: classes without "V2") is the TF 1 class.
_V2_PREFIXES = ("tensorflow.estimator.", "tensorflow.compat.v2.estimator.", "tensorflow_estimator._api.v2.estimator.",
                "tensorflow_estimator.python.estimator.api._v2.estimator.")
#: Calls that wrap an estimator in a tf.estimator.Estimator of their own.
_WRAPPERS = {"tf.estimator.add_metrics", "tf.contrib.estimator.add_metrics", "tf.contrib.estimator.forward_features"}
_FC = "tf.feature_column."
_IDS = "compute integer ids in input_fn and use tf.feature_column.categorical_column_with_identity"
#: Categorical column constructors -> why a TPU cannot compute their ids.
_CATEGORICAL = {
    "categorical_column_with_vocabulary_list": "a vocabulary lookup is a string op",
    "categorical_column_with_vocabulary_file": "a vocabulary lookup is a string op",
    "categorical_column_with_hash_bucket": "hashing (AsString, StringToHashBucketFast) is a string op",
    "crossed_column": "crossing (SparseCross) has no TPU kernel",
    "weighted_categorical_column": "weighted ids are computed with sparse ops, which have no TPU kernel",
    "sequence_categorical_column_with_identity": "sequence columns are computed with sparse ops",
    "sequence_categorical_column_with_hash_bucket": "sequence columns are computed with sparse ops",
    "sequence_categorical_column_with_vocabulary_list": "sequence columns are computed with sparse ops",
    "sequence_categorical_column_with_vocabulary_file": "sequence columns are computed with sparse ops",
}
_DENSE_IDS = {"categorical_column_with_identity", "bucketized_column"}
_REFUSED_COLUMNS = {
    "sequence_numeric_column": "sequence columns are computed with sparse ops",
    "shared_embeddings": "shared embedding columns are not supported on a TPU",
    "shared_embedding_columns": "shared embedding columns are not supported on a TPU",
}
_EMBEDDING_OPTIMIZERS = {"Adagrad", "Adam", "SGD"}
_OPTIMIZER_PREFIXES = ("tf.keras.optimizers.legacy.", "tf.keras.optimizers.", "tf.optimizers.legacy.", "tf.optimizers.")


@dataclasses.dataclass(frozen=True)
class Refusal:
    """Why a canned estimator stays: a finding of ``rule`` at ``node``."""

    node: cst.CSTNode
    rule: Rule
    message: str
    hint: str


@dataclasses.dataclass
class Analysis:
    """What est2tpu sees of one canned estimator."""

    refusals: List[Refusal] = dataclasses.field(default_factory=list)
    #: The embedding columns that become TPU embedding columns (their definitions).
    embeddings: List[cst.Call] = dataclasses.field(default_factory=list)


def class_name(site: EstimatorSite) -> str:
    return site.api.rpartition(".")[2]


def position(site: EstimatorSite, name: str) -> Optional[int]:
    """The position of argument ``name`` in the site's TF 2 class (None: not one of the six)."""
    names = PARAMETERS.get(site.api, ())
    return names.index(name) if name in names else None


def regions(index: EstimatorIndex, site: EstimatorSite) -> Iterator[cst.CSTNode]:
    """The nodes of a canned estimator's conversion other than its call and uses: its
    RunConfig (which becomes a TPU RunConfig) and the code its refusals are reported at."""
    if site.api in RUNTIME_CANNED_APIS:
        config = index.run_config_of(site, position(site, "config"))
        if config is not None:
            yield config
    for refusal in analyse(index, site).refusals:
        if refusal.node is not site.call:
            yield refusal.node


def analyse(index: EstimatorIndex, site: EstimatorSite) -> Analysis:
    """The refusals of a canned estimator (none: it converts) and its TPU embedding columns."""
    found = Analysis()
    spelled = spelled_call(site.call, site.api)
    if site.api not in RUNTIME_CANNED_APIS:
        found.refusals.append(Refusal(site.call, CANNED, f"{CANNED.title}: {spelled}", "write a model_fn"))
        return found
    if not _is_v2(index, site.call.func):
        found.refusals.append(Refusal(site.call, TF1_CLASS, f"{TF1_CLASS.title}: {spelled} is the TF 1 class",
                                      f"port it to tf.estimator.{class_name(site)} (TF 2) first"))
        return found
    evidence = tf1_code(index)
    if evidence is not None:
        found.refusals.append(Refusal(site.call, TF1_CLASS, f"{TF1_CLASS.title}: {spelled} in TF 1.x code, which "
                                      f"calls {evidence}: tf.estimator.{class_name(site)} is the TF 1 class there",
                                      "port the program to TF 2 first"))
        return found
    if any(arg.star == "*" for arg in site.call.args) or index.star_keywords(site.call, site.scope) is None:
        found.refusals.append(Refusal(site.call, ARGUMENT, f"{ARGUMENT.title}: *arguments not known here",
                                      "pass its arguments by name"))
        return found
    _Checks(index, site, found).run()
    return found


def _is_v2(index: EstimatorIndex, func: cst.BaseExpression) -> bool:
    qualified = index.imports.qualified(func) or ""
    return qualified.startswith(_V2_PREFIXES) or (
        qualified.startswith("tensorflow_estimator.python.estimator.canned.") and qualified.endswith("V2"))


class _Checks:
    """The checks of :func:`analyse` on the arguments of one TF 2 canned estimator."""

    def __init__(self, index: EstimatorIndex, site: EstimatorSite, found: Analysis) -> None:
        self.index, self.site, self.found = index, site, found
        self.columns = _Columns(index)
        self._seen: Set[cst.CSTNode] = set()

    def refuse(self, node: cst.CSTNode, rule: Rule, message: str, hint: str) -> None:
        if node not in self._seen:
            self._seen.add(node)
            self.found.refusals.append(Refusal(node, rule, f"{rule.title}: {message}", hint))

    def argument(self, name: str) -> Optional[cst.BaseExpression]:
        return self.index.argument(self.site, name, position(self.site, name))

    def run(self) -> None:
        vocabulary = self.argument("label_vocabulary")
        if vocabulary is not None and not is_name(vocabulary, "None"):
            self.refuse(vocabulary, ARGUMENT, "label_vocabulary (string labels)",
                        "map the labels to ids 0..n_classes-1 in input_fn and drop label_vocabulary")
        for name in ("optimizer", "linear_optimizer"):
            given = self.argument(name)
            value, owner = self._value(given) if given is not None else (None, None)
            if isinstance(value, cst.Call) and owner.imports.api(value.func) == "tf.estimator.experimental.LinearSDCA":
                self.refuse(given, ARGUMENT, "LinearSDCA trains with sparse ops and a hook of its own",
                            "use a gradient optimizer")
        weight_key = self._weight_key()
        keys: Dict[str, str] = {} if weight_key is None else {weight_key: "weight_column"}
        embeddings = []
        for name, part in COLUMN_ARGUMENTS.items():
            value = self.argument(name)
            if value is None:
                continue
            part = part or ("dnn" if class_name(self.site).startswith("DNN") else "linear")
            for column, owner, entry in self.columns.flatten(value, self.site.scope, value):
                embedding = self._check_column(column, owner, entry, part)
                if embedding is not None:
                    embeddings.append((embedding, owner))
                else:
                    for key in self.columns.keys(column, owner) or ():
                        keys.setdefault(key, self.columns.name_of(column, owner))
        unique = list({id(column): (column, owner) for column, owner in embeddings}.values())
        self._check_embedding_features(unique, keys)
        self.found.embeddings = [column for column, _ in unique]
        if unique:
            self._check_embedding_optimizer(", ".join(self.columns.name_of(c, owner) for c, owner in unique))
        self._check_wrappers()

    def _value(self, given: cst.BaseExpression) -> Tuple[cst.BaseExpression, EstimatorIndex]:
        """An argument's value, a name followed to what it is bound to (a function: a lambda
        standing for it), with the index of its module."""
        owner = self.index.index_of_node(given)
        if isinstance(given, cst.Name):
            scope = self.columns.scope(owner, given)
            if isinstance(owner.resolve_function(given, scope), (cst.FunctionDef, cst.Lambda)):
                return cst.Lambda(cst.Parameters(), given), owner
            value = owner.value_of(given, scope)
            if value is not None:
                return value, owner.index_of_node(value)
        return given, owner

    def _weight_key(self) -> Optional[str]:
        value = self.argument("weight_column")
        if isinstance(value, cst.SimpleString):
            return value.evaluated_value
        column = next(iter(self.columns.flatten(value, self.site.scope, value)), None) if value is not None else None
        keys = self.columns.keys(column[0], column[1]) if column is not None else None
        return next(iter(keys)) if keys and len(keys) == 1 else None

    # -- feature columns ---------------------------------------------------------------

    def _check_column(self, column: cst.Call, owner: EstimatorIndex, entry: cst.CSTNode, part: str):
        """Refuses what the runtime refuses of ``column`` in the ``part`` ("dnn"/"linear") of the
        model (``entry``: where it enters the columns list); returns it when it is an embedding
        column that becomes a TPU embedding column."""
        kind = self.columns.kind(column, owner)
        name = self.columns.name_of(column, owner)
        if kind in _REFUSED_COLUMNS:
            self.refuse(column, COLUMN, f"{name}: {_REFUSED_COLUMNS[kind]}", "use numeric, indicator or embedding columns")
        elif kind in _CATEGORICAL or kind == "categorical_column_with_identity" \
                or (kind == "bucketized_column" and part == "linear"):
            model = "a linear model looks up its weights with sparse ops" if part == "linear" \
                else "a DNN takes dense columns only"
            self.refuse(entry, COLUMN, f"{name} given straight to the {part} part: {model}",
                        "wrap it in tf.feature_column.indicator_column(...)")
        elif kind == "indicator_column":
            self._check_ids(column, owner)
        elif kind == "embedding_column":
            return self._check_embedding(column, owner, entry, part)
        return None

    def _categorical(self, column: cst.Call, owner: EstimatorIndex):
        """The (column, its index) an indicator or embedding column wraps, when known."""
        arg = find_arg(column, "categorical_column", 0)
        found = self.columns.flatten(arg.value, self.columns.scope(owner, column), arg.value) if arg is not None else []
        return found[0][:2] if len(found) == 1 else (None, None)

    def _check_ids(self, column: cst.Call, owner: EstimatorIndex) -> None:
        categorical, where = self._categorical(column, owner)
        kind = self.columns.kind(categorical, where) if categorical is not None else None
        if kind in _CATEGORICAL:
            self.refuse(categorical, COLUMN, f"{self.columns.name_of(categorical, where)}: {_CATEGORICAL[kind]}", _IDS)

    def _check_embedding(self, column: cst.Call, owner: EstimatorIndex, entry: cst.CSTNode, part: str):
        name = self.columns.name_of(column, owner)
        if part == "linear":
            self.refuse(entry, COLUMN, f"{name} in the linear part: TPU embedding columns are supported in the DNN "
                        "part only", "pass it in dnn_feature_columns")
            return None
        categorical, where = self._categorical(column, owner)
        kind = self.columns.kind(categorical, where) if categorical is not None else None
        if kind is None:
            return None  # not visible here: the runtime checks it on a TPU
        if kind != "categorical_column_with_identity":
            reason = _CATEGORICAL.get(kind, "an embedding of it needs sparse ops on a TPU")
            self.refuse(categorical if kind in _CATEGORICAL else column, COLUMN,
                        f"{self.columns.name_of(categorical, where)} embedded: {reason}", _IDS)
            return None
        unsupported = [arg for arg, at, default in (("max_norm", 6, "None"), ("trainable", 7, "True"),
                                                    ("ckpt_to_load_from", 4, "None"))
                       if (given := find_arg(column, arg, at)) is not None and not is_name(given.value, default)]
        if unsupported:
            self.refuse(column, COLUMN, f"{name}: TPU embedding columns have no {', '.join(unsupported)}",
                        f"drop {', '.join(unsupported)}")
            return None
        return column

    def _check_embedding_features(self, embeddings, keys: Dict[str, str]) -> None:
        """TPU embedding takes its feature out of the features dict: no other column may read it."""
        taken: Dict[str, str] = {}
        for column, owner in embeddings:
            categorical, where = self._categorical(column, owner)
            found = self.columns.keys(categorical, where) if categorical is not None else None
            key = next(iter(found)) if found and len(found) == 1 else None
            other = keys.get(key) or taken.get(key)
            if key is not None and other is not None:
                self.refuse(column, COLUMN, f"{self.columns.name_of(column, owner)} takes feature {key!r} out of "
                            f"the features, and {other} reads it too", "give each its own feature")
            if key is not None:
                taken.setdefault(key, self.columns.name_of(column, owner))

    def _check_embedding_optimizer(self, names: str) -> None:
        """The TPU embedding tables train with the DNN optimizer's settings, which must have a
        TPU embedding equivalent (see the runtime's ``_embedding_optimization``)."""
        given = self.argument("dnn_optimizer" if class_name(self.site).startswith("DNNLinear") else "optimizer")
        if given is None:
            return  # "Adagrad"
        value, owner = self._value(given)
        problem = None
        if isinstance(value, cst.SimpleString) and value.evaluated_value not in _EMBEDDING_OPTIMIZERS:
            problem = value.evaluated_value
        elif isinstance(value, cst.Lambda):
            problem = "an optimizer given as a callable (its settings cannot be read)"
        elif isinstance(value, cst.Call):
            problem = self._optimizer_problem(value, owner)
        if problem is not None:
            self.refuse(given, ARGUMENT, f"the TPU embedding columns {names} train with the DNN optimizer's "
                        f"settings, and {problem} has no TPU embedding equivalent",
                        "use Adagrad, Adam (no amsgrad) or SGD (no momentum), without clipping or schedules")

    def _optimizer_problem(self, call: cst.Call, owner: EstimatorIndex) -> Optional[str]:
        api = owner.imports.api(call.func) or ""
        prefix = next((p for p in _OPTIMIZER_PREFIXES if api.startswith(p)), None)
        if prefix is None:
            return None  # not visible here
        kind = api[len(prefix):]
        if kind not in _EMBEDDING_OPTIMIZERS:
            return kind
        problems = [key for key in ("clipnorm", "clipvalue", "global_clipnorm")
                    if (arg := find_arg(call, key)) is not None and not is_name(arg.value, "None")]
        rate = find_arg(call, "learning_rate", 0)
        schedule = owner.imports.api(rate.value.func) if rate is not None and isinstance(rate.value, cst.Call) else None
        if schedule and ".schedules." in schedule:
            problems.append("a learning-rate schedule")
        amsgrad = find_arg(call, "amsgrad", 4) if kind == "Adam" else None
        if amsgrad is not None and not is_name(amsgrad.value, "False"):
            problems.append("amsgrad")
        momentum = find_arg(call, "momentum", 1) if kind == "SGD" else None
        if momentum is not None and not (isinstance(momentum.value, (cst.Integer, cst.Float))
                                         and float(momentum.value.value) == 0):
            problems.append("momentum")
        return f"{kind} with {', '.join(problems)}" if problems else None

    def _check_wrappers(self) -> None:
        """An estimator given to add_metrics or forward_features, which wrap it."""
        for index in self.index.program.indexes if self.index.program is not None else [self.index]:
            for call, api, scope in index.api_calls:
                if api in _WRAPPERS and call.args and self._is_site(index, call.args[0].value, scope):
                    self.refuse(call, ARGUMENT, f"{one_line(call.func)} wraps the estimator in a "
                                "tf.estimator.Estimator", "drop it, or write a model_fn")

    def _is_site(self, index: EstimatorIndex, expr: cst.BaseExpression, scope) -> bool:
        """Whether ``expr`` is (a name bound, anywhere in ``scope``, to) this estimator."""
        values = [expr]
        if isinstance(expr, cst.Name):
            bindings = self.columns.bindings(scope if scope is not None else index.module, expr.value)
            values += [value for kind, value, _ in bindings if kind == "is"]
        return any(self.site in index.sites_for(value, scope) for value in values)


class _Bindings(Visitor):
    """What a scope (a function or module, not the defs nested in it) binds its names to:
    name -> ``(kind, value, position)`` with kind ``"is"`` (``name = value``), ``"unpack"``
    (``a, name = value``: element ``position``), ``"item"`` (``name.append(value)``,
    ``name["k"] = value``: one of its items) or ``"items"`` (``name += value``,
    ``name.extend(value)``: some of its items)."""

    def __init__(self) -> None:
        self.found: Dict[str, List[Tuple[str, cst.BaseExpression, int]]] = {}
        self.depth = 0

    def _nested(self, node) -> bool:
        self.depth += 1
        return self.depth == 1

    def _left(self, node) -> None:
        self.depth -= 1

    visit_FunctionDef = visit_ClassDef = visit_Lambda = _nested
    leave_FunctionDef = leave_ClassDef = leave_Lambda = _left

    def _add(self, node, kind: str, value: cst.BaseExpression, at: int = 0) -> None:
        if isinstance(node, cst.Name):
            self.found.setdefault(node.value, []).append((kind, value, at))

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            self._bind(target.target, node.value)

    def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
        if node.value is not None:
            self._bind(node.target, node.value)

    def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
        self._bind(node.target, node.value)

    def _bind(self, target: cst.BaseExpression, value: cst.BaseExpression) -> None:
        if isinstance(target, cst.Name):
            self._add(target, "is", value)
        elif isinstance(target, cst.Subscript):
            self._add(target.value, "item", value)
        elif isinstance(target, (cst.Tuple, cst.List)):
            for i, element in enumerate(target.elements):
                if isinstance(element, cst.StarredElement):
                    return
                self._add(element.value, "unpack", value, i)

    def visit_AugAssign(self, node: cst.AugAssign) -> None:
        if isinstance(node.operator, cst.AddAssign):
            self._add(node.target, "items", node.value)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if isinstance(func, cst.Attribute) and node.args:
            if func.attr.value in ("append", "insert"):
                self._add(func.value, "item", node.args[-1].value)
            elif func.attr.value == "extend":
                self._add(func.value, "items", node.args[0].value)


class _Columns:
    """Feature columns as the code builds them: the column constructor calls a list
    expression holds, followed through names, list operations, comprehensions, functions of
    the program and tuple unpacking, in any module of the program."""

    def __init__(self, index: EstimatorIndex) -> None:
        self.index = index
        self._active: Set[int] = set()
        self._bindings: Dict[cst.CSTNode, Dict[str, List[Tuple[str, cst.BaseExpression, int]]]] = {}

    def bindings(self, scope: cst.CSTNode, name: str) -> List[Tuple[str, cst.BaseExpression, int]]:
        """What ``scope`` (a def, or a module) binds ``name`` to (see :class:`_Bindings`)."""
        if scope not in self._bindings:
            self._bindings[scope] = _Bindings().walked(scope).found
        return self._bindings[scope].get(name, [])

    def scope(self, owner: EstimatorIndex, node: cst.CSTNode) -> Optional[cst.FunctionDef]:
        fn = owner.enclosing_function(node)
        while isinstance(fn, cst.Lambda):
            fn = owner.enclosing_function(fn)
        return fn

    def kind(self, column: cst.Call, owner: EstimatorIndex) -> Optional[str]:
        """``numeric_column``... for a tf.feature_column constructor, else None."""
        api = owner.imports.api(column.func) or ""
        return api[len(_FC):] if api.startswith(_FC) else None

    def name_of(self, column: Optional[cst.Call], owner: EstimatorIndex) -> str:
        """The column as the code spells its constructor and first argument (``numeric_column('x')``)."""
        if column is None:
            return "a column"
        first = f"{one_line(column.args[0].value)}, ..." if len(column.args) > 1 else \
            one_line(column.args[0].value) if column.args else ""
        return f"{(self.kind(column, owner) or one_line(column.func))}({first})"

    def keys(self, column: Optional[cst.Call], owner: EstimatorIndex) -> Optional[Set[str]]:
        """The features a column reads, when its keys are string literals here."""
        kind = self.kind(column, owner) if column is not None else None
        if kind in ("numeric_column", "categorical_column_with_identity", *_CATEGORICAL) and kind != "crossed_column":
            arg = find_arg(column, "key", 0)
            return {arg.value.evaluated_value} if arg is not None and isinstance(arg.value, cst.SimpleString) else None
        if kind in ("bucketized_column", "indicator_column", "embedding_column"):
            arg = find_arg(column, "source_column" if kind == "bucketized_column" else "categorical_column", 0)
            inner = self.flatten(arg.value, self.scope(owner, column), arg.value) if arg is not None else []
            return self.keys(*inner[0][:2]) if len(inner) == 1 else None
        return None

    def flatten(self, expr: cst.BaseExpression, scope, entry: cst.CSTNode,
                depth: int = 0) -> List[Tuple[cst.Call, EstimatorIndex, cst.CSTNode]]:
        """``(column call, its module's index, where it enters the list)`` for each
        tf.feature_column constructor ``expr`` (a column or a collection of them) holds, as far
        as it can be followed; ``entry``: where ``expr`` itself enters the list."""
        if depth > 12 or id(expr) in self._active:
            return []
        self._active.add(id(expr))
        try:
            return list(self._flatten(expr, self.index.index_of_node(expr), scope, entry, depth + 1))
        finally:
            self._active.discard(id(expr))

    def _flatten(self, expr, owner: EstimatorIndex, scope, entry, depth) -> Iterator[Tuple]:
        if isinstance(expr, (cst.List, cst.Tuple, cst.Set)):
            for element in expr.elements:
                inner = element.value
                yield from self.flatten(inner, scope, entry if isinstance(element, cst.StarredElement) else inner, depth)
        elif isinstance(expr, cst.BinaryOperation) and isinstance(expr.operator, cst.Add):
            yield from self.flatten(expr.left, scope, entry, depth)
            yield from self.flatten(expr.right, scope, entry, depth)
        elif isinstance(expr, (cst.ListComp, cst.GeneratorExp, cst.SetComp)):
            yield from self.flatten(expr.elt, scope, entry, depth)
        elif isinstance(expr, cst.DictComp):
            yield from self.flatten(expr.value, scope, entry, depth)
        elif isinstance(expr, cst.Dict):
            for element in expr.elements:
                if isinstance(element, cst.DictElement):
                    yield from self.flatten(element.value, scope, element.value, depth)
        elif isinstance(expr, cst.IfExp):
            yield from self.flatten(expr.body, scope, entry, depth)
            yield from self.flatten(expr.orelse, scope, entry, depth)
        elif isinstance(expr, (cst.Name, cst.Attribute)):
            for kind, value, at, where in self._bound(expr, owner, scope):
                inner = self._element(value, at, where, depth) if kind == "unpack" else [(value, where)]
                for element, element_scope in inner:
                    yield from self.flatten(element, element_scope, entry if kind == "is" else element, depth)
        elif isinstance(expr, cst.Call):
            yield from self._flatten_call(expr, owner, scope, entry, depth)

    def _flatten_call(self, call: cst.Call, owner: EstimatorIndex, scope, entry, depth) -> Iterator[Tuple]:
        api = owner.imports.api(call.func) or ""
        if api.startswith(_FC):
            yield call, owner, entry
        elif isinstance(call.func, cst.Attribute) and call.func.attr.value == "values" and not call.args:
            yield from self.flatten(call.func.value, scope, entry, depth)  # columns.values()
        elif dotted(call.func) in ("list", "tuple", "sorted") and call.args and owner.lookup(dotted(call.func), scope) is None:
            yield from self.flatten(call.args[0].value, scope, entry, depth)
        else:
            for value, fn in self._returned(call, owner, scope):
                yield from self.flatten(value, fn, entry, depth)

    def _returned(self, call: cst.Call, owner: EstimatorIndex, scope) -> Iterator[Tuple[cst.BaseExpression, cst.FunctionDef]]:
        """The values a function of the program returns, for a call of it."""
        fn = owner.resolve_function(call.func, scope)
        if isinstance(fn, cst.FunctionDef):
            for ret in OwnCalls().walked(fn).returns:
                if ret.value is not None:
                    yield ret.value, fn

    def _element(self, value: cst.BaseExpression, at: int, scope, depth) -> List[Tuple[cst.BaseExpression, object]]:
        """Element ``at`` of what ``a, b = value`` unpacks (a tuple, a list, or what a function
        of the program returns); a call making several columns at once is each of them."""
        owner = self.index.index_of_node(value)
        if isinstance(value, (cst.Tuple, cst.List)):
            elements = value.elements
            return [(elements[at].value, scope)] if at < len(elements) and isinstance(elements[at], cst.Element) else []
        if isinstance(value, cst.Call):
            if (owner.imports.api(value.func) or "").startswith(_FC):
                return [(value, scope)]  # a, b = tf.feature_column.shared_embeddings(...)
            if depth < 12:
                return [found for returned, fn in self._returned(value, owner, scope)
                        for found in self._element(returned, at, fn, depth + 1)]
        return []

    def _bound(self, expr, owner: EstimatorIndex, scope) -> List[Tuple[str, cst.BaseExpression, int, object]]:
        """``(kind, value, position, scope of value)`` for each binding of a name (see
        :class:`_Bindings`) in the innermost scope binding it, or of the module-level name of
        another module of the program that it imports."""
        if isinstance(expr, cst.Name):
            for fn in owner.scopes(scope):
                if fn is not None and expr.value in param_names(fn):
                    return []  # a parameter: not known here
                found = self.bindings(fn if fn is not None else owner.module, expr.value)
                if found:
                    return [(kind, value, at, fn) for kind, value, at in found]
        imported = owner.program.imported(owner, expr) if owner.program is not None else None
        if imported is None or not imported[1] or "." in imported[1]:
            return []
        other, name = imported
        return self._bound(dotted_expr(name), other, None) if other is not owner else []


class CannedToRuntime(MigrationCodemod):
    """Build est2tpu's canned estimators, with batch sizes, where a TPU can run them."""

    DESCRIPTION = __doc__.splitlines()[0]
    RULES = [CANNED_TO_RUNTIME, CANNED, TF1_CLASS, COLUMN, ARGUMENT, PREDICT_EMBEDDING]
    TRIGGERS = ("stimator",)

    def visit_Module(self, node: cst.Module) -> None:
        self.sites: Dict[cst.Call, EstimatorSite] = {}
        self.new_args: Dict[cst.Call, List[cst.Arg]] = {}
        for site in self.index.estimators:
            if site.api not in CANNED_APIS:
                continue
            analysis = analyse(self.index, site)
            if not analysis.refusals and self.options.target == "tf1":
                analysis.refusals.append(Refusal(site.call, TF1_CLASS, f"{TF1_CLASS.title}: --target tf1 (TF 1.x "
                                                 f"code, where tf.estimator.{class_name(site)} is the TF 1 class)",
                                                 "port the program to TF 2 first"))
            for refusal in analysis.refusals:
                self.report(refusal.node, refusal.rule.code, refusal.message, refusal.hint)
            if analysis.refusals:
                continue
            self.sites[site.call] = site
            self.new_args[site.call] = batch_size_args(self, site) + self._iterations(site)
            if analysis.embeddings:
                for use in site.uses:
                    if use.mode == "predict":
                        self.report(use.call, PREDICT_EMBEDDING.code, PREDICT_EMBEDDING.title,
                                    "predict on the CPU, or export")

    def _iterations(self, site: EstimatorSite) -> List[cst.Arg]:
        """``iterations_per_loop=N`` when it is not the default and the estimator's RunConfig,
        which would carry it once converted, is not known here."""
        loop = self.options.iterations_per_loop
        if loop == Options.iterations_per_loop or self.index.run_config_of(site, position(site, "config")):
            return []
        return [kwarg("iterations_per_loop", cst.Integer(str(loop)))]

    def rewrites(self) -> bool:
        return bool(self.sites)

    def targets(self):
        return self.sites

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        site = self.sites.get(original_node)
        if site is None:
            return updated_node
        self.drop_import_of(original_node.func)
        call = updated_node.with_changes(func=self.runtime(class_name(site)))
        return add_args(call, self.new_args[original_node])
