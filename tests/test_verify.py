"""est2tpu verify on seeded programs: each TPU-only mistake found, exactly, at its line.

``fixtures/verify/NAME.py`` is a small TPUEstimator program with one mistake that runs
on the CPU but not on a TPU, marked ``# verify: CODE`` on the line verify must report;
``clean.py`` has none, ``canned_model_fn.py`` several (a canned estimator's model_fn).  The programs run in this process with the patches installed,
as the CLI's child process runs them.
"""

import pytest

tf = pytest.importorskip("tensorflow")

from verify_programs import SEEDED, marked, verify  # noqa: E402

SEEDED_NAMES = sorted(p.stem for p in SEEDED.glob("*.py") if p.stem != "clean")


def test_every_check_has_a_seeded_program():
    from est2tpu.verify import rules

    seeded = {code for name in SEEDED_NAMES for code, _ in marked(SEEDED / f"{name}.py")}
    assert seeded == {rule.code for rule in rules.ALL}


@pytest.mark.parametrize("name", SEEDED_NAMES)
def test_a_seeded_mistake_is_found_exactly_at_its_line(name, tmp_path):
    path = SEEDED / f"{name}.py"
    reporter, result = verify(path, tmp_path)
    assert not reporter.errors
    assert sorted((f.code, f.line) for f in reporter.findings) == sorted(marked(path))
    assert {f.path for f in reporter.findings} == {str(path)}
    assert all(f.message and f.hint for f in reporter.findings)
    assert result  # the program went on to its end


def test_a_clean_program_passes_and_runs_a_few_steps_on_the_cpu(tmp_path):
    reporter, result = verify(SEEDED / "clean.py", tmp_path, steps=3)
    assert not reporter.findings and not reporter.errors
    assert reporter.checked == ["train", "evaluate", "predict"]
    # train(steps=20) ran 3 steps and left a checkpoint that evaluate and predict used.
    assert tf.train.load_variable(tf.train.latest_checkpoint(str(tmp_path)), "global_step") == 3
    assert 0 <= result["accuracy"] <= 1
    assert 0 <= result["predicted"] <= 40  # the 40 rows to predict are 2 batches: all predicted


@pytest.mark.parametrize("name, cores", [("unaggregated", 1), ("batch_not_divisible", 4)])
def test_a_mistake_that_depends_on_the_cores_is_judged_for_the_cores_given(name, cores, tmp_path):
    reporter, _ = verify(SEEDED / f"{name}.py", tmp_path, cores=cores)
    assert not reporter.findings


def test_the_programs_own_tpu_switch_says_tpu_on_a_local_cluster(monkeypatch):
    import est2tpu
    from est2tpu.verify.install import install
    from est2tpu.verify.report import Reporter

    monkeypatch.setenv("TPU_NAME", "no-such-tpu")  # (the CLI unsets it; a test may not)
    undo = install(Reporter())
    try:
        assert est2tpu.use_tpu() is True and est2tpu.tpu_cluster_resolver() is None
    finally:
        undo()
    monkeypatch.delenv("TPU_NAME")
    assert est2tpu.use_tpu() is False


def test_the_patches_come_out_again(tmp_path):
    from tensorflow.python.tpu import tpu_system_metadata
    from tensorflow.python.training import session_run_hook

    cls = tf.compat.v1.estimator.tpu.TPUEstimator
    before = dict(vars(cls)), tpu_system_metadata._query_tpu_system_metadata
    verify(SEEDED / "dynamic_infeed.py", tmp_path)
    assert (dict(vars(cls)), tpu_system_metadata._query_tpu_system_metadata) == before
    # Hooks built afterwards get their arguments (a deleted __new__ would leave CPython's slot
    # passing them to object.__new__: "takes exactly one argument"), and are not captured.
    hook = tf.compat.v1.train.StopAtStepHook(num_steps=3)
    assert isinstance(hook, session_run_hook.SessionRunHook) and getattr(hook, "_est2tpu_site", None) is None


@pytest.mark.parametrize("export_to_cpu", [True, False])
def test_a_failed_tpu_export_is_reported_and_the_cpu_savedmodel_still_written(export_to_cpu, tmp_path, monkeypatch):
    from tensorflow_estimator.python.estimator.tpu import tpu_estimator

    from est2tpu.verify.install import install
    from est2tpu.verify.report import Reporter
    from fixture_programs import load

    def fails(*args, **kwargs):
        raise ValueError("the TPU rewrite failed")

    monkeypatch.setattr(tpu_estimator, "model_fn_inference_on_tpu", fails)
    program = load(SEEDED / "tpu_export.py", f"export_{export_to_cpu}")
    reporter = Reporter()
    undo = install(reporter)
    try:
        tpu = tf.compat.v1.estimator.tpu
        estimator = tpu.TPUEstimator(model_fn=program.model_fn, model_dir=str(tmp_path), config=tpu.RunConfig(),
                                     train_batch_size=32, export_to_cpu=export_to_cpu)
        estimator.train(program.input_fn, steps=1)
        exported = estimator.export_saved_model(str(tmp_path / "export"), program.serving_input_fn)
    finally:
        undo()
    assert [(f.code, f.message) for f in reporter.findings] == [
        ("E2T313", "the TPU SavedModel cannot be built: the TPU rewrite failed")]
    from tensorflow.python.tools import saved_model_utils

    assert saved_model_utils.get_saved_model_tag_sets(exported.decode()) == [["serve"]]  # no TPU graph


def test_a_check_that_breaks_is_an_error_and_the_program_goes_on(tmp_path, monkeypatch):
    from est2tpu.verify import graph_checks

    def broken(build):
        raise KeyError("a graph verify does not understand")

    monkeypatch.setattr(graph_checks, "check", broken)
    reporter, result = verify(SEEDED / "clean.py", tmp_path)
    assert len(reporter.errors) == 3 and result  # train, evaluate, predict
    assert reporter.errors[0].startswith("could not check train: KeyError: 'a graph verify does not understand'")


def test_a_tensor_with_the_batch_in_another_dimension_is_not_batch_major():
    from est2tpu.verify import spec_checks

    reported = []

    class Build:
        def report(self, rule, where, message, hint=""):
            reported.append((rule.code, message))

    with tf.Graph().as_default():
        logits = tf.zeros([4, 3])
        for tensor in (logits, tf.reshape(tf.reduce_mean(logits), [1]), tf.transpose(logits)):
            spec_checks._outfeed(Build(), "metric_fn", (lambda logits: None, [tensor]), 4)
    assert reported == [("E2T310", "'logits', sent to metric_fn, has shape [3, 4]: the batch (4 per core) is in "
                                   "dimension 1, but the host joins the cores' tensors along dimension 0")]
