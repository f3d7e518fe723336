"""The ways real Estimator code writes its eval metrics (issue 14): migrated, or refused out loud.

One spec for every mode (metrics assigned in branches, None elsewhere), metrics from
helpers, Python values read by the metrics, and code written halfway to TPUs.  Snippets
are completed into programs by ``test_rules.program``; where it matters, the migrated
model_fn is built and run on the CPU.
"""

import textwrap

import pytest

from est2tpu.codemods.migrate import migrate_code, migrate_program
from est2tpu.codemods.program import Source
from test_rules import HEADER, codes, program

tf = pytest.importorskip("tensorflow")
ModeKeys = tf.estimator.ModeKeys


def migrate(source):
    return migrate_code(program(HEADER + textwrap.dedent(source)), style="none")


def line_of(source, marker):
    """The line of the migrated program (see :func:`migrate`) that holds ``marker`` first."""
    return next(i for i, line in enumerate((HEADER + textwrap.dedent(source)).splitlines(), 1) if marker in line)


def model_fn_of(code, mode, params=None, features=None, labels=None):
    """The spec the ``model_fn`` of migrated ``code`` builds in ``mode`` (in a new graph); the
    Estimator that ``program`` added to train it is left out."""
    namespace = {}
    exec(compile(code.split("import tensorflow as tf_trainer")[0], "<migrated>", "exec"), namespace)
    features = tf.ones([4, 3]) if features is None else features
    labels = tf.constant([0, 1, 1, 0]) if labels is None else labels
    tf.compat.v1.train.get_or_create_global_step()
    return namespace["model_fn"](features=features, labels=labels, mode=mode, params=dict(params or {}, use_tpu=False))


def evaluated(spec):
    """The value of each metric of ``spec`` after one update, on the CPU."""
    metrics = spec.as_estimator_spec().eval_metric_ops
    with tf.compat.v1.Session() as session:
        session.run([tf.compat.v1.global_variables_initializer(), tf.compat.v1.local_variables_initializer()])
        session.run([update for _, update in metrics.values()])
        return session.run({key: value for key, (value, _) in metrics.items()})


# --------------------------------------------------------------------------- one spec for every mode

BRANCHES = '''
def model_fn(features, labels, mode, params):
    logits = tf.compat.v1.layers.dense(features, 2)
    predicted = tf.argmax(logits, 1)
    if mode == tf.estimator.ModeKeys.TRAIN or mode == tf.estimator.ModeKeys.EVAL:
        loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
        if mode == tf.estimator.ModeKeys.TRAIN:
            train_op = tf.compat.v1.train.AdamOptimizer(0.1).minimize(loss)
            eval_metric_ops = None
        else:
            train_op = None
            {metrics}
    else:
        loss = None
        train_op = None
        eval_metric_ops = None
    return tf.estimator.EstimatorSpec(mode=mode, predictions={{"class": predicted}}, loss=loss,
                                      train_op=train_op, eval_metric_ops=eval_metric_ops)
'''


def test_metrics_assigned_in_the_branch_of_their_mode_move_into_a_metric_fn_there():
    result = migrate(BRANCHES.format(metrics='eval_metric_ops = {"acc": tf.compat.v1.metrics.accuracy(labels, predicted)}'))
    code = result.code
    branch = code[code.index("            train_op = None"):code.index("    else:\n        loss = None")]
    assert "def metric_fn(labels, predicted):" in branch
    assert 'return {"acc": tf.compat.v1.metrics.accuracy(labels, predicted)}' in branch
    assert "eval_metrics = (metric_fn, [labels, predicted])" in branch
    assert code.count("eval_metrics = None") == 2 and "eval_metric_ops" not in code
    assert "TPUEstimatorSpec(mode=mode, predictions={\"class\": predicted}" in code and "eval_metrics=eval_metrics)" in code
    assert "E2T215" not in {f.code for f in result.findings}
    assert migrate_code(code, style="none").code == code
    with tf.Graph().as_default():
        assert model_fn_of(code, ModeKeys.TRAIN).eval_metrics is None
    with tf.Graph().as_default():
        spec = model_fn_of(code, ModeKeys.EVAL)
        assert spec.eval_metrics[0].__name__ == "metric_fn" and set(evaluated(spec)) == {"acc"}


def test_a_dict_built_over_several_statements_of_a_branch_is_sent_where_it_is_complete():
    metrics = ('eval_metric_ops = {}\n'
               '            eval_metric_ops["acc"] = tf.compat.v1.metrics.accuracy(labels, predicted)\n'
               '            confidence = tf.reduce_max(tf.nn.softmax(logits), 1)\n'
               '            eval_metric_ops["confidence"] = tf.compat.v1.metrics.mean(confidence)')
    code = migrate(BRANCHES.format(metrics=metrics)).code
    branch = code[code.index("            train_op = None"):code.index("    else:\n        loss = None")]
    assert branch.index("confidence = tf.reduce_max") < branch.index("def metric_fn(labels, predicted, confidence):")
    assert 'eval_metric_ops["confidence"] = tf.compat.v1.metrics.mean(confidence)\n' \
           '                return eval_metric_ops' in branch
    assert "eval_metrics = (metric_fn, [labels, predicted, confidence])" in branch
    with tf.Graph().as_default():
        assert set(evaluated(model_fn_of(code, ModeKeys.EVAL))) == {"acc", "confidence"}


@pytest.mark.parametrize("metrics, reported", [
    # read elsewhere than by the spec: it holds (metric_fn, tensors) after the rewrite
    ('eval_metric_ops = {"acc": tf.compat.v1.metrics.accuracy(labels, predicted)}\n'
     '            tf.compat.v1.summary.scalar("acc", eval_metric_ops["acc"][1])', "summary.scalar"),
    # changed where it is not built
    ('eval_metric_ops = {"acc": tf.compat.v1.metrics.accuracy(labels, predicted)}\n'
     '            if params.get("auc"):\n'
     '                eval_metric_ops["auc"] = tf.compat.v1.metrics.auc(labels, predicted)', '["auc"] ='),
    # what the dict reads changes before it is complete
    ('eval_metric_ops = {"acc": tf.compat.v1.metrics.accuracy(labels, predicted)}\n'
     '            predicted = predicted * 0\n'
     '            eval_metric_ops["zero"] = tf.compat.v1.metrics.mean(predicted)', "predicted * 0"),
    # bound by a loop
    ('for eval_metric_ops in [{"acc": tf.compat.v1.metrics.accuracy(labels, predicted)}]:\n'
     '                pass', "for eval_metric_ops"),
])
def test_a_variable_that_cannot_be_followed_is_an_obstacle(metrics, reported):
    source = BRANCHES.format(metrics=metrics)
    result = migrate(source)
    assert ("E2T215", line_of(source, reported)) in codes(result), codes(result)
    assert ("E2T215", line_of(source, "eval_metric_ops=eval_metric_ops")) in codes(result)  # at the spec
    assert "EstimatorSpec(mode=mode" in result.code and "TPUEstimator" not in result.code
    assert "E2T250" in {f.code for f in result.findings}


CHAINED = '''
def model_fn(features, labels, mode, params):
    logits = tf.compat.v1.layers.dense(features, 2)
    predicted = tf.argmax(logits, 1)
    loss = train_op = eval_metric_ops = None
    if mode != tf.estimator.ModeKeys.PREDICT:
        loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
        train_op = tf.compat.v1.train.AdamOptimizer(0.1).minimize(loss)
        {metrics}
    return tf.estimator.EstimatorSpec(mode=mode, predictions={{"class": predicted}}, loss=loss,
                                      train_op=train_op, eval_metric_ops=eval_metric_ops)
'''


def test_metrics_set_to_none_with_the_other_outputs_in_one_statement_move_into_a_metric_fn():
    result = migrate(CHAINED.format(metrics='eval_metric_ops = {"acc": tf.compat.v1.metrics.accuracy(labels, predicted)}'))
    code = result.code
    assert "loss = train_op = eval_metrics = None\n" in code and "eval_metric_ops" not in code
    assert "eval_metrics = (metric_fn, [labels, predicted])" in code
    assert "E2T215" not in {f.code for f in result.findings}
    assert migrate_code(code, style="none").code == code
    with tf.Graph().as_default():
        assert model_fn_of(code, ModeKeys.PREDICT).eval_metrics is None
    with tf.Graph().as_default():
        assert set(evaluated(model_fn_of(code, ModeKeys.EVAL))) == {"acc"}


def test_metrics_bound_with_another_name_to_one_dict_are_an_obstacle():
    source = CHAINED.format(metrics='eval_metric_ops = kept = {"acc": tf.compat.v1.metrics.accuracy(labels, predicted)}')
    result = migrate(source)
    assert ("E2T215", line_of(source, "eval_metric_ops = kept")) in codes(result), codes(result)
    assert "TPUEstimator" not in result.code


def test_a_literal_none_converts_beside_its_sibling_specs():
    source = '''
    def model_fn(features, labels, mode, params):
        logits = tf.compat.v1.layers.dense(features, 2)
        if mode == tf.estimator.ModeKeys.PREDICT:
            return tf.estimator.EstimatorSpec(mode, {"logits": logits}, None, None, None)
        loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
        train_op = tf.compat.v1.train.AdamOptimizer(0.1).minimize(loss)
        return tf.estimator.EstimatorSpec(mode=mode, loss=loss, train_op=train_op, eval_metric_ops=None)
    '''
    result = migrate(source)
    assert 'TPUEstimatorSpec(mode, {"logits": logits}, None, None, eval_metrics=None)' in result.code
    assert "train_op=train_op, eval_metrics=None)" in result.code
    assert not [f for f in result.findings if f.code in ("E2T215", "E2T250")]


# --------------------------------------------------------------------------- metrics from helpers

HELPED = '''
{helpers}

def model_fn(features, labels, mode, params):
    logits = tf.compat.v1.layers.dense(features, 2)
    loss = None
    train_op = None
    eval_metric_ops = None
    if mode == tf.estimator.ModeKeys.TRAIN:
        loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
        train_op = tf.compat.v1.train.AdamOptimizer(0.1).minimize(loss)
    elif mode == tf.estimator.ModeKeys.EVAL:
        {evaluation}
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op, eval_metric_ops=eval_metric_ops)
'''
EVALUATION = '''
def evaluation(labels, logits, with_metrics):
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
    metrics = None
    if with_metrics:
        metrics = {"acc": tf.compat.v1.metrics.accuracy(labels, tf.argmax(logits, 1))}
    return loss, metrics
'''


def test_metrics_a_helper_returns_with_the_loss_move_into_a_metric_fn_in_the_helper():
    result = migrate(HELPED.format(helpers=EVALUATION, evaluation="loss, eval_metric_ops = evaluation(labels, logits, True)"))
    code = result.code
    helper = code[code.index("def evaluation"):code.index("def model_fn")]
    assert "def metric_fn(labels, logits):" in helper and "metrics = (metric_fn, [labels, logits])" in helper
    assert "return loss, metrics" in helper
    assert "loss, eval_metrics = evaluation(labels, logits, True)" in code and "eval_metrics=eval_metrics)" in code
    assert not [f for f in result.findings if f.code in ("E2T215", "E2T234", "E2T250")]
    assert migrate_code(code, style="none").code == code
    with tf.Graph().as_default():
        assert set(evaluated(model_fn_of(code, ModeKeys.EVAL))) == {"acc"}


def test_metrics_a_helper_returns_alone_are_computed_by_calling_it_in_metric_fn():
    helpers = 'def metrics_of(labels, logits):\n    return {"acc": tf.compat.v1.metrics.accuracy(labels, tf.argmax(logits, 1))}\n'
    code = migrate(HELPED.format(helpers=helpers, evaluation="loss = tf.reduce_mean(logits)\n"
                                 "        eval_metric_ops = metrics_of(labels, logits)")).code
    assert "def metric_fn(labels, logits):\n            return metrics_of(labels, logits)" in code
    assert "eval_metrics = (metric_fn, [labels, logits])" in code
    with tf.Graph().as_default():
        assert set(evaluated(model_fn_of(code, ModeKeys.EVAL))) == {"acc"}


@pytest.mark.parametrize("helpers, evaluation, reported", [
    # not a function of the program
    ("from trainer_lib import evaluation\n", "loss, eval_metric_ops = evaluation(labels, logits, True)",
     "= evaluation("),
    # called elsewhere too, where its result is not what model_fn passes on
    (EVALUATION + "\n\ndef report(labels, logits):\n    return evaluation(labels, logits, True)[1]\n",
     "loss, eval_metric_ops = evaluation(labels, logits, True)", "def evaluation"),
    # its returns give the metrics under different names
    (EVALUATION.replace("    return loss, metrics", "    if not with_metrics:\n        return loss, None\n"
                                                    "    return loss, metrics"),
     "loss, eval_metric_ops = evaluation(labels, logits, True)", "def evaluation"),
    # a metric result it returns with the loss, read by model_fn's own metrics
    ("def errors(labels, logits):\n    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)\n"
     "    return loss, tf.compat.v1.metrics.accuracy(labels, tf.argmax(logits, 1))\n",
     'loss, acc = errors(labels, logits)\n        eval_metric_ops = {"acc": acc}', "= errors("),
])
def test_metrics_of_a_helper_that_cannot_be_followed_are_an_obstacle(helpers, evaluation, reported):
    source = HELPED.format(helpers=helpers, evaluation=evaluation)
    result = migrate(source)
    assert ("E2T234", line_of(source, reported)) in codes(result), codes(result)
    assert "E2T250" in {f.code for f in result.findings}
    assert "metric_fn" not in result.code and "TPUEstimator" not in result.code


def test_a_pair_of_model_tensors_made_by_hand_is_an_obstacle():
    """``(value, update_op)`` computed in model_fn would run on the TPU, and be sent at rank 0."""
    evaluation = ("loss = tf.reduce_mean(logits)\n        total = tf.reduce_sum(logits)\n"
                  '        eval_metric_ops = {"total": (total, tf.identity(total))}')
    source = HELPED.format(helpers="", evaluation=evaluation)
    result = migrate(source)
    assert ("E2T215", line_of(source, "(total, tf.identity")) in codes(result) and "metric_fn" not in result.code


# --------------------------------------------------------------------------- Python values the metrics read

VALUES = '''import numpy as np

CLASSES = ["a", "b", "c"]


def tower(features):
    return tf.compat.v1.layers.dense(features, 3), len(CLASSES)


def model_fn(features, labels, mode, params):
    logits, n_classes = tower(features)
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
    {value}
    train_op = tf.compat.v1.train.AdamOptimizer(0.1).minimize(loss)
    metrics = {{"m": {metric}}}
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op, eval_metric_ops=metrics)
'''


@pytest.mark.parametrize("value, metric", [
    ("k = int(params['top_k'])", "tf.compat.v1.metrics.recall_at_k(tf.cast(labels, tf.int64), logits, k=k)"),
    ("n = len(CLASSES)", "tf.compat.v1.metrics.mean_per_class_accuracy(labels, tf.argmax(logits, 1), n)"),
    ("n = params.get('classes', 3)", "tf.compat.v1.metrics.mean_per_class_accuracy(labels, tf.argmax(logits, 1), n)"),
    ("", "tf.compat.v1.metrics.mean_per_class_accuracy(labels, tf.argmax(logits, 1), n_classes)"),
    ("t = np.linspace(0.2, 0.8, 3).tolist()",
     "tf.compat.v1.metrics.precision_at_thresholds(tf.equal(labels, 0), tf.nn.softmax(logits)[:, 0], t)"),
    ("w = {'rare': 3.0, 'common': 1.0}",
     "tf.compat.v1.metrics.accuracy(labels, tf.argmax(logits, 1), weights=w['rare'] * tf.ones_like(logits[:, 0]))"),
])
def test_python_values_the_metrics_read_are_closed_over_not_sent(value, metric):
    code = migrate(VALUES.format(value=value, metric=metric)).code
    assert "def metric_fn(labels, logits):" in code and "eval_metrics=(metric_fn, [labels, logits])" in code
    with tf.Graph().as_default():
        spec = model_fn_of(code, ModeKeys.EVAL, params={"top_k": "2"}, labels=tf.constant([0, 1, 2, 0]))
        assert all(isinstance(t, tf.Tensor) and t.shape.ndims >= 1 for t in spec.eval_metrics[1])
        assert set(evaluated(spec)) == {"m"}


def test_a_tensor_bound_like_a_value_is_still_sent():
    code = migrate(VALUES.format(value="k = tf.reduce_max(labels)", metric="tf.compat.v1.metrics.mean(k)")).code
    assert "def metric_fn(k):" in code and "eval_metrics=(metric_fn, [tf.reshape(k, [1])])" in code


# --------------------------------------------------------------------------- code written halfway to TPUs

HALF = '''
def model_fn(features, labels, mode, params):
    logits = tf.compat.v1.layers.dense(features, 2)
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
    {scaffold}
    train_op = tf.compat.v1.train.AdamOptimizer(0.1).minimize(loss)

    def metric_fn(labels, logits):
        return {{"acc": tf.compat.v1.metrics.accuracy(labels, tf.argmax(logits, 1))}}

    {pair}
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op, eval_metric_ops={given}{extra})
'''


@pytest.mark.parametrize("pair, given, expected", [
    ("tensors = [labels, logits]", "metric_fn(*tensors)", "eval_metrics=(metric_fn, tensors)"),
    ("eval_metrics = (metric_fn, [labels, logits])", "eval_metrics[0](*eval_metrics[1])", "eval_metrics=eval_metrics"),
])
def test_an_existing_metric_fn_called_on_its_tensors_is_passed_as_eval_metrics(pair, given, expected):
    result = migrate(HALF.format(scaffold="", pair=pair, given=given, extra=""))
    assert expected + ")" in result.code and "metric_fn_2" not in result.code
    with tf.Graph().as_default():
        assert set(evaluated(model_fn_of(result.code, ModeKeys.EVAL))) == {"acc"}


@pytest.mark.parametrize("scaffold", [
    "scaffold_fn = None",
    "def scaffold_fn():\n        return tf.compat.v1.train.Scaffold()",
    "def tpu_scaffold():\n        return tf.compat.v1.train.Scaffold()\n"
    "    scaffold_fn = None\n    if params['use_tpu']:\n        scaffold_fn = tpu_scaffold",
])
def test_a_scaffold_function_given_as_scaffold_becomes_scaffold_fn(scaffold):
    result = migrate(HALF.format(scaffold=scaffold, pair="", given="None", extra=", scaffold=scaffold_fn"))
    assert "eval_metrics=None, scaffold_fn=scaffold_fn)" in result.code
    assert "E2T225" not in {f.code for f in result.findings}
    with tf.Graph().as_default():
        spec = model_fn_of(result.code, ModeKeys.TRAIN)
        assert spec.scaffold_fn is None or isinstance(spec.scaffold_fn(), tf.compat.v1.train.Scaffold)


def test_a_scaffold_built_in_model_fn_is_still_reported():
    result = migrate(HALF.format(scaffold="scaffold_fn = tf.compat.v1.train.Scaffold()", pair="", given="None",
                                 extra=", scaffold=scaffold_fn"))
    assert "scaffold_fn=lambda: scaffold_fn" in result.code and "E2T225" in {f.code for f in result.findings}


SWITCH = '''
def model_fn(features, labels, mode, params):
    logits = tf.compat.v1.layers.dense(features, 2, name="dense")
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
    scaffold_fn = None
    if {test}:
        def tpu_scaffold():
            tf.compat.v1.train.init_from_checkpoint(params["ckpt"], {{"dense/": "dense/"}})
            return tf.compat.v1.train.Scaffold()
        scaffold_fn = tpu_scaffold
    else:
        tf.compat.v1.train.init_from_checkpoint(params["ckpt"], {{"dense/": "dense/"}})
    train_op = tf.compat.v1.train.AdamOptimizer(0.1).minimize(loss)
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op, scaffold=scaffold_fn)
'''


@pytest.mark.parametrize("test, note", [
    ('params["use_tpu"]', False), ('params.get("use_tpu")', False), ("FLAGS.use_tpu", True), ("use_tpu", True),
])
def test_a_checkpoint_loaded_in_the_cpu_branch_of_the_programs_own_switch_stays(test, note):
    source = ("FLAGS = None\nuse_tpu = False\n" if not test.startswith("params") else "") + SWITCH.format(test=test)
    result = migrate(source)
    found = {f.code for f in result.findings}
    assert "E2T223" not in found and "E2T110" not in found and ("E2T235" in found) == note
    assert "scaffold_fn=scaffold_fn)" in result.code and "def scaffold_fn" not in result.code


def test_a_checkpoint_loaded_in_the_body_of_an_if_not_use_tpu_stays():
    source = '''
    def model_fn(features, labels, mode, params):
        logits = tf.compat.v1.layers.dense(features, 2, name="dense")
        loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
        scaffold_fn = None
        if not params["use_tpu"]:
            tf.compat.v1.train.init_from_checkpoint(params["ckpt"], {"dense/": "dense/"})
        else:
            def tpu_scaffold():
                tf.compat.v1.train.init_from_checkpoint(params["ckpt"], {"dense/": "dense/"})
                return tf.compat.v1.train.Scaffold()
            scaffold_fn = tpu_scaffold
        train_op = tf.compat.v1.train.AdamOptimizer(0.1).minimize(loss)
        return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op, scaffold=scaffold_fn)
    '''
    result = migrate(source)
    assert not {"E2T223", "E2T235"} & {f.code for f in result.findings}
    assert "scaffold_fn=scaffold_fn)" in result.code


def test_a_batch_size_read_from_params_into_a_local_is_kept_and_lifted():
    source = '''
    def input_fn(params):
        batch_size = params["batch_size"]
        return tf.data.Dataset.range(8).repeat().batch(batch_size=batch_size, drop_remainder=True)


    def model_fn(features, labels, mode, params):
        loss = tf.reduce_sum(tf.compat.v1.layers.dense(tf.cast(features[:, None], tf.float32), 1))
        train_op = tf.compat.v1.train.AdamOptimizer(0.1).minimize(loss)
        return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


    est = tf.estimator.Estimator(model_fn, params={"batch_size": 16})
    est.train(input_fn, max_steps=1)
    '''
    result = migrate(source)
    assert "batch(batch_size=batch_size, drop_remainder=True)" in result.code
    assert "params={}" in result.code and "train_batch_size=16" in result.code
    assert "E2T218" not in {f.code for f in result.findings}


HELPER_MODULE = '''import tensorflow as tf


def evaluation(labels, logits):
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
    results = {"acc": tf.compat.v1.metrics.accuracy(labels, tf.argmax(logits, 1))}
    return loss, results
'''


@pytest.mark.parametrize("written", [True, False])
def test_a_helper_of_another_module_has_its_metrics_moved_there_or_the_estimator_stays(written):
    """The helper's module spells no eval_metric_ops; given to the run only to be read, it
    cannot change, so neither may the estimator (E2T244)."""
    model = HEADER + "from trainer.evaluation import evaluation\n" + HELPED.format(
        helpers="", evaluation="loss, eval_metric_ops = evaluation(labels, logits)") + program("def model_fn")[
        len("def model_fn"):]
    sources = [Source(model, (("/p", "trainer.model"),), "/p/trainer/model.py"),
               Source(HELPER_MODULE, (("/p", "trainer.evaluation"),), "/p/trainer/evaluation.py", write=written)]
    results = migrate_program(sources, style="none")
    if written:
        assert "def metric_fn(labels, logits):" in results[1].code and "return loss, results" in results[1].code
        assert "results = (metric_fn, [labels, logits])" in results[1].code
        assert "eval_metrics=eval_metrics)" in results[0].code
    else:
        assert results[1] is None and results[0].code == model
        left = next(f for f in results[0].findings if f.code == "E2T250")
        assert "E2T244 at /p/trainer/evaluation.py:6" in left.message


def test_a_metric_result_unpacked_into_value_and_update_op_moves_into_metric_fn():
    evaluation = ("loss = tf.reduce_mean(logits)\n"
                  "        acc, acc_op = tf.compat.v1.metrics.accuracy(labels, tf.argmax(logits, 1))\n"
                  '        eval_metric_ops = {"acc": (acc, acc_op)}')
    code = migrate(HELPED.format(helpers="", evaluation=evaluation)).code
    assert "def metric_fn(labels, logits):\n            acc, acc_op = tf.compat.v1.metrics.accuracy(" in code
    assert code.count("acc, acc_op =") == 1 and "eval_metrics = (metric_fn, [labels, logits])" in code
    with tf.Graph().as_default():
        assert set(evaluated(model_fn_of(code, ModeKeys.EVAL))) == {"acc"}


def test_a_tf1_contrib_metric_computed_before_the_dict_moves_into_the_metric_fn_too():
    """``tf.contrib.metrics.f1_score`` gives a (value, update_op) pair like tf.metrics: it is
    computed in metric_fn with the others, not sent to it as if it were a tensor (a TPU
    refuses a pair there)."""
    result = migrate('''
        def model_fn(features, labels, mode):
            logits = tf.compat.v1.layers.dense(features, 2)
            loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
            predicted = tf.argmax(logits, 1)
            f1 = tf.contrib.metrics.f1_score(labels, predicted)
            matrix = tf.contrib.metrics.confusion_matrix(labels, predicted)
            metrics = {"acc": tf.compat.v1.metrics.accuracy(labels, predicted), "f1": f1,
                       "diagonal": tf.compat.v1.metrics.mean(tf.linalg.diag_part(matrix))}
            train_op = tf.compat.v1.train.AdamOptimizer(0.1).minimize(loss)
            return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op, eval_metric_ops=metrics)
        ''')
    metric_fn = result.code[result.code.index("def metric_fn("):result.code.index("return metrics")]
    assert "def metric_fn(labels, predicted, matrix):" in metric_fn  # the confusion matrix is a tensor
    assert "f1 = tf.contrib.metrics.f1_score(labels, predicted)" in metric_fn
    assert "eval_metrics=(metric_fn, [labels, predicted, matrix])" in result.code
