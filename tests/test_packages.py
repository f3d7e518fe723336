"""Trainer packages migrated as one program: ``fixtures/packages/NAME/`` is the original tree,
``NAME.out/`` the golden migrated tree and ``NAME.txt`` the findings of ``est2tpu migrate .``
(``EST2TPU_REGEN=1`` rewrites them for review).  The original and the migrated package
train, evaluate and predict on the CPU to the same numbers."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from test_cli_helpers import REPO, run_cli, snapshot

PACKAGES = REPO / "fixtures" / "packages"
NAMES = sorted(p.name for p in PACKAGES.iterdir() if p.is_dir() and not p.name.endswith(".out"))
#: How each package runs (from its root, MODEL_DIR replaced); it prints its numbers as JSON.
RUN = {
    "estimator_factory": ["-m", "trainer.task", "--job-dir", "MODEL_DIR"],
    "estimator_parameter": ["-m", "trainer.task", "--model-dir", "MODEL_DIR"],
    "factory_inputs": ["-m", "trainer.task", "--model-dir", "MODEL_DIR"],
    "relative_imports": ["-m", "trainer.task", "MODEL_DIR"],
    "script_imports": ["trainer/task.py", "--model-dir", "MODEL_DIR"],  # `import inputs` beside it
}
REGEN = bool(os.environ.get("EST2TPU_REGEN"))


def _copy(name, to: Path) -> Path:
    shutil.copytree(PACKAGES / name, to, ignore=shutil.ignore_patterns("__pycache__"))
    return to


def _migrated(name, tmp_path) -> Path:
    tree = _copy(name, tmp_path / name)
    result = run_cli("migrate", ".", cwd=tree)
    assert result.code in (0, 1), result.err  # 1: a blocking finding is left
    findings = result.stdout
    golden, listed = PACKAGES / f"{name}.out", PACKAGES / f"{name}.txt"
    if REGEN:
        shutil.rmtree(golden, ignore_errors=True)
        _copy(name, golden)
        for path in tree.rglob("*.py"):
            shutil.copy(path, golden / path.relative_to(tree))
        listed.write_text(findings)
    assert snapshot(tree) == snapshot(golden)
    assert findings == listed.read_text()
    return tree


@pytest.mark.parametrize("name", NAMES)
def test_a_package_migrates_as_one_program_and_a_second_run_changes_nothing(name, tmp_path):
    tree = _migrated(name, tmp_path)
    again = run_cli("migrate", "--check", ".", cwd=tree)
    assert "would migrate" not in again.err, again.err
    assert snapshot(tree) == snapshot(PACKAGES / f"{name}.out")


@pytest.mark.parametrize("name", NAMES)
def test_the_files_given_one_by_one_are_one_program_too(name, tmp_path):
    """As pre-commit passes the changed files: given all, they migrate as the directory does."""
    tree = _copy(name, tmp_path / name)
    files = sorted(str(p.relative_to(tree)) for p in tree.rglob("*.py"))
    assert run_cli("migrate", *files, cwd=tree).code in (0, 1)
    assert snapshot(tree) == snapshot(PACKAGES / f"{name}.out")


def test_a_file_given_alone_reads_its_package_and_changes_nothing_half(tmp_path):
    """task.py alone: its package is read (the estimator's model_fn and input_fns are found in
    trainer/model.py and trainer/inputs.py), but those are not written, so task.py is not
    migrated alone either: one blocking finding says why, pointing into the other files."""
    tree = _copy("factory_inputs", tmp_path / "factory_inputs")
    before = snapshot(tree)
    result = run_cli("migrate", "trainer/task.py", cwd=tree)
    assert result.code == 1
    assert snapshot(tree) == before
    (line,) = [line for line in result.stdout.splitlines() if " E2T250 " in line]
    assert line.startswith("trainer/task.py:19:17: E2T250 estimator left as it was: E2T244 at trainer/inputs.py:")
    assert "E2T244 at trainer/model.py:" in line
    assert "E2T212" not in result.stdout  # the model_fn is found, in the module the run read


def _factory_tree(tmp_path, name: str, calls: str = "model.build_estimator(model_dir)") -> Path:
    """relative_imports with its Estimator built by ``model.build_estimator(model_dir)``: the
    batch size is ``BATCH`` of data.py, which model.py does not import and task.py does."""
    tree = _copy("relative_imports", tmp_path / name)
    model = tree / "trainer" / "model.py"
    model.write_text(model.read_text() + "\n\ndef build_estimator(model_dir):\n"
                     "    return tf.estimator.Estimator(model_fn, config=run_config(model_dir))\n")
    task = tree / "trainer" / "task.py"
    task.write_text(task.read_text().replace("tf.estimator.Estimator(model.model_fn, config=model.run_config(model_dir))",
                                             calls))
    return tree


def test_a_batch_size_only_the_factorys_caller_can_name_is_passed_by_it(tmp_path):
    """The factory gains ``train_batch_size=None`` (and eval, predict), its TPUEstimator reads
    them, and its one call, in task.py, passes ``data.BATCH``: the program trains, evaluates
    and predicts to the numbers of the original."""
    original = _factory_tree(tmp_path, "original")
    tree = _factory_tree(tmp_path, "migrated")
    result = run_cli("migrate", ".", cwd=tree)
    assert result.code == 1 and "E2T218" not in result.stdout  # 1: E2T217, the shared eval/predict input_fn
    model, task = (tree / "trainer" / "model.py").read_text(), (tree / "trainer" / "task.py").read_text()
    assert "model_dir, train_batch_size=None, eval_batch_size=None, predict_batch_size=None" in model
    assert "        train_batch_size=train_batch_size,\n" in model
    assert "        train_batch_size=data.BATCH,\n        eval_batch_size=data.BATCH,\n" in task
    before, after = _run(original, "relative_imports", tmp_path / "m1"), _run(tree, "relative_imports", tmp_path / "m2")
    assert after.keys() == before.keys()
    for key, value in before.items():
        assert after[key] == pytest.approx(value, rel=1e-6), key


def test_a_factory_called_twice_keeps_its_estimator_as_it_was(tmp_path):
    """A second call of the factory would pass no batch size: nothing of the program changes,
    and the finding says why at the input_fn."""
    tree = _factory_tree(tmp_path, "pkg", calls="model.build_estimator(model_dir)\n"
                                                "    unused = model.build_estimator(model_dir + '/b')")
    before = snapshot(tree)
    result = run_cli("migrate", ".", cwd=tree)
    assert result.code == 1 and snapshot(tree) == before
    assert ("trainer/task.py:14:21: E2T218 batch size of an input_fn not found (train_batch_size): BATCH is set in a "
            "module that the one building the estimator does not import") in result.stdout


def test_a_folder_named_tensorflow_is_not_what_import_tensorflow_reaches(tmp_path):
    """Samples in a ``tensorflow/`` package of a repository (it has an ``__init__.py``): there,
    ``import tensorflow`` still means TensorFlow, so the samples stay programs of their own.
    The tf.contrib.learn one keeps its program-wide obstacle to itself, and the estimator
    beside it migrates."""
    root = tmp_path / "tensorflow"
    for package in ("", "plain", "legacy"):
        (root / package).mkdir(exist_ok=True)
        (root / package / "__init__.py").write_text("")
    (root / "plain" / "task.py").write_text(
        "import tensorflow as tf\n\n\n"
        "def model_fn(features, labels, mode):\n"
        "    loss = tf.reduce_sum(features)\n"
        "    train_op = tf.compat.v1.train.AdamOptimizer().minimize(loss)\n"
        "    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)\n\n\n"
        "def input_fn():\n"
        "    return tf.data.Dataset.range(64).repeat().batch(8, drop_remainder=True)\n\n\n"
        "tf.estimator.Estimator(model_fn).train(input_fn, max_steps=2)\n")
    (root / "legacy" / "task.py").write_text(
        "import tensorflow as tf\n\nest = tf.contrib.learn.DNNClassifier(hidden_units=[10], feature_columns=[])\n")
    result = run_cli("migrate", ".", cwd=tmp_path)
    assert "TPUEstimator(" in (root / "plain" / "task.py").read_text()
    assert "tensorflow/legacy/task.py:3:7: E2T248 " in result.stdout
    assert "E2T250" not in result.stdout


def test_a_plain_import_in_a_package_reaches_its_sibling_after_the_packages_root(tmp_path):
    """``import util`` in pkg/a.py: the package root's util.py (``python -m pkg.a``), else the
    sibling pkg/util.py (``python pkg/a.py``, and Python 2's implicit relative import)."""
    from est2tpu.cli import program

    (tmp_path / "setup.py").write_text("")  # the project root: no name from above it
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    for name in ("__init__.py", "a.py", "util.py"):
        (pkg / name).write_text("")
    a = str(pkg / "a.py")
    assert program.module_names(a) == ((str(tmp_path), "pkg.a"), (str(pkg), "a"))
    assert program.module_names(str(pkg / "__init__.py")) == ((str(tmp_path), "pkg"),)
    assert program.resolve(a, 0, "util") == str(pkg / "util.py")
    assert program.resolve(a, 1, "util") == str(pkg / "util.py")
    assert program.resolve(a, 0, "missing") is None
    (tmp_path / "util.py").write_text("")
    program.module_names.cache_clear()
    program._module_file.cache_clear()
    program._is_file.cache_clear()
    assert program.resolve(a, 0, "util") == str(tmp_path / "util.py")


def test_a_directory_no_import_can_spell_is_a_root_even_with_an_init(tmp_path):
    """``my-sample/__init__.py`` beside ``my-sample/trainer/``: run from my-sample/ (``python -m
    trainer.task``), ``from trainer import inputs`` reaches my-sample/trainer/inputs.py."""
    from est2tpu.cli import program

    sample = tmp_path / "my-sample"
    trainer = sample / "trainer"
    trainer.mkdir(parents=True)
    for path in (sample / "__init__.py", sample / "setup.py", trainer / "__init__.py", trainer / "task.py",
                 trainer / "inputs.py"):
        path.write_text("")
    task = str(trainer / "task.py")
    assert program.module_names(task)[0] == (str(sample), "trainer.task")
    assert program.resolve(task, 0, "trainer.inputs") == str(trainer / "inputs.py")


def _run(tree: Path, name: str, model_dir: Path) -> dict:
    args = [str(model_dir) if a == "MODEL_DIR" else a for a in RUN[name]]
    proc = subprocess.run([sys.executable, *args], cwd=tree, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(tree), "TF_CPP_MIN_LOG_LEVEL": "2"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("name", NAMES)
def test_the_migrated_package_trains_to_the_same_numbers(name, tmp_path):
    original = _run(_copy(name, tmp_path / "original"), name, tmp_path / "m1")
    migrated = _run(_copy(f"{name}.out", tmp_path / "migrated"), name, tmp_path / "m2")
    assert migrated.keys() == original.keys()
    for key, value in original.items():
        assert migrated[key] == pytest.approx(value, rel=1e-6), key


@pytest.mark.parametrize("marker", ["setup.py", None], ids=["project root", "no project root"])
def test_a_module_without_estimator_code_that_imports_one_is_part_of_its_program(tmp_path, marker):
    """task.py names no Estimator API but sets ``model.BATCH_SIZE`` after model.py built its
    input_fns with the first value (a namespace package, run as ``python -m trainer.task``):
    lifting BATCH_SIZE would change the batch the program trains at, so nothing changes and
    the finding points at task.py."""
    trainer = tmp_path / "trainer"
    trainer.mkdir()
    if marker:
        (tmp_path / marker).write_text("")
    (trainer / "model.py").write_text(
        "import tensorflow as tf\n\nBATCH_SIZE = 32\n\n\n"
        "def model_fn(features, labels, mode):\n"
        "    loss = tf.reduce_sum(features)\n"
        "    train_op = tf.compat.v1.train.AdamOptimizer().minimize(loss)\n"
        "    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)\n\n\n"
        "def read(batch_size):\n"
        "    def _input_fn():\n"
        "        return tf.data.Dataset.range(8).batch(batch_size)\n"
        "    return _input_fn\n\n\n"
        "train_input_fn = read(BATCH_SIZE)\n\n\n"
        "def train(output_dir):\n"
        "    est = tf.estimator.Estimator(model_fn, model_dir=output_dir)\n"
        "    est.train(train_input_fn, max_steps=2)\n")
    (trainer / "task.py").write_text("import sys\n\nfrom . import model\n\n"
                                     "model.BATCH_SIZE = int(sys.argv[1])\nmodel.train(sys.argv[2])\n")
    before = snapshot(tmp_path)
    result = run_cli("migrate", ".", cwd=tmp_path)
    assert result.code == 1 and snapshot(tmp_path) == before
    assert "BATCH_SIZE is set again at trainer/task.py:5" in result.stdout
