"""Audit findings on eval metrics, host_calls and the specs they go to, each with the
program that showed it: migrated, its model_fn is built (and run, where it matters)."""

import inspect

import pytest

from est2tpu.codemods.base import RULES
from test_rules import HEADER, codes, migrate

tf = pytest.importorskip("tensorflow")
ModeKeys = tf.estimator.ModeKeys

# Metrics built in a loop cannot move (E2T215): the spec stays an EstimatorSpec.
KEPT_SPEC = HEADER + '''
def model_fn(features, labels, mode, params):
    logits = tf.compat.v1.layers.dense(features, 2)
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
    {extra}
    train_op = None
    if mode == tf.estimator.ModeKeys.TRAIN:
        train_op = tf.compat.v1.train.AdamOptimizer().minimize(
            loss, global_step=tf.compat.v1.train.get_global_step())
    metrics = {{}}
    for k in (1, 2):
        metrics[f"top_{{k}}"] = tf.compat.v1.metrics.mean(tf.compat.v1.nn.in_top_k(logits, labels, k))
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op, eval_metric_ops=metrics)


est = tf.estimator.Estimator(model_fn=model_fn)
'''


def model_fn_of(code, mode, params=None, batch=4, **inputs):
    """Build the ``model_fn`` of migrated ``code`` in a new graph, in ``mode``; its spec."""
    namespace = {}
    exec(compile(code, "<migrated>", "exec"), namespace)
    model_fn = namespace["model_fn"]
    features = inputs.get("features", tf.ones([batch, 3]))
    labels = inputs.get("labels", tf.zeros([batch], tf.int32))
    tf.compat.v1.train.get_or_create_global_step()
    extra = {"config": tf.compat.v1.estimator.tpu.RunConfig(model_dir="/tmp/unused")} \
        if "config" in inspect.signature(model_fn).parameters else {}
    return model_fn(features=features, labels=labels, mode=mode, params=dict(params or {}, use_tpu=False), **extra)


@pytest.mark.parametrize("extra, moved, kept", [
    ('tf.compat.v1.summary.scalar("l", loss)', "host_call", "E2T207"),
    ('tf.compat.v1.train.init_from_checkpoint("/ckpt", {"dense/": "dense/"})', "scaffold_fn", "E2T223"),
])
def test_a_spec_whose_metrics_stay_gets_no_tpu_argument(extra, moved, kept):
    """It stays an EstimatorSpec, which takes neither host_call nor scaffold_fn, and so does its
    estimator: the summary (the checkpoint load) stays too; the model_fn builds its specs."""
    result = migrate(KEPT_SPEC.format(extra=extra))
    assert "return tf.estimator.EstimatorSpec(" in result.code and moved not in result.code
    assert {("E2T215", 15), ("E2T250", 18)} <= set(codes(result))
    assert (kept, 7) in codes(result) or not RULES[kept].blocking  # a note on a rewrite not made goes
    assert migrate(result.code).code == result.code
    if moved == "host_call":
        with tf.Graph().as_default():
            for mode in (ModeKeys.TRAIN, ModeKeys.EVAL):
                assert isinstance(model_fn_of(result.code, mode), tf.estimator.EstimatorSpec)


LOSSES = HEADER + '''
def model_fn(features, labels, mode, params):
    logits = tf.compat.v1.layers.dense(features, 2)
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
    per_ex = tf.compat.v1.losses.sparse_softmax_cross_entropy(
        labels, logits, reduction=tf.compat.v1.losses.Reduction.NONE)
    per_ex_v1 = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits, 1.0, None, "c", "none")
    summed = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits, reduction=tf.compat.v1.losses.Reduction.SUM)
    default = tf.compat.v1.losses.mean_squared_error(tf.one_hot(labels, 2), logits)
    total = tf.add_n([summed, tf.nn.l2_loss(logits)])
    unsure = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits, reduction=params["reduction"])
    train_op = tf.compat.v1.train.AdamOptimizer().minimize(loss)
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op, eval_metric_ops={
        "per_ex": tf.compat.v1.metrics.mean(per_ex), "per_ex_v1": tf.compat.v1.metrics.mean(per_ex_v1),
        "summed": tf.compat.v1.metrics.mean(summed), "default": tf.compat.v1.metrics.mean(default),
        "total": tf.compat.v1.metrics.mean(total), "unsure": tf.compat.v1.metrics.mean(unsure)})


est = tf.estimator.Estimator(model_fn=model_fn)
'''


def test_only_losses_with_a_scalar_reduction_are_reshaped():
    """Reduction.NONE gives one loss per element, sent as it is (reshaped to [1] it did
    not build: 'Cannot reshape a tensor with 4 elements to shape [1]'); a reduction that
    cannot be told is sent as it is too, reported."""
    result = migrate(LOSSES)
    assert "[per_ex,per_ex_v1,tf.reshape(summed,[1]),tf.reshape(default,[1]),tf.reshape(total,[1]),unsure,]" \
        in "".join(result.code.split())
    assert ("E2T232", 13) in codes(result)
    with tf.Graph().as_default():
        spec = model_fn_of(result.code, ModeKeys.EVAL, params={"reduction": "none"})
        _, tensors = spec.eval_metrics
        assert [t.shape.as_list() for t in tensors] == [[4], [4], [1], [1], [1], [4]]


SCALARS = HEADER + '''
def model_fn(features, labels, mode, params):
    logits = tf.compat.v1.layers.dense(features, 2)
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
    global_step = tf.compat.v1.train.get_global_step()
    lr = tf.compat.v1.train.polynomial_decay(0.5, global_step, 100, 0.05)
    steps = tf.cast(global_step, tf.float32)
    boundary = tf.identity(tf.compat.v1.train.piecewise_constant(global_step, [10], [1.0, 0.5]))
    created = tf.compat.v1.to_float(tf.compat.v1.train.get_or_create_global_step())
    total = tf.reduce_sum(logits)
    train_op = tf.compat.v1.train.GradientDescentOptimizer(lr).minimize(loss, global_step=global_step)
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op, eval_metric_ops={
        "lr": tf.compat.v1.metrics.mean(lr), "gs": tf.compat.v1.metrics.mean(tf.cast(global_step, tf.float32)),
        "steps": tf.compat.v1.metrics.mean(steps), "boundary": tf.compat.v1.metrics.mean(boundary),
        "created": tf.compat.v1.metrics.mean(created), "total": tf.compat.v1.metrics.mean(total)})


est = tf.estimator.Estimator(model_fn=model_fn)
'''


def test_every_scalar_sent_to_metric_fn_keeps_a_batch_dimension():
    """Schedules, the global step and casts of either are scalars like the loss: on a TPU,
    sent at rank 0, 'All tensors outfed from TPU should preserve batch size dimension'."""
    code = migrate(SCALARS).code
    assert migrate(code).code == code
    with tf.Graph().as_default():
        metric_fn, tensors = model_fn_of(code, ModeKeys.EVAL).eval_metrics
        assert len(tensors) == 6
        for tensor in tensors:
            assert tensor.shape.ndims is not None and tensor.shape.ndims >= 1, tensor
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            metrics = metric_fn(*tensors)
            session.run(tf.compat.v1.local_variables_initializer())
            session.run([update for _, update in metrics.values()])
            values = session.run({key: value for key, (value, _) in metrics.items()})
        assert values["lr"] == pytest.approx(0.5) and values["gs"] == values["steps"] == values["created"] == 0
        assert values["boundary"] == 1.0


EVERY_MODE = HEADER + '''import numpy as np
{imports}

def input_fn():
    x = np.arange(32, dtype=np.float32).reshape(8, 4) / 32
    return tf.data.Dataset.from_tensor_slices((x, np.arange(8) % 2)).repeat().batch(2)


def model_fn(features, labels, mode):
    logits = tf.compat.v1.layers.dense(features, 2, kernel_initializer=tf.compat.v1.glorot_uniform_initializer(seed=1))
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
    {early}
    tf.compat.v1.summary.scalar("xent", loss)
    train_op = tf.compat.v1.train.GradientDescentOptimizer(0.1).minimize(
        loss, global_step=tf.compat.v1.train.get_global_step())
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op,
                                      eval_metric_ops={{"xent": tf.compat.v1.metrics.mean(loss)}})


def run(model_dir):
    est = tf.estimator.Estimator(model_fn=model_fn, model_dir=model_dir)
    est.train(input_fn, steps=4)
    est.evaluate(input_fn, steps=2)
'''


def _summary_steps(model_dir, tag):
    from tensorflow.core.util import event_pb2

    return sorted(event.step for path in tf.io.gfile.glob(f"{model_dir}/events.out.tfevents.*")
                  for event in map(event_pb2.Event.FromString, tf.compat.v1.io.tf_record_iterator(path))
                  for value in event.summary.value if value.tag == tag)


def test_the_host_call_writes_training_summaries_only(tmp_path):
    """A spec returned in every mode gets its host_call in training only: in evaluation it
    wrote the eval batches' losses into the training curve (4 training steps, then 2 points
    at step 4)."""
    code = migrate(EVERY_MODE.format(imports="", early="")).code
    assert "if mode == tf.estimator.ModeKeys.TRAIN\n            else None" in code
    assert migrate(code).code == code
    namespace = {}
    exec(compile(code, "<migrated>", "exec"), namespace)
    namespace["run"](str(tmp_path))
    # one point per training step; its step is read in the same run as the step's increment,
    # before or after it (0..3 or 1..4): only the count tells the eval points apart
    steps = _summary_steps(tmp_path, "xent")
    assert len(steps) == 4 and max(steps) <= 4, steps


@pytest.mark.parametrize("imports, early, condition", [
    ("from tensorflow.estimator import ModeKeys", "", "if mode == ModeKeys.TRAIN"),
    ("", "if mode == tf.estimator.ModeKeys.PREDICT:\n        return tf.estimator.EstimatorSpec(mode, {})", "if mode"),
    ("", "if mode != tf.estimator.ModeKeys.TRAIN:\n        return tf.estimator.EstimatorSpec(mode, loss=loss)", None),
    ("", "if mode == 'infer':\n        return tf.estimator.EstimatorSpec(mode, {})\n"
         "    if mode == tf.compat.v1.estimator.ModeKeys.EVAL:\n        return tf.estimator.EstimatorSpec(mode, loss=loss)",
     None),
])
def test_the_host_call_condition_follows_the_file(imports, early, condition):
    """Spelled as the file spells ModeKeys; none when earlier returns leave only TRAIN."""
    code = migrate(EVERY_MODE.format(imports=imports, early=early)).code
    assert "host_call=(" in code
    if condition is None:
        assert "else None" not in code
    else:
        assert condition in code and "else None" in code
