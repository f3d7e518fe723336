"""Robustness to bad input.

The issue: syntax errors, Python-2 files, null bytes, undecodable bytes, empty files, a
5 MB generated file, deeply nested expressions, files without read or write permission,
a directory given as a file and a missing path: each gives a clear located error or is
skipped as documented, the run goes on, nothing is written, exit code 2.  (Empty files,
deep nesting and a large file are not errors: they are just processed, exit 0 in check
mode when there is nothing to do.)

Every case puts the bad file next to a good Estimator file (``good.py``, holding
``SPEC``) that must still be migrated: the run goes on.  A failed file must keep its
bytes, its mode and its inode (it was not replaced through a rename either), and
``--check``/``--diff`` must write nothing at all.

Already covered in test_cli.py / test_files.py and not repeated here: a missing path
next to a good one, a syntax error in a mixed tree, an undecodable file in a mixed tree,
a chmod-000 file, a broken symbolic link.

Cases that could crash the interpreter (the native LibCST parser overflows its stack on
brackets nested ~1,500 deep, which Python itself refuses past 200) or hang run the CLI in
a subprocess.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Union

import pytest

from test_cli_helpers import SPEC, engine, error_lines, run_cli, run_subprocess, snapshot, write

GOOD = "good.py"
#: Lines in SPEC: an expression appended to it is on the next line.
SPEC_LINES = SPEC.count("\n")
#: A file that mentions tf.estimator, so that it passes the prefilter and is parsed.
EST_HEAD = "import tensorflow as tf\n\nest = tf.estimator.Estimator(model_fn=None)\n"


@functools.lru_cache(maxsize=None)
def migrated_spec() -> str:
    return engine(SPEC)


def fingerprint(path: Path):
    """Bytes, permission bits and inode: a rewrite through a rename changes the inode."""
    st = path.stat()
    return path.read_bytes(), stat.S_IMODE(st.st_mode), st.st_ino


def assert_one_error(err: str, pattern: str) -> None:
    """Exactly one error line on stderr, and it matches ``pattern`` (a regex, from its start)."""
    assert "Traceback" not in err, err
    lines = error_lines(err)
    assert len(lines) == 1, err
    assert re.match(pattern, lines[0]), (pattern, lines[0])


def assert_fails_and_run_goes_on(root: Path, bad: str, data: Union[str, bytes], pattern: str) -> None:
    """``bad`` next to good.py: exit 2 in every mode with one error matching ``pattern``,
    ``bad`` untouched, nothing written by --check/--diff, good.py migrated."""
    write(root, {bad: data, GOOD: SPEC})
    bad_path = root / bad
    before_bad = fingerprint(bad_path)
    before = snapshot(root)

    check = run_cli("migrate", "--check", ".", cwd=root)
    assert check.code == 2, check.err
    assert_one_error(check.err, pattern)
    assert f"would migrate {GOOD}" in check.err
    assert "1 file would be migrated, 0 unchanged, 1 failed" in check.err
    assert snapshot(root) == before

    diff = run_cli("migrate", "--diff", ".", cwd=root)
    assert diff.code == 2, diff.err
    assert_one_error(diff.err, pattern)
    assert diff.out.startswith(f"--- a/{GOOD}\n".encode())
    assert f"a/{bad}".encode() not in diff.out
    assert snapshot(root) == before

    result = run_cli("migrate", ".", cwd=root)
    assert result.code == 2, result.err
    assert_one_error(result.err, pattern)
    assert "1 file migrated, 0 unchanged, 1 failed" in result.err
    assert fingerprint(bad_path) == before_bad
    assert (root / GOOD).read_text() == migrated_spec()
    assert not [p for p in bad_path.parent.iterdir() if p.name.endswith(".est2tpu-tmp")]


def run_sub(root: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    proc = run_subprocess(*args, cwd=root, timeout=timeout)
    proc.stderr = proc.stderr.decode("utf-8", "replace")
    return proc


# --------------------------------------------------------------------------- Python 2 files


PY2_STATEMENTS = {
    # name: (a Python 2 statement, what the error message says)
    "print": ('print "x"\n', r"Missing parentheses in call to 'print'"),
    "exec": ('exec "x = 1"\n', r"Missing parentheses in call to 'exec'"),
    "backticks": ("y = `est`\n", r""),
    "not_equal": ("z = 1 <> 2\n", r""),
    "octal": ("mode = 0777\n", r"leading zeros"),
    "raise_comma": ('raise ValueError, "bad"\n', r""),
    "long_literal": ("n = 10L\n", r""),
}


@pytest.mark.parametrize("name", sorted(PY2_STATEMENTS))
def test_python2_file_is_a_located_syntax_error(tmp_path, name):
    statement, message = PY2_STATEMENTS[name]
    line = EST_HEAD.count("\n") + 1
    assert_fails_and_run_goes_on(tmp_path, "legacy.py", EST_HEAD + statement,
                                 rf"legacy\.py:{line}:\d+: error: syntax error: .*{message}")


PY2_EXCEPT = """\
import tensorflow as tf

try:
    est = tf.estimator.Estimator(model_fn=None)
except ValueError, e:
    print(e)
"""


def test_python2_except_comma_is_a_located_syntax_error(tmp_path):
    assert_fails_and_run_goes_on(tmp_path, "legacy.py", PY2_EXCEPT,
                                 r"legacy\.py:5:\d+: error: syntax error")


# --------------------------------------------------------------------------- null bytes


NUL_IN_CODE = (EST_HEAD + "x = 1\x00\n").encode()


def test_null_byte_is_an_error(tmp_path):
    assert_fails_and_run_goes_on(tmp_path, "nul.py", NUL_IN_CODE, r"nul\.py:\d+:\d+: error: syntax error: .*(\\0|null)")


def test_null_byte_error_gives_its_line(tmp_path):
    line = EST_HEAD.count("\n") + 1
    assert_fails_and_run_goes_on(tmp_path, "nul.py", NUL_IN_CODE, rf"nul\.py:{line}:6: error: ")


@pytest.mark.parametrize("where", ["string", "comment"])
def test_null_byte_in_string_or_comment_is_an_error(tmp_path, where):
    tail = 'x = "a\x00b"\n' if where == "string" else "# a\x00b\n"
    assert_fails_and_run_goes_on(tmp_path, "nul.py", (SPEC + tail).encode(), r"nul\.py(:\d+:\d+)?: error: ")


# --------------------------------------------------------------------------- undecodable bytes


UNDECODABLE = {
    # name: bytes (no coding cookie: UTF-8 applies)
    "latin1_byte_in_string": (EST_HEAD + 's = "caf').encode() + b'\xe9"\n',
    "encoded_surrogate_in_comment": (EST_HEAD + "x = 1\n# ").encode() + b"\xed\xa0\x80\n",
    "truncated_sequence_at_end": (EST_HEAD + "# caf").encode() + b"\xc3",
}


@pytest.mark.parametrize("name", sorted(UNDECODABLE))
def test_undecodable_bytes_name_the_file_and_the_byte(tmp_path, name):
    data = UNDECODABLE[name]
    offset = min(i for i, b in enumerate(data) if b >= 0x80)
    line = data.count(b"\n", 0, offset) + 1
    col = offset - data.rfind(b"\n", 0, offset)
    assert_fails_and_run_goes_on(tmp_path, "bad.py", data,
                                 rf"bad\.py:{line}:{col}: error: cannot decode as utf-8: byte {data[offset]:#04x}$")


def test_undecodable_byte_in_the_first_two_lines(tmp_path):
    """There tokenize's encoding detection fails first ("invalid or missing encoding
    declaration"): the error still points at the byte."""
    assert_fails_and_run_goes_on(tmp_path, "bad.py", b"# caf\xe9\n" + EST_HEAD.encode(),
                                 r"bad\.py:1:6: error: cannot decode as utf-8: byte 0xe9$")


def test_undecodable_byte_error_gives_line_and_column(tmp_path):
    line = EST_HEAD.count("\n") + 1
    assert_fails_and_run_goes_on(tmp_path, "bad.py", UNDECODABLE["latin1_byte_in_string"],
                                 rf"bad\.py:{line}:\d+: error: cannot decode")


@pytest.mark.parametrize("cookie", ["# -*- coding: nonexistent -*-\n", "#!/usr/bin/env python\n# coding=nonexistent\n"],
                         ids=["first_line", "second_line"])
def test_bogus_coding_cookie_is_an_error(tmp_path, cookie):
    assert_fails_and_run_goes_on(tmp_path, "bad.py", cookie + EST_HEAD,
                                 r"bad\.py: error: cannot decode: unknown encoding: nonexistent$")


# --------------------------------------------------------------------------- empty and near-empty files


NEAR_EMPTY: Dict[str, bytes] = {
    "empty.py": b"",
    "bom.py": b"\xef\xbb\xbf",
    "blank.py": b"\n\n\n",
    "crlf_blank.py": b"\r\n",
    # These mention the Estimator API, so they pass the prefilter and are parsed.
    "bom_comment.py": b"\xef\xbb\xbf# tf.estimator is used elsewhere\n",
    "comment_no_newline.py": b"# tf.estimator",
    "docstring.py": b'"""Nothing here but a tf.estimator docstring."""\n',
}
PARSED = {"bom_comment.py", "comment_no_newline.py", "docstring.py"}


def test_empty_and_comment_only_files_are_processed_and_untouched(tmp_path):
    write(tmp_path, {**NEAR_EMPTY, GOOD: migrated_spec()})
    before = snapshot(tmp_path)
    stats = {name: fingerprint(tmp_path / name) for name in NEAR_EMPTY}

    check = run_cli("migrate", "--check", "-v", ".", cwd=tmp_path)
    assert check.code == 0, check.err
    assert error_lines(check.err) == [] and "Traceback" not in check.err
    notes = set(check.err.splitlines())
    for name in NEAR_EMPTY:
        # Parsed files are "unchanged" with no reason given; the others skip the parser.
        expected = f"{name}: unchanged" if name in PARSED else f"{name}: unchanged (no Estimator API)"
        assert expected in notes, (name, check.err)
    assert f"0 files would be migrated, {len(NEAR_EMPTY) + 1} unchanged, 0 failed, 0 findings" in check.err
    diff = run_cli("migrate", "--diff", ".", cwd=tmp_path)
    assert diff.code == 0 and diff.out == b"", diff.err
    assert snapshot(tmp_path) == before

    write(tmp_path, {GOOD: SPEC})
    result = run_cli("migrate", ".", cwd=tmp_path)
    assert result.code == 0, result.err
    assert f"1 file migrated, {len(NEAR_EMPTY)} unchanged, 0 failed" in result.err
    assert {name: fingerprint(tmp_path / name) for name in NEAR_EMPTY} == stats
    assert (tmp_path / GOOD).read_text() == migrated_spec()


# --------------------------------------------------------------------------- deep nesting


def _nested_blocks(depth: int) -> str:
    return "".join("    " * i + f"if x{i}:\n" for i in range(depth)) + "    " * depth + "pass\n"


#: Nested as deep as CPython itself accepts (200 brackets, 100 indentation levels) or deeper
#: where CPython has no fixed limit (300 unary operators).
DEEP_VALID = {
    "parentheses_199": "deep = " + "(" * 199 + "1" + ")" * 199 + "\n",
    "lists_and_tuples_199": "deep = " + "[(" * 99 + "[1]" + ")]" * 99 + "\n",
    "unary_300": "deep = " + "-" * 300 + "1\n",
    "blocks_99": _nested_blocks(99),
}


@pytest.mark.parametrize("name", sorted(DEEP_VALID))
def test_deep_nesting_within_python_limits_is_migrated(tmp_path, name):
    source = SPEC + DEEP_VALID[name]
    compile(source, "deep.py", "exec")  # valid Python: the premise of this test
    write(tmp_path, {"deep.py": source})
    result = run_cli("migrate", "deep.py", cwd=tmp_path)
    assert result.code == 0, result.err
    assert "Traceback" not in result.err and error_lines(result.err) == []
    out = (tmp_path / "deep.py").read_text()
    assert out == engine(source)
    assert "TPUEstimatorSpec" in out and out.endswith(DEEP_VALID[name])
    again = run_cli("migrate", "--check", "deep.py", cwd=tmp_path)
    assert again.code == 0, again.err  # nothing left to do


def test_nesting_beyond_python_indentation_limit_is_a_located_error(tmp_path):
    assert_fails_and_run_goes_on(tmp_path, "deep.py", SPEC + _nested_blocks(101),
                                 rf"deep\.py:{SPEC_LINES + 101}:\d+: error: syntax error: .*indentation")


def _sub_tree(root: Path, deep: str) -> Dict[str, bytes]:
    write(root, {"deep.py": deep, GOOD: SPEC})
    return {"deep.py": (root / "deep.py").read_bytes()}


@pytest.mark.parametrize("depth", [201, 1000])
def test_nesting_beyond_python_parser_limit_is_a_located_error(tmp_path, depth):
    source = SPEC + "deep = " + "(" * depth + "1" + ")" * depth + "\n"
    with pytest.raises(SyntaxError):
        compile(source, "deep.py", "exec")  # the premise: Python refuses it
    _sub_tree(tmp_path, source)
    before = fingerprint(tmp_path / "deep.py")
    proc = run_sub(tmp_path, "migrate", ".")  # a subprocess: the parser may crash
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert_one_error(proc.stderr, rf"deep\.py:{SPEC_LINES + 1}:\d+: error: syntax error")
    assert fingerprint(tmp_path / "deep.py") == before
    assert (tmp_path / GOOD).read_text() == migrated_spec()


def test_extreme_nesting_does_not_crash_the_run(tmp_path):
    source = SPEC + "deep = " + "(" * 5000 + "1" + ")" * 5000 + "\n"
    _sub_tree(tmp_path, source)
    before = fingerprint(tmp_path / "deep.py")
    proc = run_sub(tmp_path, "migrate", "-j", "1", ".")
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    assert_one_error(proc.stderr, r"deep\.py(:\d+:\d+)?: error: ")
    assert fingerprint(tmp_path / "deep.py") == before
    assert (tmp_path / GOOD).read_text() == migrated_spec()


def test_a_crashing_file_does_not_fail_the_others_in_the_pool(tmp_path):
    from est2tpu.cli import main as cli

    goods = {f"good{i}.py": SPEC for i in range(cli.POOL_THRESHOLD + 1)}
    write(tmp_path, {**goods, "deep.py": SPEC + "deep = " + "(" * 5000 + "1" + ")" * 5000 + "\n"})
    before = snapshot(tmp_path)
    proc = run_sub(tmp_path, "migrate", "--check", "-j", "2", ".")
    assert snapshot(tmp_path) == before
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert_one_error(proc.stderr, r"deep\.py(:\d+:\d+)?: error: ")
    assert f"{len(goods)} files would be migrated, 0 unchanged, 1 failed" in proc.stderr


def test_long_flat_expression_is_migrated(tmp_path):
    source = SPEC + "total = " + " + ".join(["1"] * 1000) + "\n"
    compile(source, "long.py", "exec")  # valid Python
    write(tmp_path, {"long.py": source})
    proc = run_sub(tmp_path, "migrate", "long.py")
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "long.py").read_text() == migrated_spec() + source[len(SPEC):]


# --------------------------------------------------------------------------- large files


def _functions(size: int) -> str:
    """About ``size`` characters of plain generated functions, no Estimator API."""
    parts, total, i = [], 0, 0
    while total < size:
        part = (f"def function_{i}(a, b=3, *args, **kwargs):\n"
                f"    \"\"\"Docstring number {i}.\"\"\"\n"
                f"    total = a * {i} + b - len(args)\n"
                f"    for k, v in sorted(kwargs.items()):\n"
                f"        total += hash((k, v)) % {i + 7}\n"
                f"    return [total, {{'key': {i}}}, (a, b)]\n\n\n")
        parts.append(part)
        total += len(part)
        i += 1
    return "".join(parts)


def test_5mb_file_without_estimator_api_is_skipped_quickly(tmp_path):
    big = "import os\n\n\n" + _functions(5 * 1024 * 1024)
    assert "stimator" not in big.lower()
    write(tmp_path, {"big.py": big, GOOD: migrated_spec()})
    before = fingerprint(tmp_path / "big.py")

    # The prefilter keeps it away from the parser: ~0.2 s, against ~90 s and ~3.5 GB of
    # memory to parse it.  A subprocess with a timeout, so that a regression fails fast.
    try:
        check: Optional[subprocess.CompletedProcess] = run_sub(tmp_path, "migrate", "--check", ".", timeout=20)
    except subprocess.TimeoutExpired:
        check = None
    assert check is not None, "--check on a 5 MB file without Estimator API took more than 20 s"
    assert check.returncode == 0, check.stderr
    assert "0 files would be migrated, 2 unchanged, 0 failed" in check.stderr

    write(tmp_path, {GOOD: SPEC})
    result = run_cli("migrate", ".", cwd=tmp_path)
    assert result.code == 0, result.err
    assert "1 file migrated, 1 unchanged, 0 failed" in result.err
    assert fingerprint(tmp_path / "big.py") == before
    assert (tmp_path / GOOD).read_text() == migrated_spec()


def test_5mb_file_using_estimator_api_is_over_the_size_limit(tmp_path):
    """Parsing it would take ~90 s and ~3.5 GB: it fails, untouched, and the run goes on."""
    big = "import tensorflow as tf\n\nESTIMATOR_CLASS = tf.estimator.Estimator\n\n\n" + _functions(5 * 1024 * 1024)
    assert_fails_and_run_goes_on(tmp_path, "big.py", big,
                                 r"big\.py: error: too large to migrate: 5,\d{3},\d{3} bytes, over max-file-size "
                                 r"\(1024 KiB = 1,048,576 bytes\); file left untouched$")


def test_max_file_size_is_configurable(tmp_path):
    source = SPEC + "# padding\n" * 120
    write(tmp_path, {"m.py": source, "pyproject.toml": "[tool.est2tpu]\nmax-file-size = 1\n"})
    assert len(source) > 1024
    result = run_cli("migrate", "--check", "m.py", cwd=tmp_path)
    # Not "1 KiB, over max-file-size (1 KiB)": the size as it is.
    size = len(source.encode())
    assert result.code == 2 and (f"m.py: error: too large to migrate: {size:,} bytes, over max-file-size "
                                 f"(1 KiB = 1,024 bytes)") in result.err
    assert run_cli("migrate", "--check", "--max-file-size", "64", "m.py", cwd=tmp_path).code == 1  # flags win
    write(tmp_path, {"pyproject.toml": "[tool.est2tpu]\nmax-file-size = 0\n"})
    result = run_cli("migrate", "--check", "m.py", cwd=tmp_path)
    assert result.code == 2 and "max-file-size must be a positive integer (KiB), got 0" in result.err


@pytest.mark.slow
def test_large_file_mentioning_estimator_is_parsed(tmp_path):
    """512 KB of plain functions that mention tf.estimator once: parsed in full (about
    7 s; the 5 MB version takes ~90 s and is left out), nothing to do, exit 0."""
    big = "import tensorflow as tf\n\nESTIMATOR_CLASS = tf.estimator.Estimator\n\n\n" + _functions(512 * 1024)
    write(tmp_path, {"big.py": big})
    before = snapshot(tmp_path)
    check = run_cli("migrate", "--check", "-v", "big.py", cwd=tmp_path)
    assert check.code == 0, check.err
    assert "big.py: unchanged" in check.err.splitlines()  # parsed: no "(no Estimator API)"
    assert "Traceback" not in check.err and error_lines(check.err) == []
    assert snapshot(tmp_path) == before


# --------------------------------------------------------------------------- directories and odd paths


def test_directory_named_like_a_python_file_is_searched(tmp_path):
    """Documented: directories are searched recursively, whatever their name."""
    write(tmp_path, {"weird.py/inner.py": SPEC, "weird.py/sub/deep.py": SPEC, "weird.py/notes.txt": "estimator\n"})
    before = snapshot(tmp_path)
    check = run_cli("migrate", "--check", "weird.py", cwd=tmp_path)
    assert check.code == 1, check.err
    assert error_lines(check.err) == [] and "Traceback" not in check.err
    assert "would migrate weird.py/inner.py" in check.err and "would migrate weird.py/sub/deep.py" in check.err
    assert snapshot(tmp_path) == before

    result = run_cli("migrate", "weird.py", cwd=tmp_path)
    assert result.code == 0, result.err
    assert "2 files migrated, 0 unchanged, 0 failed" in result.err
    assert (tmp_path / "weird.py" / "inner.py").read_text() == migrated_spec()
    assert (tmp_path / "weird.py" / "sub" / "deep.py").read_text() == migrated_spec()
    assert (tmp_path / "weird.py" / "notes.txt").read_text() == "estimator\n"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_in_the_tree_does_not_hang(tmp_path):
    write(tmp_path, {GOOD: SPEC})
    os.mkfifo(tmp_path / "pipe.py")
    try:
        proc: Optional[subprocess.CompletedProcess] = run_sub(tmp_path, "migrate", "--check", ".", timeout=5)
    except subprocess.TimeoutExpired:
        proc = None
    assert proc is not None, "est2tpu migrate --check . hung on a named pipe"
    assert "Traceback" not in proc.stderr
    assert f"would migrate {GOOD}" in proc.stderr
    assert proc.returncode == 1 or (proc.returncode == 2 and "pipe.py" in proc.stderr)


# --------------------------------------------------------------------------- permissions

#: As root, chmod does not stop reads or writes: the CLI then runs under setpriv without
#: the capabilities that bypass file permissions.
DROP_DAC = ["--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-dac_override,-dac_read_search", "--"]


def unprivileged() -> List[str]:
    if sys.platform == "win32":
        pytest.skip("POSIX permissions")
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv to drop CAP_DAC_OVERRIDE")
    return [setpriv, *DROP_DAC]


def run_unprivileged(prefix: List[str], root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*prefix, sys.executable, "-m", "est2tpu", *args], cwd=root,
                          capture_output=True, text=True, timeout=120)


def can(prefix: List[str], code: str) -> bool:
    """Whether ``code`` runs without error with the CLI's privileges (probes that chmod bites)."""
    return subprocess.run([*prefix, sys.executable, "-c", code], capture_output=True).returncode == 0


@pytest.fixture
def restore_modes():
    """Paths whose mode a test changes: restored afterwards so that tmp_path can be removed."""
    changed: List[Path] = []
    yield changed
    for path in reversed(changed):
        if path.exists():
            os.chmod(path, 0o755 if path.is_dir() else 0o644)


def lock(restore_modes: List[Path], prefix: List[str], path: Path, mode: int, probe: str) -> None:
    """chmod ``path`` to ``mode``; skip the test when ``probe`` still runs with the CLI's privileges."""
    restore_modes.append(path)
    os.chmod(path, mode)
    if can(prefix, probe):
        pytest.skip(f"chmod {mode:o} does not stop this user")


def test_read_only_file_in_read_only_directory_is_reported_and_untouched(tmp_path, restore_modes):
    prefix = unprivileged()
    write(tmp_path, {"locked/ro.py": SPEC, GOOD: SPEC})
    locked, ro = tmp_path / "locked", tmp_path / "locked" / "ro.py"
    restore_modes.extend([locked, ro])
    os.chmod(ro, 0o444)
    os.chmod(locked, 0o555)
    if can(prefix, f"open({str(locked / 'probe')!r}, 'w')") or can(prefix, f"open({str(ro)!r}, 'r+b')"):
        pytest.skip("chmod does not stop writes for this user")
    before = fingerprint(ro)

    check = run_unprivileged(prefix, tmp_path, "migrate", "--check", ".")
    assert check.returncode == 1, check.stderr  # reading is fine: only writing would fail
    assert "would migrate locked/ro.py" in check.stderr

    proc = run_unprivileged(prefix, tmp_path, "migrate", ".")
    assert proc.returncode == 2, proc.stderr
    assert_one_error(proc.stderr, r"locked/ro\.py: error: cannot write: Permission denied; file left untouched$")
    assert "1 file migrated, 0 unchanged, 1 failed" in proc.stderr
    assert fingerprint(ro) == before
    assert sorted(os.listdir(locked)) == ["ro.py"]  # no temporary file left behind
    assert (tmp_path / GOOD).read_text() == migrated_spec()


def test_read_only_file_is_not_rewritten(tmp_path, restore_modes):
    prefix = unprivileged()
    write(tmp_path, {"ro.py": SPEC, GOOD: SPEC})
    ro = tmp_path / "ro.py"
    lock(restore_modes, prefix, ro, 0o444, f"open({str(ro)!r}, 'r+b')")
    before = fingerprint(ro)
    proc = run_unprivileged(prefix, tmp_path, "migrate", ".")
    assert (tmp_path / GOOD).read_text() == migrated_spec()
    assert "Traceback" not in proc.stderr
    assert fingerprint(ro) == before, "the read-only file was replaced"
    assert proc.returncode == 2, proc.stderr
    assert_one_error(proc.stderr, r"ro\.py: error: ")


def test_unreadable_directory_is_reported_and_the_run_goes_on(tmp_path, restore_modes):
    prefix = unprivileged()
    write(tmp_path, {"locked/m.py": SPEC, GOOD: SPEC})
    locked = tmp_path / "locked"
    lock(restore_modes, prefix, locked, 0o000, f"import os; os.listdir({str(locked)!r})")

    for mode in ("--check", "--diff"):
        proc = run_unprivileged(prefix, tmp_path, "migrate", mode, ".")
        assert proc.returncode == 2, (mode, proc.stderr)
        assert_one_error(proc.stderr, r"locked: error: cannot list directory: Permission denied$")
        assert (tmp_path / GOOD).read_text() == SPEC, mode
    proc = run_unprivileged(prefix, tmp_path, "migrate", ".")
    assert proc.returncode == 2, proc.stderr
    assert_one_error(proc.stderr, r"locked: error: cannot list directory: Permission denied$")
    assert "1 file migrated, 0 unchanged, 1 failed" in proc.stderr
    assert (tmp_path / GOOD).read_text() == migrated_spec()
    os.chmod(locked, 0o755)
    assert (locked / "m.py").read_text() == SPEC


def test_file_in_unsearchable_directory_is_an_error(tmp_path, restore_modes):
    prefix = unprivileged()
    write(tmp_path, {"locked/m.py": SPEC, GOOD: SPEC})
    locked = tmp_path / "locked"
    lock(restore_modes, prefix, locked, 0o000, f"open({str(locked / 'm.py')!r}).close()")
    proc = run_unprivileged(prefix, tmp_path, "migrate", "locked/m.py", GOOD)
    assert proc.returncode == 2, proc.stderr
    assert_one_error(proc.stderr, r"locked/m\.py: error: Permission denied$")
    assert (tmp_path / GOOD).read_text() == migrated_spec()
    os.chmod(locked, 0o755)
    assert (locked / "m.py").read_text() == SPEC


# --------------------------------------------------------------------------- line ends, form feeds, odd text


def test_a_file_ending_lines_in_cr_alone_keeps_its_last_line_ending(tmp_path):
    write(tmp_path, {"cr.py": SPEC.replace("\n", "\r")})
    assert run_cli("migrate", "cr.py", cwd=tmp_path).code == 0
    out = (tmp_path / "cr.py").read_bytes()
    assert b"TPUEstimatorSpec" in out and out.endswith(b")\r") and b"\n" not in out


def test_form_feeds_stay_on_their_lines(tmp_path):
    """Python does not count a form feed as indentation; LibCST took the first indented
    line's for every block's indentation, and dropped those before unchanged statements."""
    source = SPEC.replace("    loss =", "\f    loss =").replace("\nestimator.train(", "\n\festimator.train(")
    write(tmp_path, {"ff.py": source})
    assert run_cli("migrate", "ff.py", cwd=tmp_path).code == 0
    out = (tmp_path / "ff.py").read_text()
    assert "TPUEstimatorSpec" in out
    assert [line for line in out.split("\n") if "\f" in line] == ["\f    loss = tf.reduce_sum(features)",
                                                                    "\festimator.train(input_fn, max_steps=10)"]


def test_a_lone_surrogate_in_a_notebook_is_located_not_called_deep_nesting(tmp_path):
    import json

    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": ["import tensorflow as tf\n", "x = '\ud800'\n", "est = tf.estimator.Estimator(model_fn)\n"]}
    text = json.dumps({"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})  # \ud800 escaped
    assert_fails_and_run_goes_on(tmp_path, "nb.ipynb", text,
                                 r"nb\.ipynb:cell 1:2:6: error: not valid text: a lone surrogate, U\+D800$")


def test_out_of_memory_is_not_called_deep_nesting(tmp_path, monkeypatch):
    from est2tpu.cli import main as cli
    from est2tpu.codemods import python_tree

    def exhausted(source):
        raise MemoryError

    monkeypatch.setattr(python_tree, "python_ast", exhausted)
    assert cli.python_rejects("m.py", SPEC).message == \
        "cannot compile: out of memory (or nested too deeply for Python's parser)"
    monkeypatch.undo()

    monkeypatch.setattr(cli, "directives", exhausted)  # read while the file is migrated
    write(tmp_path, {"m.py": SPEC})
    result = run_cli("migrate", "m.py", cwd=tmp_path)
    assert result.code == 2
    assert error_lines(result.err) == ["m.py: error: out of memory while migrating it; file left untouched"]
