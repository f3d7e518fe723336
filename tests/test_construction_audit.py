"""Defects found by the construction audit: each test fails without its fix."""

from test_rules import HEADER, codes, migrate


def test_a_match_statement_is_walked_like_other_compound_statements():
    result = migrate(HEADER + '''
def model_fn(features, labels, mode):
    match mode:
        case "train":
            optimizer = tf.compat.v1.train.AdamOptimizer(0.1)
        case _:
            optimizer = None
    loss = tf.reduce_sum(features)
    train_op = optimizer.minimize(loss)
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)

est = tf.estimator.Estimator(model_fn)
''')
    assert "optimizer = tf.compat.v1.tpu.CrossShardOptimizer(optimizer)" in result.code
    assert "E2T214" not in [code for code, _ in codes(result)]


MODEL_FN = '''
def model_fn(features, labels, mode):
    loss = tf.reduce_sum(features)
    return tf.estimator.EstimatorSpec(mode, loss=loss)
'''


def _keywords(code, func):
    import ast

    call = next(n for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Call) and ast.unparse(n.func).endswith(func))
    return [k.arg for k in call.keywords]


def test_a_config_in_a_known_keyword_mapping_is_not_passed_twice():
    result = migrate(HEADER + MODEL_FN + '''
kw = dict(model_fn=model_fn, config=tf.estimator.RunConfig(tf_random_seed=1))
est = tf.estimator.Estimator(**kw)
late = tf.estimator.Estimator(**{"model_fn": model_fn}, config=tf.estimator.RunConfig())
''')
    assert _keywords(result.code, "TPUEstimator").count("config") == 0  # kw holds it
    assert "kw = dict(\n    model_fn=model_fn,\n    config=tf.compat.v1.estimator.tpu.RunConfig(" in result.code
    assert "**{\"model_fn\": model_fn},\n    config=tf.compat.v1.estimator.tpu.RunConfig(" in result.code
    assert result.code.count(" config=") == 2


def test_an_unknown_keyword_mapping_is_reported_and_left():
    source = HEADER + MODEL_FN + '''
est = tf.estimator.Estimator(**make_kwargs())
kw = dict(model_fn=model_fn)
kw["config"] = tf.estimator.RunConfig()
other = tf.estimator.Estimator(**kw)
'''
    result = migrate(source)
    assert ("E2T228", 8) in codes(result) and ("E2T228", 11) in codes(result)
    assert "tf.estimator.Estimator(**make_kwargs())" in result.code
    assert "tf.estimator.Estimator(**kw)" in result.code
    assert [code for code, _ in codes(migrate(result.code))] == ["E2T228", "E2T228"]  # on every run
