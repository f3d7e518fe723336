"""Run a program under est2tpu verify in this process: its findings, as the CLI would get them.

The program is a fixture with ``run(model_dir)`` (see :mod:`fixture_programs`); the
patches are installed around the run and taken out after it, so that other tests see
TensorFlow untouched.
"""

import pathlib
import re
from typing import Set, Tuple

from fixture_programs import FIXTURES, load

from est2tpu.verify.install import install
from est2tpu.verify.report import Reporter
from est2tpu.verify.settings import Settings

SEEDED = FIXTURES / "verify"
MARKER = re.compile(r"verify:\s*(E2T\d+)")


def verify(path: pathlib.Path, model_dir, **settings) -> Tuple[Reporter, dict]:
    """(the reporter, what the program's run() returned)."""
    reporter = Reporter()
    undo = install(reporter, Settings(**settings))
    try:
        result = load(path, f"verified_{path.name.replace('.', '_')}").run(str(model_dir))
    finally:
        undo()
    return reporter, result


def marked(path: pathlib.Path) -> Set[Tuple[str, int]]:
    """(code, line) of each ``verify: CODE`` in the comment of a line of a seeded program."""
    return {(m.group(1), n) for n, line in enumerate(path.read_text().splitlines(), 1)
            for m in MARKER.finditer(line.partition("#")[2])}
