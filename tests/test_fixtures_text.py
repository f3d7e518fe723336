"""Golden before/after text of every fixture, its findings, and what a second run does.

Regenerate the golden files after an intended change with ``EST2TPU_REGEN=1 pytest
tests/test_fixtures_text.py`` and review the diff.
"""

import os

import libcst as cst
import pytest

from est2tpu.codemods.migrate import migrate_code
from fixture_programs import FIXTURES, NAMES

REGEN = bool(os.environ.get("EST2TPU_REGEN"))


def _findings_text(name, findings):
    return "".join(f.format(f"{name}.py") + "\n" for f in findings)


@pytest.mark.parametrize("name", NAMES)
def test_golden(name):
    source = (FIXTURES / f"{name}.py").read_text()
    result = migrate_code(source)
    out, txt = FIXTURES / f"{name}.py.out", FIXTURES / f"{name}.txt"
    if REGEN:
        out.write_text(result.code)
        txt.write_text(_findings_text(name, result.findings))
    assert result.code != source
    assert result.code == out.read_text()
    assert _findings_text(name, result.findings) == txt.read_text()


@pytest.mark.parametrize("name", NAMES)
def test_output_parses_and_second_run_changes_nothing(name):
    migrated = (FIXTURES / f"{name}.py.out").read_text()
    cst.parse_module(migrated)
    compile(migrated, f"{name}.py.out", "exec")
    again = migrate_code(migrated)
    assert again.code == migrated
