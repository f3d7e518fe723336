"""--target tf1: migrated code that TF 1.x runs (no est2tpu import; the TPU switches inline),
the converters that have no TF 1.x version refused, and the note that suggests the target.

The golden files of ``fixtures/tf1/`` are migrated with ``--target tf1``; regenerate them
with ``EST2TPU_REGEN=1 pytest tests/test_tf1_target.py`` and review the diff.
"""

import os
import types

import libcst as cst
import pytest

from est2tpu.codemods.base import Options
from est2tpu.codemods.migrate import migrate_code
from fixture_programs import FIXTURES
from test_rules import codes, program

TF1 = Options(target="tf1")
TF1_FIXTURES = FIXTURES / "tf1"
NAMES = sorted(p.stem for p in TF1_FIXTURES.glob("*.py"))
REGEN = bool(os.environ.get("EST2TPU_REGEN"))


def _findings_text(name, findings):
    return "".join(f.format(f"{name}.py") + "\n" for f in findings)


@pytest.mark.parametrize("name", NAMES)
def test_golden_tf1(name):
    source = (TF1_FIXTURES / f"{name}.py").read_text()
    result = migrate_code(source, TF1)
    out, txt = TF1_FIXTURES / f"{name}.py.out", TF1_FIXTURES / f"{name}.txt"
    if REGEN:
        out.write_text(result.code)
        txt.write_text(_findings_text(name, result.findings))
    assert result.code != source
    assert result.code == out.read_text()
    assert _findings_text(name, result.findings) == txt.read_text()


@pytest.mark.parametrize("name", NAMES)
def test_tf1_output_imports_no_est2tpu_and_a_second_run_changes_nothing(name):
    migrated = (TF1_FIXTURES / f"{name}.py.out").read_text()
    compile(migrated, f"{name}.py.out", "exec")
    assert "est2tpu" not in migrated
    assert "tf.contrib.tpu.TPUEstimator(" in migrated
    assert migrate_code(migrated, TF1).code == migrated


def _helpers(code):
    """The module-level defs the tf1 target wrote, by name, as source text."""
    module = cst.parse_module(code)
    return {stmt.name.value: module.code_for_node(stmt) for stmt in module.body
            if isinstance(stmt, cst.FunctionDef) and stmt.name.value.startswith(("_use_tpu", "_tpu_cluster_resolver"))}


class _Resolver:
    """Stands for TPUClusterResolver: records how it was built (a real one asks GCE for the TPU)."""

    def __init__(self, **kwargs):
        self.kwargs = kwargs

    def __eq__(self, other):
        return isinstance(other, _Resolver) and self.kwargs == other.kwargs


@pytest.mark.parametrize("tpu_name", [None, "", "my-tpu", "grpc://10.0.0.2:8470"])
def test_the_inline_switches_do_what_the_runtime_does(tpu_name, monkeypatch):
    tf = pytest.importorskip("tensorflow")
    from est2tpu.runtime import tpu

    if tpu_name is None:
        monkeypatch.delenv("TPU_NAME", raising=False)
    else:
        monkeypatch.setenv("TPU_NAME", tpu_name)
    monkeypatch.setattr(tf.distribute.cluster_resolver, "TPUClusterResolver", _Resolver)
    helpers = _helpers((TF1_FIXTURES / "contrib_trainer.py.out").read_text())
    assert set(helpers) == {"_use_tpu", "_tpu_cluster_resolver"}
    # TF 1.x's tf.contrib.cluster_resolver, which TF 2.15 has not, is the same class
    tf1 = types.SimpleNamespace(contrib=types.SimpleNamespace(cluster_resolver=types.SimpleNamespace(
        TPUClusterResolver=_Resolver)))
    namespace = {"os": os, "tf": tf1}
    exec(compile("\n".join(helpers.values()), "helpers", "exec"), namespace)
    assert namespace["_use_tpu"]() is tpu.use_tpu()
    assert namespace["_tpu_cluster_resolver"]() == tpu.tpu_cluster_resolver()
    assert (tpu.tpu_cluster_resolver() is None) is (not tpu_name)


def test_the_tf1_test_of_params_agrees_with_the_runtime_under_tpu_estimator(tmp_path, monkeypatch):
    """``"context" in params`` (what the tf1 target writes for ``est2tpu.on_tpu(params)``) on
    TPUEstimator's CPU path, in the input_fn and the model_fn."""
    tf = pytest.importorskip("tensorflow")
    from est2tpu.runtime.tpu import on_tpu

    monkeypatch.delenv("TPU_NAME", raising=False)
    seen = []

    def input_fn(params):
        seen.append(("context" in params, on_tpu(params)))
        return tf.data.Dataset.from_tensors(({"x": [1.0]}, [0.0])).repeat().batch(params["batch_size"])

    def model_fn(features, labels, mode, params):
        seen.append(("context" in params, on_tpu(params)))
        w = tf.compat.v1.get_variable("w", [1])
        loss = tf.reduce_mean(tf.square(features["x"] * w - labels))
        step = tf.compat.v1.train.get_or_create_global_step()
        return tf.compat.v1.estimator.tpu.TPUEstimatorSpec(mode, loss=loss, train_op=step.assign_add(1))

    config = tf.compat.v1.estimator.tpu.RunConfig(model_dir=str(tmp_path))
    est = tf.compat.v1.estimator.tpu.TPUEstimator(model_fn, config=config, use_tpu=False, train_batch_size=2)
    est.train(input_fn, max_steps=1)
    assert seen == [(False, False), (False, False)]


MODULE_LEVEL = '''import tensorflow as tf

BATCH = 8


def model_fn(features, labels, mode, params):
    loss = tf.reduce_mean(tf.layers.dense(features["x"], 1) - labels)
    train_op = tf.train.AdamOptimizer(0.1).minimize(loss, global_step=tf.train.get_global_step())
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


def input_fn():
    return tf.data.Dataset.from_tensors(({"x": [[1.0]]}, [[0.0]])).repeat().batch(BATCH)


config = tf.estimator.RunConfig(model_dir="/tmp/m")
est = tf.estimator.Estimator(model_fn, config=config)
est.train(input_fn, max_steps=1)
'''


def test_the_switches_are_written_once_after_the_imports_with_the_imports_they_need():
    code = migrate_code(MODULE_LEVEL, TF1, style="none").code
    assert "est2tpu" not in code
    assert code.startswith("import os\nimport tensorflow as tf\n\n\ndef _use_tpu():\n")
    assert code.count("def _use_tpu():") == 1 and code.count("def _tpu_cluster_resolver():") == 1
    assert "\n\n\nBATCH = 8\n" in code  # two blank lines after the defs
    assert "cluster=_tpu_cluster_resolver()" in code and "use_tpu=_use_tpu()" in code
    compile(code, "migrated", "exec")


def test_the_switches_come_before_the_first_module_level_use_even_above_a_later_import():
    code = migrate_code(MODULE_LEVEL + "\nimport json\nprint(json.dumps({}))\n", TF1, style="none").code
    assert code.index("def _tpu_cluster_resolver():") < code.index("config = tf.contrib.tpu.RunConfig(")
    assert code.index("def _use_tpu():") < code.index("BATCH = 8")


def test_the_switches_take_names_the_module_does_not_use():
    source = MODULE_LEVEL.replace(
        "BATCH = 8\n", "BATCH = 8\n\n\ndef _use_tpu(flags):\n    return flags.tpu\n") + "os = 'linux'\n"
    code = migrate_code(source, TF1, style="none").code
    assert "def _use_tpu_2():" in code and "use_tpu=_use_tpu_2()" in code
    assert "def _use_tpu(flags):" in code
    assert "import os as _os\n" in code and 'bool(_os.environ.get("TPU_NAME"))' in code
    assert "if not _use_tpu_2():" in code  # the resolver calls the switch by its name


def test_a_use_tpu_switch_alone_gets_no_resolver():
    """A helper without params drops the remainder where the program runs on a TPU: the
    switch alone, without the resolver, for an Estimator without a RunConfig."""
    source = ("import tensorflow as tf\n\n\ndef make_input(ds, batch_size):\n    return ds.batch(batch_size)\n\n\n"
              "est = tf.estimator.Estimator(model_fn=f)\n"
              "est.train(lambda: make_input(tf.data.Dataset.range(9), 4), steps=3)\n")
    code = migrate_code(program(source), TF1, style="none").code
    assert "return ds.batch(batch_size, drop_remainder=_use_tpu())" in code
    assert "_tpu_cluster_resolver" in code  # TPUEstimator's RunConfig gets the cluster
    assert "est2tpu" not in code


KERAS = '''import tensorflow as tf

model = tf.keras.Sequential([tf.keras.layers.Dense(1, input_shape=(3,))])
model.compile("sgd", "mse")


def input_fn():
    return tf.data.Dataset.from_tensors(({"dense_input": [[1.0, 2.0, 3.0]]}, [[0.0]])).repeat().batch(8)


est = tf.keras.estimator.model_to_estimator(keras_model=model)
est.train(input_fn, steps=1)
'''


def test_model_to_estimator_stays_under_the_tf1_target():
    result = migrate_code(KERAS, TF1, style="none")
    assert result.code == KERAS
    assert ("E2T258", 11) in codes(result) and ("E2T250", 11) in codes(result)
    assert "E2T108" not in dict(codes(migrate_code(KERAS, TF1, style="none", rewrites=True)))
    assert "est2tpu.model_to_estimator" in migrate_code(KERAS, style="none").code  # the tf2 target converts it


def test_a_tf_contrib_program_under_the_tf2_target_is_told_about_tf1():
    source = MODULE_LEVEL.replace('tf.layers.dense(features["x"], 1)',
                                                  'tf.contrib.layers.fully_connected(features["x"], 1)')
    result = migrate_code(source, style="none")
    [note] = [f for f in result.findings if f.code == "E2T247"]
    assert note.line == 17 and "tf.contrib.layers.fully_connected at <string>:7" in note.message
    assert "E2T247" not in dict(codes(migrate_code(source, TF1, style="none")))


def test_a_program_calling_what_only_tf1_has_under_the_tf2_target_is_told_about_tf1():
    """tf.layers, tf.train.AdamOptimizer: TF 2 has neither, so the program is TF 1.x code."""
    [note] = [f for f in migrate_code(MODULE_LEVEL, style="none").findings if f.code == "E2T247"]
    assert note.line == 17 and "tf.layers.dense at <string>:7" in note.message
    compat = MODULE_LEVEL.replace("import tensorflow as tf", "import tensorflow.compat.v1 as tf")
    assert "E2T247" not in dict(codes(migrate_code(compat, style="none")))  # runs on TF 2 as it is


def test_numpy_input_fn_alone_is_no_reason_for_the_tf1_target():
    """tf.estimator.inputs is TF 1's, but the default target makes its input_fns est2tpu's."""
    source = MODULE_LEVEL.replace("import tensorflow as tf", "import tensorflow.compat.v1 as tf\nimport numpy as np")
    source = source.replace(
        "def input_fn():\n    return tf.data.Dataset.from_tensors(({\"x\": [[1.0]]}, [[0.0]])).repeat().batch(BATCH)",
        "input_fn = tf1.estimator.inputs.numpy_input_fn({\"x\": np.ones((8, 1))}, np.zeros((8, 1)), batch_size=BATCH,"
        " num_epochs=None)").replace("import numpy as np", "import numpy as np\nimport tensorflow as tf1")
    result = migrate_code(source, style="none")
    assert "est2tpu.numpy_input_fn(" in result.code and "E2T247" not in dict(codes(result))


SECOND_ESTIMATOR = '''

def model_fn2(features, labels, mode, params):
    loss = tf.reduce_mean(tf.layers.dense(features["x"], 1) - labels)
    train_op = tf.train.AdamOptimizer(0.1).minimize(loss, global_step=tf.train.get_global_step())
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)


def input_fn2():
    return tf.data.Dataset.from_tensors(({"x": [[1.0]]}, [[0.0]])).repeat().batch(4)


est2 = tf.estimator.Estimator(model_fn2, config=tf.estimator.RunConfig(model_dir="/tmp/n"))
est2.train(input_fn2, max_steps=1)
'''


def test_a_later_migration_reuses_the_switches_an_earlier_one_wrote():
    migrated = migrate_code(MODULE_LEVEL, TF1, style="none").code
    code = migrate_code(migrated + SECOND_ESTIMATOR, TF1, style="none").code
    assert "est2 = tf.contrib.tpu.TPUEstimator(" in code
    assert code.count("def _use_tpu") == 1 and code.count("def _tpu_cluster_resolver") == 1
    assert code.count("cluster=_tpu_cluster_resolver()") == 2


def test_a_notebook_gets_the_switches_in_the_cell_of_its_imports(tmp_path):
    import json

    from test_cli_helpers import run_cli

    cells = MODULE_LEVEL.replace("\n\nBATCH", "\n\n\nBATCH").split("\n\n\n")
    nb = {"cells": [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
                     "source": cell.strip() + "\n"} for cell in cells], "metadata": {}, "nbformat": 4,
          "nbformat_minor": 5}
    (tmp_path / "trainer.ipynb").write_text(json.dumps(nb, indent=1))
    assert run_cli("migrate", "--target", "tf1", "trainer.ipynb", cwd=tmp_path).code == 0
    sources = ["".join(cell["source"]) for cell in json.loads((tmp_path / "trainer.ipynb").read_text())["cells"]]
    assert sources[0].startswith("import os\nimport tensorflow as tf\n\n\ndef _use_tpu():\n")
    assert sources[0].endswith('(tpu=os.environ["TPU_NAME"])\n')  # no blank lines left at the cell's end
    assert sources[1] == "BATCH = 8\n"
    assert "cluster=_tpu_cluster_resolver()" in sources[-1] and not any("est2tpu." in s for s in sources)


def test_the_names_taken_for_tf1_code_are_all_missing_from_tf2():
    """A name TF 2 has would call TF 2 code TF 1.x code (and its canned classes TF 1's)."""
    tf = pytest.importorskip("tensorflow")
    from est2tpu.codemods.tf1_code import TF1_ONLY

    present = []
    for name in sorted(TF1_ONLY):
        obj = tf
        for part in name.split("."):
            obj = getattr(obj, part, None)
        if obj is not None:
            present.append(name)
    assert present == []
