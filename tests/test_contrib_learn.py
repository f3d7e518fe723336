"""tf.contrib.learn and the contrib estimators are refused out loud (E2T248): at the call, and
every estimator of a program that uses them stays as it was."""


import pytest

from est2tpu.codemods.migrate import migrate_code, migrate_program
from est2tpu.codemods.program import Source
from test_cli_helpers import run_cli, write
from test_rules import codes

#: A trainer package in the style of 2017's Cloud ML Engine samples: a tf.estimator model_fn
#: that model.py also trains on its own (which alone would convert), run by task.py through a
#: tf.contrib.learn Experiment.
MODEL = '''\
import tensorflow as tf

FEATURES = ["temperature", "pressure"]


def read_dataset(rows, mode=tf.contrib.learn.ModeKeys.TRAIN):
    def _input_fn():
        dataset = tf.data.Dataset.from_tensor_slices(
            ({name: tf.ones([rows]) for name in FEATURES}, tf.zeros([rows])))
        if mode == tf.contrib.learn.ModeKeys.TRAIN:
            dataset = dataset.repeat()
        return dataset.batch(32)

    return _input_fn


def weather_model(features, labels, mode, params):
    inputs = tf.stack([features[name] for name in FEATURES], axis=1)
    predictions = tf.squeeze(tf.layers.dense(inputs, 1), 1)
    loss = tf.losses.mean_squared_error(labels, predictions)
    train_op = tf.train.AdagradOptimizer(0.1).minimize(loss, global_step=tf.train.get_global_step())
    return tf.estimator.EstimatorSpec(mode, predictions={"rain": predictions}, loss=loss, train_op=train_op)


def build_estimator(output_dir):
    return tf.estimator.Estimator(weather_model, model_dir=output_dir)


def train_locally(output_dir):
    estimator = build_estimator(output_dir)
    estimator.train(read_dataset(640), max_steps=100)
'''

TASK = '''\
import argparse

import tensorflow.contrib.learn as tflearn
from tensorflow.contrib.learn.python.learn import learn_runner

from trainer import model


def make_experiment_fn(train_steps):
    def experiment_fn(output_dir):
        return tflearn.Experiment(
            model.build_estimator(output_dir),
            train_input_fn=model.read_dataset(640),
            eval_input_fn=model.read_dataset(160, tflearn.ModeKeys.EVAL),
            train_steps=train_steps)

    return experiment_fn


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--output_dir", required=True)
    args = parser.parse_args()
    learn_runner.run(make_experiment_fn(1000), args.output_dir)
'''


def _program(model=MODEL, task=TASK):
    sources = [Source(model, (("/p", "trainer.model"),), "trainer/model.py"),
               Source(task, (("/p", "trainer.task"),), "trainer/task.py")]
    return migrate_program(sources, style="none")


def test_the_estimator_of_a_program_run_through_an_experiment_stays():
    model, task = _program()
    assert model.code == MODEL and task.code == TASK
    assert [(f.code, f.line) for f in task.findings] == [("E2T248", 11), ("E2T248", 24)]
    assert "tflearn.Experiment (tf.contrib.learn.Experiment)" in task.findings[0].message
    assert "learn_runner.run (tf.contrib.learn.python.learn.learn_runner.run)" in task.findings[1].message
    [left] = [f for f in model.findings if f.code == "E2T250"]
    assert left.line == 26
    assert "E2T248 at trainer/task.py:11" in left.message and "E2T248 at trainer/task.py:24" in left.message


def test_without_the_experiment_the_same_estimator_converts():
    """What keeps it is the Experiment: model.py alone is a program that converts."""
    [model] = migrate_program([Source(MODEL, (("/p", "trainer.model"),), "trainer/model.py")], style="none")
    assert "tf.compat.v1.estimator.tpu.TPUEstimator(" in model.code
    assert not any(f.code in ("E2T248", "E2T250") for f in model.findings)


@pytest.mark.parametrize("imports, call", [
    ("import tensorflow as tf", "tf.contrib.learn.Experiment(est, train_fn, eval_fn)"),
    ("import tensorflow.contrib.learn as tflearn", "tflearn.Estimator(model_fn=legacy_fn, model_dir=d)"),
    ("import tensorflow as tf", "tf.contrib.learn.ModelFnOps(mode, predictions, loss, train_op)"),
    ("from tensorflow.contrib.learn.python.learn import learn_runner", "learn_runner.run(experiment_fn, d)"),
    ("from tensorflow.contrib.learn import learn_runner", "learn_runner.tune(experiment_fn, tuner)"),
    ("import tensorflow as tf", "tf.contrib.learn.DNNClassifier(hidden_units=[10], feature_columns=cols)"),
    ("import tensorflow as tf", "tf.contrib.learn.SKCompat(est)"),
    ("import tensorflow as tf", "tf.contrib.factorization.WALSMatrixFactorization(num_rows, num_cols, 10)"),
    ("from tensorflow.contrib.factorization import WALSMatrixFactorization",
     "WALSMatrixFactorization(num_rows, num_cols, 10)"),
    ("from tensorflow.contrib.boosted_trees.estimator_batch.estimator import GradientBoostedDecisionTreeClassifier",
     "GradientBoostedDecisionTreeClassifier(learner_config=cfg, examples_per_layer=1000)"),
    ("import tensorflow as tf",
     "tf.contrib.boosted_trees.estimator_batch.estimator.GradientBoostedDecisionTreeRegressor(cfg, 1000)"),
    ("import tensorflow as tf", "tf.contrib.estimator.boosted_trees_classifier_train_in_memory(fn, cols)"),
    ("import tensorflow as tf", "tf.contrib.tensor_forest.client.random_forest.TensorForestEstimator(p)"),
    ("import tensorflow as tf", "tf.contrib.timeseries.ARRegressor(periodicities=12, input_window_size=4)"),
])
def test_each_spelling_is_refused_at_its_call(imports, call):
    source = f"{imports}\n\nestimator = {call}\n"
    result = migrate_code(source, style="none")
    assert result.code == source
    assert codes(result) == [("E2T248", 3)]
    assert result.findings[0].col == 13


@pytest.mark.parametrize("use", [
    "mode == tf.contrib.learn.ModeKeys.TRAIN",
    "tf.contrib.layers.fully_connected(x, 2)",
    "tf.contrib.learn.datasets.load_dataset('iris')",
    "tf.contrib.estimator.add_metrics(est, metric_fn)",
])
def test_other_contrib_code_is_not_refused(use):
    result = migrate_code(f"import tensorflow as tf\n\nestimator = {use}\n", style="none")
    assert "E2T248" not in dict(codes(result))


def test_check_fails_with_the_finding_located(tmp_path):
    write(tmp_path, {"trainer/__init__.py": "", "trainer/model.py": MODEL,
                     "trainer/task.py": TASK})
    run = run_cli("migrate", "--check", "trainer", cwd=tmp_path)
    assert run.code == 1
    lines = run.stdout.splitlines()
    assert any(line.startswith("trainer/task.py:11:16: E2T248 ") for line in lines), lines
    assert any(line.startswith("trainer/task.py:24:5: E2T248 ") for line in lines), lines
    assert any(line.startswith("trainer/model.py:26:12: E2T250 ") for line in lines), lines
    assert (tmp_path / "trainer/model.py").read_text() == MODEL


LEGACY_MODEL = '''\
import tensorflow as tf
import tensorflow.contrib.learn as tflearn


def rnn_model(features, targets, mode):
    predictions = tf.layers.dense(features["x"], 1)
    loss = tf.losses.mean_squared_error(targets, predictions)
    train_op = tf.contrib.layers.optimize_loss(loss, tf.train.get_global_step(), 0.01, "SGD")
    return tflearn.ModelFnOps(mode=mode, predictions={"y": predictions}, loss=loss, train_op=train_op)
'''


def test_a_module_that_never_says_estimator_is_read_for_contrib_learn(tmp_path):
    write(tmp_path, {"legacy.py": LEGACY_MODEL})
    run = run_cli("migrate", "--check", "legacy.py", cwd=tmp_path)
    assert run.code == 1
    assert run.stdout.startswith("legacy.py:9:12: E2T248 "), run.stdout
