"""Defects found by the construction audit: each test fails without its fix."""

import textwrap

from est2tpu.codemods.migrate import migrate_code
from test_rules import DEFINED, HEADER, codes, migrate


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


MODEL_FN = '''
def model_fn(features, labels, mode):
    loss = tf.reduce_sum(features)
    return tf.estimator.EstimatorSpec(mode, loss=loss)
'''


def _keywords(code, func):
    import ast

    call = next(n for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Call) and ast.unparse(n.func).endswith(func))
    return [k.arg for k in call.keywords]


def test_a_config_in_a_known_keyword_mapping_is_not_passed_twice():
    result = migrate(HEADER + MODEL_FN + '''
kw = dict(model_fn=model_fn, config=tf.estimator.RunConfig(tf_random_seed=1))
est = tf.estimator.Estimator(**kw)
late = tf.estimator.Estimator(**{"model_fn": model_fn}, config=tf.estimator.RunConfig())
est.train(input_fn, steps=1)
late.train(input_fn, steps=1)
''' + DEFINED)
    assert _keywords(result.code, "TPUEstimator").count("config") == 0  # kw holds it
    assert "kw = dict(\n    model_fn=model_fn,\n    config=tf.compat.v1.estimator.tpu.RunConfig(" in result.code
    assert "**{\"model_fn\": model_fn},\n    config=tf.compat.v1.estimator.tpu.RunConfig(" in result.code
    assert result.code.count(" config=") == 2


def test_an_unknown_keyword_mapping_is_reported_and_left():
    source = HEADER + MODEL_FN + '''
est = tf.estimator.Estimator(**make_kwargs())
kw = dict(model_fn=model_fn)
kw["config"] = tf.estimator.RunConfig()
other = tf.estimator.Estimator(**kw)
'''
    result = migrate(source)
    assert ("E2T231", 8) in codes(result) and ("E2T231", 11) in codes(result)
    assert "tf.estimator.Estimator(**make_kwargs())" in result.code
    assert "tf.estimator.Estimator(**kw)" in result.code
    assert sorted(code for code, _ in codes(migrate(result.code))) == ["E2T231", "E2T231", "E2T250", "E2T250"]  # every run


def test_a_batch_size_in_params_of_a_keyword_mapping_is_lifted():
    source = HEADER + MODEL_FN + '''
def input_fn(params):
    return tf.data.Dataset.range(16).batch(params["batch_size"])

BATCH = 8
kw = {"model_fn": model_fn, "params": {"batch_size": BATCH, "lr": 0.02}}
est = tf.estimator.Estimator(**kw)
est.train(input_fn=input_fn, steps=2)
'''
    result = migrate(source)
    assert 'kw = {"model_fn": model_fn, "params": {"lr": 0.02}}' in result.code
    assert "train_batch_size=BATCH" in result.code
    assert not result.findings
    assert not migrate(result.code).findings


def test_a_tpu_estimator_whose_keyword_mapping_lacks_a_batch_size_is_reported():
    result = migrate(HEADER + MODEL_FN + '''
kw = {"model_fn": model_fn, "params": {}}
est = tf.compat.v1.estimator.tpu.TPUEstimator(**kw, use_tpu=False)
est.train(input_fn=lambda params: tf.data.Dataset.range(16).batch(params["batch_size"]), steps=2)
''')
    assert ("E2T218", 10) in codes(result)


def test_params_built_elsewhere_lose_the_batch_size_the_tool_reads_from_them():
    result = migrate_code(HEADER + MODEL_FN + textwrap.dedent('''
def get_hparams(**overrides):
    return dict(batch_size=24, lr=0.1, **overrides)

def eval_input_fn(params):
    return tf.data.Dataset.range(16).batch(params["batch_size"])

def make_ds(batch_size):
    return tf.data.Dataset.range(16).batch(batch_size)

class Experiment:
    def __init__(self):
        self.hparams = get_hparams()

    def run(self):
        est = tf.estimator.Estimator(model_fn, params=self.hparams)
        est.train(lambda: make_ds(self.hparams["batch_size"]), steps=2)
        est.evaluate(eval_input_fn, steps=2)

hp = get_hparams()
other = tf.estimator.Estimator(model_fn, params=hp)
other.evaluate(eval_input_fn, steps=2)
'''), style="none")
    assert 'params={k: v for k, v in self.hparams.items() if k != "batch_size"}, config=' in result.code
    assert 'train_batch_size=self.hparams["batch_size"], eval_batch_size=self.hparams["batch_size"])' in result.code
    assert 'params={k: v for k, v in hp.items() if k != "batch_size"}, config=' in result.code
    # trained nowhere: TPUEstimator still needs a train batch size, the one of its params
    assert 'use_tpu=est2tpu.use_tpu(), train_batch_size=hp["batch_size"], eval_batch_size=hp["batch_size"])' in result.code
    assert not {"E2T213", "E2T218"} & {code for code, _ in codes(result)}


def test_new_code_is_spelled_with_names_bound_at_module_level():
    result = migrate_code(textwrap.dedent('''
    def model_fn(features, labels, mode):
        import tensorflow.compat.v1 as tf
        loss = tf.reduce_sum(features)
        train_op = tf.train.AdamOptimizer(0.1).minimize(loss)
        return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)

    def main():
        from tensorflow import estimator as tfe
        est = tfe.Estimator(model_fn, config=tfe.RunConfig(tf_random_seed=1))
        est.train(input_fn, steps=1)
        other().train(input_fn, steps=1)

    def input_fn():
        return make_dataset().batch(2)

    def other():
        import tensorflow as tf
        return tf.estimator.Estimator(model_fn)
    '''), style="none")
    assert "\nimport tensorflow\n" in result.code  # `tf` means two modules here: spelled in full
    assert "est = tensorflow.compat.v1.estimator.tpu.TPUEstimator(model_fn, config=tensorflow.compat.v1" in result.code
    only_tf2 = migrate_code("def main():\n    import tensorflow as tf\n    tf.estimator.Estimator(f).train(input_fn, steps=1)\n\n"
                            "def f(features, labels, mode, params):\n    import tensorflow as tf\n"
                            "    return tf.estimator.EstimatorSpec(mode, loss=1)\n\n"
                            "def input_fn():\n    return make_dataset().batch(2)\n", style="none")
    assert "import tensorflow as tf\n" in only_tf2.code.split("def main")[0]


def test_an_estimator_built_in_either_branch_of_a_conditional_gets_its_uses():
    result = migrate_code(HEADER + MODEL_FN + textwrap.dedent('''
    def make_ds(bs):
        return tf.data.Dataset.range(16).batch(bs)

    est = tf.estimator.Estimator(model_fn=model_fn) if FLAG else tf.estimator.Estimator(model_fn)
    est.train(input_fn=lambda: make_ds(8), steps=2)
    '''), style="none")
    assert result.code.count("use_tpu=est2tpu.use_tpu(), train_batch_size=8)") == 2
    assert 'est.train(input_fn=lambda params: make_ds(params["batch_size"]), steps=2)' in result.code
    assert not result.findings


def test_arguments_added_after_a_last_one_on_its_own_line_keep_the_closing_parenthesis_on_its_own():
    """Two-space code (not black's, so not laid out again): the new keywords come one per
    line like the others, ``)`` stays alone on the last line, and the comment on the line
    of the old last argument stays there."""
    result = migrate_code(textwrap.dedent('''\
        import tensorflow as tf

        def model_fn(features, labels, mode):
          loss = tf.reduce_sum(features)
          train_op = tf.compat.v1.train.AdamOptimizer().minimize(loss)
          return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)

        def input_fn():
          return tf.data.Dataset.range(64).repeat().batch(16)

        run_config = tf.estimator.RunConfig(
          tf_random_seed=1,
          model_dir="m"  # a note on the last line
        )
        est = tf.estimator.Estimator(model_fn, config=run_config)
        est.train(input_fn, max_steps=10)
        '''))
    assert textwrap.dedent('''\
        run_config = tf.compat.v1.estimator.tpu.RunConfig(
          tf_random_seed=1,
          model_dir="m",  # a note on the last line
          cluster=est2tpu.tpu_cluster_resolver(),
          tpu_config=tf.compat.v1.estimator.tpu.TPUConfig(iterations_per_loop=100)
        )
        ''') in result.code
