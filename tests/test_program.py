"""The whole-program rules: what already runs on a TPU is left alone, TensorFlow's internal
Estimator modules are read like the public names, a RunConfig changes only with an estimator
that converts, and a function outside the program is named with where it comes from."""

import pathlib
import textwrap

import libcst
import pytest

from est2tpu.codemods.migrate import migrate_code, migrate_program
from est2tpu.codemods.program import Source

TPU_OR_NOT = textwrap.dedent('''\
    import tensorflow as tf
    from tensorflow.python.estimator.estimator import Estimator

    FLAGS = tf.compat.v1.flags.FLAGS


    def model_fn(features, labels, mode, params):
        loss = tf.reduce_sum(features)
        train_op = tf.compat.v1.train.AdamOptimizer().minimize(loss)
        if FLAGS.use_tpu:
            return tf.compat.v1.estimator.tpu.TPUEstimatorSpec(mode, loss=loss, train_op=train_op)
        return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


    def input_fn(params):
        return tf.data.Dataset.range(8).batch(params["batch_size"], drop_remainder=True)


    def main():
        if FLAGS.use_tpu:
            config = tf.compat.v1.estimator.tpu.RunConfig(cluster=tf.distribute.cluster_resolver.TPUClusterResolver())
            est = tf.compat.v1.estimator.tpu.TPUEstimator(model_fn, config=config, train_batch_size=64)
        else:
            est = Estimator(model_fn=model_fn, params={"batch_size": 8})
        est.train(input_fn, max_steps=10)
    ''')


def test_a_program_that_chooses_between_tpu_and_estimator_is_left_as_it_is():
    """BERT-style: the CPU path is the program's own fallback; converting its spec (or its
    Estimator, imported from tensorflow.python.estimator) would break that path."""
    result = migrate_code(TPU_OR_NOT)
    assert result.code == TPU_OR_NOT
    assert "E2T250" not in {f.code for f in result.findings}


def test_internal_estimator_modules_are_read_like_the_public_names():
    source = textwrap.dedent('''\
        import tensorflow as tf
        from tensorflow.python.estimator import estimator as estimator_lib
        from tensorflow_estimator.python.estimator import model_fn as model_fn_lib


        def model_fn(features, labels, mode):
            return model_fn_lib.EstimatorSpec(mode, loss=tf.reduce_sum(features))


        def input_fn():
            return tf.data.Dataset.range(8).batch(4)


        est = estimator_lib.Estimator(model_fn)
        est.train(input_fn, max_steps=2)
        ''')
    code = migrate_code(source, style="none").code
    assert "return tf.compat.v1.estimator.tpu.TPUEstimatorSpec(mode, loss=tf.reduce_sum(features))" in code
    assert "est = tf.compat.v1.estimator.tpu.TPUEstimator(model_fn, config=" in code and "train_batch_size=4" in code


def test_a_run_config_only_estimators_that_stay_use_is_left_alone():
    source = textwrap.dedent('''\
        import tensorflow as tf

        config = tf.estimator.RunConfig(model_dir="/tmp/baseline", save_checkpoints_steps=10)
        est = tf.estimator.BaselineClassifier(n_classes=3, config=config)
        est.train(lambda: tf.data.Dataset.range(8).batch(4), max_steps=2)
        ''')
    result = migrate_code(source)
    assert result.code == source
    assert "E2T233" not in {f.code for f in result.findings}  # advice for a TPU RunConfig not written


def test_a_function_outside_the_program_is_named_with_where_it_comes_from():
    source = textwrap.dedent('''\
        import tensorflow as tf
        from official.mnist import model as mnist
        from trainer import inputs


        est = tf.estimator.Estimator(mnist.model_fn)
        est.train(inputs.train_input_fn, max_steps=2)
        ''')
    program = [Source(source, (("/p", "trainer.task"),), "/p/trainer/task.py"),
               Source("BATCH = 8\n", (("/p", "trainer.inputs"),), "/p/trainer/inputs.py", write=False)]
    result = migrate_program(program)[0]
    unresolved = {f.line: f.message for f in result.findings if f.code == "E2T212"}
    assert unresolved == {
        6: "model_fn official.mnist.model.model_fn, from outside the files given",
        7: "input_fn trainer.inputs.train_input_fn (in /p/trainer/inputs.py, where it is not a function)"}


#: A module's start: TensorFlow and a model_fn that trains.
TRAINED_MODEL_FN = textwrap.dedent('''\
    import tensorflow as tf


    def model_fn(features, labels, mode):
        loss = tf.reduce_sum(features)
        train_op = tf.compat.v1.train.AdamOptimizer().minimize(loss)
        return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)
    ''')


KERAS_OR_NOT = TRAINED_MODEL_FN + textwrap.dedent('''\


    def make_keras_estimator(output_dir):
        model = tf.keras.Sequential([tf.keras.layers.Dense(1)])
        model.compile(loss="mse", optimizer="adam")
        return tf.keras.estimator.model_to_estimator(model, model_dir=output_dir)


    def read_dataset(batch_size):
        def _input_fn():
            return tf.data.Dataset.range(8).batch(batch_size)
        return _input_fn


    def train_and_evaluate(output_dir, use_keras):
        if use_keras:
            estimator = make_keras_estimator(output_dir)
        else:
            estimator = tf.estimator.Estimator(model_fn=model_fn, model_dir=output_dir)
        train_spec = tf.estimator.TrainSpec(read_dataset(16), max_steps=10)
        eval_spec = tf.estimator.EvalSpec(read_dataset(16), steps=2)
        tf.estimator.train_and_evaluate(estimator, train_spec, eval_spec)
    ''')


def test_an_estimator_a_factory_builds_in_one_branch_shares_the_specs_of_the_other():
    """Both estimators of ``if use_keras: ... else: ...`` train on the same input_fns, so
    they convert together: the Keras one was taken as trained nowhere and stayed, while the
    input_fn they share gained params (the Keras path then failed with KeyError)."""
    result = migrate_code(KERAS_OR_NOT)
    assert "E2T218" not in {f.code for f in result.findings}
    assert "est2tpu.model_to_estimator(" in result.code and "TPUEstimator(" in result.code
    assert 'params["batch_size"]' in result.code


#: model.py of a trainer: its input_fns are built at import with BATCH_SIZE as it is then.
SET_AGAIN_MODEL = textwrap.dedent('''\
    import tensorflow as tf

    BATCH_SIZE = 32


    def model_fn(features, labels, mode):
        loss = tf.reduce_sum(features)
        train_op = tf.compat.v1.train.AdamOptimizer().minimize(loss)
        return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


    def read(batch_size):
        def _input_fn():
            return tf.data.Dataset.range(8).batch(batch_size)
        return _input_fn


    train_input_fn = read(BATCH_SIZE)


    def train(output_dir):
        est = tf.estimator.Estimator(model_fn, model_dir=output_dir)
        est.train(train_input_fn, max_steps=2)
    ''')


def test_a_batch_size_another_module_sets_again_keeps_the_estimator():
    """task.py sets ``model.BATCH_SIZE`` after model.py built its input_fns with the first
    value: the original trains at 32 whatever the flag says, while ``train_batch_size=BATCH_SIZE``
    would read 64.  Lifting it would change the numbers; the estimator stays (E2T218 there)."""
    model = SET_AGAIN_MODEL
    task = "from trainer import model\n\nmodel.BATCH_SIZE = 64\nmodel.train('/tmp/out')\n"
    program = [Source(model, (("/p", "trainer.model"),), "/p/trainer/model.py"),
               Source(task, (("/p", "trainer.task"),), "/p/trainer/task.py")]
    result = migrate_program(program)[0]
    assert result.code == model
    messages = [f.message for f in result.findings if f.code == "E2T218"]
    assert messages and "BATCH_SIZE is set again at /p/trainer/task.py:3" in messages[0]


def test_a_namespace_package_resolves_its_relative_imports():
    """``trainer/`` without ``__init__.py``, run as ``python -m trainer.task``: task.py's
    ``from . import model`` reaches trainer/model.py, so the batch size task.py sets again
    is seen there too (the names are those :func:`est2tpu.cli.program.module_names` gives)."""
    model = SET_AGAIN_MODEL
    task = "from . import model\n\nmodel.BATCH_SIZE = 64\nmodel.train('/tmp/out')\n"
    program = [Source(model, (("/p/trainer", "model"), ("/p", "trainer.model")), "/p/trainer/model.py"),
               Source(task, (("/p/trainer", "task"), ("/p", "trainer.task")), "/p/trainer/task.py")]
    result = migrate_program(program)[0]
    assert result.code == model
    messages = [f.message for f in result.findings if f.code == "E2T218"]
    assert messages and "BATCH_SIZE is set again at /p/trainer/task.py:3" in messages[0]


#: model.py of a trainer whose task.py builds its estimator by calling a factory.
FACTORY_MODEL = TRAINED_MODEL_FN + textwrap.dedent('''\


    def make_estimator(model_dir):
        estimator = tf.estimator.Estimator(model_fn, model_dir=model_dir)
        return estimator


    def input_fn(batch_size):
        return tf.data.Dataset.range(64).repeat().batch(batch_size, drop_remainder=True)
    ''')


def test_specs_beside_a_factory_call_in_another_module_are_that_estimators():
    """task.py gets its estimator from model.make_estimator and trains it on TrainSpec and
    EvalSpec input_fns batching by a flag: those are the input_fns of the estimator the
    factory builds (not "trained nowhere" and "built elsewhere"), and the factory's one call
    passes it the flag as its batch sizes."""
    task = textwrap.dedent('''\
        import tensorflow as tf

        from . import model


        def main(args):
            train_spec = tf.estimator.TrainSpec(input_fn=lambda: model.input_fn(args.batch_size), max_steps=10)
            eval_spec = tf.estimator.EvalSpec(input_fn=lambda: model.input_fn(args.batch_size), steps=2)
            estimator = model.make_estimator(args.job_dir)
            tf.estimator.train_and_evaluate(estimator, train_spec, eval_spec)
        ''')
    program = [Source(FACTORY_MODEL, (("/p", "trainer.model"),), "/p/trainer/model.py"),
               Source(task, (("/p", "trainer.task"),), "/p/trainer/task.py")]
    model_out, task_out = (r.code for r in migrate_program(program))
    assert "def make_estimator(model_dir, train_batch_size=None, eval_batch_size=None):" in model_out
    assert "train_batch_size=train_batch_size" in model_out and "eval_batch_size=eval_batch_size" in model_out
    assert "args.job_dir, train_batch_size=args.batch_size, eval_batch_size=args.batch_size" in task_out
    assert 'lambda params: model.input_fn(params["batch_size"])' in task_out
    assert not {f.code for r in migrate_program(program) for f in r.findings} & {"E2T218", "E2T221", "E2T250"}



RUNNERS = {
    "train_and_evaluate": textwrap.dedent("""\
        def run(estimator, steps):
            train_spec = tf.estimator.TrainSpec(input_fn=lambda: model.input_fn(16), max_steps=steps)
            eval_spec = tf.estimator.EvalSpec(input_fn=lambda: model.input_fn(16), steps=2)
            tf.estimator.train_and_evaluate(estimator, train_spec, eval_spec)
        """),
    "train": textwrap.dedent("""\
        def run(estimator, steps):
            estimator.train(input_fn=lambda: model.input_fn(16), max_steps=steps)
            estimator.evaluate(input_fn=lambda: model.input_fn(16), steps=2)
        """),
}


def _runner_program(runner: str, task: str):
    runner = "import tensorflow as tf\n\nfrom . import model\n\n\n" + runner
    return [Source(FACTORY_MODEL, (("/p", "trainer.model"),), "/p/trainer/model.py"),
            Source(runner, (("/p", "trainer.runner"),), "/p/trainer/runner.py"),
            Source(textwrap.dedent(task), (("/p", "trainer.task"),), "/p/trainer/task.py")]


@pytest.mark.parametrize("how", sorted(RUNNERS))
@pytest.mark.parametrize("passed", ["runner.run(model.make_estimator(job_dir), 10)",
                                    "estimator = model.make_estimator(job_dir)\n    runner.run(estimator, steps=10)"])
def test_an_estimator_passed_to_a_def_of_another_module_is_trained_there(how, passed):
    """runner.run(estimator, steps) trains whatever estimator it is given, and task.py gives
    it the one model.make_estimator builds: run's input_fns are that estimator's, so the
    program migrates (not "trained nowhere" and "built elsewhere")."""
    task = f"from . import model, runner\n\n\ndef main(job_dir):\n    {passed}\n"
    results = migrate_program(_runner_program(RUNNERS[how], task))
    model_out, runner_out, _ = (r.code for r in results)
    assert "estimator.tpu.TPUEstimator(" in model_out and "train_batch_size=16" in model_out
    assert "eval_batch_size=16" in model_out
    assert runner_out.count('lambda params: model.input_fn(params["batch_size"])') == 2
    assert not {f.code for r in results for f in r.findings} & {"E2T218", "E2T221", "E2T250"}


@pytest.mark.parametrize("runner", [
    RUNNERS["train_and_evaluate"].replace("tf.estimator.train_and_evaluate(estimator",
                                          "estimator = wrapped(estimator)\n    tf.estimator.train_and_evaluate(estimator"),
    RUNNERS["train"],  # called by nobody
])
def test_an_estimator_parameter_that_nothing_traces_to_an_estimator_keeps_it_as_it_was(runner):
    """The def binds the parameter again, or no call of it passes an estimator: its
    input_fns are of an estimator built elsewhere, and the one of model.py trains nowhere."""
    task = "from . import model, runner\n\n\ndef main(job_dir):\n    runner.run(model.make_estimator(job_dir), 10)\n"
    if "wrapped" not in runner:
        task = task.replace("runner.run(", "print(")
    program = _runner_program(runner, task)
    results = migrate_program(program)
    assert not any(r.error for r in results)
    assert [r.code for r in results] == [s.code for s in program]
    codes = {f.code for r in results for f in r.findings}
    assert {"E2T221", "E2T250"} <= codes


def test_a_model_fn_that_is_an_instance_of_a_class_of_another_module_is_resolved():
    """``Estimator(model.Model(4))``: the model_fn is Model.__call__, in model.py, which
    gains params (as a model_fn class of the estimator's own module does)."""
    model = textwrap.dedent('''\
        import tensorflow as tf


        class Model:
            def __init__(self, units):
                self.units = units

            def __call__(self, features, labels, mode):
                loss = tf.reduce_sum(tf.compat.v1.layers.dense(features, self.units))
                train_op = tf.compat.v1.train.AdamOptimizer().minimize(loss)
                return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


        def input_fn():
            return tf.data.Dataset.range(64).map(lambda x: (tf.cast([x], tf.float32), x)).repeat().batch(16)
        ''')
    task = textwrap.dedent('''\
        import tensorflow as tf

        from . import model


        def main(model_dir):
            estimator = tf.estimator.Estimator(model.Model(4), model_dir=model_dir)
            estimator.train(input_fn=model.input_fn, max_steps=10)
        ''')
    results = migrate_program([Source(model, (("/p", "trainer.model"),), "/p/trainer/model.py"),
                               Source(task, (("/p", "trainer.task"),), "/p/trainer/task.py")])
    model_out, task_out = (r.code for r in results)
    assert "    def __call__(self, features, labels, mode, params):" in model_out
    assert "TPUEstimatorSpec(" in model_out and "TPUEstimator(" in task_out
    assert not {f.code for r in results for f in r.findings} & {"E2T212", "E2T250"}


def test_a_function_of_a_module_of_the_program_named_like_an_estimator_method_is_not_a_use():
    """``evaluation.evaluate(estimator, input_fn=...)`` calls a def of evaluation.py: not an
    Estimator's evaluate (no "evaluate() without steps" there, nor the estimator taken for its
    input_fn), while the def's own ``estimator.evaluate`` is the estimator's."""
    evaluation = textwrap.dedent('''\
        def evaluate(estimator, input_fn):
            return estimator.evaluate(input_fn=input_fn, steps=2)
        ''')
    task = textwrap.dedent('''\
        import tensorflow as tf

        from . import evaluation, model


        def main(model_dir):
            estimator = model.make_estimator(model_dir)
            return evaluation.evaluate(estimator, input_fn=lambda: model.input_fn(16))
        ''')
    results = migrate_program([Source(FACTORY_MODEL, (("/p", "trainer.model"),), "/p/trainer/model.py"),
                               Source(evaluation, (("/p", "trainer.evaluation"),), "/p/trainer/evaluation.py"),
                               Source(task, (("/p", "trainer.task"),), "/p/trainer/task.py")])
    assert not [f for f in results[2].findings if f.line == 8]
    assert "E2T203" not in {f.code for r in results for f in r.findings}


def test_specs_at_module_level_beside_two_estimators_are_those_of_the_one_train_and_evaluate_is_given():
    """A notebook's style: two estimators at module level, the specs and train_and_evaluate
    beside them, the batch size an attribute of a class used as a namespace."""
    code = TRAINED_MODEL_FN + textwrap.dedent('''\


        class FLAGS:
            pass


        FLAGS.batch_size = 16


        def input_fn(batch_size):
            return tf.data.Dataset.range(64).repeat().batch(batch_size)


        estimator = tf.estimator.Estimator(model_fn, model_dir="a")
        train_spec = tf.estimator.TrainSpec(input_fn=lambda: input_fn(FLAGS.batch_size), max_steps=10)
        eval_spec = tf.estimator.EvalSpec(input_fn=lambda: input_fn(FLAGS.batch_size), steps=2)
        tf.estimator.train_and_evaluate(estimator, train_spec, eval_spec)
        exported = tf.estimator.LinearRegressor([tf.feature_column.numeric_column("x")], model_dir="a")
        exported.export_saved_model("out", lambda: None)
        ''')
    result = migrate_code(code)
    assert "train_batch_size=FLAGS.batch_size" in result.code and "eval_batch_size=FLAGS.batch_size" in result.code
    assert 'lambda params: input_fn(params["batch_size"])' in result.code
    assert not {f.code for f in result.findings} & {"E2T218", "E2T221", "E2T250"}


SCOPES = TRAINED_MODEL_FN + textwrap.dedent('''\


    def input_fn(batch_size):
        return tf.data.Dataset.range(64).repeat().batch(batch_size)


    def build(args):
        return tf.estimator.Estimator(model_fn, model_dir=args.model_dir)


    def run(estimator, args):
        estimator.train(input_fn=lambda: input_fn(args.batch_size), steps=10)


    def main(args, other):
        run(build(other), args)
    ''')


def test_a_batch_size_read_through_another_defs_parameter_is_passed_as_that_defs_one_call_passes_it():
    """run's ``args`` is not build's (main passes build another object): ``args.batch_size``
    cannot be written in build.  It is main's ``args``, which run's one call passes: build
    gains the keyword, and main passes it its own ``args.batch_size``."""
    result = migrate_code(SCOPES)
    assert "def build(args, train_batch_size=None):" in result.code
    assert "run(build(other, train_batch_size=args.batch_size), args)" in result.code
    assert not {f.code for f in result.findings} & {"E2T218", "E2T250"}


@pytest.mark.parametrize("change", [("run(build(other), args)", "run(build(other), make_args())"),  # evaluated again
                                    ("run(build(other), args)", "run(build(other), args)\n    run(build(args), other)")])
def test_a_batch_size_no_single_call_passes_as_a_name_keeps_the_estimator_as_it_was(change):
    """The one call passes a call (it would run again), or run has two calls: the batch size
    is not known where the estimator is built, and E2T218 says so."""
    code = SCOPES.replace(*change)
    result = migrate_code(code)
    assert result.code == code
    assert [f.message for f in result.findings if f.code == "E2T218"][:1] == [
        "batch size of an input_fn not found (train_batch_size): args.batch_size is not known where the estimator is built"]

EXPORTED = textwrap.dedent('''\
    import tensorflow as tf


    def model_fn(features, labels, mode):
        predictions = {"y": tf.compat.v1.layers.dense(features["x"], 1)}
        return tf.estimator.EstimatorSpec(mode, predictions=predictions)


    def serving_input_fn():
        x = tf.compat.v1.placeholder(tf.float32, [None, 3])
        return tf.estimator.export.ServingInputReceiver({"x": x}, {"x": x})


    model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(3,))])
    keras_estimator = tf.keras.estimator.model_to_estimator(keras_model=model, model_dir="export")
    keras_estimator.export_saved_model("out", serving_input_fn)
    custom = tf.estimator.Estimator(model_fn, model_dir="custom")
    path = custom.export_saved_model("out", serving_input_fn)
    ''')


def test_an_estimator_built_only_to_be_exported_is_left_as_it_is_without_blocking():
    """A Keras model (or a model_fn) turned into an estimator only to write a SavedModel:
    nothing of it runs on a TPU, so nothing changes and no batch size is missing."""
    result = migrate_code(EXPORTED)
    assert result.code == EXPORTED
    assert result.findings == []


def test_an_exported_estimator_that_is_also_passed_on_may_be_trained_there():
    """Passed to a function, returned or stored, the estimator may be trained where est2tpu
    cannot see: that is still reported (E2T218, trained nowhere in the program)."""
    for escape in ("run(keras_estimator)", "estimators = [keras_estimator]"):
        source = EXPORTED + f"{escape}\n"
        result = migrate_code(source)
        assert result.code == source
        blocking = {(f.code, f.line) for f in result.findings}
        assert ("E2T218", 15) in blocking and ("E2T250", 15) in blocking


def test_an_exported_estimator_does_not_hold_back_another_that_trains():
    source = EXPORTED + textwrap.dedent('''\


        def trained_fn(features, labels, mode):
            loss = tf.reduce_sum(features)
            train_op = tf.compat.v1.train.AdamOptimizer().minimize(loss)
            return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


        def input_fn():
            return tf.data.Dataset.range(8).batch(4)


        est = tf.estimator.Estimator(trained_fn)
        est.train(input_fn, max_steps=1)
        ''')
    result = migrate_code(source)
    assert "TPUEstimator(" in result.code
    assert "keras_estimator = tf.keras.estimator.model_to_estimator(keras_model=model" in result.code
    assert 'custom = tf.estimator.Estimator(model_fn, model_dir="custom")' in result.code
    assert "return tf.estimator.EstimatorSpec(mode, predictions=predictions)" in result.code
    assert not [f for f in result.findings if f.line in (15, 17)]


def test_an_exported_estimator_sharing_its_model_fn_with_a_trained_one_converts_with_it_or_not_at_all():
    """Both run the model_fn: it cannot return TPUEstimatorSpecs to one of them only, so the
    exported one needs a batch size too (E2T218): both stay."""
    source = EXPORTED + textwrap.dedent('''\


        def input_fn():
            return tf.data.Dataset.range(8).batch(4)


        est = tf.estimator.Estimator(model_fn)
        est.train(input_fn, max_steps=1)
        ''')
    result = migrate_code(source)
    assert result.code == source
    assert ("E2T218", 17) in {(f.code, f.line) for f in result.findings}


def _unpacked_by_scan(fn, name):
    """``names.unpacked`` as it was written before its table: a scan of every statement."""
    from est2tpu.codemods.names import simple_statements

    def position(target):
        if isinstance(target, (libcst.Tuple, libcst.List)) and all(isinstance(e, libcst.Element) for e in target.elements):
            return next((i for i, e in enumerate(target.elements) if isinstance(e.value, libcst.Name)
                         and e.value.value == name), None)
        return None

    return [(small.value, i) for s in simple_statements(fn.body) for small in s.body
            if isinstance(small, libcst.Assign) and isinstance(small.value, libcst.Call)
            for target in small.targets for i in [position(target.target)] if i is not None]


def test_unpacked_answers_as_a_scan_of_the_function_does_for_every_name_of_the_fixtures_and_real_programs():
    from est2tpu.codemods.names import NameReads, unpacked
    from est2tpu.codemods.walk import Preorder

    root = pathlib.Path(__file__).resolve().parent.parent
    paths = sorted((root / "fixtures").glob("*.py")) + sorted((root.parent / "shared" / "realworld").rglob("*.py"))
    code = "def f(x):\n    a, (b, c), a = g()\n    [d, a] = e = h(x)\n    a, *s = k()\n    if x:\n        a, d = m()\n"
    trees = [libcst.parse_module(code)]
    for path in paths:
        try:
            trees.append(libcst.parse_module(path.read_text(encoding="utf-8")))
        except libcst.ParserSyntaxError:  # Python 2 among the real programs
            pass
    functions = []
    for tree in trees:
        index = Preorder(tree)
        functions += [n for n in index.nodes if isinstance(n, libcst.FunctionDef)]
        index.close()
    asked = 0
    for fn in functions:
        reads = NameReads().walked(fn)
        for name in {*reads.reads, *reads.bound, "a", "d", "s"}:
            assert unpacked(fn, name) == _unpacked_by_scan(fn, name), (fn.name.value, name)
            asked += bool(unpacked(fn, name))
    assert [i for _, i in unpacked(functions[0], "a")] == [0, 1, 0] and [i for _, i in unpacked(functions[0], "d")] == [0, 1]
    assert asked > 20
