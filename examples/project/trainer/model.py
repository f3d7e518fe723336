"""Wide-and-deep-ish classifier written as an Estimator model_fn."""

import tensorflow.compat.v1 as tf

HIDDEN_UNITS = (32, 16)


def build_network(features, hidden_units, training):
    net = features
    for index, units in enumerate(hidden_units):
        net = tf.layers.dense(
            net, units, activation=tf.nn.relu,
            kernel_initializer=tf.glorot_uniform_initializer(seed=index),
            name="hidden_%d" % index)
        net = tf.layers.dropout(net, rate=0.1, training=training, seed=index)
    return tf.layers.dense(
        net, 2, kernel_initializer=tf.glorot_uniform_initializer(seed=99),
        name="logits")


def model_fn(features, labels, mode, params):
    training = mode == tf.estimator.ModeKeys.TRAIN
    logits = build_network(features["x"], params["hidden_units"], training)
    probabilities = tf.nn.softmax(logits)
    predicted = tf.argmax(logits, axis=1)

    if mode == tf.estimator.ModeKeys.PREDICT:
        return tf.estimator.EstimatorSpec(
            mode, predictions={"class": predicted, "probabilities": probabilities})

    loss = tf.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
    accuracy = tf.metrics.accuracy(labels=labels, predictions=predicted)
    metrics = {"accuracy": accuracy}
    metrics["auc"] = tf.metrics.auc(labels, probabilities[:, 1])
    metrics["mean_loss"] = tf.metrics.mean(loss)
    tf.summary.scalar("accuracy", accuracy[1])

    if mode == tf.estimator.ModeKeys.EVAL:
        return tf.estimator.EstimatorSpec(mode, loss=loss, eval_metric_ops=metrics)

    global_step = tf.train.get_global_step()
    learning_rate = tf.train.exponential_decay(
        params["learning_rate"], global_step, decay_steps=100, decay_rate=0.9)
    train_op = tf.train.AdamOptimizer(learning_rate).minimize(loss, global_step=global_step)
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)
