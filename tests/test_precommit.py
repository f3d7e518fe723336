"""The pre-commit hooks, run by the real pre-commit tool with `try-repo`.

`pre-commit try-repo PATH` clones PATH at HEAD (and, if PATH has uncommitted changes to
tracked files, commits those into a shadow clone), so it never sees untracked files.
To test exactly the files of this working tree -- in a developer's checkout with
uncommitted work as in CI's clean clone -- the test copies them (tracked and
untracked-but-not-ignored, as `git ls-files` lists them) into a fresh repository,
commits them, and points try-repo at that.  pre-commit then installs the hook
environment from it with pip (build dependencies and libcst/black from PyPI), once per
test session thanks to a shared PRE_COMMIT_HOME.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from test_cli_helpers import CHIEF, REPO, SPEC, write

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("git") is None, reason="needs git"),
]

GIT_ENV = {
    "GIT_AUTHOR_NAME": "est2tpu test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "est2tpu test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


def _git(*args, cwd, env):
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def _project_files() -> list:
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO, capture_output=True, check=True,
        ).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("the est2tpu sources are not in a git work tree")
    return [name for name in listed if name and (REPO / name).is_file()]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    out = dict(os.environ)
    out.update(GIT_ENV)
    out["PRE_COMMIT_HOME"] = str(tmp_path_factory.mktemp("pre-commit-cache"))
    out.pop("NO_COLOR", None)
    return out


@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory, env):
    pytest.importorskip("pre_commit")
    repo = tmp_path_factory.mktemp("hook-repo")
    for name in _project_files():
        target = repo / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    assert (repo / ".pre-commit-hooks.yaml").is_file()
    if not (repo / "README.md").exists():  # pyproject.toml names it; the build needs it
        (repo / "README.md").write_text("est2tpu\n")
    _git("init", "-q", cwd=repo, env=env)
    _git("add", "-A", cwd=repo, env=env)
    _git("commit", "-q", "-m", "snapshot", cwd=repo, env=env)
    return repo


def _project(root: Path, files: dict, env) -> Path:
    root.mkdir()
    write(root, files)
    _git("init", "-q", cwd=root, env=env)
    _git("add", "-A", cwd=root, env=env)
    _git("commit", "-q", "-m", "code", cwd=root, env=env)
    return root


def _try(hook_repo, project, env, *hooks):
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", "try-repo", str(hook_repo), *hooks, "--all-files",
         "--color", "never", "--verbose"],
        cwd=project, env=env, capture_output=True, text=True, timeout=900,
    )


def test_hooks_with_try_repo(hook_repo, tmp_path, env):
    """Each try-repo run installs the hook environment afresh (~15 s), so two runs do it all."""
    legacy = SPEC.replace("import tensorflow as tf\n", "import tensorflow as tf  # legacy\n")
    files = {
        "model.py": SPEC,
        "chief.py": CHIEF,
        "readme.txt": "tf.estimator.EstimatorSpec",
        "pyproject.toml": '[tool.est2tpu]\nextend-exclude = ["legacy/"]\n',
        "legacy/old.py": legacy,
    }
    project = _project(tmp_path / "project", files, env)

    # Run 1: the check hook fails on Estimator code and writes nothing.
    proc = _try(hook_repo, project, env, "est2tpu-check")
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr
    assert "est2tpu (check for Estimator code)" in out and "Failed" in out
    assert "would migrate model.py" in out
    assert "chief.py:7:" in out and "E2T201" in out
    assert "legacy" not in out  # excluded in pyproject.toml, and the hook passes --force-exclude
    assert "readme.txt" not in out
    assert {name: (project / name).read_text() for name in files} == files

    # Run 2, every hook (pre-commit runs them sorted by id): the fix hook rewrites the
    # files, then the check hook passes on the migrated code.
    proc = _try(hook_repo, project, env)
    out = proc.stdout
    assert proc.returncode == 1, out + proc.stderr  # files were modified: pre-commit fails the run
    fix_part, check_part = out.split("est2tpu (check for Estimator code)", 1)
    assert "est2tpu (migrate Estimator code to TPUEstimator)" in fix_part
    assert "files were modified by this hook" in fix_part
    assert check_part.lstrip(".").startswith("Passed"), check_part
    assert "TPUEstimatorSpec" in (project / "model.py").read_text()
    assert "TPUEstimatorSpec" in (project / "chief.py").read_text()
    # Not a Python file, and an excluded one: both left alone.
    assert (project / "readme.txt").read_text() == files["readme.txt"]
    assert (project / "legacy/old.py").read_text() == legacy


def test_a_commit_that_leaves_a_blocking_finding_fails(hook_repo, tmp_path, env):
    """The `est2tpu` hook (in place), installed with `pre-commit install` in a real git
    repository: a commit of a canned estimator, which est2tpu cannot migrate, fails and
    shows the finding (it used to pass, its output hidden); silenced, it commits."""
    project = _project(tmp_path / "project", {"README.md": "a trainer\n"}, env)
    rev = _git("rev-parse", "HEAD", cwd=hook_repo, env=env).strip()
    (project / ".pre-commit-config.yaml").write_text(
        f"repos:\n- repo: {hook_repo}\n  rev: {rev}\n  hooks:\n  - id: est2tpu\n")
    installed = subprocess.run([sys.executable, "-m", "pre_commit", "install"], cwd=project, env=env,
                               capture_output=True, text=True)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    canned = "import tensorflow as tf\n\nest = tf.estimator.BaselineClassifier(n_classes=3)\n"
    files = {"canned.py": canned, "model.py": SPEC}
    write(project, files)
    _git("add", "-A", cwd=project, env=env)
    head = _git("rev-parse", "HEAD", cwd=project, env=env)

    commit = subprocess.run(["git", "commit", "-m", "trainer"], cwd=project, env=env, capture_output=True,
                            text=True, timeout=900)
    out = commit.stdout + commit.stderr
    assert commit.returncode == 1, out
    assert "est2tpu (migrate Estimator code to TPUEstimator)" in out and "Failed" in out
    assert "canned.py:3:7: E2T204 canned estimator has no TPU version" in out
    assert "2 blocking left to fix" in out  # and E2T250: the estimator stays
    assert _git("rev-parse", "HEAD", cwd=project, env=env) == head  # nothing was committed
    assert "TPUEstimatorSpec" in (project / "model.py").read_text()  # the rest was migrated

    # Silenced on its line (and the migrated model.py staged), the same commit passes.
    (project / "canned.py").write_text(canned.replace("3)\n", "3)  # est2tpu: ignore[E2T204, E2T250]\n"))
    _git("add", "-A", cwd=project, env=env)
    commit = subprocess.run(["git", "commit", "-m", "trainer"], cwd=project, env=env, capture_output=True,
                            text=True, timeout=900)
    out = commit.stdout + commit.stderr
    assert commit.returncode == 0, out
    assert "Passed" in out and _git("rev-parse", "HEAD", cwd=project, env=env) != head
