"""Programs written for (or beside) TPUEstimator whose migration used to fail when run.

Each program is migrated, then both versions run on the CPU (``use_tpu=False``) and must
train to the same loss; what only a TPU run would hit is checked on the migrated
model_fn's graph, built with ``params["use_tpu"]`` true.
"""

import math
import pathlib
import textwrap

import pytest

from est2tpu.codemods.migrate import migrate_code
from fixture_programs import load

tf = pytest.importorskip("tensorflow")
tpu_estimator = pytest.importorskip("tensorflow_estimator.python.estimator.tpu.tpu_estimator")


@pytest.fixture(autouse=True)
def _cpu_only(monkeypatch):
    monkeypatch.delenv("TPU_NAME", raising=False)


def migrated(source):
    """The migrated text of a program (dedented), with no blocking finding left."""
    result = migrate_code(textwrap.dedent(source))
    assert not [f for f in result.findings if f.code == "E2T250"], result.findings
    return result.code


def module(code, tmp_path, name):
    path = tmp_path / f"{name}.py"
    path.write_text(code)
    return load(path, f"{name}_{id(tmp_path)}")


def same_loss(source, tmp_path):
    """Run a program before and after its migration: the same loss; the migrated module."""
    before = module(textwrap.dedent(source), tmp_path, "before").run(str(tmp_path / "before"))
    after_module = module(migrated(source), tmp_path, "after")
    after = after_module.run(str(tmp_path / "after"))
    assert math.isclose(before, after, rel_tol=1e-6), (before, after)
    return after_module


def tpu_spec(model_fn, features, labels, mode=tf.estimator.ModeKeys.TRAIN, **params):
    """The TPUEstimatorSpec ``model_fn`` returns on a TPU (in the default graph); ``features``
    a list or a dict of lists."""
    tf.compat.v1.train.get_or_create_global_step()
    features = ({key: tf.constant(value) for key, value in features.items()} if isinstance(features, dict)
                else tf.constant(features))
    return model_fn(features, tf.constant(labels), mode, params={"use_tpu": True, "batch_size": 4, **params})


def tpu_scaffold(spec):
    """What TPUEstimator's TPU path makes of ``spec.scaffold_fn`` (it raises on a bad one)."""
    captured = tpu_estimator._CapturedObject()
    captured.capture(spec.scaffold_fn)
    return tpu_estimator._get_scaffold(captured)


SCAFFOLD_NONE = '''
    """ResNet-style trainer: one model_fn returns the same spec arguments in every mode."""
    import tensorflow as tf

    BATCH = 4


    def model_fn(features, labels, mode, params):
        logits = tf.compat.v1.layers.dense(
            features, 3, kernel_initializer=tf.compat.v1.glorot_uniform_initializer(seed=7))
        loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
        optimizer = tf.compat.v1.train.MomentumOptimizer(0.1, momentum=0.9)
        train_op = optimizer.minimize(loss, tf.compat.v1.train.get_global_step())
        return tf.estimator.EstimatorSpec(
            mode=mode, loss=loss, train_op=train_op, scaffold=None)


    def input_fn():
        images = tf.random.stateless_normal([32, 5], seed=[1, 2])
        classes = tf.random.stateless_uniform([32], seed=[3, 4], maxval=3, dtype=tf.int32)
        return tf.data.Dataset.from_tensor_slices((images, classes)).repeat().batch(BATCH)


    def run(model_dir):
        classifier = tf.estimator.Estimator(model_fn, model_dir=model_dir)
        classifier.train(input_fn, max_steps=6)
        return float(classifier.evaluate(input_fn, steps=2)["loss"])
'''

SCAFFOLD_NONE_WARM = SCAFFOLD_NONE.replace(
    "        optimizer = ", "        if params.get('init'):\n"
    "            tf.compat.v1.train.init_from_checkpoint(params['init'], {'dense/': 'dense/'})\n"
    "        optimizer = ")


SCAFFOLD_WARM = SCAFFOLD_NONE_WARM.replace(
    "scaffold=None", "scaffold=tf.compat.v1.train.Scaffold(saver=tf.compat.v1.train.Saver(max_to_keep=3))")


@pytest.mark.parametrize("source, scaffold", [(SCAFFOLD_NONE, None), (SCAFFOLD_NONE_WARM, 5), (SCAFFOLD_WARM, 3)],
                         ids=["spec", "checkpoint", "checkpoint-and-scaffold"])
def test_the_scaffold_given_is_the_one_a_tpu_gets(source, scaffold, tmp_path):
    """``scaffold=None`` is no Scaffold: TPUEstimator refuses a scaffold_fn returning None
    ('TPUEstimatorSpec.scaffold_fn returns None, which is not allowed'); with
    init_from_checkpoint moved into a scaffold_fn, that function returns the spec's Scaffold
    (a new one for None; the Saver's max_to_keep tells which)."""
    after = same_loss(source, tmp_path)
    with tf.Graph().as_default():
        spec = tpu_spec(after.model_fn, [[1.0] * 5] * 4, [0, 1, 2, 0], init="")
        made = tpu_scaffold(spec)
        if scaffold is None:
            assert made is None
        else:
            made.finalize()
            assert made.saver._max_to_keep == scaffold


TIMEFRAMES = '''
    """Trend classifier: one tower per timeframe of a price series."""
    import tensorflow as tf
    from tensorflow import estimator as tf_estimator
    from tensorflow.compat.v1 import layers, losses, train

    TIMEFRAMES = ("1h", "4h", "1d")


    def model_fn(features, labels, mode):
        towers = []
        for tf in TIMEFRAMES:  # a timeframe here, not TensorFlow
            towers.append(layers.dense(features["close_" + tf], 4, name="tower_" + tf,
                                       kernel_initializer=seeded()))
        logits = layers.dense(sum(towers), 2, kernel_initializer=seeded())
        loss = losses.sparse_softmax_cross_entropy(labels, logits)
        optimizer = train.AdagradOptimizer(0.1)
        train_op = optimizer.minimize(loss, train.get_global_step())
        return tf_estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


    def seeded():
        return tf.compat.v1.glorot_uniform_initializer(seed=3)


    def input_fn():
        closes = {"close_" + t: [[1.0, 2.0], [2.0, 1.0]] * 4 for t in TIMEFRAMES}
        return tf.data.Dataset.from_tensor_slices((closes, [0, 1] * 4)).repeat().batch(4)


    def run(model_dir):
        est = tf_estimator.Estimator(model_fn, model_dir=model_dir)
        est.train(input_fn, max_steps=3)
        return float(est.evaluate(input_fn, steps=1)["loss"])
'''


def test_new_code_is_not_spelled_with_a_name_a_def_binds_itself(tmp_path):
    """model_fn loops over timeframes with ``tf``: TPUEstimatorSpec and CrossShardOptimizer
    written there as ``tf.compat.v1....`` read the timeframe ('str' object has no attribute
    'compat')."""
    after = same_loss(TIMEFRAMES, tmp_path)
    features = {"close_" + t: [[1.0, 2.0]] * 4 for t in after.TIMEFRAMES}
    with tf.Graph().as_default():
        spec = tpu_spec(after.model_fn, features, [0, 1, 0, 1])
        assert any(op.type == "CrossReplicaSum" for op in tf.compat.v1.get_default_graph().get_operations())
    assert isinstance(spec, tf.compat.v1.estimator.tpu.TPUEstimatorSpec)


DELETED_PARAMS = '''
    """CIFAR-style trainer written for TPUEstimator's calling convention: params unused."""
    import numpy as np
    import tensorflow as tf

    TRAIN_BATCH = 8
    ROWS = np.linspace(-1.0, 1.0, 64, dtype=np.float32).reshape(32, 2)


    def model_fn(features, labels, mode, params):
        del params  # unused: the batch size comes from the input_fn
        logits = tf.compat.v1.layers.dense(
            features, 2, kernel_initializer=tf.compat.v1.glorot_uniform_initializer(seed=11))
        loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
        optimizer = tf.compat.v1.train.GradientDescentOptimizer(0.5)
        train_op = optimizer.minimize(loss, tf.compat.v1.train.get_global_step())
        return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


    def make_dataset(rows, batch_size=4):
        labels = (rows[:, 0] > 0).astype(np.int32)
        return tf.data.Dataset.from_tensor_slices((rows, labels)).repeat().batch(batch_size)


    def train_input_fn(params):
        """Reads the training rows."""
        del params
        dataset = tf.data.Dataset.from_tensor_slices((ROWS, (ROWS[:, 1] > 0).astype(np.int32)))
        return dataset.repeat().batch(TRAIN_BATCH)


    def eval_input_fn(params):
        del params
        return make_dataset(ROWS)


    def run(model_dir):
        classifier = tf.estimator.Estimator(model_fn, model_dir=model_dir)
        classifier.train(train_input_fn, max_steps=5)
        return float(classifier.evaluate(eval_input_fn, steps=2)["loss"])
'''


def test_an_input_fn_or_model_fn_that_deletes_params_still_reads_tpu_params(tmp_path):
    """``del params`` before the batch: params["batch_size"] raised UnboundLocalError, and so
    did model_fn's ``if params["use_tpu"]:`` guard."""
    after = same_loss(DELETED_PARAMS, tmp_path)
    with tf.Graph().as_default():
        tpu_spec(after.model_fn, [[1.0, 2.0]] * 4, [0, 1, 0, 1])
        assert any(op.type == "CrossReplicaSum" for op in tf.compat.v1.get_default_graph().get_operations())
    for input_fn, size in ((after.train_input_fn, 16), (after.eval_input_fn, 2)):
        features, _ = tf.compat.v1.data.make_one_shot_iterator(input_fn(params={"batch_size": size})).get_next()
        assert features.shape[0] == size


HELPERS_MODEL = '''
    """Character model in the style of a TPU text notebook: model_fn hands each mode to a helper."""
    import tensorflow as tf

    VOCAB = 6


    def train_fn(loss, learning_rate):
        optimizer = tf.compat.v1.train.RMSPropOptimizer(learning_rate)
        train_op = optimizer.minimize(loss, tf.compat.v1.train.get_global_step())
        return tf.estimator.EstimatorSpec(tf.estimator.ModeKeys.TRAIN, loss=loss, train_op=train_op)


    def eval_fn(loss):
        return tf.estimator.EstimatorSpec(tf.estimator.ModeKeys.EVAL, loss=loss)


    def spec_for(mode, loss):
        if mode == tf.estimator.ModeKeys.TRAIN:
            return train_fn(loss, learning_rate=0.05)
        return tf.estimator.EstimatorSpec(mode, loss=loss)


    def model_fn(features, labels, mode):
        embedded = tf.compat.v1.layers.dense(
            tf.one_hot(features, VOCAB), 8, kernel_initializer=tf.compat.v1.glorot_uniform_initializer(seed=2))
        logits = tf.compat.v1.layers.dense(
            embedded, VOCAB, kernel_initializer=tf.compat.v1.glorot_uniform_initializer(seed=3))
        loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
        if mode == tf.estimator.ModeKeys.EVAL:
            return eval_fn(loss)
        return spec_for(mode, loss)
'''

HELPERS_TASK = '''
    """Trains the character model."""
    import tensorflow as tf

    from {package} import model


    def input_fn():
        text = tf.constant([0, 1, 2, 3, 4, 5, 4, 3, 2, 1] * 4)
        return tf.data.Dataset.from_tensor_slices((text[:-1], text[1:])).repeat().batch(8)


    def run(model_dir):
        estimator = tf.estimator.Estimator(model.model_fn, model_dir=model_dir)
        estimator.train(input_fn, max_steps=4)
        return float(estimator.evaluate(input_fn, steps=2)["loss"])
'''


def _package(root, package, modules):
    """Write a package of ``modules`` (name -> source) under ``root``; the program's sources."""
    from est2tpu.cli.program import module_names
    from est2tpu.codemods.program import Source

    (root / package).mkdir(parents=True)
    (root / package / "__init__.py").write_text("")
    sources = []
    for name, text in {"__init__": "", **modules}.items():
        path = root / package / f"{name}.py"
        path.write_text(textwrap.dedent(text).replace("{package}", package))
        sources.append(Source(path.read_text(), module_names(str(path)), str(path), name == "__init__"))
    return sources


def _run_package(monkeypatch, root, package, model_dir):
    import importlib

    monkeypatch.syspath_prepend(str(root))
    return importlib.import_module(f"{package}.task").run(str(model_dir))


def test_spec_helpers_that_read_params_take_them_and_every_call_passes_them(tmp_path, monkeypatch):
    """train_fn (which builds the optimizer) and spec_for (which calls it) take params, and their
    calls pass them on; eval_fn, whose code reads none, is left as it was.  Before: train_fn gained
    params, its callers did not pass them (TypeError: train_fn() missing ... 'params')."""
    from est2tpu.codemods.migrate import migrate_program

    modules = {"model": HELPERS_MODEL, "task": HELPERS_TASK}
    _package(tmp_path / "before", "chars_before", modules)
    before = _run_package(monkeypatch, tmp_path / "before", "chars_before", tmp_path / "m_before")
    sources = _package(tmp_path / "after", "chars_after", modules)
    results = migrate_program(sources)
    assert not [f for r in results for f in r.findings if f.code in ("E2T250", "E2T256")]
    for source, result in zip(sources, results):
        pathlib.Path(source.display).write_text(result.code)
    code = next(r.code for s, r in zip(sources, results) if s.display.endswith("model.py"))
    assert "def train_fn(loss, learning_rate, params):" in code and "def spec_for(mode, loss, params):" in code
    assert "train_fn(loss, learning_rate=0.05, params=params)" in code and "return spec_for(mode, loss, params=params)" in code
    assert "def eval_fn(loss):" in code and "return eval_fn(loss)\n" in code
    after = _run_package(monkeypatch, tmp_path / "after", "chars_after", tmp_path / "m_after")
    assert math.isclose(before, after, rel_tol=1e-6), (before, after)


@pytest.mark.parametrize("use, line", [
    ("\n\n    def smoke_test():\n        return train_fn(tf.constant(1.0), 0.1)\n", "return train_fn(tf.constant(1.0), 0.1)"),
    ("\n\n    TRAINERS = {\"rmsprop\": train_fn}\n", 'TRAINERS = {"rmsprop": train_fn}'),
    ("\n\n    def train_twice(loss, *rates):\n        return train_fn(loss, *rates)\n", "return train_fn(loss, *rates)"),
])
def test_a_helper_that_now_takes_params_used_where_none_can_be_passed_is_an_obstacle(use, line, tmp_path):
    """A call from code without TPUEstimator's params (a smoke test), the helper kept as a value,
    or a call with *args: the estimator stays as it was (E2T250), the use is reported (E2T256)."""
    from est2tpu.codemods.migrate import migrate_program

    sources = _package(tmp_path, "chars_kept", {"model": HELPERS_MODEL + use, "task": HELPERS_TASK})
    results = migrate_program(sources)
    assert [r.code for r in results] == [s.code for s in sources]
    model = next(s for s in sources if s.display.endswith("model.py"))
    found = {(pathlib.Path(s.display).name, f.code, f.line) for s, r in zip(sources, results) for f in r.findings}
    at = [text.strip() for text in model.code.splitlines()].index(line) + 1
    assert ("model.py", "E2T256", at) in found and ("task.py", "E2T250", 14) in found, found


HYPERPARAMS = '''
    """A trainer whose main() keeps its hyperparameters in a dict named params."""
    import tensorflow as tf


    def model_fn(features, labels, mode):
        loss = tf.reduce_mean(tf.square(tf.compat.v1.layers.dense(features, 1) - labels))
        train_op = tf.compat.v1.train.GradientDescentOptimizer(0.1).minimize(
            loss, tf.compat.v1.train.get_global_step())
        return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


    def make_dataset(rows, batch_size):
        x = tf.reshape(tf.range(rows, dtype=tf.float32), [rows, 1])
        return tf.data.Dataset.from_tensor_slices((x, 2.0 * x)).repeat().batch(batch_size)


    def run(model_dir):
        params = {"rows": 16, "steps": 2}
        est = tf.estimator.Estimator(model_fn, model_dir=model_dir)
        est.train(lambda: make_dataset(params["rows"], 4), max_steps=params["steps"])
        return params["steps"]
'''


def test_an_input_fn_reading_another_params_is_not_given_tpu_params(tmp_path):
    """``lambda: make_dataset(params["rows"], 4)`` became ``lambda params: ...``, which reads
    TPUEstimator's params (KeyError: 'rows'): left as it was, E2T257 at the read."""
    source = textwrap.dedent(HYPERPARAMS)
    result = migrate_code(source)
    assert result.code == source
    line = source.splitlines().index('    est.train(lambda: make_dataset(params["rows"], 4), max_steps=params["steps"])') + 1
    assert {("E2T257", line), ("E2T250", line - 1)} <= {(f.code, f.line) for f in result.findings}
    assert module(source, tmp_path, "kept").run(str(tmp_path / "m")) == 2


def test_a_run_config_replaced_into_its_own_name_becomes_a_tpu_one_that_replace_keeps(tmp_path):
    """``config = RunConfig(...)`` then ``config = config.replace(model_dir=...)`` in a def:
    the first is the RunConfig to convert (not E2T219), and replace() keeps it a TPU one."""
    after = same_loss('''
        import tensorflow as tf


        def model_fn(features, labels, mode):
            w = tf.compat.v1.get_variable("w", [1], initializer=tf.compat.v1.constant_initializer(0.5))
            loss = tf.reduce_mean(tf.square(features * w - labels))
            train_op = tf.compat.v1.train.GradientDescentOptimizer(0.1).minimize(
                loss, global_step=tf.compat.v1.train.get_global_step())
            return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


        def input_fn():
            x = tf.range(16, dtype=tf.float32) / 16
            return tf.data.Dataset.from_tensor_slices((x, 2 * x)).repeat().batch(8)


        def run(model_dir):
            config = tf.estimator.RunConfig(tf_random_seed=1, save_checkpoints_steps=50)
            config = config.replace(model_dir=model_dir)
            estimator = tf.estimator.Estimator(model_fn, config=config)
            estimator.train(input_fn, max_steps=5)
            return estimator.evaluate(input_fn, steps=2)["loss"]
        ''', tmp_path)
    assert "config = tf.compat.v1.estimator.tpu.RunConfig(" in pathlib.Path(after.__file__).read_text()
