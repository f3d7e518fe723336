"""Harmlessness on large bodies of real code nobody here wrote (slow; CI runs it).

* The CPython standard library (~1,800 files, no Estimator code): ``--check`` and
  ``--diff`` report nothing, change nothing and fail on nothing (its deliberately
  undecodable test files hold no Estimator API, so they are not even decoded).
* The installed sources of TensorFlow, Keras and tensorflow-estimator (~2,500 files,
  copied to a temporary directory): migrated in place, with no internal error; every
  change is one listed in ``JUSTIFIED_CHANGES`` (the estimator library's own code mostly
  builds its estimators in ways that block a conversion); a second run changes nothing.
"""

import importlib.util
import pathlib
import shutil
import subprocess
import sys
import sysconfig

import pytest

from test_cli_helpers import error_lines

pytestmark = pytest.mark.slow

EST2TPU = [sys.executable, "-m", "est2tpu"]
#: Files in TensorFlow's own sources that est2tpu may change, with the reason.
JUSTIFIED_CHANGES = {
    "tensorflow_estimator/python/estimator/canned/linear_testing_utils.py":
        "four tests train linear.LinearClassifierV2 (the TF 2 canned class through its own module, "
        "as user code may name it) on a numpy_input_fn whose batch size they spell: each converts "
        "whole to est2tpu.LinearClassifier over est2tpu.numpy_input_fn",
}


def run(*args, cwd=None):
    return subprocess.run([*EST2TPU, *args], capture_output=True, text=True, cwd=cwd)


def test_standard_library_is_left_alone():
    stdlib = sysconfig.get_paths()["stdlib"]
    result = run("migrate", "--check", "--diff", stdlib)
    assert result.stdout == ""  # no patch
    assert error_lines(result.stderr) == []
    assert result.stderr.splitlines()[-1].startswith("0 files would be migrated, ")
    assert result.stderr.splitlines()[-1].endswith(" unchanged, 0 failed, 0 findings")
    assert result.returncode == 0


def _package_dir(name):
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{name} is not installed (pip install -e '.[tf]')")
    return pathlib.Path(list(spec.submodule_search_locations)[0])


def test_tensorflow_keras_and_estimator_sources(tmp_path):
    tree = tmp_path / "sources"
    for name in ("tensorflow", "keras", "tensorflow_estimator"):
        shutil.copytree(_package_dir(name), tree / name, ignore=shutil.ignore_patterns("*.so", "*.so.*", "__pycache__"))
    total = sum(1 for _ in tree.rglob("*.py"))
    assert total > 2000

    check = run("migrate", "--check", ".", cwd=tree)
    assert "internal error" not in check.stderr and not error_lines(check.stderr), check.stderr[-2000:]
    would_change = {line.split(" ", 2)[2] for line in check.stderr.splitlines() if line.startswith("would migrate ")}
    assert would_change == set(JUSTIFIED_CHANGES)

    migrate = run("migrate", ".", cwd=tree)
    # Exit 1 only for the blocking findings left (Estimator code in these sources that cannot run on a TPU).
    assert migrate.returncode == (1 if "blocking left to fix" in migrate.stderr else 0), migrate.stderr[-2000:]
    assert "internal error" not in migrate.stderr and not error_lines(migrate.stderr)
    for path in JUSTIFIED_CHANGES:
        compile((tree / path).read_text(), path, "exec")
    again = run("migrate", "--check", ".", cwd=tree)
    assert not [line for line in again.stderr.splitlines() if line.startswith("would migrate ")]
