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
