"""Train and evaluate the classifier: python -m trainer.task --model-dir DIR."""

import argparse

import numpy as np
import tensorflow.compat.v1 as tf

from trainer import model

TRAIN_ROWS, EVAL_ROWS = 1024, 256


def synthetic(rows, seed):
    rng = np.random.RandomState(seed)
    x = rng.normal(size=(rows, 8)).astype(np.float32)
    y = (x[:, :4].sum(axis=1) > 0).astype(np.int32)
    return {"x": x}, y


def make_input_fn(rows, seed, batch_size, training):
    def input_fn():
        features, labels = synthetic(rows, seed)
        dataset = tf.data.Dataset.from_tensor_slices((features, labels))
        if training:
            dataset = dataset.shuffle(rows, seed=seed).repeat()
        return dataset.batch(batch_size)
    return input_fn


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", default="/tmp/est2tpu-example")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--train-steps", type=int, default=200)
    args = parser.parse_args(argv)

    config = tf.estimator.RunConfig(
        model_dir=args.model_dir, save_checkpoints_steps=100, tf_random_seed=1)
    estimator = tf.estimator.Estimator(
        model_fn=model.model_fn, config=config,
        params={"hidden_units": model.HIDDEN_UNITS, "learning_rate": 0.01})

    train_spec = tf.estimator.TrainSpec(
        input_fn=make_input_fn(TRAIN_ROWS, 1, args.batch_size, training=True),
        max_steps=args.train_steps)
    eval_spec = tf.estimator.EvalSpec(
        input_fn=make_input_fn(EVAL_ROWS, 2, args.batch_size, training=False),
        steps=EVAL_ROWS // args.batch_size, throttle_secs=0)
    metrics, _ = tf.estimator.train_and_evaluate(estimator, train_spec, eval_spec)
    print({k: float(v) for k, v in metrics.items()})


if __name__ == "__main__":
    main()
