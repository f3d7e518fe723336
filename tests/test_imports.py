"""Added imports go where isort would put them: ruff's import-order check (I001) passes on
migrated files that passed it before."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from fixture_programs import FIXTURES
from test_cli_helpers import REPO, engine, run_cli, write

MODEL = '''

def model_fn(features, labels, mode, params):
    loss = tf.reduce_sum(features)
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=tf.compat.v1.train.get_global_step())


est = tf.estimator.Estimator(model_fn)
est.train(lambda: tf.data.Dataset.range(8).batch(8), max_steps=2)
'''

#: Import blocks as isort (ruff's defaults) sorts them, and where est2tpu's import goes.
SORTED = {
    "sections": (
        '"""Trainer."""\nfrom __future__ import annotations\n\nimport os\n\nimport numpy as np\nimport tensorflow as tf\n'
        "from absl import flags\n\nfrom trainer import data\n",
        "import os\n\nimport est2tpu\nimport numpy as np\nimport tensorflow as tf\nfrom absl import flags\n",
    ),
    "alone": ("import tensorflow as tf\n", "import est2tpu\nimport tensorflow as tf\n"),
    "after": ("import absl\nimport tensorflow.compat.v1 as tf\n",
              "import absl\nimport est2tpu\nimport tensorflow.compat.v1 as tf\n"),
    "comment": ("import os\n\n# TensorFlow 1.x API\nimport tensorflow.compat.v1 as tf\n",
                "import os\n\nimport est2tpu\n\n# TensorFlow 1.x API\nimport tensorflow.compat.v1 as tf\n"),
    "late": ("import sys\n\nsys.path.insert(0, 'lib')\n\nimport tensorflow as tf  # noqa: E402\n",
             "sys.path.insert(0, 'lib')\n\nimport est2tpu\nimport tensorflow as tf  # noqa: E402\n"),
}


@pytest.mark.parametrize("name", sorted(SORTED))
def test_est2tpu_is_imported_in_the_third_party_group_in_order(name):
    head, expected = SORTED[name]
    out = engine(head + MODEL, style="none")
    assert expected in out, out
    assert out.count("import est2tpu\n") == 1


def test_bare_names_are_imported_in_order_and_the_names_they_replace_are_dropped():
    """``from tensorflow.estimator import RunConfig`` was kept when the TPU RunConfig was
    imported after it (the later import won); sorted, the TPU one comes first: the old one
    must go, or it would win."""
    head = ("import os\n\nimport numpy as np\nimport tensorflow as tf\n"
            "from tensorflow.estimator import Estimator, EstimatorSpec, RunConfig\n\nfrom trainer import data\n")
    body = MODEL.replace("tf.estimator.EstimatorSpec", "EstimatorSpec").replace(
        "tf.estimator.Estimator(model_fn)", "Estimator(model_fn, config=RunConfig(model_dir='m'))")
    out = engine(head + body, style="none")
    assert out.startswith(
        "import os\n\nimport est2tpu\nimport numpy as np\nimport tensorflow as tf\n"
        "from tensorflow.compat.v1.estimator.tpu import RunConfig, TPUConfig, TPUEstimator, TPUEstimatorSpec\n\n"
        "from trainer import data\n"), out
    assert "tensorflow.estimator import" not in out


def test_a_dropped_import_keeps_its_group_apart():
    head = "import os\n\nfrom tensorflow.estimator import EstimatorSpec\nimport tensorflow as tf\n"
    out = engine(head + MODEL.replace("tf.estimator.EstimatorSpec", "EstimatorSpec"), style="none")
    assert out.startswith("import os\n\nimport est2tpu\nimport tensorflow as tf\n"), out


def test_without_tensorflow_imported_at_the_top_the_import_opens_the_module():
    head = '"""Doc."""\ntry:\n    import tensorflow.compat.v1 as tf\nexcept ImportError:\n    import tensorflow as tf\n'
    out = engine(head + MODEL, style="none")
    assert out.startswith('"""Doc."""\nimport est2tpu\ntry:\n'), out


COMMENTED_IMPORTS = '''"""Sentence classifier, in the style of a BERT fine-tuning script."""
import tensorflow as tf
# Everything the trainer needs from the Estimator API.
from tensorflow.estimator import (  # TF 1.15 names
    # the trainer and its configuration
    Estimator,  # replaced by TPUEstimator on a TPU
    ModeKeys,
    # what model_fn returns
    EstimatorSpec  # keep in sync with TPUEstimatorSpec
)
from tensorflow.estimator import RunConfig  # pylint: disable=g-importing-member


def model_fn(features, labels, mode, params):
    logits = tf.compat.v1.layers.dense(features, 2)
    loss = tf.compat.v1.losses.sparse_softmax_cross_entropy(labels, logits)
    train_op = tf.compat.v1.assign_add(tf.compat.v1.train.get_global_step(), 1)
    if mode == ModeKeys.PREDICT:
        return EstimatorSpec(mode, predictions={"logits": logits})
    return EstimatorSpec(mode, loss=loss, train_op=train_op)


def input_fn():
    return tf.data.Dataset.from_tensors(([[1.0]], [0])).repeat().batch(4)


est = Estimator(model_fn, config=RunConfig(model_dir="out"))
est.train(input_fn, max_steps=2)
'''


@pytest.mark.parametrize("style", ["none", "auto", "black"])
def test_the_comments_of_a_rewritten_import_are_kept(style):
    """Names dropped from ``from … import (…)`` leave their comments where they were, and a
    line dropped whole leaves its comments above the next statement."""
    out = engine(COMMENTED_IMPORTS, style=style)
    imports = re.sub(r"#.*", "", out.split("def model_fn")[0])
    assert "from tensorflow.estimator import" in imports and "ModeKeys" in imports, out
    assert not re.search(r"\b(Estimator|EstimatorSpec|estimator import RunConfig)\b", imports), out
    comments = [line.partition("#")[2] for line in COMMENTED_IMPORTS.splitlines() if "#" in line]
    assert len(comments) == 7
    assert [c for c in comments if "#" + c not in out] == [], out
    compile(out, "migrated.py", "exec")


def _notebook(*cells):
    return json.dumps({
        "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
                   "source": source.splitlines(keepends=True)} for source in cells],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    }, indent=1) + "\n"


LICENCE = "#@title Licensed under the Apache License, Version 2.0\n# you may not use this file except...\n"
SETUP = "!pip install -q est2tpu\n%matplotlib inline\nimport os\n\nimport numpy as np\nimport tensorflow as tf\n"


def test_in_a_notebook_the_import_goes_into_the_cell_that_imports_after_its_magics(tmp_path):
    write(tmp_path, {"nb.ipynb": _notebook(LICENCE, SETUP, MODEL.strip() + "\n")})
    assert run_cli("migrate", "nb.ipynb", cwd=tmp_path).code == 0
    cells = ["".join(c["source"]) for c in json.loads((tmp_path / "nb.ipynb").read_text())["cells"]]
    assert cells[0] == LICENCE  # the hidden licence cell is left alone
    assert cells[1] == SETUP.replace("import numpy", "import est2tpu\nimport numpy")
    assert "est2tpu.use_tpu()" in cells[2] and "import" not in cells[2]


# --------------------------------------------------------------------------- ruff's own verdict


def _ruff(*args, cwd):
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=cwd, capture_output=True, text=True)


@pytest.fixture(scope="module")
def ruff():
    try:
        found = subprocess.run([sys.executable, "-m", "ruff", "--version"], capture_output=True)
    except OSError:
        found = None
    if found is None or found.returncode:
        pytest.skip("ruff is not installed (it is in the test extra)")


def _sources() -> dict:
    files = {f"fixtures/{p.name}": p.read_text() for p in sorted(FIXTURES.glob("*.py"))}
    files.update({f"example/{p.relative_to(REPO / 'examples/project')}": p.read_text()
                  for p in sorted((REPO / "examples/project").rglob("*.py"))})
    files.update({f"cases/{name}.py": head + MODEL for name, (head, _) in SORTED.items()})
    files["cases/trainer/__init__.py"] = ""
    files["cases/trainer/data.py"] = ""
    files["notebooks/setup.ipynb"] = _notebook(LICENCE, SETUP, MODEL.strip() + "\n")
    files["notebooks/one_cell.ipynb"] = _notebook("import tensorflow as tf\n" + MODEL)
    return files


def test_ruff_import_order_passes_after_migration_where_it_passed_before(tmp_path, ruff):
    files = _sources()
    write(tmp_path, files)
    # I001 only (isort's order and layout), at ruff's defaults, first-party being what is here.
    check = ["check", "--isolated", "--select", "I001", "--output-format", "json", "--extension", "ipynb:ipynb"]
    before = _ruff(*check, ".", cwd=tmp_path)
    unsorted = {entry["filename"] for entry in json.loads(before.stdout)}
    clean = [name for name in files if str(tmp_path / name) not in unsorted and name.endswith((".py", ".ipynb"))]
    assert len(clean) > 20 and "example/trainer/task.py" in clean and "notebooks/setup.ipynb" in clean
    for top in ("fixtures", "example", "cases", "notebooks"):
        run_cli("migrate", "--exit-zero", "-q", top, cwd=tmp_path)
    changed = [name for name in clean if (tmp_path / name).read_text() != files[name]]
    assert len(changed) > 20 and sum("import est2tpu" in (tmp_path / name).read_text() for name in changed) > 15
    after = _ruff(*check, *clean, cwd=tmp_path)
    assert json.loads(after.stdout) == [], _ruff("check", "--isolated", "--select", "I001", "--diff", *clean,
                                                 cwd=tmp_path).stdout


def test_the_check_above_can_fail(tmp_path, ruff):
    """An import put after the first-party group, as est2tpu used to, is an I001 error."""
    write(tmp_path, {"m.py": "import tensorflow as tf\n\nfrom trainer import data\nimport est2tpu\n",
                     "trainer/__init__.py": ""})
    result = _ruff("check", "--isolated", "--select", "I001", "--output-format", "json", "m.py", cwd=tmp_path)
    assert [entry["code"] for entry in json.loads(result.stdout)] == ["I001"]


def test_a_plain_import_goes_before_the_same_module_imported_as_a_name():
    """isort's order: ``import tensorflow`` before ``import tensorflow as tf`` (added where
    a def binds ``tf`` itself, see test_migrated_code_runs.py)."""
    import libcst as cst

    from est2tpu.codemods.imports import update_imports

    module = cst.parse_module("import os\n\nimport tensorflow as tf\nfrom tensorflow import estimator\n\nx = tensorflow.a\n")
    out = update_imports(module, [("tensorflow", None, None)], []).code
    assert out.startswith("import os\n\nimport tensorflow\nimport tensorflow as tf\nfrom tensorflow import estimator\n")


def test_an_import_asked_for_but_used_by_no_rewrite_is_not_added():
    """An analysis may ask for an import for code it then does not rewrite (an estimator that
    stays): only what the module uses is imported."""
    import libcst as cst

    from est2tpu.codemods.imports import update_imports

    module = cst.parse_module("import tensorflow as tf\n\nx = est2tpu.use_tpu()\n")
    out = update_imports(module, [("est2tpu", None, None), ("numpy", None, "np")], []).code
    assert out == "import est2tpu\nimport tensorflow as tf\n\nx = est2tpu.use_tpu()\n"
