"""The cache of programs a run left unchanged: a repeated run skips them (replaying what was
reported about them), and trusts no entry once a file, a module it depends on, est2tpu or
the settings changed."""

import os
import subprocess
import sys

from test_cli_helpers import SPEC, run_cli, snapshot, write

ON = {"EST2TPU_NO_CACHE": ""}  # the tests run with the cache off (conftest.py)
CACHED = "(unchanged since an earlier run (cache))"


def _migrated_tree(tmp_path):
    write(tmp_path, {"pyproject.toml": "", "a.py": SPEC, "b.py": SPEC,
                     "pkg/__init__.py": "", "pkg/inputs.py": "def make(n):\n    return n\n",
                     "pkg/task.py": "from pkg import inputs\nimport tensorflow as tf\nest = tf.estimator.Estimator(f)\n"})
    assert run_cli("migrate", "a.py", "b.py", cwd=tmp_path, env=ON).code == 0
    return tmp_path


def _cached(result):
    return sorted(line.split(":")[0] for line in result.err.splitlines() if line.endswith(CACHED))


def test_a_second_check_of_a_clean_tree_skips_its_files(tmp_path):
    tree = _migrated_tree(tmp_path)
    first = run_cli("migrate", "--check", "-v", "a.py", "b.py", cwd=tree, env=ON)
    assert first.code == 0 and _cached(first) == []
    again = run_cli("migrate", "--check", "-v", "a.py", "b.py", cwd=tree, env=ON)
    assert again.code == 0 and _cached(again) == ["a.py", "b.py"]
    assert (tree / ".est2tpu_cache" / ".gitignore").read_text().splitlines()[-1] == "*"


def test_a_run_that_caches_no_program_still_leaves_a_cache_that_ignores_itself(tmp_path):
    write(tmp_path, {"pyproject.toml": "", "plain.py": "x = 1\n"})
    command = [sys.executable, "-m", "est2tpu", "migrate", "--check", "."]  # the entry point records the run
    assert subprocess.run(command, cwd=tmp_path, env={**os.environ, **ON}, capture_output=True).returncode == 0
    assert list((tmp_path / ".est2tpu_cache").glob("*/runs/*"))  # the run's recording, and no program's entry
    assert (tmp_path / ".est2tpu_cache" / ".gitignore").read_text().splitlines()[-1] == "*"


def test_a_file_that_changed_is_migrated_again(tmp_path):
    tree = _migrated_tree(tmp_path)
    run_cli("migrate", "--check", "a.py", "b.py", cwd=tree, env=ON)
    (tree / "b.py").write_text((tree / "b.py").read_text().replace("max_steps=10", "max_steps=11"))
    again = run_cli("migrate", "--check", "-v", "a.py", "b.py", cwd=tree, env=ON)
    assert _cached(again) == ["a.py"]


def test_the_findings_of_a_program_left_unchanged_are_replayed(tmp_path):
    tree = _migrated_tree(tmp_path)
    first = run_cli("migrate", "--check", "-v", "pkg", cwd=tree, env=ON)
    again = run_cli("migrate", "--check", "-v", "pkg", cwd=tree, env=ON)
    assert first.code == again.code == 1 and "E2T250" in first.stdout  # blocking: reported every time
    assert again.stdout == first.stdout and _cached(again) == ["pkg/__init__.py", "pkg/inputs.py", "pkg/task.py"]
    json_out = run_cli("migrate", "--check", "--output-format", "json", "pkg", cwd=tree, env=ON)
    assert "E2T250" in {f["code"] for f in __import__("json").loads(json_out.stdout)["findings"]}


def test_a_module_a_program_depends_on_invalidates_it(tmp_path):
    """pkg/task.py migrates with pkg/inputs.py: a change to inputs.py is a change to task.py's program."""
    write(tmp_path, {"pyproject.toml": "", "pkg/__init__.py": "",
                     "pkg/inputs.py": "import tensorflow as tf\n\n\ndef train_input_fn(params):\n"
                                      "    return tf.data.Dataset.range(8).batch(params['batch_size'], drop_remainder=True)\n",
                     "pkg/task.py": "import tensorflow as tf\nfrom pkg import inputs\n\n\n"
                                    "def model_fn(features, labels, mode, params):\n"
                                    "    return tf.compat.v1.estimator.tpu.TPUEstimatorSpec(mode, loss=tf.constant(0.0))\n\n\n"
                                    "est = tf.compat.v1.estimator.tpu.TPUEstimator(model_fn, use_tpu=False, train_batch_size=8)\n"
                                    "est.train(inputs.train_input_fn, max_steps=1)\n"})
    run_cli("migrate", "--check", "pkg/task.py", cwd=tmp_path, env=ON)
    assert _cached(run_cli("migrate", "--check", "-v", "pkg/task.py", cwd=tmp_path, env=ON)) == ["pkg/task.py"]
    inputs = tmp_path / "pkg" / "inputs.py"
    inputs.write_text(inputs.read_text().replace("range(8)", "range(16)"))  # read as task.py's context
    assert _cached(run_cli("migrate", "--check", "-v", "pkg/task.py", cwd=tmp_path, env=ON)) == []


def test_other_settings_or_no_cache_trust_no_entry(tmp_path):
    tree = _migrated_tree(tmp_path)
    run_cli("migrate", "--check", "a.py", cwd=tree, env=ON)
    assert _cached(run_cli("migrate", "--check", "-v", "--ignore", "E2T209", "a.py", cwd=tree, env=ON)) == []
    assert _cached(run_cli("migrate", "--check", "-v", "--no-cache", "a.py", cwd=tree, env=ON)) == []
    assert _cached(run_cli("migrate", "--check", "-v", "a.py", cwd=tree, env=ON)) == ["a.py"]


def test_concurrent_runs_share_the_cache(tmp_path):
    tree = _migrated_tree(tmp_path)
    before = snapshot(tree)
    runs = [subprocess.Popen([sys.executable, "-m", "est2tpu", "migrate", "--check", "a.py", "b.py"], cwd=tree,
                             env={**os.environ, **ON}, stderr=subprocess.PIPE) for _ in range(4)]
    assert [run.wait(timeout=120) for run in runs] == [0] * 4
    after = snapshot(tree)
    assert {k: v for k, v in after.items() if not k.startswith(".est2tpu_cache/")} == before  # the files untouched
    entries = [k for k in after if k.startswith(".est2tpu_cache/1/") and "/runs/" not in k]
    runs = [k for k in after if k.startswith(".est2tpu_cache/1/runs/")]  # est2tpu.cli.replay's
    assert len(entries) == 2 and len(runs) == 1 and not [k for k in after if "/.tmp-" in k]  # one each, no leftovers
    assert _cached(run_cli("migrate", "--check", "-v", "a.py", "b.py", cwd=tree, env=ON)) == ["a.py", "b.py"]


def test_a_run_over_the_project_does_not_search_the_cache(tmp_path):
    """The cache's directories are never searched for files (as ruff skips .ruff_cache)."""
    tree = _migrated_tree(tmp_path)
    run_cli("migrate", "--check", ".", cwd=tree, env=ON)
    write(tree, {".est2tpu_cache/1/zz/stray.py": SPEC})
    again = run_cli("migrate", "--check", "-v", ".", cwd=tree, env=ON)
    assert "stray.py" not in again.err + again.stdout
    assert ".est2tpu_cache: skipped (excluded)" in again.err
