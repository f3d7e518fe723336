"""A repeated run that changes nothing is replayed (est2tpu.cli.replay): the same output and
exit code, without the engine, and never once something the run looked at changed."""

import os
import subprocess
import sys

import pytest

from test_cli_helpers import SPEC, write

#: The console script, reporting on exit whether est2tpu ran in full (imported its CLI).
PROBE = ("import atexit, sys; marker = sys.argv.pop(1); atexit.register(lambda: open(marker, 'w').write("
         "str('est2tpu.cli.main' in sys.modules))); from est2tpu.cli.replay import main; main()")
ESTIMATOR_FILE = ("import tensorflow as tf\n\n\ndef model_fn(features, labels, mode):\n"
                  "    return tf.estimator.EstimatorSpec(mode, loss=tf.constant(0.0))\n\n\n"
                  "est = tf.estimator.Estimator(model_fn)\n")


def run(tree, *args, env=None):
    """(ran in full, exit code, stdout, stderr) of ``est2tpu ARGS`` in ``tree``, the cache on."""
    marker = tree.parent / "ran-in-full"
    done = subprocess.run([sys.executable, "-c", PROBE, str(marker), *args], cwd=tree, capture_output=True,
                          env={**os.environ, "EST2TPU_NO_CACHE": "", **(env or {})}, timeout=300)
    return marker.read_text() == "True", done.returncode, done.stdout, done.stderr


def truth(tree, *args):
    """What a full run without the cache prints."""
    return run(tree, *args, "--no-cache")[1:]


@pytest.fixture
def tree(tmp_path):
    """A migrated project: two clean files, and a package whose estimator stays, with a finding."""
    root = tmp_path / "tree"
    write(root, {"pyproject.toml": "", ".git/HEAD": "", ".gitignore": "", "a.py": SPEC, "b.py": SPEC, "pkg/__init__.py": "",
                 "pkg/inputs.py": "def make(n):\n    return n\n",
                 "pkg/task.py": "from pkg import inputs\nimport tensorflow as tf\nest = tf.estimator.Estimator(f)\n"})
    assert run(root, "migrate", "--no-cache", "a.py", "b.py")[1] == 0
    return root


@pytest.mark.parametrize("mode", ["--check", "--diff"])
def test_a_repeated_run_is_replayed_without_the_engine(tree, mode):
    first = run(tree, "migrate", mode, ".")
    again = run(tree, "migrate", mode, ".")
    assert first[0] and first[1] == 1 and b"E2T250" in first[2] + first[3]  # the finding, every time
    assert not again[0] and again[1:] == first[1:] == truth(tree, "migrate", mode, ".")
    assert run(tree, "migrate", mode, "-q", ".")[0]  # another command: its own run


CHANGES = {
    "a file edited, same size": lambda t: (t / "a.py").write_text((t / "a.py").read_text().replace("=10", "=20")),
    "a file added": lambda t: write(t, {"c.py": ESTIMATOR_FILE}),
    "a file removed": lambda t: (t / "b.py").unlink(),
    "an imported module edited": lambda t: write(t, {"pkg/inputs.py": "import tensorflow as tf\n"}),
    "the configuration": lambda t: write(t, {"pyproject.toml": "[tool.est2tpu]\nignore = ['E2T250']\n"}),
    "the .gitignore": lambda t: write(t, {".gitignore": "a.py\n"}),
    "a package made a namespace": lambda t: (t / "pkg" / "__init__.py").unlink(),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_change_where_the_run_looked_runs_it_in_full(tree, change):
    run(tree, "migrate", "--check", ".")
    assert not run(tree, "migrate", "--check", ".")[0]
    CHANGES[change](tree)
    after = run(tree, "migrate", "--check", ".")
    assert after[0] and after[1:] == truth(tree, "migrate", "--check", ".")


def test_a_module_outside_the_files_given_is_looked_for(tree):
    """task.py alone: whether lib/model.py exists decides what ``from lib import model`` reaches."""
    write(tree, {"task.py": "from lib import model\nimport tensorflow as tf\nest = tf.estimator.Estimator(model.f)\n",
                 "lib/__init__.py": ""})
    run(tree, "migrate", "--check", "task.py")
    assert not run(tree, "migrate", "--check", "task.py")[0]
    write(tree, {"lib/model.py": ESTIMATOR_FILE.replace("est = tf.estimator.Estimator(model_fn)\n", "f = model_fn\n")})
    after = run(tree, "migrate", "--check", "task.py")
    assert after[0] and after[1:] == truth(tree, "migrate", "--check", "task.py")


def test_a_link_above_a_file_given_pointed_elsewhere_runs_it_in_full(tmp_path):
    """``../link/task.py`` is read where ``link`` points, outside the project (whose cache
    stays where it was): another file there is another run, though the one read before is
    still there as it was."""
    write(tmp_path, {"proj/pyproject.toml": "", "a/task.py": "import tensorflow as tf\nest = tf.estimator.Estimator(f)\n",
                     "b/task.py": SPEC})
    (tmp_path / "link").symlink_to("a")
    project = tmp_path / "proj"
    first = run(project, "migrate", "--check", "../link/task.py")
    assert first[0] and b"E2T250" in first[2] and not run(project, "migrate", "--check", "../link/task.py")[0]
    (tmp_path / "link").unlink()
    (tmp_path / "link").symlink_to("b")
    after = run(project, "migrate", "--check", "../link/task.py")
    assert after[0] and after[1:] == truth(project, "migrate", "--check", "../link/task.py")
    assert b"would migrate " in after[3]


def test_only_runs_that_change_nothing_are_recorded(tree):
    runs = tree / ".est2tpu_cache" / "1" / "runs"
    write(tree, {"new.py": SPEC})
    assert b"would migrate new.py" in run(tree, "migrate", "--check", "new.py")[3]
    write(tree, {"broken.py": "import tensorflow as tf\ntf.estimator.Estimator(\n"})
    assert run(tree, "migrate", "--check", "broken.py")[1] == 2
    run(tree, "migrate", "--check", "--no-cache", "a.py")
    run(tree, "migrate", "--check", "--output-file", "out.txt", "pkg")  # written elsewhere than stdout
    assert not runs.exists() or not os.listdir(runs)
    run(tree, "migrate", "--check", "a.py")
    assert len(os.listdir(runs)) == 1
