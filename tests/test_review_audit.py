"""Defects found in review: each test fails without its fix."""

from test_rules import DEFINED, HEADER, migrate

METRICS_FN = HEADER + '''
def model_fn(features, labels, mode, params):
    pred = tf.compat.v1.layers.dense(features, 1)
    loss = tf.compat.v1.losses.mean_squared_error(labels, pred)
{metrics}
    # the spec
    return tf.estimator.EstimatorSpec(mode, loss=loss, eval_metric_ops=metrics)

est = tf.estimator.Estimator(model_fn)
est.train(input_fn, steps=1)
''' + DEFINED


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
est.train(input_fn, steps=1)
''' + DEFINED).code
    assert '''            # the loss curve
            tf.compat.v2.summary.scalar("loss2", loss2[0], step=global_step[0])
            # doubled
            tf.compat.v2.summary.scalar("loss3", loss3[0], step=global_step[0])''' in code
    assert code.count("# the loss curve") == code.count("# doubled") == 1



def test_model_fn_as_instance_of_a_class_here_is_resolved():
    result = migrate(HEADER + '''
class Model:
    def __init__(self, units=5):
        self.units = units

    def __call__(self, features, labels, mode):
        return tf.estimator.EstimatorSpec(mode, loss=tf.reduce_sum(features) * self.units)


ests = [tf.estimator.Estimator(model_fn=Model(units=u)) for u in (4, 6)]
for est in ests:
    est.train(input_fn, steps=1)
''' + DEFINED)
    assert "E2T212" not in codes_of(result)
    assert "def __call__(self, features, labels, mode, params):" in result.code


def test_static_and_class_method_model_fns_are_resolved():
    result = migrate(HEADER + '''
class Zoo:
    @staticmethod
    def linear_fn(features, labels, mode):
        return tf.estimator.EstimatorSpec(mode, loss=tf.reduce_sum(features))

    @classmethod
    def build(cls):
        return tf.estimator.Estimator(cls.linear_fn)


a = Zoo.build()
b = tf.estimator.Estimator(Zoo.linear_fn)
a.train(input_fn, steps=1)
b.train(input_fn, steps=1)
''' + DEFINED)
    assert "E2T212" not in codes_of(result)
    assert "def linear_fn(features, labels, mode, params):" in result.code


def test_comprehension_over_model_fns_resolves_each():
    result = migrate(HEADER + '''
def fn1(features, labels, mode):
    return tf.estimator.EstimatorSpec(mode, loss=tf.reduce_sum(features))


def fn2(features, labels, mode):
    return tf.estimator.EstimatorSpec(mode, loss=tf.reduce_sum(features) * 2)


ests = [tf.estimator.Estimator(model_fn=f) for f in (fn1, fn2)]
for est in ests:
    est.train(input_fn, steps=1)
''' + DEFINED)
    assert "E2T212" not in codes_of(result)
    assert result.code.count("(features, labels, mode, params):") == 2


def test_comprehension_over_unknown_sequence_says_so():
    result = migrate(HEADER + "ests = [tf.estimator.Estimator(model_fn=f) for f in FNS]\n")
    assert [f.message for f in result.findings if f.code == "E2T212"] == [
        "model_fn f is each value of a sequence not spelled out in this file"]


def codes_of(result):
    return [f.code for f in result.findings]


def test_comprehension_over_model_fns_moves_each_ones_summaries():
    fn = '''
def {name}(features, labels, mode):
    loss = tf.reduce_sum(tf.compat.v1.layers.dense(features, 1))
    tf.compat.v1.summary.scalar("loss2", loss)
    train_op = tf.compat.v1.train.AdamOptimizer(0.1).minimize(loss)
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)
'''
    result = migrate(HEADER + fn.format(name="fn1") + fn.format(name="fn2")
                     + "\nests = [tf.estimator.Estimator(model_fn=f) for f in (fn1, fn2)]\n"
                     "for est in ests:\n    est.train(input_fn, steps=1)\n" + DEFINED)
    assert result.code.count("def host_call(") == 2 and "E2T207" not in codes_of(result)


def test_optimizer_on_a_shared_line_is_reported_where_it_is_created():
    result = migrate(HEADER + '''
def model_fn(features, labels, mode, params):
    loss = tf.reduce_sum(tf.compat.v1.layers.dense(features, 1))
    opt = tf.compat.v1.train.AdamOptimizer(0.1) ; step = tf.compat.v1.train.get_global_step()
    return tf.estimator.EstimatorSpec(mode, loss=loss,
                                      train_op=opt.minimize(loss, global_step=step))

est = tf.estimator.Estimator(model_fn)
''')
    assert [(f.line, f.col) for f in result.findings if f.code == "E2T214"] == [(6, 11)]


def test_inline_optimizer_gets_a_fresh_name_beside_a_variable_named_optimizer():
    result = migrate(HEADER + '''
def model_fn(features, labels, mode, params):
    optimizer = params.get("optimizer", "sgd")
    loss = tf.reduce_sum(tf.compat.v1.layers.dense(features, 1))
    train_op = tf.compat.v1.train.GradientDescentOptimizer(0.1).minimize(loss)
    tf.compat.v1.logging.info("optimizer was %s", optimizer)
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)

est = tf.estimator.Estimator(model_fn)
est.train(input_fn, steps=1)
''' + DEFINED)
    assert "E2T214" not in codes_of(result)
    assert '''    optimizer_2 = tf.compat.v1.train.GradientDescentOptimizer(0.1)
    if params["use_tpu"]:
        optimizer_2 = tf.compat.v1.tpu.CrossShardOptimizer(optimizer_2)
    train_op = optimizer_2.minimize(loss)
    tf.compat.v1.logging.info("optimizer was %s", optimizer)''' in result.code
