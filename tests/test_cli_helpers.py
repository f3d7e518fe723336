"""Shared snippets and runners for the CLI tests (no tests of its own)."""

from __future__ import annotations

import dataclasses
import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Union

REPO = Path(__file__).resolve().parent.parent

#: What the snippets below train with: an Estimator built and trained with their model_fn.
TRAINED = """

def input_fn():
    return tf.data.Dataset.from_tensors(([1.0], [1.0])).repeat().batch(8)


estimator = tf.estimator.Estimator(model_fn)
estimator.train(input_fn, max_steps=10)
"""

#: A model_fn returning a plain EstimatorSpec, and its Estimator: rewritten to
#: TPUEstimatorSpec and TPUEstimator, no finding.
SPEC = """\
import tensorflow as tf


def model_fn(features, labels, mode, params):
    loss = tf.reduce_sum(features)
    train_op = tf.compat.v1.train.get_global_step()
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op)
""" + TRAINED

#: Rewritten, and reported as E2T201 (training_chief_hooks) on line 7.
CHIEF = """\
import tensorflow as tf


def model_fn(features, labels, mode, params):
    loss = tf.reduce_sum(features)
    train_op = tf.compat.v1.train.get_global_step()
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=train_op, training_chief_hooks=[])
""" + TRAINED
CHIEF_LINE = 7
#: The rewrites of TRAINED below SPEC or CHIEF (both 7 lines long): the input_fn's def and
#: batch, and the Estimator.
TRAINED_REWRITES = [("E2T103", CHIEF_LINE + 3), ("E2T103", CHIEF_LINE + 4), ("E2T104", CHIEF_LINE + 7)]

#: Builds and trains an Estimator: becomes a TPUEstimator with a TPUConfig(iterations_per_loop=...).
ESTIMATOR = """\
import tensorflow as tf


def model_fn(features, labels, mode, params):
    return tf.estimator.EstimatorSpec(mode, loss=tf.reduce_sum(features))
""" + TRAINED

#: Not touched by the migration.
PLAIN = "import os\n\nprint(os.getcwd())\n"


@dataclasses.dataclass
class Run:
    code: int
    out: bytes
    err: str

    @property
    def stdout(self) -> str:
        return self.out.decode("utf-8", "replace")


def run_cli(*args: str, cwd: Union[str, Path, None] = None, env: Optional[Dict[str, str]] = None) -> Run:
    """Run ``est2tpu.cli.main`` in this process, capturing stdout as bytes."""
    from est2tpu.cli import main as cli

    out_buffer, err_buffer = io.BytesIO(), io.BytesIO()
    out = io.TextIOWrapper(out_buffer, encoding="utf-8", write_through=True)
    err = io.TextIOWrapper(err_buffer, encoding="utf-8", write_through=True)
    old = sys.stdout, sys.stderr, os.getcwd()
    old_env = dict(os.environ)
    try:
        sys.stdout, sys.stderr = out, err
        if env:
            os.environ.update(env)
        if cwd is not None:
            os.chdir(cwd)
        code = cli.main(list(args))
        out.flush()
        err.flush()
    finally:
        sys.stdout, sys.stderr = old[0], old[1]
        os.chdir(old[2])
        os.environ.clear()
        os.environ.update(old_env)
    return Run(code, out_buffer.getvalue(), err_buffer.getvalue().decode("utf-8", "replace"))


def run_subprocess(*args: str, cwd: Union[str, Path, None] = None, python_args: List[str] = (),
                   env: Optional[Dict[str, str]] = None, **kwargs) -> subprocess.CompletedProcess:
    full_env = dict(os.environ)
    full_env.pop("NO_COLOR", None)
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, *python_args, "-m", "est2tpu", *args],
        cwd=cwd, env=full_env, capture_output=True, **kwargs,
    )


def write(root: Path, files: Dict[str, Union[str, bytes]]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode("utf-8"))


def snapshot(root: Path) -> Dict[str, bytes]:
    """Every regular file under ``root`` (relative name -> bytes), skipping .git."""
    out = {}
    for path in sorted(root.rglob("*")):
        if ".git" in path.relative_to(root).parts or path.is_symlink() or not path.is_file():
            continue
        out[path.relative_to(root).as_posix()] = path.read_bytes()
    return out


def error_lines(stderr: str) -> List[str]:
    """The ``path: error: ...`` lines of a run's stderr."""
    return [line for line in stderr.splitlines() if ": error: " in line]


def engine(code: str, style: str = "auto", **options) -> str:
    """What the migration engine itself returns for ``code`` (laid out as ``style`` says)."""
    from est2tpu.codemods.base import Options
    from est2tpu.codemods.migrate import migrate_code

    return migrate_code(code, Options(**options), style=style).code


def stub_engine(monkeypatch, result_of) -> None:
    """Replace the engine: ``result_of(code)`` is the (code, findings) of each module it writes
    (or raises, as a broken engine would)."""
    import est2tpu.codemods.migrate as engine

    def migrate_program(sources, options=None, **layout):
        return [engine.MigrationResult(*result_of(s.code)) if s.write else None for s in sources]

    monkeypatch.setattr(engine, "migrate_program", migrate_program)
