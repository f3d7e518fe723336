"""est2tpu verify over every migrated fixture: each passes, or migrate explains why not.

Each ``fixtures/NAME.py.out`` (what ``migrate`` wrote) runs under verify in this
process.  A verify finding is *explained* when ``NAME.txt`` holds a blocking migrate
finding, of a code that reports the same problem (``rules.MIGRATE_CODES``), at the
same line once relocated into the migrated text.  What neither passes nor is explained
is a gap of migrate's, listed below: the test fails if a gap appears or goes away.
"""

import re

import pytest

tf = pytest.importorskip("tensorflow")

from fixture_programs import FIXTURES, NAMES  # noqa: E402
from verify_programs import verify  # noqa: E402

from est2tpu.cli.report import Diagnostic, relocate  # noqa: E402

FINDING = re.compile(r"(?P<path>.+?):(?P<line>\d+):(?P<col>\d+): (?P<code>E2T\d+) (?P<message>.*)")

# Verify findings over migrated fixtures that no blocking migrate finding explains:
# problems migrate could report, or prevent, and does not yet.  (fixture, code) -> text
# of the line verify points at.
KNOWN_GAPS = {
    # The batch size (20) is the default of a constructor parameter kept on self: migrate
    # reports a batch size the TPU's cores cannot share (E2T249) only when it is a number at
    # the TPUEstimator (a literal, or a name bound to one), not a default a caller may override.
    ("class_trainer", "E2T302"): "TPUEstimator(",
}


def _migrate_findings(name):
    """NAME.txt's findings, relocated from NAME.py into NAME.py.out, with their rules."""
    import est2tpu.codemods.migrate  # noqa: F401  registers the rules
    from est2tpu.codemods.base import RULES

    found = [FINDING.match(line) for line in (FIXTURES / f"{name}.txt").read_text().splitlines()]
    diagnostics = [Diagnostic(m["path"], int(m["line"]), int(m["col"]), m["code"], m["message"]) for m in found if m]
    moved = relocate(diagnostics, (FIXTURES / f"{name}.py").read_text(), (FIXTURES / f"{name}.py.out").read_text())
    return [(d.code, d.line) for d in moved if getattr(RULES.get(d.code), "blocking", False)]


@pytest.mark.parametrize("name", NAMES)
def test_a_migrated_fixture_passes_verify_or_migrate_explains_it(name, tmp_path, monkeypatch):
    from est2tpu.verify.rules import MIGRATE_CODES

    monkeypatch.delenv("TPU_NAME", raising=False)
    path = FIXTURES / f"{name}.py.out"
    reporter, result = verify(path, tmp_path)
    assert not reporter.errors and result
    assert reporter.checked  # it built and checked TPU graphs
    blocking = set(_migrate_findings(name))
    lines = path.read_text().splitlines()
    unexplained = {(f.code, f.line) for f in reporter.findings
                   if not any((code, f.line) in blocking for code in MIGRATE_CODES.get(f.code, ()))}
    gaps = {(code, line) for code, line in unexplained if KNOWN_GAPS.get((name, code), "\0") in lines[line - 1]}
    assert unexplained == gaps, [f for f in reporter.findings if (f.code, f.line) in unexplained - gaps]
    assert {code for code, _ in gaps} == {code for (fixture, code) in KNOWN_GAPS if fixture == name}


def test_the_known_gaps_name_fixtures_and_checks_that_exist():
    from est2tpu.verify.rules import ALL

    assert {fixture for fixture, _ in KNOWN_GAPS} <= set(NAMES)
    assert {code for _, code in KNOWN_GAPS} <= {rule.code for rule in ALL}
