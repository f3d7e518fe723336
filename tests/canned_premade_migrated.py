"""fixtures/canned_premade.py migrated by hand, as the canned-estimator codemod must write it.

The canned constructors become est2tpu's (same arguments, plus the batch sizes lifted
from the input_fns), the RunConfigs TPU RunConfigs (E2T105, as for any estimator; a
plain RunConfig would be converted by est2tpu too), the input_fns take params and
batch by params["batch_size"], training and evaluation dropping the remainder.
tests/test_canned_runtime.py runs both programs and demands the same numbers.
"""
import tempfile

import numpy as np
import tensorflow as tf
import est2tpu

CSV_COLUMN_NAMES = ["SepalLength", "SepalWidth", "PetalLength", "PetalWidth"]
SPECIES = ["Setosa", "Versicolor", "Virginica"]
BATCH_SIZE = 16
TRAIN_STEPS = 30


def load_data(rows, seed):
    """Measurements per species around made-up centres, and the species ids."""
    rng = np.random.RandomState(seed)
    species = rng.randint(0, 3, rows)
    centres = np.array([[5.0, 3.4, 1.5, 0.2], [5.9, 2.8, 4.3, 1.3], [6.6, 3.0, 5.6, 2.0]])
    values = centres[species] + rng.normal(0, 0.3, (rows, 4))
    features = {name: values[:, i].astype(np.float32) for i, name in enumerate(CSV_COLUMN_NAMES)}
    features["Weight"] = rng.uniform(0.5, 1.5, rows).astype(np.float32)
    return features, species.astype(np.int32)


def input_fn(features, labels, training=True, batch_size=256):
    """An input function for training or evaluating."""
    dataset = tf.data.Dataset.from_tensor_slices((dict(features), labels))
    if training:
        dataset = dataset.shuffle(1000, seed=7).repeat()
    return dataset.batch(batch_size, drop_remainder=True)


def predict_input_fn(features, batch_size=256):
    """An input function for prediction."""
    return tf.data.Dataset.from_tensor_slices(dict(features)).batch(batch_size)


def run(model_dir):
    train, train_y = load_data(240, seed=0)
    test, test_y = load_data(64, seed=1)

    my_feature_columns = []
    for key in CSV_COLUMN_NAMES:
        my_feature_columns.append(tf.feature_column.numeric_column(key=key))
    petal_length = tf.feature_column.numeric_column("PetalLength")
    petal_buckets = tf.feature_column.bucketized_column(petal_length, [2.0, 3.5, 5.0])

    classifier = est2tpu.DNNClassifier(
        feature_columns=my_feature_columns + [petal_buckets],
        hidden_units=[30, 10],
        n_classes=3,
        optimizer=tf.keras.optimizers.legacy.Adagrad(learning_rate=0.1),
        weight_column="Weight",
        model_dir=model_dir + "/classifier",
        config=tf.compat.v1.estimator.tpu.RunConfig(
            tf_random_seed=42,
            cluster=est2tpu.tpu_cluster_resolver(),
            tpu_config=tf.compat.v1.estimator.tpu.TPUConfig(iterations_per_loop=100),
        ),
        train_batch_size=BATCH_SIZE,
        eval_batch_size=BATCH_SIZE,
        predict_batch_size=BATCH_SIZE,
    )
    classifier.train(
        input_fn=lambda params: input_fn(
            train, train_y, training=True, batch_size=params["batch_size"]
        ),
        steps=TRAIN_STEPS)
    eval_result = classifier.evaluate(
        input_fn=lambda params: input_fn(
            test, test_y, training=False, batch_size=params["batch_size"]
        ),
        steps=4)
    print("\nTest set accuracy: {accuracy:0.3f}\n".format(**eval_result))

    predict_x = {name: values[:BATCH_SIZE] for name, values in test.items()}
    predictions = classifier.predict(
        input_fn=lambda params: predict_input_fn(
            predict_x, batch_size=params["batch_size"]
        ))
    probabilities = []
    for pred_dict in predictions:
        class_id = pred_dict["class_ids"][0]
        probabilities.append(pred_dict["probabilities"][class_id])
        print('Prediction is "{}" ({:.1f}%)'.format(SPECIES[class_id], 100 * probabilities[-1]))

    width_columns = [tf.feature_column.numeric_column("PetalLength"),
                     tf.feature_column.indicator_column(petal_buckets)]
    regressor = est2tpu.LinearRegressor(
        feature_columns=width_columns,
        optimizer="Adagrad",
        model_dir=model_dir + "/regressor",
        config=tf.compat.v1.estimator.tpu.RunConfig(
            tf_random_seed=42,
            cluster=est2tpu.tpu_cluster_resolver(),
            tpu_config=tf.compat.v1.estimator.tpu.TPUConfig(iterations_per_loop=100),
        ),
        train_batch_size=BATCH_SIZE,
        eval_batch_size=BATCH_SIZE,
    )
    width_train = {"PetalLength": train["PetalLength"]}
    width_test = {"PetalLength": test["PetalLength"]}
    regressor.train(
        input_fn=lambda params: input_fn(
            width_train, train["PetalWidth"], batch_size=params["batch_size"]
        ),
        steps=TRAIN_STEPS)
    width_result = regressor.evaluate(
        input_fn=lambda params: input_fn(
            width_test, test["PetalWidth"], training=False,
            batch_size=params["batch_size"]
        ),
        steps=4)
    return {
        "accuracy": float(eval_result["accuracy"]),
        "loss": float(eval_result["loss"]),
        "average_loss": float(eval_result["average_loss"]),
        "predicted_probability_sum": float(np.sum(probabilities)),
        "width_loss": float(width_result["loss"]),
    }


if __name__ == "__main__":
    print(run(tempfile.mkdtemp()))
