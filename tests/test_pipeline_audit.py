"""Input pipelines the input_fn rewrite must follow or report: batching helpers, map_and_batch,
iterators, params that TPUEstimator would refuse."""

import pytest

from test_rules import HEADER, codes, migrate

HELPER = HEADER + '''B = 20

def batch_it(ds, n):
    return ds.batch(n)

def input_fn(x):
    ds = tf.data.Dataset.from_tensor_slices(x)
    return batch_it(ds, B)

def prefetched_input_fn(x):
    ds = batch_it(tf.data.Dataset.from_tensor_slices(x), B)
    return ds.prefetch(1)

est = tf.estimator.Estimator(model_fn)
est.evaluate(lambda: input_fn(x), steps=3)
est.predict(lambda: prefetched_input_fn(x))
'''


def test_a_batch_in_a_helper_takes_the_size_from_the_call():
    result = migrate(HELPER.replace("est.predict(lambda: prefetched_input_fn(x))\n", ""))
    assert "def input_fn(x, params):" in result.code
    assert 'return batch_it(ds, params["batch_size"])' in result.code
    assert "return ds.batch(n, drop_remainder=est2tpu.use_tpu())" in result.code  # no params here
    assert "lambda params: input_fn(x, params=params)" in result.code
    assert "eval_batch_size=B" in result.code
    assert migrate(result.code).code == result.code


def test_a_helper_batch_not_followed_is_reported():
    result = migrate(HELPER)
    assert ("E2T240", 13) in codes(result) and ("E2T250", 16) in codes(result)
    assert "def prefetched_input_fn(x):" in result.code and "def input_fn(x):" in result.code  # all stays


MAP_AND_BATCH = HEADER + '''from tensorflow.data.experimental import map_and_batch

def train_input_fn(x):
    ds = tf.data.Dataset.from_tensor_slices(x).repeat()
    return ds.apply(tf.data.experimental.map_and_batch(f, 20))

def eval_input_fn(x):
    ds = tf.data.Dataset.from_tensor_slices(x)
    return ds.apply(map_and_batch(f, batch_size=20, drop_remainder=False))

def drop_input_fn(x):
    return tf.data.Dataset.from_tensor_slices(x).apply(tf.contrib.data.batch_and_drop_remainder(20))

est = tf.estimator.Estimator(model_fn)
est.train(lambda: train_input_fn(x), steps=3)
est.evaluate(lambda: eval_input_fn(x), steps=3)
est.evaluate(lambda: drop_input_fn(x), steps=3)
'''


def test_map_and_batch_batches_like_batch():
    result = migrate(MAP_AND_BATCH)
    code = "".join(result.code.split())
    assert 'map_and_batch(f,params["batch_size"],drop_remainder=True)' in code  # repeats: nothing lost
    assert 'map_and_batch(f,batch_size=params["batch_size"],drop_remainder=est2tpu.on_tpu(params))' in code
    assert 'batch_and_drop_remainder(params["batch_size"]))' in code
    assert "train_batch_size=20" in code and "eval_batch_size=20" in code
    assert ("E2T209", 11) in codes(result) and "E2T218" not in dict(codes(result))
    assert migrate(result.code).code == result.code


GET_NEXT = HEADER + '''def eval_input_fn(x):
    ds = tf.data.Dataset.from_tensor_slices(x).batch(20)
    iterator = tf.compat.v1.data.make_one_shot_iterator(ds)
    return iterator.get_next()

def predict_input_fn(x):
    ds = tf.data.Dataset.from_tensor_slices(x).batch(4)
    features = ds.make_one_shot_iterator().get_next()
    return features

def pair_input_fn(x):
    ds = tf.data.Dataset.from_tensor_slices(x).batch(4)
    features, labels = tf.compat.v1.data.make_one_shot_iterator(ds).get_next()
    return features, labels

est = tf.estimator.Estimator(model_fn)
est.evaluate(lambda: eval_input_fn(x), steps=3)
est.predict(lambda: predict_input_fn(x))
est.predict(lambda: pair_input_fn(x))
'''


def test_an_iterator_used_only_for_the_return_gives_way_to_its_dataset():
    result = migrate(GET_NEXT)
    assert "iterator = " not in result.code and "    features = " not in result.code
    assert "features, labels = " not in result.code
    assert result.code.count("    return ds\n") == 3
    assert "E2T241" not in dict(codes(result))
    assert migrate(result.code).code == result.code


PARAMS = HEADER + '''def input_fn(params):
    return tf.data.Dataset.range(100).batch(params.get("batch_size"))

est = tf.estimator.Estimator(model_fn, params={params})
est.train(input_fn, steps=3)
'''


def test_params_from_a_call_holding_the_batch_size_is_blocking():
    result = migrate(PARAMS.format(params="get_hparams()"))
    assert ("E2T242", 6) in codes(result) and "E2T213" not in dict(codes(result))


def test_params_get_batch_size_reads_the_batch_size_from_params():
    result = migrate("HP = get_hparams()\n" + PARAMS.format(params="HP"))
    code = "".join(result.code.split())
    assert 'params={k:vfork,vinHP.items()ifk!="batch_size"}' in code
    assert 'train_batch_size=HP["batch_size"]' in code
    assert 'params.get("batch_size"),drop_remainder=est2tpu.on_tpu(params)' in code
    assert migrate(result.code).code == result.code



LOGGED = HEADER + (
    "def input_fn():\n"
    "    ds = tf.data.Dataset.from_tensors(({{'x': [1.0]}}, [0])).repeat().batch(2)\n"
    "    features, labels = tf.compat.v1.data.make_one_shot_iterator(ds).get_next()\n"
    "    {logging}\n"
    "    return features, labels\n\n"
    "est = tf.estimator.Estimator(model_fn)\nest.train(input_fn, steps=1)\n")


@pytest.mark.parametrize("logging", [
    "tf.compat.v1.logging.info(features)",
    "tf.compat.v1.logging.info('batch: %s', labels)",
    "print('batch: {}'.format(features['x'].shape))",
])
def test_an_iterators_tensors_logged_before_the_return_are_logged_by_a_map_over_its_dataset(logging):
    """Printed or logged once where the graph is built, as before: in the function the
    dataset is mapped through, traced where the input_fn ran."""
    result = migrate(LOGGED.format(logging=logging))
    assert (f"    def log_batch(features, labels):\n        {logging}\n        return features, labels\n\n"
            "    return ds.map(log_batch)\n") in result.code
    assert "get_next" not in result.code and "E2T241" not in dict(codes(result))
    assert migrate(result.code).code == result.code


def test_tensors_computed_from_an_iterators_batch_are_computed_by_a_map_over_its_dataset():
    result = migrate(LOGGED.format(logging="features = {'pixels': features['x']}"))
    assert ("    def map_batch(features, labels):\n        features = {'pixels': features['x']}\n"
            "        return features, labels\n\n    return ds.map(map_batch)\n") in result.code
    assert "E2T241" not in dict(codes(result))


@pytest.mark.parametrize("logging", [
    "tf.compat.v1.logging.info(tf.shape(features))",  # an op on the tensors: computed elsewhere then
    "print(features + 1)",
    "print(features, file=sink)",
    "features = helper(features)",  # a function of the program, or not known here
])
def test_an_iterators_tensors_logged_through_a_computation_are_reported(logging):
    result = migrate(LOGGED.format(logging=logging))
    assert ("E2T241", 5) in codes(result) and "TPUEstimator" not in result.code


def test_one_name_for_an_iterators_batch_is_mapped_only_when_it_is_a_dict():
    """``batch = it.get_next()`` may hold a tuple, which ``Dataset.map`` would pass its function
    as several arguments: only a batch read by key (a dict) is mapped."""
    one = LOGGED.replace("features, labels = ", "features = ").replace("return features, labels", "return features")
    assert ("E2T241", 5) in codes(migrate(one.format(logging="print(features)")))
    keyed = migrate(one.format(logging="print(features['x'])"))
    assert "def log_batch(features):" in keyed.code and "E2T241" not in dict(codes(keyed))


def _program(**modules):
    """The migrated text and findings of each module of a program (``trainer_inputs=...``)."""
    from est2tpu.codemods.migrate import migrate_program
    from est2tpu.codemods.program import Source

    names = [name.replace("_", ".") for name in modules]
    sources = [Source(code, (("/p", name),), f"/p/{name.replace('.', '/')}.py") for name, code in zip(names, modules.values())]
    return dict(zip(modules, migrate_program(sources, style="none")))


INPUTS = HEADER + '''BATCH = 32

def input_fn():
    return tf.data.Dataset.range(150).batch(BATCH).repeat()
'''
TASK = HEADER + '''from trainer.inputs import BATCH, input_fn

def model_fn(features, labels, mode, params):
    return tf.estimator.EstimatorSpec(mode, loss=tf.constant(0.0))

est = tf.estimator.Estimator(model_fn)
est.train(input_fn, steps=1)
'''


def test_a_direct_call_of_an_input_fn_gaining_params_in_another_module_passes_them():
    """(The CLI gives the engine only modules that name an Estimator: a test module that does
    not is not seen.)"""
    check = "from trainer.inputs import BATCH, input_fn\n\ndef test_input():\n    assert next(iter(input_fn())) is not None\n"
    results = _program(trainer_inputs=INPUTS, trainer_task=TASK, trainer_check=HEADER + check)
    assert 'next(iter(input_fn(params={"batch_size": BATCH})))' in results["trainer_check"].code
    assert "def input_fn(params):" in results["trainer_inputs"].code
    assert "E2T239" not in {f.code for r in results.values() for f in r.findings}


def test_a_direct_call_that_cannot_read_the_batch_size_keeps_the_estimator():
    check = HEADER + "from trainer.inputs import input_fn\n\nfeatures = input_fn()\n"  # BATCH is not here
    results = _program(trainer_inputs=INPUTS, trainer_task=TASK, trainer_check=check)
    assert [f.code for f in results["trainer_check"].findings] == ["E2T239"]
    assert "E2T250" in {f.code for f in results["trainer_task"].findings}
    assert "def input_fn():" in results["trainer_inputs"].code and results["trainer_check"].code == check


def test_a_direct_call_in_the_same_module_passes_the_batch_size_it_had():
    result = migrate(INPUTS + "\nfirst = input_fn().take(1)\n\n" + TASK.split("\n", 3)[3])
    assert 'first = input_fn(params={"batch_size": BATCH}).take(1)' in result.code
    assert migrate(result.code).code == result.code


PARTIAL = HEADER + '''import functools

def read_dataset(split, params, mode):
    return tf.data.Dataset.range(96).batch(params["batch_size"])

HPARAMS = {{"batch_size": 32}}
est = tf.estimator.Estimator(model_fn, params=HPARAMS)
est.train(functools.partial(read_dataset, {bound}), steps=1)
'''


@pytest.mark.parametrize("bound, freed", [
    ('"train", HPARAMS, "train"', 'functools.partial(read_dataset, "train", mode="train")'),
    ('"train", params=HPARAMS', 'functools.partial(read_dataset, "train")'),
    ('split="train", mode="train"', 'functools.partial(read_dataset, split="train", mode="train")'),
])
def test_a_partial_binding_the_estimators_params_leaves_them_free(bound, freed):
    result = migrate(PARTIAL.format(bound=bound))
    assert freed in result.code and "train_batch_size=32" in result.code
    assert not [code for code, _ in codes(result) if code in ("E2T246", "E2T250")]
    assert migrate(result.code).code == result.code


@pytest.mark.parametrize("bound", ['"train", {"batch_size": 32}', '"train", params=OTHER', "*ARGS"])
def test_a_partial_binding_other_params_keeps_the_estimator(bound):
    result = migrate(PARTIAL.format(bound=bound))
    assert ("E2T246", 10) in codes(result) and "E2T250" in dict(codes(result))
    assert "TPUEstimator" not in result.code


ITERATOR_HELPER = HEADER + '''def load_batches(x, batch_size):
    dataset = tf.compat.v1.data.Dataset.from_tensor_slices(x).batch(batch_size)
    batched = dataset.make_one_shot_iterator().get_next()
    return batched

est = tf.estimator.Estimator(model_fn)
est.evaluate(lambda: load_batches(x, 8), steps=3)
'''


def test_a_helper_returning_an_iterators_batch_returns_its_dataset():
    result = migrate(ITERATOR_HELPER)
    assert "batched = " not in result.code and "    return dataset\n" in result.code
    assert "E2T241" not in dict(codes(result)) and "eval_batch_size=8" in result.code


#: An input_fn splitting the label off the batch it pulls from an iterator.
POPPED = HEADER + (
    "def input_fn():\n    ds = tf.compat.v1.data.Dataset.from_tensors({'x': [1.0], 'label': [0]}).repeat().batch(2)\n"
    "    features = ds.make_one_shot_iterator().get_next()\n    return features, features.pop('label')\n\n"
    "est = tf.estimator.Estimator(model_fn)\nest.train(input_fn, steps=3)\n")


@pytest.mark.parametrize("source, line", [
    (ITERATOR_HELPER + "first = load_batches(x, 8)\n", 5),  # called for its tensors too
    (ITERATOR_HELPER.replace("    return batched", "    print(tf.shape(batched))\n    return batched"), 5),
    (ITERATOR_HELPER.replace("    return batched", "    print(batched)\n    batched = batched * 2\n    return batched"), 5),
    (POPPED.replace("features.pop('label')", "to_label(features.pop('label'))")
     + "\n\ndef to_label(x):\n    return x\n", 5),  # a function of the program
    (POPPED.replace("features.pop('label')", "features.pop(key)").replace("    ds =", "    key = 'label'\n    ds ="), 6),
    (POPPED.replace("return features, features.pop('label')", "print(features)\n    return features, to_label(features)")
     + "\n\ndef to_label(x):\n    return x\n", 5),
])
def test_an_iterators_tensors_used_otherwise_keep_the_estimator(source, line):
    result = migrate(source)
    assert ("E2T241", line) in codes(result) and "E2T250" in dict(codes(result))
    assert "TPUEstimator" not in result.code


def test_an_iterators_tensors_printed_then_returned_in_an_expression_are_both_mapped():
    result = migrate(POPPED.replace("    return features, features.pop('label')",
                                    "    print('features: {}'.format(features))\n    return features, features.pop('label')"))
    assert ("    def log_batch(features):\n        print('features: {}'.format(features))\n"
            "        return features, features.pop('label')\n") in result.code
    assert "return ds.map(log_batch)" in result.code and "E2T241" not in dict(codes(result))


def test_an_expression_of_an_iterators_tensors_is_mapped_over_its_dataset():
    """``return features, features.pop("label")`` (the tensors, module-level names,
    TensorFlow ops): computed by ``Dataset.map`` on the dataset the input_fn returns."""
    result = migrate(POPPED)
    assert ".map(lambda features: (features, features.pop('label')))" in result.code
    assert "get_next" not in result.code and "E2T241" not in dict(codes(result))
    assert migrate(result.code).code == result.code


@pytest.mark.parametrize("padding, reported", [
    ("ds.padded_batch(4)", True),
    ("ds.padded_batch(4, padded_shapes=[None])", True),
    ("ds.padded_batch(4, SHAPES)", True),
    ("ds.padded_batch(4, padded_shapes=[12])", False),
])
def test_padding_to_each_batchs_longest_element_is_blocking(padding, reported):
    source = HEADER + ("SHAPES = [None]\n\ndef input_fn():\n    ds = tf.data.Dataset.range(8).map(lambda i: tf.range(i))\n"
                       f"    return {padding}.repeat()\n\nest = tf.estimator.Estimator(model_fn)\nest.train(input_fn, steps=3)\n")
    result = migrate(source)
    assert (("E2T224", 7) in codes(result)) is reported
    assert "TPUEstimator(" in result.code  # blocking on a TPU, but the CPU run converts


def test_an_input_fn_name_bound_again_is_the_value_it_holds_at_each_use():
    source = HEADER + '''est = tf.estimator.Estimator(model_fn)
input_fn = tf.compat.v1.estimator.inputs.numpy_input_fn({"x": x}, y, batch_size=16, num_epochs=None, shuffle=False)
est.train(input_fn, steps=3)
input_fn = tf.compat.v1.estimator.inputs.numpy_input_fn({"x": ex}, ey, batch_size=8, shuffle=False)
est.evaluate(input_fn, steps=3)
'''
    result = migrate(source)
    assert result.code.count("est2tpu.numpy_input_fn(") == 2 and "inputs.numpy_input_fn" not in result.code
    assert "train_batch_size=16" in result.code and "eval_batch_size=8" in result.code
