"""optimize_loss / create_train_op get a CrossShardOptimizer on a TPU (E2T113), or keep
their estimator (E2T214).  Their TPU graphs are checked on fixtures/train_op_builders.py
(tests/test_tpu_rules.py, tests/test_verify_migrated.py)."""

import pytest

from est2tpu.codemods.base import Options
from est2tpu.codemods.migrate import migrate_code
from test_rules import HEADER, codes, program

MODEL_FN = HEADER + '''def model_fn(features, labels, mode, params):
    loss = tf.reduce_mean(tf.compat.v1.layers.dense(features, 1))
    {body}
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)
'''


def migrate(body, **options):
    return migrate_code(program(MODEL_FN.format(body=body)), Options(**options), style="none")


def one_line(code):
    return " ".join(code.split()).replace("( ", "(").replace(" )", ")")


@pytest.mark.parametrize("optimizer, tpu", [
    ('"Adam"', "tf.compat.v1.tpu.CrossShardOptimizer(tf.compat.v1.train.AdamOptimizer(0.01))"),
    ('"SGD"', "tf.compat.v1.tpu.CrossShardOptimizer(tf.compat.v1.train.GradientDescentOptimizer(0.01))"),
    ('"Momentum"', "tf.compat.v1.tpu.CrossShardOptimizer(tf.compat.v1.train.MomentumOptimizer(0.01, momentum=0.9))"),
    ("tf.compat.v1.train.AdagradOptimizer",
     "tf.compat.v1.tpu.CrossShardOptimizer(tf.compat.v1.train.AdagradOptimizer(0.01))"),
])
def test_optimize_loss_by_name_or_class_gets_the_optimizer_it_stands_for_on_a_tpu(optimizer, tpu):
    result = migrate("train_op = tf.contrib.layers.optimize_loss(\n        loss, tf.compat.v1.train.get_global_step(),"
                     f" learning_rate=0.01, optimizer={optimizer})")
    assert f'optimizer=({tpu} if params["use_tpu"] else {optimizer})' in one_line(result.code)
    assert 'summaries=([] if params["use_tpu"] else None)' in result.code
    assert "E2T214" not in dict(codes(result)) and "E2T250" not in dict(codes(result))
    assert migrate_code(result.code).code == result.code


def test_a_decayed_learning_rate_is_the_one_optimize_loss_computes():
    result = migrate("train_op = tf.contrib.layers.optimize_loss(loss, None, 0.1, 'Adam', learning_rate_decay_fn=decay)")
    assert ('(lambda lr: tf.compat.v1.tpu.CrossShardOptimizer(tf.compat.v1.train.AdamOptimizer(lr))) '
            'if params["use_tpu"] else \'Adam\'') in one_line(result.code)


def test_an_optimizer_built_in_the_call_is_named_and_wrapped_first():
    result = migrate("train_op = tf.contrib.training.create_train_op(loss, tf.compat.v1.train.AdamOptimizer(0.1))")
    assert ("optimizer = tf.compat.v1.train.AdamOptimizer(0.1)\n    if params[\"use_tpu\"]:\n"
            "        optimizer = tf.compat.v1.tpu.CrossShardOptimizer(optimizer)\n"
            "    train_op = tf.contrib.training.create_train_op(loss, optimizer)") in result.code


def test_an_optimizer_named_in_model_fn_is_wrapped_where_it_is_built():
    result = migrate("opt = tf.compat.v1.train.AdamOptimizer(0.1)\n"
                     "    train_op = tf.contrib.layers.optimize_loss(loss, None, None, optimizer=opt)")
    assert "        opt = tf.compat.v1.tpu.CrossShardOptimizer(opt)\n" in result.code
    assert "optimizer=opt, summaries=(" in result.code and result.code.count("CrossShardOptimizer") == 1


def test_the_tf1_target_spells_contrib_and_tf_train():
    result = migrate("train_op = tf.contrib.layers.optimize_loss(loss, None, 0.01, 'Adam')", target="tf1")
    assert "tf.contrib.tpu.CrossShardOptimizer(tf.train.AdamOptimizer(0.01))" in one_line(result.code)


def test_clipped_gradients_are_noted_per_shard():
    result = migrate("train_op = tf.contrib.layers.optimize_loss(loss, None, 0.01, 'Adam', clip_gradients=5.0)")
    assert "E2T226" in dict(codes(result)) and "CrossShardOptimizer" in result.code


@pytest.mark.parametrize("body, problem", [
    ("train_op = tf.contrib.layers.optimize_loss(loss, None, 0.01, params['optimizer'])",
     "its optimizer is not a name, class or instance"),
    ("train_op = tf.contrib.layers.optimize_loss(loss, None, 0.01, opt_name)", "opt_name is not known here"),
    ("train_op = [tf.contrib.training.create_train_op(loss, tf.compat.v1.train.AdamOptimizer(0.1)) for _ in '1'][0]",
     "where it cannot be given a name"),
])
def test_an_optimizer_that_cannot_be_wrapped_keeps_the_estimator(body, problem):
    result = migrate(body)
    messages = [f.message for f in result.findings if f.code == "E2T214"]
    assert len(messages) == 1 and problem in messages[0]
    assert "E2T250" in dict(codes(result)) and "TPUEstimator" not in result.code


def test_a_train_op_built_in_a_helper_of_model_fn_keeps_the_estimator():
    source = HEADER + '''def build_train_op(loss, hparams):
    return tf.contrib.layers.optimize_loss(loss, None, hparams["learning_rate"], "Adam")


def model_fn(features, labels, mode, params):
    loss = tf.reduce_mean(tf.compat.v1.layers.dense(features, 1))
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=build_train_op(loss, params))
'''
    result = migrate_code(program(source), style="none")
    assert [(f.code, f.line) for f in result.findings if f.code == "E2T214"] == [("E2T214", 4)]
    assert "E2T250" in dict(codes(result)) and "TPUEstimator" not in result.code


def test_an_optimizer_already_wrapped_is_left_as_it_is():
    result = migrate("train_op = tf.contrib.layers.optimize_loss(loss, None, None, "
                     "tf.compat.v1.tpu.CrossShardOptimizer(tf.compat.v1.train.AdamOptimizer(0.1)))")
    assert result.code.count("CrossShardOptimizer") == 1 and "E2T214" not in dict(codes(result))


def test_a_helper_given_model_fns_params_gets_the_cross_shard_optimizer_itself():
    source = HEADER + '''def build_train_op(loss, params):
    return tf.contrib.layers.optimize_loss(loss, None, params["learning_rate"], "Adam")


def model_fn(features, labels, mode, params):
    loss = tf.reduce_mean(tf.compat.v1.layers.dense(features, 1))
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=build_train_op(loss, params))
'''
    result = migrate_code(program(source), style="none")
    assert 'CrossShardOptimizer(tf.compat.v1.train.AdamOptimizer(params["learning_rate"]))' in one_line(result.code)
    assert "E2T214" not in dict(codes(result)) and "TPUEstimator(" in result.code


def test_a_train_op_helper_chosen_from_a_dict_keeps_the_estimator():
    source = HEADER + '''def dense_model(loss, params):
    return tf.contrib.layers.optimize_loss(loss, None, params["learning_rate"], "Adam")


def model_fn(features, labels, mode, params):
    loss = tf.reduce_mean(tf.compat.v1.layers.dense(features, 1))
    models = {"dense": dense_model}
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=models[params["kind"]](loss, params))
'''
    result = migrate_code(program(source), style="none")
    assert ("E2T214", 4) in codes(result) and "TPUEstimator(" not in result.code
