"""The canned-estimator codemod (E2T111) and its refusals (E2T204, E2T252-E2T255).

A TF 2 canned estimator becomes est2tpu's, with its arguments and the lifted batch sizes;
one a TPU cannot run stays, with the code it shares.  Each refusal of a feature column or
argument is checked against the runtime: the codemod refuses exactly what est2tpu's
classes refuse on a TPU (ValueError), case by case.
"""

import re
import textwrap

import pytest

from est2tpu.codemods.base import RULES, Options
from est2tpu.codemods.migrate import migrate_code, migrate_program
from est2tpu.codemods.program import Source
from fixture_programs import FIXTURES

HEADER = "import tensorflow as tf\n\nfc = tf.feature_column\n"
TRAINED = '''

def input_fn():
    return tf.data.Dataset.from_tensors(({"x": [1.0]}, [0])).repeat().batch(8)


est.train(input_fn, steps=1)
'''


def migrate(source, tail=TRAINED, **options):
    return migrate_code(textwrap.dedent(source) + tail, Options(**options), style="none")


def codes(result):
    return {f.code for f in result.findings}


def at(result, code):
    """The lines of the findings of ``code``."""
    return sorted(f.line for f in result.findings if f.code == code)


# --------------------------------------------------------------------------- conversion

SPELLINGS = [
    ("import tensorflow as tf", "tf.estimator.DNNClassifier"),
    ("import tensorflow.compat.v2 as tf", "tf.estimator.DNNClassifier"),
    ("from tensorflow import estimator as tf_estimator", "tf_estimator.DNNClassifier"),
    ("from tensorflow.estimator import DNNClassifier", "DNNClassifier"),
    ("from tensorflow_estimator.python.estimator.canned.dnn import DNNClassifierV2", "DNNClassifierV2"),
    ("from tensorflow_estimator.python.estimator.api._v2 import estimator", "estimator.DNNClassifier"),
]


@pytest.mark.parametrize("imported, spelled", SPELLINGS)
def test_every_spelling_of_a_tf2_class_becomes_est2tpus(imported, spelled):
    source = f"{imported}\nimport tensorflow as tf\n\nest = {spelled}([4], [tf.feature_column.numeric_column('x')])\n"
    result = migrate_code(source + TRAINED, style="none", rewrites=True)
    assert "est = est2tpu.DNNClassifier([4], [tf.feature_column.numeric_column('x')], train_batch_size=8)" \
        in result.code
    assert "import est2tpu\n" in result.code and "E2T111" in {f.code for f in result.rewrites}
    assert not RULES.keys() & codes(result) - {"E2T209"}
    if imported.startswith("from tensorflow.estimator"):
        assert imported not in result.code  # the import nothing uses any more


@pytest.mark.parametrize("name, arguments", [
    ("DNNClassifier", "hidden_units=[4], feature_columns=columns, n_classes=3"),
    ("DNNRegressor", "hidden_units=[4], feature_columns=columns"),
    ("LinearClassifier", "feature_columns=columns"),
    ("LinearRegressor", "feature_columns=columns"),
    ("DNNLinearCombinedClassifier", "linear_feature_columns=columns, dnn_feature_columns=columns, "
                                    "dnn_hidden_units=[4]"),
    ("DNNLinearCombinedRegressor", "linear_feature_columns=columns, dnn_hidden_units=[4], dnn_feature_columns=columns"),
])
def test_each_class_keeps_its_arguments_and_gets_each_modes_batch_size(name, arguments):
    result = migrate(HEADER + f"columns = [fc.numeric_column('x')]\nest = tf.estimator.{name}({arguments})\n",
                     tail=TRAINED + "est.evaluate(lambda: input_fn().take(2), steps=2)\n"
                                    "est.predict(lambda: tf.data.Dataset.from_tensors({'x': [1.0]}).batch(4))\n")
    expected = f"est = est2tpu.{name}({arguments}, train_batch_size=8, eval_batch_size=8, predict_batch_size=4)"
    assert expected in result.code
    assert "def input_fn(params):" in result.code and 'batch(params["batch_size"], drop_remainder=True)' in result.code


def test_positional_arguments_are_kept_and_read_by_position():
    """config, label_vocabulary... are found at their places in each class's signature."""
    result = migrate(HEADER + (
        "config = tf.estimator.RunConfig(tf_random_seed=1)\n"
        "est = tf.estimator.LinearRegressor([fc.numeric_column('x')], '/tmp/m', 1, None, 'Ftrl', config)\n"))
    assert "est = est2tpu.LinearRegressor([fc.numeric_column('x')], '/tmp/m', 1, None, 'Ftrl', config, " \
           "train_batch_size=8)" in result.code
    assert "config = tf.compat.v1.estimator.tpu.RunConfig(" in result.code  # E2T105: its RunConfig
    refused = migrate(HEADER + "est = tf.estimator.LinearClassifier([fc.numeric_column('x')], None, 2, None, "
                               "['no', 'yes'])\n")
    assert at(refused, "E2T254") == [4] and "est = tf.estimator.LinearClassifier(" in refused.code


def test_the_runtime_takes_the_tf2_signatures():
    """The codemod passes positional arguments through: est2tpu's classes take the TF 2
    classes' arguments in their order (then the batch sizes), as PARAMETERS says."""
    tf = pytest.importorskip("tensorflow")
    import inspect

    import est2tpu
    from est2tpu.codemods.canned_estimators import PARAMETERS
    from est2tpu.codemods.estimators import RUNTIME_CANNED_APIS

    assert set(PARAMETERS) == RUNTIME_CANNED_APIS == {f"tf.estimator.{name}" for name in est2tpu.__all__
                                                      if name.endswith(("Classifier", "Regressor"))}
    for api, names in PARAMETERS.items():
        name = api.rpartition(".")[2]
        assert tuple(inspect.signature(getattr(tf.estimator, name)).parameters) == names
        assert tuple(inspect.signature(getattr(est2tpu, name)).parameters)[:len(names)] == names


def test_a_canned_estimator_must_bound_its_steps_on_a_tpu():
    """E2T202/E2T203 in a module that names no Estimator class (only tf.estimator's canned ones)."""
    result = migrate(HEADER + "est = tf.estimator.DNNClassifier([4], [fc.numeric_column('x')])\n",
                     tail=TRAINED.replace("steps=1", "") + "est.evaluate(input_fn)\n")
    assert at(result, "E2T202") == [11] and at(result, "E2T203") == [12]
    assert "est2tpu.DNNClassifier(" in result.code


def test_a_known_keyword_mapping_converts_and_an_unknown_one_stays():
    known = migrate(HEADER + "kw = dict(hidden_units=[4], feature_columns=[fc.numeric_column('x')])\n"
                             "est = tf.estimator.DNNClassifier(**kw)\n")
    assert "est = est2tpu.DNNClassifier(**kw, train_batch_size=8)" in known.code
    unknown = migrate(HEADER + "def build(**kw):\n    return tf.estimator.DNNClassifier(**kw)\n\n\nest = build()\n")
    assert at(unknown, "E2T254") == [5] and "E2T250" in codes(unknown)
    assert "return tf.estimator.DNNClassifier(**kw)" in unknown.code


def test_iterations_per_loop_reaches_the_runtime_or_the_run_config():
    without = migrate(HEADER + "est = tf.estimator.LinearRegressor([fc.numeric_column('x')])\n",
                      iterations_per_loop=50)
    assert "est2tpu.LinearRegressor([fc.numeric_column('x')], train_batch_size=8, iterations_per_loop=50)" \
        in without.code
    default = migrate(HEADER + "est = tf.estimator.LinearRegressor([fc.numeric_column('x')])\n")
    assert "iterations_per_loop" not in default.code
    configured = migrate(HEADER + "est = tf.estimator.LinearRegressor([fc.numeric_column('x')], "
                                  "config=tf.estimator.RunConfig())\n", iterations_per_loop=50)
    assert "TPUConfig(iterations_per_loop=50)" in configured.code and "train_batch_size=8)" in configured.code


def test_a_factory_trained_through_train_and_evaluate_converts():
    """The taxifare style: build_estimator() returns the canned estimator, TrainSpec/EvalSpec
    take input_fn factories, train_and_evaluate runs them."""
    source = HEADER + '''
def read_dataset(mode, batch_size):
    def _input_fn():
        dataset = tf.data.Dataset.from_tensors(({"x": [1.0]}, [0.0])).repeat()
        return dataset.batch(batch_size)
    return _input_fn


def build_estimator(model_dir, hidden_units):
    columns = [fc.numeric_column("x")]
    return tf.estimator.DNNRegressor(model_dir=model_dir, hidden_units=hidden_units, feature_columns=columns)


def train_and_evaluate(output_dir):
    estimator = build_estimator(output_dir, [8, 4])
    train_spec = tf.estimator.TrainSpec(input_fn=read_dataset("train", 512), max_steps=100)
    eval_spec = tf.estimator.EvalSpec(input_fn=read_dataset("eval", 64), steps=10)
    tf.estimator.train_and_evaluate(estimator, train_spec, eval_spec)
'''
    result = migrate(source, tail="")
    assert "hidden_units=hidden_units, feature_columns=columns, train_batch_size=512, eval_batch_size=64)" \
        in result.code
    assert "def _input_fn(params):" in result.code


def test_feature_columns_from_another_module_are_checked_there():
    """Columns built in trainer/featurizer.py for an estimator of trainer/task.py: the column
    a TPU cannot compute is reported where it is, and the estimator stays."""
    featurizer = HEADER + textwrap.dedent('''
        def get_columns():
            kind = fc.categorical_column_with_vocabulary_list("kind", ["a", "b"])
            return [fc.numeric_column("x"), fc.indicator_column(kind)]
        ''')
    task = "import tensorflow as tf\n\nfrom trainer import featurizer\n\n" \
           "est = tf.estimator.DNNClassifier([4], featurizer.get_columns())\n" + TRAINED
    sources = [Source(featurizer, (("/p", "trainer.featurizer"),), "trainer/featurizer.py"),
               Source(task, (("/p", "trainer.task"),), "trainer/task.py")]
    featurized, tasked = migrate_program(sources, style="none")
    assert [(f.code, f.line) for f in featurized.findings] == [("E2T253", 6)]
    assert "trainer/featurizer.py:6" in next(f.message for f in tasked.findings if f.code == "E2T250")
    assert tasked.code == task


# --------------------------------------------------------------------------- what stays

@pytest.mark.parametrize("source", [
    "est = tf.compat.v1.estimator.DNNClassifier([4], [fc.numeric_column('x')])\n",
    "import tensorflow.compat.v1 as tf\nest = tf.estimator.DNNClassifier([4], [tf.feature_column.numeric_column('x')])\n",
    "import tensorflow_estimator as tfe\nest = tfe.estimator.DNNClassifier([4], [fc.numeric_column('x')])\n",
    "from tensorflow_estimator.python.estimator.canned.dnn import DNNClassifier\n"
    "est = DNNClassifier([4], [fc.numeric_column('x')])\n",
    "tf.logging.set_verbosity(tf.logging.INFO)\nest = tf.estimator.DNNClassifier([4], [fc.numeric_column('x')])\n",
])
def test_the_tf1_class_stays(source):
    result = migrate(HEADER + source)
    assert "E2T252" in codes(result) and "est2tpu" not in result.code
    assert result.code.startswith(HEADER + source)


def test_tf1_code_is_named_in_the_finding_and_target_tf1_refuses():
    result = migrate(HEADER + "tf.logging.set_verbosity(tf.logging.INFO)\n"
                              "est = tf.estimator.DNNClassifier([4], [fc.numeric_column('x')])\n")
    (message,) = [f.message for f in result.findings if f.code == "E2T252"]
    assert "tf.logging.set_verbosity at <string>:4" in message
    tf1 = migrate(HEADER + "est = tf.estimator.DNNClassifier([4], [fc.numeric_column('x')])\n", target="tf1")
    assert at(tf1, "E2T252") == [4] and "est2tpu" not in tf1.code


@pytest.mark.parametrize("call", [
    "tf.estimator.BaselineClassifier(n_classes=3)",
    "tf.estimator.BoostedTreesClassifier([fc.numeric_column('x')], n_batches_per_layer=1)",
    "tf.estimator.DNNEstimator(tf.estimator.RegressionHead(), [4], [fc.numeric_column('x')])",
    "tf.estimator.experimental.RNNClassifier(sequence_feature_columns=[], units=[4])",
    "tf.compat.v1.estimator.experimental.KMeans(num_clusters=2)",
    "tf.contrib.estimator.RNNClassifier(sequence_feature_columns=[], num_units=[4])",  # TF 1.x's
])
def test_a_class_without_an_equivalent_stays_as_e2t204(call):
    result = migrate(HEADER + f"est = {call}\n")
    assert at(result, "E2T204") == [4] and at(result, "E2T250") == [4]
    assert f"est = {call}\n" in result.code and "def input_fn():" in result.code


# Each case: (class, setup, arguments, the code of the refusal or None).  The codemod and
# the runtime (use_tpu=True) must agree on each.
CASES = {
    "numeric": ("DNNRegressor", "columns = [fc.numeric_column('x', shape=(2,))]",
                "hidden_units=[4], feature_columns=columns", None),
    "bucketized_dnn": ("DNNClassifier", "columns = [fc.bucketized_column(fc.numeric_column('x'), [0.5])]",
                       "hidden_units=[4], feature_columns=columns", None),
    "indicator_identity": ("LinearClassifier",
                           "kind = fc.categorical_column_with_identity('k', 4)\ncolumns = [fc.indicator_column(kind)]",
                           "feature_columns=columns", None),
    "indicator_bucketized_linear": ("LinearRegressor", "x = fc.numeric_column('x')\n"
                                    "columns = [x, fc.indicator_column(fc.bucketized_column(x, [0.5]))]",
                                    "feature_columns=columns", None),
    "embedding_identity": ("DNNClassifier", "columns = [fc.embedding_column(fc.categorical_column_with_identity('k', 4), 2)]",
                           "hidden_units=[4], feature_columns=columns", None),
    "embedding_adam": ("DNNClassifier", "columns = [fc.embedding_column(fc.categorical_column_with_identity('k', 4), 2)]",
                       "hidden_units=[4], feature_columns=columns, optimizer=tf.keras.optimizers.legacy.Adam(0.1)",
                       None),
    "embedding_sgd": ("DNNClassifier", "columns = [fc.embedding_column(fc.categorical_column_with_identity('k', 4), 2)]",
                      "hidden_units=[4], feature_columns=columns, optimizer='SGD'", None),
    "any_optimizer_without_embeddings": ("DNNClassifier", "columns = [fc.numeric_column('x')]",
                                         "hidden_units=[4], feature_columns=columns, "
                                         "optimizer=tf.keras.optimizers.legacy.SGD(0.1, momentum=0.9)", None),
    "vocabulary": ("DNNClassifier", "kind = fc.categorical_column_with_vocabulary_list('k', ['a', 'b'])\n"
                   "columns = [fc.indicator_column(kind)]", "hidden_units=[4], feature_columns=columns", "E2T253"),
    "vocabulary_file": ("LinearClassifier", "kind = fc.categorical_column_with_vocabulary_file('k', 'v.txt', 3)\n"
                        "columns = [fc.indicator_column(kind)]", "feature_columns=columns", "E2T253"),
    "hashed": ("DNNRegressor", "columns = [fc.indicator_column(fc.categorical_column_with_hash_bucket('k', 9))]",
               "hidden_units=[4], feature_columns=columns", "E2T253"),
    "crossed": ("LinearRegressor", "b = fc.bucketized_column(fc.numeric_column('x'), [0.5])\n"
                "columns = [fc.indicator_column(fc.crossed_column([b, 'k'], 10))]", "feature_columns=columns",
                "E2T253"),
    "weighted": ("DNNClassifier", "ids = fc.categorical_column_with_identity('k', 4)\n"
                 "columns = [fc.indicator_column(fc.weighted_categorical_column(ids, 'w'))]",
                 "hidden_units=[4], feature_columns=columns", "E2T253"),
    "sequence": ("DNNRegressor", "columns = [fc.sequence_numeric_column('s')]",
                 "hidden_units=[4], feature_columns=columns", "E2T253"),
    "shared_embeddings": ("DNNClassifier", "a = fc.categorical_column_with_identity('a', 4)\n"
                          "b = fc.categorical_column_with_identity('b', 4)\ncolumns = fc.shared_embeddings([a, b], 2)",
                          "hidden_units=[4], feature_columns=columns", "E2T253"),
    "linear_categorical": ("LinearClassifier", "columns = [fc.categorical_column_with_identity('k', 4)]",
                           "feature_columns=columns", "E2T253"),
    "linear_bucketized": ("LinearRegressor", "columns = [fc.bucketized_column(fc.numeric_column('x'), [0.5])]",
                          "feature_columns=columns", "E2T253"),
    "dnn_categorical": ("DNNClassifier", "columns = [fc.categorical_column_with_identity('k', 4)]",
                        "hidden_units=[4], feature_columns=columns", "E2T253"),
    "linear_embedding": ("DNNLinearCombinedClassifier",
                         "columns = [fc.embedding_column(fc.categorical_column_with_identity('k', 4), 2)]",
                         "linear_feature_columns=columns, dnn_feature_columns=[fc.numeric_column('x')], "
                         "dnn_hidden_units=[4]", "E2T253"),
    "embedding_vocabulary": ("DNNClassifier",
                             "columns = [fc.embedding_column(fc.categorical_column_with_vocabulary_list('k', ['a']), 2)]",
                             "hidden_units=[4], feature_columns=columns", "E2T253"),
    "embedding_bucketized": ("DNNRegressor",
                             "columns = [fc.embedding_column(fc.bucketized_column(fc.numeric_column('x'), [0.5]), 2)]",
                             "hidden_units=[4], feature_columns=columns", "E2T253"),
    "embedding_max_norm": ("DNNClassifier",
                           "columns = [fc.embedding_column(fc.categorical_column_with_identity('k', 4), 2, max_norm=1.0)]",
                           "hidden_units=[4], feature_columns=columns", "E2T253"),
    "embedding_not_trainable": ("DNNClassifier", "columns = [fc.embedding_column("
                                "fc.categorical_column_with_identity('k', 4), 2, trainable=False)]",
                                "hidden_units=[4], feature_columns=columns", "E2T253"),
    "embedding_from_checkpoint": ("DNNClassifier", "columns = [fc.embedding_column(fc.categorical_column_with_identity("
                                  "'k', 4), 2, ckpt_to_load_from='/c', tensor_name_in_ckpt='e')]",
                                  "hidden_units=[4], feature_columns=columns", "E2T253"),
    "feature_read_twice": ("DNNClassifier", "kind = fc.categorical_column_with_identity('k', 4)\n"
                           "columns = [fc.embedding_column(kind, 2), fc.indicator_column(kind)]",
                           "hidden_units=[4], feature_columns=columns", "E2T253"),
    "weight_read_twice": ("DNNClassifier", "columns = [fc.embedding_column(fc.categorical_column_with_identity('w', 4), 2)]",
                          "hidden_units=[4], feature_columns=columns, weight_column='w'", "E2T253"),
    "label_vocabulary": ("LinearClassifier", "columns = [fc.numeric_column('x')]",
                         "feature_columns=columns, n_classes=3, label_vocabulary=['a', 'b', 'c']", "E2T254"),
    "sdca": ("LinearRegressor", "columns = [fc.numeric_column('x')]",
             "feature_columns=columns, optimizer=tf.estimator.experimental.LinearSDCA('example_id')", "E2T254"),
    "embedding_momentum": ("DNNClassifier", "columns = [fc.embedding_column(fc.categorical_column_with_identity('k', 4), 2)]",
                           "hidden_units=[4], feature_columns=columns, "
                           "optimizer=tf.keras.optimizers.legacy.SGD(0.1, momentum=0.9)", "E2T254"),
    "embedding_ftrl": ("DNNClassifier", "columns = [fc.embedding_column(fc.categorical_column_with_identity('k', 4), 2)]",
                       "hidden_units=[4], feature_columns=columns, optimizer='Ftrl'", "E2T254"),
    "embedding_amsgrad": ("DNNRegressor", "columns = [fc.embedding_column(fc.categorical_column_with_identity('k', 4), 2)]",
                          "hidden_units=[4], feature_columns=columns, "
                          "optimizer=tf.keras.optimizers.legacy.Adam(0.1, amsgrad=True)", "E2T254"),
    "embedding_clipnorm": ("DNNClassifier", "columns = [fc.embedding_column(fc.categorical_column_with_identity('k', 4), 2)]",
                           "hidden_units=[4], feature_columns=columns, "
                           "optimizer=tf.keras.optimizers.legacy.Adagrad(0.1, clipnorm=1.0)", "E2T254"),
    "embedding_schedule": ("DNNClassifier", "columns = [fc.embedding_column(fc.categorical_column_with_identity('k', 4), 2)]\n"
                           "rate = tf.keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.9)",
                           "hidden_units=[4], feature_columns=columns, "
                           "optimizer=tf.keras.optimizers.legacy.Adam(tf.keras.optimizers.schedules.ExponentialDecay("
                           "0.1, 10, 0.9))", "E2T254"),
    "embedding_callable": ("DNNClassifier", "columns = [fc.embedding_column(fc.categorical_column_with_identity('k', 4), 2)]",
                           "hidden_units=[4], feature_columns=columns, "
                           "optimizer=lambda: tf.keras.optimizers.legacy.Adam(0.1)", "E2T254"),
    "embedding_function": ("DNNClassifier", "columns = [fc.embedding_column(fc.categorical_column_with_identity('k', 4), 2)]\n"
                           "def make_optimizer():\n    return tf.keras.optimizers.legacy.Adam(0.1)",
                           "hidden_units=[4], feature_columns=columns, optimizer=make_optimizer", "E2T254"),
    "combined_embedding_rmsprop": ("DNNLinearCombinedRegressor",
                                   "columns = [fc.embedding_column(fc.categorical_column_with_identity('k', 4), 2)]",
                                   "linear_feature_columns=[fc.numeric_column('x')], dnn_feature_columns=columns, "
                                   "dnn_hidden_units=[4], dnn_optimizer='RMSProp'", "E2T254"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_codemod_refuses_what_the_runtime_refuses(case):
    name, setup, arguments, code = CASES[case]
    result = migrate(HEADER + f"{setup}\nest = tf.estimator.{name}({arguments})\n")
    refusals = codes(result) & {"E2T253", "E2T254"}
    if code is None:
        assert not refusals and f"est = est2tpu.{name}({arguments}, train_batch_size=8)" in result.code
    else:
        assert refusals == {code} and "E2T250" in codes(result), result.findings
        assert f"est = tf.estimator.{name}({arguments})" in result.code and "def input_fn():" in result.code


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_runtime_refuses_on_a_tpu_what_the_codemod_refuses(case, tmp_path):
    tf = pytest.importorskip("tensorflow")
    import est2tpu

    name, setup, arguments, code = CASES[case]
    scope = {"tf": tf, "fc": tf.feature_column}
    with tf.Graph().as_default():  # shared_embeddings are built in a graph only
        exec(setup, scope)
        kwargs = eval(f"dict({arguments})", scope)
        build = lambda tpu: getattr(est2tpu, name)(**kwargs, model_dir=str(tmp_path), use_tpu=tpu,  # noqa: E731
                                                    train_batch_size=8)
        build(False)  # the CPU takes every case: what is refused is the TPU's
        if code is None:
            build(True)
        else:
            with pytest.raises(ValueError, match="TPU"):
                build(True)


def test_a_refused_column_is_reported_where_it_is_built_or_given():
    """A column a TPU cannot compute, at its definition; one given to the wrong part of the
    model, where it enters the list (here through a function returning (wide, deep))."""
    source = HEADER + textwrap.dedent('''
        def build_model_columns():
            color = fc.categorical_column_with_vocabulary_list("color", ["red", "blue"])
            kind = fc.categorical_column_with_identity("kind", 4)
            wide = [fc.numeric_column("x")]
            wide += [kind]
            deep = [fc.indicator_column(color)]
            deep.append(fc.numeric_column("y"))
            return wide, deep


        wide_columns, deep_columns = build_model_columns()
        est = tf.estimator.DNNLinearCombinedClassifier(linear_feature_columns=wide_columns,
                                                       dnn_feature_columns=deep_columns, dnn_hidden_units=[4])
        ''')
    result = migrate(source)
    assert at(result, "E2T253") == [6, 9]  # color's vocabulary; kind, straight to the linear part
    (listed,) = [f.message for f in result.findings if f.code == "E2T250"]
    assert "E2T253 at <string>:6" in listed and "E2T253 at <string>:9" in listed


def test_columns_are_followed_through_comprehensions_and_dict_values():
    source = HEADER + textwrap.dedent('''
        KEYS = ["a", "b"]
        numeric = {key: fc.numeric_column(key) for key in KEYS}
        hashed = [fc.indicator_column(fc.categorical_column_with_hash_bucket(key, 10)) for key in KEYS]
        est = tf.estimator.DNNRegressor([4], list(numeric.values()) + hashed)
        ''')
    assert at(migrate(source), "E2T253") == [7]
    fine = source.replace("+ hashed", "")
    assert "est2tpu.DNNRegressor(" in migrate(fine).code


def test_columns_not_visible_here_are_left_to_the_runtime():
    result = migrate(HEADER + "from features import make_columns\n\nest = tf.estimator.DNNClassifier([4], make_columns())\n")
    assert "est = est2tpu.DNNClassifier([4], make_columns(), train_batch_size=8)" in result.code


def test_predict_with_tpu_embedding_columns_is_blocking_and_the_estimator_converts():
    result = migrate(HEADER + "columns = [fc.embedding_column(fc.categorical_column_with_identity('k', 4), 2)]\n"
                              "est = tf.estimator.DNNClassifier([4], columns)\n",
                     tail=TRAINED + "est.predict(lambda: tf.data.Dataset.from_tensors({'k': [1]}).batch(2))\n")
    assert at(result, "E2T255") == [13] and RULES["E2T255"].blocking and not RULES["E2T255"].obstacle
    assert "est2tpu.DNNClassifier([4], columns, train_batch_size=8, predict_batch_size=2)" in result.code


def test_an_estimator_wrapped_by_add_metrics_stays():
    result = migrate(HEADER + "est = tf.estimator.LinearRegressor([fc.numeric_column('x')])\n"
                              "est = tf.estimator.add_metrics(est, lambda labels, predictions: {})\n")
    assert at(result, "E2T254") == [5] and "est2tpu" not in result.code


# --------------------------------------------------------------------------- all or nothing

CUSTOM = '''

def model_fn(features, labels, mode):
    loss = tf.reduce_sum(tf.compat.v1.layers.dense(features["x"], 1))
    train_op = tf.compat.v1.train.AdamOptimizer(0.1).minimize(loss)
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


custom = tf.estimator.Estimator(model_fn)
custom.train(input_fn, steps=1)
'''


def test_a_canned_estimator_that_stays_keeps_the_estimator_sharing_its_input_fn():
    result = migrate(HEADER + "kind = fc.categorical_column_with_vocabulary_list('k', ['a'])\n"
                              "est = tf.estimator.DNNClassifier([4], [fc.indicator_column(kind)])\n",
                     tail=TRAINED + CUSTOM)
    assert "def input_fn():" in result.code and "tf.estimator.Estimator(model_fn)" in result.code
    assert "EstimatorSpec(mode" in result.code and "TPU" not in result.code
    assert at(result, "E2T253") == [4] and len(at(result, "E2T250")) == 2


def test_a_canned_estimator_and_an_estimator_sharing_an_input_fn_convert_together():
    result = migrate(HEADER + "est = tf.estimator.DNNClassifier([4], [fc.numeric_column('x')])\n",
                     tail=TRAINED + CUSTOM)
    assert "est = est2tpu.DNNClassifier([4], [fc.numeric_column('x')], train_batch_size=8)" in result.code
    assert "custom = tf.compat.v1.estimator.tpu.TPUEstimator(" in result.code
    assert "def input_fn(params):" in result.code


def test_advice_for_custom_estimators_is_not_given_for_canned_ones():
    """A canned estimator exports the CPU graph itself (no E2T210), takes any config the
    runtime converts (no E2T219), and has no model_fn or optimizer to wrap."""
    exported = "est.export_saved_model('/tmp/e', serving_input_fn)\n"
    result = migrate(HEADER + "est = tf.estimator.DNNClassifier([4], [fc.numeric_column('x')], config=load_config())\n",
                     tail=TRAINED + exported)
    assert "est2tpu.DNNClassifier(" in result.code
    assert codes(result) == set(), result.findings
    custom = migrate(HEADER, tail=TRAINED.replace("est.train", "est = tf.estimator.Estimator(model_fn)\nest.train")
                     + CUSTOM.partition("\n\ncustom")[0] + "\n" + exported)
    assert "E2T210" in codes(custom)


# --------------------------------------------------------------------------- fixtures and verify

@pytest.mark.parametrize("name, classes", [("canned_premade", 2), ("canned_wide_deep", 3)])
def test_the_canned_fixtures_convert_every_estimator_without_a_blocking_finding(name, classes):
    migrated = (FIXTURES / f"{name}.py.out").read_text()
    assert len(re.findall(r"= est2tpu\.\w+\(|return est2tpu\.\w+\(", migrated)) == classes
    assert "tf.estimator." not in re.sub(r"tf\.estimator\.ModeKeys", "", migrated)
    findings = (FIXTURES / f"{name}.txt").read_text().splitlines()
    assert all(not RULES[line.split()[1]].blocking for line in findings)


def test_verify_reports_nothing_on_a_migrated_canned_program(tmp_path, monkeypatch):
    """Item 4 of the canned-estimator issue: the premade-tutorial program, migrated (dense
    columns), passes every TPU check of `est2tpu verify` in train, evaluate and predict."""
    pytest.importorskip("tensorflow")
    from verify_programs import verify

    monkeypatch.delenv("TPU_NAME", raising=False)
    reporter, result = verify(FIXTURES / "canned_premade.py.out", tmp_path)
    assert result and not reporter.errors
    assert {"train", "evaluate", "predict"} <= set(reporter.checked)
    assert reporter.findings == []
