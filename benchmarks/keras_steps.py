"""Training speed on the CPU: Keras' model_to_estimator vs est2tpu.model_to_estimator.

Both estimators train the same compiled Keras model on the same data.  Each run
is one ``train`` call; its first ``--warmup`` steps (graph building, session
start, first runs) are excluded, and the steps/s of the rest is recorded.  The
two estimators take turns (in alternating order), ``--repeats`` times each; the
medians are printed with their ratio (target: est2tpu / Keras >= 0.95).

    python benchmarks/keras_steps.py [--steps 1000] [--warmup 50] [--repeats 9]

On a shared machine the figures of single runs vary a lot; compare the medians.
"""

import argparse
import statistics
import tempfile
import time

import numpy as np
import tensorflow as tf

import est2tpu

BATCH = 128
FEATURES = 32


class _StepTimes(tf.estimator.SessionRunHook):
    """Records when each training step ends."""

    def begin(self):
        self.times = []

    def after_run(self, run_context, run_values):
        self.times.append(time.perf_counter())


def _model():
    tf.keras.utils.set_random_seed(0)
    model = tf.keras.Sequential(
        [
            tf.keras.Input((FEATURES,)),
            tf.keras.layers.Dense(128, activation="relu"),
            tf.keras.layers.Dense(128, activation="relu"),
            tf.keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile(
        tf.keras.optimizers.legacy.Adam(1e-3),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def _dataset(batch_size):
    rng = np.random.RandomState(0)
    features = rng.rand(4096, FEATURES).astype("float32")
    labels = rng.randint(0, 10, (4096, 1)).astype("int32")
    return (
        tf.data.Dataset.from_tensor_slices((features, labels))
        .repeat()
        .batch(batch_size, drop_remainder=True)
    )


def _steps_per_second(estimator, input_fn, steps, warmup):
    """Steps/s of one ``train`` call, its first ``warmup`` steps excluded."""
    timer = _StepTimes()
    estimator.train(input_fn, steps=warmup + steps, hooks=[timer])
    measured = timer.times[warmup:]
    return (len(measured) - 1) / (measured[-1] - measured[0])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=9)
    args = parser.parse_args()
    tf.get_logger().setLevel("ERROR")

    model = _model()
    estimators = {
        "est2tpu": (
            est2tpu.model_to_estimator(
                model,
                model_dir=tempfile.mkdtemp(),
                use_tpu=False,
                train_batch_size=BATCH,
            ),
            lambda params: _dataset(params["batch_size"]),
        ),
        "keras": (
            tf.keras.estimator.model_to_estimator(model, model_dir=tempfile.mkdtemp()),
            lambda: _dataset(BATCH),
        ),
    }
    runs = {name: [] for name in estimators}
    for repeat in range(args.repeats):
        order = list(estimators) if repeat % 2 else list(estimators)[::-1]
        for name in order:
            estimator, input_fn = estimators[name]
            runs[name].append(
                _steps_per_second(estimator, input_fn, args.steps, args.warmup)
            )

    medians = {name: statistics.median(values) for name, values in runs.items()}
    for name, values in runs.items():
        print(
            f"{name:8s} {medians[name]:8.1f} steps/s (median of {len(values)}: "
            + ", ".join(f"{v:.1f}" for v in values)
            + ")"
        )
    ratio = medians["est2tpu"] / medians["keras"]
    print(f"ratio est2tpu/keras: {ratio:.3f} (target >= 0.95)")


if __name__ == "__main__":
    main()
