"""Defects found in review: each test fails without its fix."""

from test_rules import HEADER, migrate

METRICS_FN = HEADER + '''
def model_fn(features, labels, mode, params):
    pred = tf.compat.v1.layers.dense(features, 1)
    loss = tf.compat.v1.losses.mean_squared_error(labels, pred)
{metrics}
    # the spec
    return tf.estimator.EstimatorSpec(mode, loss=loss, eval_metric_ops=metrics)

est = tf.estimator.Estimator(model_fn)
'''


def test_comment_above_moved_metrics_moves_with_them():
    code = migrate(METRICS_FN.format(metrics='''
    # Important: these metrics are reported.
    metrics = {"mse": tf.compat.v1.metrics.mean_squared_error(labels, pred)}  # trailing
''')).code
    assert "    def metric_fn(labels, pred):\n        # Important: these metrics are reported.\n        metrics = {" in code
    assert code.count("# the spec") == 1 and "    # the spec\n    return " in code


def test_fmt_off_region_moves_whole_into_metric_fn():
    code = migrate(METRICS_FN.format(metrics='''
    # fmt: off
    metrics = {"mse" :   tf.compat.v1.metrics.mean_squared_error(labels, pred)}
    # fmt: on
''')).code
    assert ('''        # fmt: off
        metrics = {"mse" :   tf.compat.v1.metrics.mean_squared_error(labels, pred)}
        # fmt: on
        return metrics
''') in code
    assert code.count("# fmt: off") == code.count("# fmt: on") == 1


def test_comments_above_summaries_move_into_host_call():
    code = migrate(HEADER + '''
def model_fn(features, labels, mode, params):
    logits = tf.compat.v1.layers.dense(features, 2)
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)

    # the loss curve
    tf.compat.v1.summary.scalar("loss2", loss)
    # doubled
    tf.compat.v1.summary.scalar("loss3", loss * 2)
    train_op = tf.compat.v1.train.AdamOptimizer(0.1).minimize(loss)
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)

est = tf.estimator.Estimator(model_fn)
''').code
    assert '''            # the loss curve
            tf.compat.v2.summary.scalar("loss2", loss2[0], step=global_step[0])
            # doubled
            tf.compat.v2.summary.scalar("loss3", loss3[0], step=global_step[0])''' in code
    assert code.count("# the loss curve") == code.count("# doubled") == 1
