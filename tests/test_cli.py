"""The `est2tpu migrate` modes, exit codes, diffs, safety and startup behaviour."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from test_cli_helpers import (
    CHIEF,
    CHIEF_LINE,
    ESTIMATOR,
    PLAIN,
    REPO,
    SPEC,
    TRAINED,
    engine,
    error_lines,
    run_cli,
    run_subprocess,
    snapshot,
    stub_engine,
    write,
)

# --------------------------------------------------------------------------- modes and exit codes


def test_migrate_rewrites_in_place_and_exits_0(tmp_path):
    write(tmp_path, {"model.py": SPEC, "other.py": PLAIN})
    result = run_cli("migrate", str(tmp_path))
    assert result.code == 0, result.err
    assert (tmp_path / "model.py").read_text() == engine(SPEC)
    assert "TPUEstimatorSpec" in (tmp_path / "model.py").read_text()
    assert (tmp_path / "other.py").read_text() == PLAIN
    assert result.out == b""  # quiet: nothing on stdout without findings
    assert result.err.strip().splitlines() == ["1 file migrated, 1 unchanged, 0 failed, 0 findings"]


def test_python_dash_m_entry_point(tmp_path):
    write(tmp_path, {"model.py": SPEC})
    proc = run_subprocess("migrate", "--check", "model.py", cwd=tmp_path)
    assert proc.returncode == 1
    assert b"would migrate model.py" in proc.stderr
    assert (tmp_path / "model.py").read_text() == SPEC


def test_console_script_installed():
    exe = Path(sys.executable).with_name("est2tpu")
    if not exe.exists():
        pytest.skip("est2tpu console script not installed next to this Python")
    proc = subprocess.run([str(exe), "--version"], capture_output=True, text=True)
    assert proc.returncode == 0 and proc.stdout.startswith("est2tpu ")


def test_review_notes_are_printed_in_migrate_mode_and_exit_stays_0(tmp_path):
    write(tmp_path, {"m.py": CHIEF})
    result = run_cli("migrate", "m.py", cwd=tmp_path)
    assert result.code == 0
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and " E2T201 " in lines[0]
    _, line, col, _ = lines[0].split(":", 3)  # in the file as written: where the hooks now are
    written = (tmp_path / "m.py").read_text().splitlines()
    assert written[int(line) - 1][int(col) - 1:].startswith("training_hooks=")
    assert "1 finding" in result.err


def test_check_writes_nothing_and_exits_1_on_change(tmp_path):
    write(tmp_path, {"m.py": SPEC})
    before = snapshot(tmp_path)
    result = run_cli("migrate", "--check", ".", cwd=tmp_path)
    assert result.code == 1
    assert snapshot(tmp_path) == before
    assert "would migrate m.py" in result.err
    assert "1 file would be migrated, 0 unchanged, 0 failed, 0 findings" in result.err


def test_check_exits_0_when_nothing_to_do(tmp_path):
    write(tmp_path, {"m.py": engine(SPEC), "p.py": PLAIN})
    result = run_cli("migrate", "--check", ".", cwd=tmp_path)
    assert result.code == 0, result.err
    assert result.out == b""


FINDING_ONLY_CANDIDATES = [
    # Already a TPUEstimator, but train() has no steps: reported, nothing to rewrite.
    "import tensorflow as tf\n\n"
    "est = tf.compat.v1.estimator.tpu.TPUEstimator(model_fn=model_fn, train_batch_size=8)\n"
    "est.train(input_fn=input_fn)\n",
    "import tensorflow as tf\n\n\ndef run(estimator, input_fn):\n    estimator.train(input_fn=input_fn)\n",
]


def test_check_exits_1_on_a_finding_without_change(tmp_path):
    from est2tpu.codemods.base import RULES, Options
    from est2tpu.codemods.migrate import migrate_code

    for source in FINDING_ONLY_CANDIDATES:
        result_engine = migrate_code(source, Options())
        if result_engine.code == source and result_engine.findings:
            break
    else:
        pytest.skip("the engine reports none of these snippets without changing it")
    write(tmp_path, {"run.py": source})
    result = run_cli("migrate", "--check", "run.py", cwd=tmp_path)
    assert result.code == 1
    assert "would migrate" not in result.err
    assert result.stdout.splitlines() == [f.format("run.py") for f in result_engine.findings]
    assert run_cli("migrate", "--check", "--exit-zero", "run.py", cwd=tmp_path).code == 0
    assert run_cli("migrate", "--check", "--ignore", "E2T", "run.py", cwd=tmp_path).code == 0
    assert run_cli("migrate", "--diff", "run.py", cwd=tmp_path).code == 1
    # In place, a blocking finding that is left is exit 1 too (as `ruff check --fix`), and says so.
    assert all(RULES[f.code].blocking for f in result_engine.findings)
    in_place = run_cli("migrate", "run.py", cwd=tmp_path)
    assert in_place.code == 1
    assert in_place.err.endswith(f"1 unchanged, 0 failed, {len(result_engine.findings)} finding, "
                                 f"{len(result_engine.findings)} blocking left to fix\n")
    assert run_cli("migrate", "--exit-zero", "run.py", cwd=tmp_path).code == 0
    assert run_cli("migrate", "--ignore", "E2T2", "run.py", cwd=tmp_path).code == 0


def test_finding_without_change_with_a_stub_engine(tmp_path, monkeypatch):
    """The same exit-code logic, independent of what the engine reports today."""
    from est2tpu.codemods.base import Finding

    write(tmp_path, {"m.py": "# estimator\nx = 1\n"})
    # A review note fails only --check and --diff; a blocking finding fails a migration in place too.
    for reported, in_place in (("E2T209", 0), ("E2T204", 1)):
        stub_engine(monkeypatch, lambda code, reported=reported: (
            code, [Finding(2, 5, reported, "something to review", "look at it")]))
        for mode, expected in (("--check", 1), ("--diff", 1), (None, in_place)):
            result = run_cli("migrate", *([mode] if mode else []), "m.py", cwd=tmp_path)
            assert result.code == expected, (reported, mode)
            report = result.err if mode == "--diff" else result.stdout
            assert f"m.py:2:5: {reported} something to review (hint: look at it)" in report
            if mode == "--diff":
                assert result.out == b""  # stdout stays an (empty) patch
    assert (tmp_path / "m.py").read_text() == "# estimator\nx = 1\n"


def test_diff_writes_nothing_and_exits_1(tmp_path):
    write(tmp_path, {"m.py": SPEC})
    result = run_cli("migrate", "--diff", "m.py", cwd=tmp_path)
    assert result.code == 1
    assert (tmp_path / "m.py").read_text() == SPEC
    assert result.out.startswith(b"--- a/m.py\n+++ b/m.py\n@@ ")
    assert b"+    return tf.compat.v1.estimator.tpu.TPUEstimatorSpec(" in result.out


def test_diff_exit_0_when_nothing_changes(tmp_path):
    write(tmp_path, {"p.py": PLAIN})
    result = run_cli("migrate", "--diff", "p.py", cwd=tmp_path)
    assert result.code == 0 and result.out == b""


def test_diff_findings_go_to_stderr_so_stdout_stays_a_patch(tmp_path):
    write(tmp_path, {"m.py": CHIEF})
    result = run_cli("migrate", "--diff", "m.py", cwd=tmp_path)
    assert result.code == 1
    assert b"E2T201" not in result.out
    assert f"m.py:{CHIEF_LINE}:" in result.err and "E2T201" in result.err


def test_exit_zero_only_lowers_exit_1(tmp_path):
    write(tmp_path, {"m.py": SPEC})
    assert run_cli("migrate", "--diff", "--exit-zero", "m.py", cwd=tmp_path).code == 0
    assert run_cli("migrate", "--check", "--exit-zero", "m.py", cwd=tmp_path).code == 0
    write(tmp_path, {"bad.py": "import tensorflow as tf\ndef f(:\n    tf.estimator\n"})
    assert run_cli("migrate", "--check", "--exit-zero", ".", cwd=tmp_path).code == 2


def test_diff_and_check_together(tmp_path):
    write(tmp_path, {"m.py": SPEC})
    result = run_cli("migrate", "--diff", "--check", "m.py", cwd=tmp_path)
    assert result.code == 1 and result.out.startswith(b"--- a/m.py")
    assert (tmp_path / "m.py").read_text() == SPEC


def test_quiet_drops_summary(tmp_path):
    write(tmp_path, {"m.py": SPEC})
    result = run_cli("migrate", "-q", "--check", "m.py", cwd=tmp_path)
    assert result.code == 1 and result.err == ""


def test_verbose_explains_skips(tmp_path):
    write(tmp_path, {"m.py": SPEC, "p.py": PLAIN, "build/x.py": SPEC})
    result = run_cli("migrate", "-v", "--check", ".", cwd=tmp_path)
    assert "p.py: unchanged (no Estimator API)" in result.err
    assert "build: skipped (excluded)" in result.err
    assert "m.py: would migrate" in result.err


def test_missing_path_is_an_error_but_others_are_processed(tmp_path):
    write(tmp_path, {"m.py": SPEC})
    result = run_cli("migrate", "nope.py", "m.py", cwd=tmp_path)
    assert result.code == 2
    assert "nope.py: error: No such file or directory" in result.err
    assert "TPUEstimatorSpec" in (tmp_path / "m.py").read_text()
    assert "1 file migrated, 0 unchanged, 1 failed" in result.err


def test_usage_errors_exit_2(tmp_path):
    assert run_cli("migrate", "--target", "tf3", "x.py").code == 2
    assert run_cli("migrate").code == 2
    assert run_cli().code == 2
    assert run_cli("migrate", "--iterations-per-loop", "0", "x.py").code == 2


def test_readme_names_only_documents_in_the_repository():
    """It sent readers to a TPU-FACTS.md that is not in the repository."""
    import re

    named = set(re.findall(r"`([\w./-]+\.md)`", (REPO / "README.md").read_text()))
    assert [name for name in named if not (REPO / name).is_file()] == []


def test_a_bad_flag_after_migrate_shows_migrates_usage(tmp_path):
    write(tmp_path, {"m.py": SPEC})
    result = run_cli("migrate", "m.py", "--bogus", cwd=tmp_path)
    assert result.code == 2
    assert result.err.startswith("usage: est2tpu migrate ") and "--output-format" in result.err
    assert result.err.endswith("est2tpu migrate: error: unrecognized arguments: --bogus\n")
    result = run_cli("rules", "--bogus")
    assert result.code == 2 and "est2tpu rules: error: unrecognized arguments: --bogus" in result.err


@pytest.mark.parametrize("abbreviated", ["--dif", "--che", "--output-f=json", "--exit"])
def test_abbreviated_flags_are_not_accepted(tmp_path, abbreviated):
    """``--dif`` must not silently mean --diff (nor --exit mean --exit-zero)."""
    write(tmp_path, {"m.py": SPEC})
    result = run_cli("migrate", abbreviated, "m.py", cwd=tmp_path)
    assert result.code == 2 and "unrecognized arguments" in result.err
    assert (tmp_path / "m.py").read_text() == SPEC


def test_help_documents_modes_and_exit_codes():
    result = run_cli("migrate", "--help")
    assert result.code == 0
    text = result.stdout
    for needle in ("--diff", "--check", "--exit-zero", "exit codes:", "  2  a file could not be processed",
                   "  1  in place: a blocking finding is left", "--output-format", "--output-file", "--report",
                   "--statistics", "--select", "--ignore", "--force-exclude", "--jobs", "--color"):
        assert needle in text, needle


# --------------------------------------------------------------------------- failures, encodings, line endings


def _mixed_tree(root: Path) -> dict:
    latin = ("# -*- coding: latin-1 -*-\n# caf\xe9 cr\xe8me\n" + SPEC).encode("latin-1")
    files = {
        "pkg/good.py": SPEC.encode(),
        "pkg/syntax.py": b"import tensorflow as tf\n\ndef model_fn(:\n    return tf.estimator.EstimatorSpec(mode)\n",
        "pkg/latin1.py": latin,
        "pkg/crlf.py": SPEC.replace("\n", "\r\n").encode(),
        "pkg/bom.py": b"\xef\xbb\xbf" + SPEC.encode(),
        "pkg/undecodable.py": b"# estimator\nx = '\xff\xfe'\n",
        "pkg/no_newline.py": SPEC.rstrip("\n").encode(),
        "pkg/plain.py": PLAIN.encode(),
    }
    write(root, files)
    return files


def test_mixed_tree_byte_exact(tmp_path):
    files = _mixed_tree(tmp_path)
    result = run_cli("migrate", "pkg", cwd=tmp_path)
    assert result.code == 2
    after = snapshot(tmp_path)
    # Failed files are byte-for-byte untouched.
    assert after["pkg/syntax.py"] == files["pkg/syntax.py"]
    assert after["pkg/undecodable.py"] == files["pkg/undecodable.py"]
    assert after["pkg/plain.py"] == files["pkg/plain.py"]
    # Errors name the file, and the line:col for the syntax error.
    assert "pkg/syntax.py:3:14: error: syntax error" in result.err
    assert "pkg/undecodable.py:2:6: error: cannot decode as utf-8: byte 0xff" in result.err
    # The others were migrated exactly as the engine migrates their text.
    expected = engine(SPEC)
    assert after["pkg/good.py"] == expected.encode()
    assert after["pkg/crlf.py"] == expected.replace("\n", "\r\n").encode()
    assert b"\n" not in after["pkg/crlf.py"].replace(b"\r\n", b"")
    assert after["pkg/bom.py"] == b"\xef\xbb\xbf" + expected.encode()
    latin_expected = engine(files["pkg/latin1.py"].decode("latin-1"))
    assert after["pkg/latin1.py"] == latin_expected.encode("latin-1")
    assert b"caf\xe9 cr\xe8me" in after["pkg/latin1.py"]
    assert "TPUEstimatorSpec" in after["pkg/no_newline.py"].decode()
    assert "5 files migrated, 1 unchanged, 2 failed, 0 findings" in result.err


def test_check_names_exactly_the_files_migrate_changes(tmp_path):
    """--check generates a Python file's code only up to its first change (not for CRLF
    files or notebooks, whose comparison needs it all): its verdict is still the one
    migrate acts on, file by file, and nothing is left for a second --check."""
    import json

    _mixed_tree(tmp_path)
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": SPEC}
    notebook = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    write(tmp_path, {"pkg/migrated.py": engine(SPEC), "pkg/migrated_crlf.py": engine(SPEC).replace("\n", "\r\n"),
                     "pkg/migrated_no_newline.py": engine(SPEC).rstrip("\n"), "pkg/nb.ipynb": json.dumps(notebook)})
    check = run_cli("migrate", "--check", "pkg", cwd=tmp_path)
    named = {line.split("would migrate ", 1)[1] for line in check.err.splitlines() if "would migrate " in line}
    before = snapshot(tmp_path)
    run_cli("migrate", "pkg", cwd=tmp_path)
    after = snapshot(tmp_path)
    assert named == {name for name in after if after[name] != before[name]}
    assert {"pkg/good.py", "pkg/crlf.py", "pkg/no_newline.py", "pkg/nb.ipynb"} <= named
    assert "pkg/migrated_crlf.py" not in named
    assert "would migrate" not in run_cli("migrate", "--check", "pkg", cwd=tmp_path).err


def test_file_without_estimator_is_not_decoded(tmp_path):
    files = {"binary.py": b"x = '\xff\xfe'\n", "model.py": SPEC.encode()}
    write(tmp_path, files)
    result = run_cli("migrate", ".", cwd=tmp_path)
    assert result.code == 0, result.err
    assert (tmp_path / "binary.py").read_bytes() == files["binary.py"]
    assert "1 file migrated, 1 unchanged, 0 failed" in result.err


def test_failed_file_errors_are_reported_in_every_mode(tmp_path):
    files = _mixed_tree(tmp_path)
    for mode in ("--diff", "--check"):
        result = run_cli("migrate", mode, "pkg", cwd=tmp_path)
        assert result.code == 2
        assert "pkg/syntax.py:3:14: error: syntax error" in result.err
    assert snapshot(tmp_path) == {k: v for k, v in files.items()}


def test_unreadable_file_in_process(tmp_path, monkeypatch):
    """A read error (as chmod 000 gives a non-root user) fails only that file."""
    from est2tpu.cli import main as cli

    write(tmp_path, {"a.py": SPEC, "locked.py": SPEC})
    real = cli.read_bytes

    def fake(path):
        if path.endswith("locked.py"):
            raise PermissionError(13, "Permission denied", path)
        return real(path)

    monkeypatch.setattr(cli, "read_bytes", fake)
    result = run_cli("migrate", ".", cwd=tmp_path)
    assert result.code == 2
    assert "locked.py: error: cannot read: Permission denied" in result.err
    assert (tmp_path / "locked.py").read_text() == SPEC
    assert "TPUEstimatorSpec" in (tmp_path / "a.py").read_text()


DROP_DAC = ["--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-dac_override,-dac_read_search", "--"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_unreadable_file_chmod_000(tmp_path):
    """The real thing: chmod 000.  Root reads anything, so as root the CLI runs under
    setpriv without the capabilities that bypass file permissions (CAP_DAC_*)."""
    prefix = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv to drop CAP_DAC_OVERRIDE")
        prefix = [setpriv, *DROP_DAC]
    write(tmp_path, {"a.py": SPEC, "locked.py": SPEC})
    os.chmod(tmp_path / "locked.py", 0o000)
    try:
        proc = subprocess.run([*prefix, sys.executable, "-m", "est2tpu", "migrate", "."],
                              cwd=tmp_path, capture_output=True, text=True)
    finally:
        os.chmod(tmp_path / "locked.py", 0o644)
    assert proc.returncode == 2, proc.stderr
    assert "locked.py: error: cannot read: Permission denied" in proc.stderr
    assert (tmp_path / "locked.py").read_text() == SPEC
    assert "TPUEstimatorSpec" in (tmp_path / "a.py").read_text()


def test_output_that_does_not_parse_is_an_internal_error(tmp_path, monkeypatch):
    stub_engine(monkeypatch, lambda code: (code.replace("EstimatorSpec(", "EstimatorSpec(("), []))
    write(tmp_path, {"m.py": SPEC, "n.py": CHIEF})
    result = run_cli("migrate", ".", cwd=tmp_path)
    assert result.code == 2
    assert "m.py: error: internal error: the migrated code does not parse" in result.err
    assert (tmp_path / "m.py").read_text() == SPEC
    assert (tmp_path / "n.py").read_text() == CHIEF


def test_engine_crash_is_an_internal_error_and_others_continue(tmp_path, monkeypatch):
    import est2tpu.codemods.migrate as engine_module

    real = engine_module.migrate_program

    def flaky(sources, options=None, **layout):
        if any("training_chief_hooks" in s.code for s in sources):
            raise RuntimeError("boom")
        return real(sources, options, **layout)

    monkeypatch.setattr(engine_module, "migrate_program", flaky)
    write(tmp_path, {"a.py": SPEC, "b.py": CHIEF})
    result = run_cli("migrate", ".", cwd=tmp_path)
    assert result.code == 2
    assert "b.py: error: internal error: RuntimeError: boom" in result.err
    assert (tmp_path / "b.py").read_text() == CHIEF
    assert "TPUEstimatorSpec" in (tmp_path / "a.py").read_text()


def test_latin1_file_whose_result_cannot_be_encoded_is_left_alone(tmp_path, monkeypatch):
    stub_engine(monkeypatch, lambda code: (code + "# \u2603\n", []))
    data = ("# -*- coding: latin-1 -*-\n# \xe9\n" + SPEC).encode("latin-1")
    write(tmp_path, {"l.py": data})
    result = run_cli("migrate", "l.py", "--format", "none", cwd=tmp_path)
    assert result.code == 2 and "cannot be encoded as iso-8859-1" in result.err
    assert (tmp_path / "l.py").read_bytes() == data


def test_file_mode_is_kept(tmp_path):
    write(tmp_path, {"m.py": SPEC})
    os.chmod(tmp_path / "m.py", 0o751)
    assert run_cli("migrate", "m.py", cwd=tmp_path).code == 0
    assert stat.S_IMODE((tmp_path / "m.py").stat().st_mode) == 0o751
    assert [p.name for p in tmp_path.iterdir()] == ["m.py"]  # no temporary files left


def test_idempotent(tmp_path):
    _mixed_tree(tmp_path)
    (tmp_path / "pkg" / "syntax.py").unlink()
    (tmp_path / "pkg" / "undecodable.py").unlink()
    write(tmp_path, {"pkg/chief.py": CHIEF, "pkg/est.py": ESTIMATOR})
    first = run_cli("migrate", "pkg", cwd=tmp_path)
    assert first.code == 0, first.err
    once = snapshot(tmp_path)
    second = run_cli("migrate", "pkg", cwd=tmp_path)
    assert second.code == 0
    assert snapshot(tmp_path) == once
    assert "0 files migrated" in second.err
    assert run_cli("migrate", "--diff", "pkg", cwd=tmp_path).out == b""


# --------------------------------------------------------------------------- diffs


def _git(*args, cwd):
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)


@pytest.mark.skipif(shutil.which("git") is None or shutil.which("patch") is None, reason="needs git and patch")
def test_diff_applies_with_git_and_patch_and_equals_migrate(tmp_path):
    tree = tmp_path / "orig"
    tree.mkdir()
    _mixed_tree(tree)
    for name in ("pkg/syntax.py", "pkg/undecodable.py"):
        (tree / name).unlink()
    write(tree, {
        "pkg/sub/deep.py": CHIEF,
        "top.py": ESTIMATOR,
        "pkg/sub/z_last.py": SPEC,
        "pkg/a_first.py": SPEC.replace("\n", "\r\n").rstrip("\r\n"),  # CRLF and no final newline
    })
    diff = run_cli("migrate", "--diff", ".", cwd=tree)
    assert diff.code == 1, diff.err
    patch_file = tmp_path / "change.patch"
    patch_file.write_bytes(diff.out)

    # Headers are relative to the current directory and in sorted order.
    headers = [line[6:] for line in diff.out.split(b"\n") if line.startswith(b"--- a/")]
    assert headers == sorted(headers)
    assert b"pkg/sub/deep.py" in headers and b"top.py" in headers

    migrated = tmp_path / "migrated"
    shutil.copytree(tree, migrated)
    assert run_cli("migrate", ".", cwd=migrated).code == 0

    with_git = tmp_path / "git"
    shutil.copytree(tree, with_git)
    assert _git("init", "-q", cwd=with_git).returncode == 0
    applied = _git("apply", "--whitespace=nowarn", str(patch_file), cwd=with_git)
    assert applied.returncode == 0, applied.stderr
    assert snapshot(with_git) == snapshot(migrated)

    with_patch = tmp_path / "patch"
    shutil.copytree(tree, with_patch)
    proc = subprocess.run(["patch", "-p1", "--quiet", "-i", str(patch_file)], cwd=with_patch,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert snapshot(with_patch) == snapshot(migrated)
    assert snapshot(with_patch) != snapshot(tree)


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_diff_of_a_crlf_program_applies_and_equals_migrate_in_place(tmp_path):
    """A program written on Windows (every line CRLF) whose migration inserts new lines (a
    metric_fn, a CrossShardOptimizer branch, an import): the patch's hunks keep CRLF, so
    git apply and patch -p1 accept it and give the in-place bytes."""
    program = (REPO / "fixtures" / "mode_branches.py").read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    tree = tmp_path / "repo"
    write(tree, {"trainer/model.py": program})
    _git("init", "-q", cwd=tree)
    diff = run_cli("migrate", "--diff", "-q", ".", cwd=tree)
    assert diff.code == 1 and b"def metric_fn" in diff.out, diff.err
    hunk_lines = [line for line in diff.out.split(b"\n")[2:] if line[:1] in (b" ", b"-", b"+")]
    assert hunk_lines and all(line.endswith(b"\r") for line in hunk_lines)
    migrated = tmp_path / "migrated"
    shutil.copytree(tree, migrated)
    assert run_cli("migrate", "-q", ".", cwd=migrated).code == 0
    assert b"\n" not in (migrated / "trainer/model.py").read_bytes().replace(b"\r\n", b"")

    check = subprocess.run(["git", "apply", "--check", "-"], input=diff.out, cwd=tree, capture_output=True)
    assert check.returncode == 0, check.stderr
    if shutil.which("patch"):
        dry = subprocess.run(["patch", "-p1", "--dry-run", "--quiet"], input=diff.out, cwd=tree, capture_output=True)
        assert dry.returncode == 0, dry.stdout + dry.stderr
    applied = subprocess.run(["git", "apply", "-"], input=diff.out, cwd=tree, capture_output=True)
    assert applied.returncode == 0, applied.stderr
    assert (tree / "trainer/model.py").read_bytes() == (migrated / "trainer/model.py").read_bytes()


def test_diff_paths_are_relative_to_the_current_directory(tmp_path):
    write(tmp_path, {"proj/src/m.py": SPEC})
    result = run_cli("migrate", "--diff", str(tmp_path / "proj" / "src"), cwd=tmp_path / "proj")
    assert result.out.startswith(b"--- a/src/m.py\n+++ b/src/m.py\n")


def test_diff_marks_missing_final_newline():
    from est2tpu.cli.report import unified_diff

    diff = unified_diff(b"a\nb", b"a\nc", "f.py")
    assert diff == b"--- a/f.py\n+++ b/f.py\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+c\n\\ No newline at end of file\n"
    diff = unified_diff(b"a\nb", b"a\nb\n", "f.py")
    assert b"-b\n\\ No newline at end of file\n+b\n" in diff
    assert unified_diff(b"x\n", b"x\n", "f.py") == b""


@pytest.mark.skipif(shutil.which("git") is None or shutil.which("patch") is None, reason="needs git and patch")
def test_diff_with_awkward_path_names_applies(tmp_path):
    tree = tmp_path / "t"
    write(tree, {"dir with space/m o d.py": SPEC, "caf\u00e9/m.py": SPEC})
    diff = run_cli("migrate", "--diff", ".", cwd=tree).out
    migrated = tmp_path / "m"
    shutil.copytree(tree, migrated)
    run_cli("migrate", ".", cwd=migrated)
    for tool in ("git", "patch"):
        target = tmp_path / tool
        shutil.copytree(tree, target)
        if tool == "git":
            _git("init", "-q", cwd=target)
            proc = subprocess.run(["git", "apply", "-"], input=diff, cwd=target, capture_output=True)
        else:
            proc = subprocess.run(["patch", "-p1", "--quiet"], input=diff, cwd=target, capture_output=True)
        assert proc.returncode == 0, (tool, proc.stderr)
        assert snapshot(target) == snapshot(migrated), tool


def test_color(tmp_path, monkeypatch):
    write(tmp_path, {"m.py": SPEC})
    colored = run_cli("migrate", "--diff", "--color", "always", "m.py", cwd=tmp_path).out
    assert b"\x1b[31m-" in colored and b"\x1b[32m+" in colored
    plain = run_cli("migrate", "--diff", "--color", "never", "m.py", cwd=tmp_path).out
    assert b"\x1b[" not in plain
    # auto: not a terminal here, so no color.
    assert b"\x1b[" not in run_cli("migrate", "--diff", "m.py", cwd=tmp_path).out
    # --color always beats NO_COLOR; NO_COLOR switches auto off even on a terminal.
    colored = run_cli("migrate", "--diff", "--color", "always", "m.py", cwd=tmp_path, env={"NO_COLOR": "1"}).out
    assert b"\x1b[31m" in colored

    from est2tpu.cli import main as cli

    class Tty:
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert cli._use_color("auto", Tty()) is True
    monkeypatch.setenv("NO_COLOR", "1")
    assert cli._use_color("auto", Tty()) is False


# --------------------------------------------------------------------------- options reach the engine


def test_target_and_iterations_per_loop_flags(tmp_path):
    write(tmp_path, {"e.py": ESTIMATOR})
    assert run_cli("migrate", "--target", "tf1", "--iterations-per-loop", "7", "e.py", cwd=tmp_path).code == 0
    text = (tmp_path / "e.py").read_text()
    assert text == engine(ESTIMATOR, target="tf1", iterations_per_loop=7)
    assert "tf.contrib.tpu" in text and "iterations_per_loop=7" in text


# --------------------------------------------------------------------------- formatting


BLACK_LONG = """\
import tensorflow as tf


def model_fn(features, labels, mode, params):
    loss = tf.reduce_sum(features)
    return tf.estimator.EstimatorSpec(mode, loss=loss, train_op=tf.compat.v1.train.get_global_step(), scaffold=None)
""" + TRAINED


def _is_black(text: str) -> bool:
    import black

    return black.format_str(text, mode=black.Mode()) == text


def test_black_formatted_file_stays_black_formatted(tmp_path):
    import black

    source = black.format_str(BLACK_LONG, mode=black.Mode())
    assert _is_black(source)
    write(tmp_path, {"m.py": source})
    assert run_cli("migrate", "--exit-zero", "m.py", cwd=tmp_path).code == 0
    out = (tmp_path / "m.py").read_text()
    assert "TPUEstimatorSpec" in out and _is_black(out)
    # With --format none the engine's text is written as is.
    write(tmp_path, {"n.py": source})
    assert run_cli("migrate", "--exit-zero", "--format", "none", "n.py", cwd=tmp_path).code == 0
    assert (tmp_path / "n.py").read_text() == engine(source, style="none")


def test_black_file_whose_docstring_is_indented_by_two_stays_black(tmp_path):
    import black

    source = black.format_str('"""Usage:\n\n  python m.py\n"""\n\n' + BLACK_LONG, mode=black.Mode())
    write(tmp_path, {"m.py": source})
    assert run_cli("migrate", "--exit-zero", "m.py", cwd=tmp_path).code == 0
    out = (tmp_path / "m.py").read_text()
    assert "TPUEstimatorSpec" in out and _is_black(out)


def test_two_space_and_tab_indented_files_are_left_as_the_codemods_wrote_them(tmp_path):
    for name, indent in (("two.py", "  "), ("tab.py", "\t")):
        source = SPEC.replace("    ", indent)
        write(tmp_path, {name: source})
        assert run_cli("migrate", name, cwd=tmp_path).code == 0
        assert (tmp_path / name).read_text() == engine(source, style="none")


@pytest.mark.parametrize("string", [
    "'a'", "b'a'", "f'{y}'", "'a\"b'", "'a\\nb'", "'''doc'''", '"a"', "\"it's\"", "'a'  # fmt: skip", "''",
])
def test_quote_screen_agrees_with_black(string):
    """The cheap screen that spares a black run must never call a black-formatted file
    not black-formatted (it may only miss)."""
    import black

    from est2tpu.codemods.layout import _single_quoted_string, is_black_formatted

    source = f"y = 1\nx = {string}\n"
    if _single_quoted_string(source, black.Mode()):
        assert not is_black_formatted(source)
        assert not _single_quoted_string(source, black.Mode(string_normalization=False))
    if is_black_formatted(source):
        assert not _single_quoted_string(source, black.Mode())


def test_non_black_file_is_not_reformatted(tmp_path):
    source = SPEC.replace("import tensorflow as tf\n", "import tensorflow as tf\nx = [1,2,  3]\n")
    assert not _is_black(source)
    write(tmp_path, {"m.py": source})
    assert run_cli("migrate", "m.py", cwd=tmp_path).code == 0
    out = (tmp_path / "m.py").read_text()
    assert out == engine(source)
    assert "x = [1,2,  3]" in out


def test_format_black_formats_changed_files_only(tmp_path):
    source = SPEC.replace("import tensorflow as tf\n", "import tensorflow as tf\nx = [1,2,  3]\n")
    write(tmp_path, {"m.py": source, "p.py": "x = [1,2,  3]\n"})
    assert run_cli("migrate", "--format", "black", ".", cwd=tmp_path).code == 0
    assert _is_black((tmp_path / "m.py").read_text())
    assert (tmp_path / "p.py").read_text() == "x = [1,2,  3]\n"


def test_black_settings_from_pyproject(tmp_path):
    import black

    mode = black.Mode(line_length=120)
    source = black.format_str(BLACK_LONG, mode=mode)
    assert source != black.format_str(source, mode=black.Mode())  # not black at 88 columns
    write(tmp_path, {"pyproject.toml": "[tool.black]\nline-length = 120\n", "m.py": source})
    assert run_cli("migrate", "--exit-zero", "m.py", cwd=tmp_path).code == 0
    out = (tmp_path / "m.py").read_text()
    assert black.format_str(out, mode=mode) == out


def test_crlf_black_file_stays_crlf_and_black(tmp_path):
    import black

    source = black.format_str(BLACK_LONG, mode=black.Mode()).replace("\n", "\r\n")
    write(tmp_path, {"m.py": source.encode()})
    assert run_cli("migrate", "--exit-zero", "m.py", cwd=tmp_path).code == 0
    out = (tmp_path / "m.py").read_bytes()
    assert b"\n" not in out.replace(b"\r\n", b"") and b"TPUEstimatorSpec" in out
    assert _is_black(out.decode().replace("\r\n", "\n"))


# --------------------------------------------------------------------------- imports and speed


def _imported(args, cwd):
    """(exit code, every module imported by a process of the run: the CLI's own and those
    it starts to migrate files, which Python's ``-X importtime`` reports too)."""
    code = f"import sys\nfrom est2tpu.cli.main import main\nprint(main({list(args)!r}))\n"
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=cwd, capture_output=True, text=True)
    assert proc.stdout.strip(), proc.stderr
    imported = [line.split("|")[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")]
    return int(proc.stdout.strip().splitlines()[-1]), imported


def _modules_after(args, cwd):
    rc, imported = _imported(args, cwd)
    names = {m.replace("est2tpu.", "").split(".")[0] for m in imported}
    return rc, names & {"codemods", "tensorflow", "libcst", "black", "tensorflow_estimator", "keras", "tomllib"}


def test_never_imports_tensorflow(tmp_path):
    shutil.copy(REPO / "fixtures" / "basic_custom.py", tmp_path / "model.py")
    write(tmp_path, {"chief.py": CHIEF})
    rc, modules = _modules_after(["migrate", "--check", "."], tmp_path)
    assert rc == 1
    assert "libcst" in modules  # it did parse and migrate
    assert not modules & {"tensorflow", "tensorflow_estimator", "keras"}


def test_the_engine_leaves_libcsts_matchers_and_codemod_cli_unimported(tmp_path):
    """Half a second of start-up each, for a pre-commit hook on one file."""
    for name in ("basic_custom", "pipeline_shapes", "summaries_hooks"):
        shutil.copy(REPO / "fixtures" / f"{name}.py", tmp_path / f"{name}.py")
    rc, imported = _imported(["migrate", "--check", "-j", "1", "."], tmp_path)
    assert rc == 1 and "libcst" in imported
    assert [m for m in imported if m.startswith(("libcst.matchers", "libcst.codemod"))] == []


def test_never_imports_tensorflow_importtime(tmp_path):
    write(tmp_path, {"chief.py": CHIEF})
    proc = run_subprocess("migrate", "chief.py", cwd=tmp_path, python_args=["-X", "importtime"])
    assert proc.returncode == 0, proc.stderr
    imported = [line.split("|")[-1].strip() for line in proc.stderr.decode().splitlines()
                if line.startswith("import time:")]
    assert "libcst" in imported
    assert not [m for m in imported if m.split(".")[0] in ("tensorflow", "tensorflow_estimator", "keras")]


def test_skipped_files_do_not_import_libcst_or_black(tmp_path):
    write(tmp_path, {"p.py": PLAIN, "skip.py": "# est2tpu: skip-file\n" + SPEC, "q.py": "x = 1\n"})
    rc, modules = _modules_after(["migrate", "."], tmp_path)
    assert rc == 0
    assert not modules & {"libcst", "black", "codemods", "tensorflow"}


def test_black_is_imported_only_for_changed_files(tmp_path):
    write(tmp_path, {"done.py": engine(SPEC)})  # parsed, but nothing changes
    rc, modules = _modules_after(["migrate", "."], tmp_path)
    assert rc == 0 and "libcst" in modules and "black" not in modules
    write(tmp_path, {"todo.py": SPEC})
    rc, modules = _modules_after(["migrate", "."], tmp_path)
    assert rc == 0 and "black" in modules


# --------------------------------------------------------------------------- jobs and progress


def test_parallel_output_is_deterministic_and_equal_to_serial(tmp_path):
    files = {f"pkg/m{i}.py": (CHIEF if i % 2 else SPEC) for i in range(6)}
    serial_root, parallel_root = tmp_path / "s", tmp_path / "p"
    write(serial_root, files)
    write(parallel_root, files)
    serial = run_cli("migrate", "--diff", "-j", "1", ".", cwd=serial_root)
    parallel = run_cli("migrate", "--diff", "-j", "2", ".", cwd=parallel_root)
    assert serial.code == parallel.code == 1
    assert parallel.out == serial.out
    assert parallel.err == serial.err
    run_cli("migrate", "-j", "2", ".", cwd=parallel_root)
    run_cli("migrate", "-j", "1", ".", cwd=serial_root)
    assert snapshot(parallel_root) == snapshot(serial_root)


def test_a_worker_that_dies_fails_only_its_file(tmp_path, monkeypatch):
    """A file that kills its worker process (as a crash in a native parser would) breaks
    the pool; the other files in flight are run again and only that file fails."""
    from est2tpu.cli import main as cli

    real = cli._migrate_job

    def crashing(job):
        if any(m.display.endswith("boom.py") for m in job.members):
            os._exit(70)  # dies without a word, as a segfault would
        return real(job)

    monkeypatch.setattr(cli, "_migrate_job", crashing)  # inherited by the forked workers
    files = {f"m{i}.py": SPEC for i in range(2 * cli.POOL_THRESHOLD)}
    write(tmp_path, {**files, "boom.py": SPEC, "n.py": SPEC})
    result = run_cli("migrate", "--check", "-j", "2", ".", cwd=tmp_path)
    assert result.code == 2
    assert error_lines(result.err) == ["boom.py: error: internal error: the process migrating this file exited "
                                       "with code 70; file left untouched"]
    assert f"{len(files) + 1} files would be migrated, 0 unchanged, 1 failed" in result.err


def test_pool_is_used_only_for_many_files(tmp_path, monkeypatch):
    import concurrent.futures

    from est2tpu.cli import main as cli

    created = []
    real = concurrent.futures.ProcessPoolExecutor

    def spy(*args, **kwargs):
        created.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", spy)
    write(tmp_path, {f"m{i}.py": SPEC for i in range(cli.POOL_THRESHOLD)})
    write(tmp_path, {f"p{i}.py": PLAIN for i in range(10)})  # not parsed: do not count
    assert run_cli("migrate", "--check", "-j", "2", ".", cwd=tmp_path).code == 1
    assert created == []
    write(tmp_path, {"one_more.py": SPEC})
    assert run_cli("migrate", "--check", "-j", "2", ".", cwd=tmp_path).code == 1
    assert len(created) == 1


def test_progress_bar_only_on_a_terminal(monkeypatch):
    import io

    from est2tpu.cli import main as cli

    class Tty(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.setattr(cli, "PROGRESS_AFTER", 0.0)
    stream = Tty()
    bar = cli.Progress(3, stream)
    for _ in range(3):
        bar.advance()
    bar.close()
    assert "3/3 files" in stream.getvalue() and stream.getvalue().endswith("\r\x1b[K")

    plain = io.StringIO()
    bar = cli.Progress(3, plain)
    for _ in range(3):
        bar.advance()
    bar.close()
    assert plain.getvalue() == ""

    monkeypatch.setattr(cli, "PROGRESS_AFTER", 60.0)  # a short run: no bar even on a terminal
    stream = Tty()
    bar = cli.Progress(3, stream)
    bar.advance()
    bar.close()
    assert stream.getvalue() == ""


def _screen(text: str) -> list:
    """The lines a terminal shows for ``text``: ``\r`` returns to the line's start and
    ``ESC[K`` erases from the cursor to its end."""
    import re

    lines, line, col = [], "", 0
    for chunk in re.split(r"(\r|\n|\x1b\[K)", text):
        if chunk == "\n":
            lines.append(line)
            line, col = "", 0
        elif chunk == "\r":
            col = 0
        elif chunk == "\x1b[K":
            line = line[:col]
        elif chunk:
            line = line[:col] + chunk + line[col + len(chunk):]
            col += len(chunk)
    return lines + ([line] if line else [])


def test_progress_bar_never_shares_a_line_with_findings_or_the_diff(tmp_path, monkeypatch):
    """On a terminal, findings (stdout) and the bar (stderr) go to one screen: the bar is
    erased before anything else is printed, and drawn again after."""
    import io

    from est2tpu.cli import main as cli

    class Tty(io.StringIO):
        def isatty(self):
            return True

    write(tmp_path, {f"m{i}.py": CHIEF for i in range(4)})
    monkeypatch.setattr(cli, "PROGRESS_AFTER", 0.0)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.chdir(tmp_path)
    for mode in ("--check", "--diff"):
        screen = Tty()
        monkeypatch.setattr(sys, "stdout", screen)
        monkeypatch.setattr(sys, "stderr", screen)
        cli.main(["migrate", mode, "-j", "1", "."])
        text = screen.getvalue()
        assert "files" in text and "\r\x1b[K" in text  # the bar was drawn
        lines = _screen(text)
        findings = [line for line in lines if " E2T201 " in line]
        assert len(findings) == 4 and all(line.startswith("m") for line in findings), lines
        assert not any("est2tpu [" in line for line in lines), lines  # erased at the end
        assert lines[-1].startswith("4 files would be migrated")


def test_interrupt_says_which_files_were_already_migrated(tmp_path, monkeypatch):
    from est2tpu.cli import main as cli

    write(tmp_path, {"a.py": SPEC, "b.py": SPEC, "c.py": SPEC})
    real, calls = cli.Progress.advance, []

    def interrupted_at_the_third(progress):  # Ctrl-C reaches the parent, as the third file comes back
        calls.append(progress.done)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(progress)

    monkeypatch.setattr(cli.Progress, "advance", interrupted_at_the_third)
    result = run_cli("migrate", "-j", "1", ".", cwd=tmp_path)
    assert result.code == 130
    assert result.err == "est2tpu: interrupted; 2 files already migrated in place\n  a.py\n  b.py\n"
    assert "TPUEstimatorSpec" in (tmp_path / "b.py").read_text() and (tmp_path / "c.py").read_text() == SPEC
    calls.clear()
    result = run_cli("migrate", "--check", "-j", "1", ".", cwd=tmp_path)
    assert result.code == 130 and result.err == "est2tpu: interrupted; 0 files already migrated in place\n"


# --------------------------------------------------------------------------- diff property


_LINE = st.sampled_from(["a", "b", "c", "", "  x = 1", "\t", "é", "x\r"])
_END = st.sampled_from(["\n", "\r\n"])


@st.composite
def _texts(draw):
    lines = draw(st.lists(st.tuples(_LINE, _END), max_size=12))
    text = "".join(body + end for body, end in lines)
    if text and draw(st.booleans()):  # maybe drop the final newline
        text = text.rstrip("\r\n") if draw(st.booleans()) else text[:-1]
    return text.encode("utf-8")


@pytest.mark.skipif(shutil.which("patch") is None, reason="needs patch")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(old=_texts(), new=_texts())
def test_unified_diff_round_trips_through_patch(old, new):
    import tempfile

    from est2tpu.cli.report import unified_diff

    diff = unified_diff(old, new, "f.py")
    if old == new:
        assert diff == b""
        return
    with tempfile.TemporaryDirectory() as d:
        Path(d, "f.py").write_bytes(old)
        proc = subprocess.run(["patch", "-p1", "--quiet", "--force"], input=diff, cwd=d, capture_output=True)
        assert proc.returncode == 0, (diff, proc.stdout, proc.stderr)
        assert Path(d, "f.py").read_bytes() == new


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_diff_equals_migrate_on_the_repository_fixtures(tmp_path):
    """Real Estimator programs from fixtures/: the patch gives exactly what migrate writes.
    (Three of them: the engine takes a while per program.)"""
    sources = sorted((REPO / "fixtures").glob("*.py"))[:3]
    if not sources:
        pytest.skip("no fixtures")
    tree = tmp_path / "fixtures"
    tree.mkdir()
    for source in sources:
        shutil.copy(source, tree / source.name)
    diff = run_cli("migrate", "--diff", "-q", ".", cwd=tree)
    assert diff.code == 1, diff.err
    migrated = tmp_path / "migrated"
    shutil.copytree(tree, migrated)
    assert run_cli("migrate", "-q", "--exit-zero", ".", cwd=migrated).code == 0  # (canned estimators block)
    _git("init", "-q", cwd=tree)
    proc = subprocess.run(["git", "apply", "-"], input=diff.out, cwd=tree, capture_output=True)
    assert proc.returncode == 0, proc.stderr
    assert snapshot(tree) == snapshot(migrated)
    assert run_cli("migrate", "--diff", ".", cwd=migrated).out == b""  # idempotent
