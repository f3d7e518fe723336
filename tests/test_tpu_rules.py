"""The TPU-only rules a CPU run cannot catch, checked on the migrated fixtures' graphs.

Each migrated program is run against a recording stand-in for TPUEstimator, which
keeps the model_fn, params and input_fns it is given.  The model_fn's graphs are then
built with ``params["use_tpu"]`` true and false and inspected:

* TPU training: every variable update depends on a CrossReplicaSum (gradients are
  averaged across shards); CPU training has none (it would not run).
* Evaluation (of every estimator the program evaluates with): every tensor sent to
  metric_fn has rank >= 1 (TPUs only outfeed tensors with a batch dimension) and metric_fn
  returns (value, update_op) pairs.
* Construction: a TPU RunConfig, train_batch_size set, no reserved key in params.
"""

import collections
import inspect
import tempfile

import pytest

from fixture_programs import FIXTURES, NAMES, load

# The Keras and canned fixtures build their TPUEstimator inside est2tpu's runtime
# (model_to_estimator, DNNClassifier, ...), whose TPU graphs tests/test_keras_runtime.py and
# tests/test_canned_runtime.py check; here: the programs whose model_fn est2tpu rewrote.
NAMES = [name for name in NAMES if not name.startswith(("keras_", "canned_"))]

tf = pytest.importorskip("tensorflow")
tpu = tf.compat.v1.estimator.tpu
ModeKeys = tf.estimator.ModeKeys
BATCH = 8


class Recorded:
    """What a migrated program passed to the TPUEstimator it built, and its input_fns."""

    def __init__(self, model_fn, model_dir=None, config=None, params=None, **kwargs):
        self.model_fn, self.model_dir, self.config, self.params, self.kwargs = model_fn, model_dir, config, params, kwargs
        self.input_fns = collections.defaultdict(list)


@pytest.fixture(scope="module")
def recorded(every_recorded):
    """name -> the Recorded of the last TPUEstimator each migrated program built."""
    return {name: built[-1] for name, built in every_recorded.items()}


@pytest.fixture(scope="module")
def every_recorded(tmp_path_factory):
    """name -> [Recorded]: each migrated program run with TPUEstimator's train/evaluate/predict
    replaced by recorders (the estimators themselves are real, so their checks run)."""
    cls = tpu.TPUEstimator
    built = []
    real_init = cls.__init__

    def init(self, *args, **kwargs):
        real_init(self, *args, **kwargs)
        self._recorded = Recorded(*args, **kwargs)
        if not _of_the_runtime(self._recorded.model_fn):  # a canned estimator beside a model_fn
            built.append(self._recorded)

    def recorder(mode, result):
        def method(self, input_fn, *args, **kwargs):
            self._recorded.input_fns[mode].append(input_fn)
            return result()
        return method

    patch = pytest.MonkeyPatch()
    patch.setattr(cls, "__init__", init)
    patch.setattr(cls, "train", recorder(ModeKeys.TRAIN, lambda: None))
    # train_and_evaluate stops once evaluation reports the last step.
    patch.setattr(cls, "evaluate", recorder(ModeKeys.EVAL, lambda: collections.defaultdict(float, global_step=10**9)))
    patch.setattr(cls, "predict", recorder(ModeKeys.PREDICT, lambda: iter(())))
    patch.delenv("TPU_NAME", raising=False)
    out = {}
    try:
        for name in NAMES:
            built.clear()
            load(FIXTURES / f"{name}.py.out", f"rules_{name}").run(str(tmp_path_factory.mktemp(name)))
            out[name] = list(built)
    finally:
        patch.undo()
    return out


def _of_the_runtime(model_fn) -> bool:
    fn = getattr(model_fn, "func", model_fn)  # a functools.partial
    return getattr(inspect.getmodule(fn), "__name__", "").startswith("est2tpu.")


def _features_labels(input_fn, params):
    result = input_fn(params=params) if "params" in inspect.signature(input_fn).parameters else input_fn()
    if isinstance(result, tf.data.Dataset):
        result = tf.compat.v1.data.make_one_shot_iterator(result).get_next()
    return result


def _spec(estimator, mode, use_tpu, **changed):
    params = dict(estimator.params or {}, batch_size=BATCH, use_tpu=use_tpu, **changed)
    _pretrained(estimator, params.get("warm_start"))
    features, labels = _features_labels(estimator.input_fns[mode][0], params)
    tf.compat.v1.train.get_or_create_global_step()
    extra = {}
    if "config" in inspect.signature(estimator.model_fn).parameters:  # as Estimator fills it
        extra["config"] = (estimator.config or tpu.RunConfig()).replace(model_dir=estimator.model_dir or tempfile.mkdtemp())
    return estimator.model_fn(features=features, labels=labels, mode=mode, params=params, **extra)


def _pretrained(estimator, checkpoint):
    """The checkpoint a warm start reads, written (once) as the pretraining run would have
    written it, had its train() not been recorded instead: a model_fn on the CPU may load it
    as its graph is built."""
    if not checkpoint or tf.train.latest_checkpoint(checkpoint):
        return
    with tf.Graph().as_default():
        _spec(estimator, ModeKeys.TRAIN, use_tpu=False, warm_start=None)
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.train.Saver().save(session, f"{checkpoint}/model.ckpt")


def _ancestors(op):
    seen, stack = set(), [op]
    while stack:
        current = stack.pop()
        for tensor in list(current.inputs):
            if tensor.op not in seen:
                seen.add(tensor.op)
                stack.append(tensor.op)
        for control in current.control_inputs:
            if control not in seen:
                seen.add(control)
                stack.append(control)
    return seen


def _updates(graph):
    return [op for op in graph.get_operations()
            if op.type.startswith(("Apply", "ResourceApply", "SparseApply", "ResourceSparseApply"))]


@pytest.mark.parametrize("name", NAMES)
def test_estimator_construction_follows_the_tpu_contract(recorded, name):
    estimator = recorded[name]
    assert isinstance(estimator.config, tpu.RunConfig)
    assert estimator.kwargs["train_batch_size"] is not None
    assert estimator.kwargs["use_tpu"] is False
    assert not {"batch_size", "context"} & set(estimator.params or {})
    if estimator.input_fns[ModeKeys.EVAL]:
        assert estimator.kwargs["eval_batch_size"] is not None
    if estimator.input_fns[ModeKeys.PREDICT]:
        assert estimator.kwargs["predict_batch_size"] is not None


@pytest.mark.parametrize("name", NAMES)
def test_tpu_gradients_pass_through_cross_replica_sum(recorded, name):
    with tf.Graph().as_default() as graph:
        spec = _spec(recorded[name], ModeKeys.TRAIN, use_tpu=True)
        assert isinstance(spec, tpu.TPUEstimatorSpec)
        updates = _updates(graph)
        assert len(updates) >= len(tf.compat.v1.trainable_variables()) > 0
        for op in updates:
            assert any(a.type == "CrossReplicaSum" for a in _ancestors(op)), op.name


@pytest.mark.parametrize("name", NAMES)
def test_cpu_training_has_no_cross_shard_op(recorded, name):
    with tf.Graph().as_default() as graph:
        _spec(recorded[name], ModeKeys.TRAIN, use_tpu=False)
        assert _updates(graph)
        assert not [op for op in graph.get_operations() if op.type == "CrossReplicaSum"]


@pytest.mark.parametrize("name", NAMES)
def test_eval_metrics_tensors_keep_the_batch_dimension(every_recorded, name):
    evaluating = [estimator for estimator in every_recorded[name] if estimator.input_fns[ModeKeys.EVAL]]
    assert evaluating
    for estimator in evaluating:
        with tf.Graph().as_default():
            spec = _spec(estimator, ModeKeys.EVAL, use_tpu=True)
            assert spec.eval_metrics is not None
            metric_fn, tensors = spec.eval_metrics
            values = tensors.values() if isinstance(tensors, dict) else tensors
            for tensor in values:
                assert isinstance(tensor, tf.Tensor) and tensor.shape.ndims is not None and tensor.shape.ndims >= 1, \
                    tensor
            metrics = metric_fn(**tensors) if isinstance(tensors, dict) else metric_fn(*tensors)
            assert metrics
            for key, value in metrics.items():
                assert isinstance(value, tuple) and len(value) == 2, key


HOST_CALLS = [name for name in NAMES if "summary.scalar" in (FIXTURES / f"{name}.py").read_text()]


@pytest.mark.parametrize("name", HOST_CALLS)
def test_summaries_are_written_from_a_host_call(recorded, name, tmp_path):
    """Scalars reach the host as rank-1 tensors; the host_call writes them, and no
    summary op is left in the TPU computation."""
    with tf.Graph().as_default() as graph:
        spec = _spec(recorded[name], ModeKeys.TRAIN, use_tpu=True)
        assert not [op for op in graph.get_operations() if op.type in ("ScalarSummary", "WriteSummary")]
        host_call, tensors = spec.host_call
        for tensor in tensors:
            assert tensor.shape.ndims == 1, tensor
        ops = host_call(*tensors)
        assert len([op for op in graph.get_operations() if op.type == "WriteSummary"]) == len(tensors) - 1
        assert ops


WARM_STARTS = [name for name in NAMES if "init_from_checkpoint" in (FIXTURES / f"{name}.py").read_text()]


@pytest.mark.parametrize("name", WARM_STARTS)
def test_checkpoints_load_in_scaffold_fn_not_in_the_tpu_computation(recorded, name):
    estimator = recorded[name]
    _pretrained(estimator, estimator.params["warm_start"])
    with tf.Graph().as_default() as graph:
        spec = _spec(estimator, ModeKeys.TRAIN, use_tpu=True)
        assert not [op for op in graph.get_operations() if op.type == "RestoreV2"]
        assert isinstance(spec.scaffold_fn(), tf.compat.v1.train.Scaffold)
        assert [op for op in graph.get_operations() if op.type == "RestoreV2"]


def test_cross_shard_optimizer_averages_only_its_own_gradients():
    """E2T227's premise, on the installed TensorFlow: on 8 shards compute_gradients scales
    the gradients by 1/8, and apply_gradients sums whatever it is given across shards, so
    unscaled gradients (tf.gradients) are summed, not averaged."""
    from tensorflow.python.tpu import tpu_function

    with tf.Graph().as_default(), tpu_function.tpu_shard_context(8):
        v = tf.compat.v1.Variable(3.0)
        loss = 2.0 * v
        optimizer = tf.compat.v1.tpu.CrossShardOptimizer(tf.compat.v1.train.GradientDescentOptimizer(1.0))
        [(own, _)] = optimizer.compute_gradients(loss, [v])
        [unscaled] = tf.compat.v1.gradients(loss, [v])
        with tf.compat.v1.Session() as session:  # before the graph holds a TPU op
            session.run(tf.compat.v1.global_variables_initializer())
            assert session.run([own, unscaled]) == [0.25, 2.0]
        train_op = optimizer.apply_gradients([(unscaled, v)])
        assert any(op.type == "CrossReplicaSum" for op in _ancestors(train_op))
