"""A compiled Keras model trained through the Estimator API."""

import numpy as np
import tensorflow as tf

BATCH_SIZE = 32


def dataset(rows, seed, batch_size):
    rng = np.random.RandomState(seed)
    x = rng.normal(size=(rows, 8)).astype(np.float32)
    y = (x.sum(axis=1, keepdims=True) > 0).astype(np.float32)
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)


def main():
    keras_model = tf.keras.Sequential([
        tf.keras.layers.Dense(16, activation="relu", input_shape=(8,)),
        tf.keras.layers.Dense(1, activation="sigmoid"),
    ])
    keras_model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    estimator = tf.keras.estimator.model_to_estimator(keras_model=keras_model)
    estimator.train(input_fn=lambda: dataset(512, 0, BATCH_SIZE).repeat(), steps=100)
    print(estimator.evaluate(input_fn=lambda: dataset(128, 1, BATCH_SIZE), steps=4))


if __name__ == "__main__":
    main()
